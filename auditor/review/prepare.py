"""Playable copies made ahead, so a reviewer never waits on a silent page.

A clip browsers cannot play needs a VP8 copy (playback.py), which takes about as long as the clip
plays or longer on a busy machine. Copies are made by `scan --playable` right after the scan, or
by `serve` in the background from the moment it starts, newest evidence first; a page asking for
a clip whose copy is not made yet moves it to the front and shows what is being prepared, how far
it is and about how long it will take (polling `/clip/<id>/playable`).

Limits, stated on the page and in the docs: a copy is made of a clip up to `MAX_SECONDS` long and
`MAX_BYTES` large; a longer or larger clip is not copied (it would take the machine away from
reviewers for too long): the page says so, and the evidence's frame pairs still show it.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from .playback import make_proxy, needs_proxy, proxy_path

MAX_SECONDS = 30 * 60  # a copy of up to half an hour of video
MAX_BYTES = 4 * 1024 ** 3  # of a file up to 4 GiB
ASSUMED_FPS = 120.0  # frames a second written, before a copy has measured its own pace


@dataclass
class Job:
    src: Path
    sha256: str
    state: str = "queued"  # queued, checking, making, ready, original (plays as it is), too long, failed
    codec: str | None = None
    done: int = 0
    total: int = 0
    started: float = 0.0
    error: str = ""
    order: int = 0

    def report(self) -> dict:
        eta = None
        if self.state in ("queued", "checking", "making") and self.total:
            pace = self.done / (time.monotonic() - self.started) if self.state == "making" and self.done >= 10 else ASSUMED_FPS
            eta = round((self.total - self.done) / max(pace, 1e-3), 1)
        return {"state": self.state, "codec": self.codec, "done": self.done, "total": self.total, "eta_s": eta,
                "error": self.error, "limit_s": MAX_SECONDS, "limit_bytes": MAX_BYTES}


def _length(src: Path) -> tuple[int, float]:
    """(frames, seconds) the container states (0 when it states none)."""
    import cv2

    from ..media.video import open_capture

    cap = open_capture(src)
    try:
        frames = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
        fps = cap.get(cv2.CAP_PROP_FPS) or 0.0
    finally:
        cap.release()
    return max(frames, 0), frames / fps if fps > 0 else 0.0


def check_and_make(job: Job, results: Path) -> None:
    """Make one job's copy (or say why not), updating the job as it goes."""
    if proxy_path(results, job.sha256).is_file():
        job.state = "ready"
        return
    job.codec = needs_proxy(job.src)
    if job.codec is None:
        job.state = "original"
        return
    job.total, seconds = _length(job.src)
    if seconds > MAX_SECONDS or os.path.getsize(job.src) > MAX_BYTES:
        job.state = "too long"
        return
    job.state, job.started = "making", time.monotonic()

    def progress(done: int) -> None:
        job.done = done

    try:
        make_proxy(job.src, results, job.sha256, progress=progress)
        job.state = "ready"
    except (RuntimeError, OSError) as exc:
        job.state, job.error = "failed", str(exc)


@dataclass
class Preparer:
    """One background maker of playable copies for a results folder, urgent requests first."""

    results: Path
    _jobs: dict[str, Job] = field(default_factory=dict)
    _cond: threading.Condition = field(default_factory=threading.Condition)
    _thread: threading.Thread | None = None
    _counter: int = 0
    made: list[str] = field(default_factory=list)  # sha256 of each copy made, in order

    def _key(self, src: Path, sha256: str) -> str:
        return f"{sha256}:{src}"

    def want(self, items: Iterable[tuple[Path, str]], urgent: bool = False) -> None:
        """Queue copies of (clip, sha256), in the order given; urgent ones before any other."""
        with self._cond:
            for src, sha in items:
                key = self._key(src, sha)
                job = self._jobs.get(key)
                if job is None:
                    job = self._jobs[key] = Job(Path(src), sha)
                if job.state == "queued":
                    self._counter += 1
                    job.order = self._counter - 10 ** 9 if urgent else self._counter  # urgent: first come, first made
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="playable-copies", daemon=True)
                self._thread.start()
            self._cond.notify()

    def status(self, src: Path, sha256: str) -> dict | None:
        """The state of a clip's copy ('ready' once it exists), or None when it was never asked for."""
        if proxy_path(self.results, sha256).is_file():
            return Job(src, sha256, "ready").report()
        with self._cond:
            job = self._jobs.get(self._key(src, sha256))
            return job.report() if job else None

    def _run(self) -> None:
        while True:
            with self._cond:
                waiting = [j for j in self._jobs.values() if j.state == "queued"]
                if not waiting:
                    self._cond.wait(timeout=5.0)
                    continue
                job = min(waiting, key=lambda j: j.order)
                job.state = "checking"
            check_and_make(job, self.results)
            if job.state == "ready":
                self.made.append(job.sha256)


def make_playable(results: str | Path, clips: Iterable[tuple[Path, str]]) -> list[dict]:
    """Make the playable copies of (clip, sha256) that need one, now (`scan --playable`); one
    report per clip: its state ('ready', 'original', 'too long', 'failed') and why."""
    out = []
    for src, sha in clips:
        job = Job(Path(src), sha)
        check_and_make(job, Path(results))
        out.append({"path": str(src), **job.report()})
    return out
