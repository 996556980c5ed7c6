"""Frames decoded again by time: from the suspect clip, and from the reference files.

Geometric verification and the report's exhibit pictures look at a few frame pairs of each
segment. The clip's sampled frames are kept from sampling when they fit a memory budget, so
nothing is decoded twice for short clips; reference files are checked against the SHA-256 the
catalogue recorded before any frame of them is used.
"""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from reference_index.store import sha256_file

from ..settings import Configuration
from .reader import Box, MediaReader, crop_box, downscale, grey_thumbnail, is_still
from .video import open_capture


class FrameSource:
    """Decodes frames again by time: from the suspect clip, and from reference files."""

    REF_CACHE = 64  # reference frames kept (verification and exhibits ask for the same ones)

    def __init__(self, config: Configuration):
        self.config = config
        self.max_side = int(config.sampling.max_side)
        self._ref_ok: dict[str, str | None] = {}
        self._query: tuple[str, dict[float, np.ndarray]] = ("", {})
        self._refs: dict[tuple, np.ndarray | None] = {}
        self._still: tuple[str, np.ndarray | None] = ("", None)  # the last still decoded whole (BGR)

    def remember_query(self, path: str | Path, frames: dict[float, np.ndarray] | None) -> None:
        """Frames of the clip kept from sampling: query_frames then needs no second decode."""
        self._query = (str(path), dict(frames or {}))

    def query_frames(self, path: str | Path, times: list[float]) -> dict[float, np.ndarray]:
        """Frames of the clip at these sample times (exact sampled timestamps). Frames decoded
        for the previous call on the same clip are reused; only missing ones are decoded."""
        wanted = sorted(set(round(t, 3) for t in times))
        cached = self._query[1] if self._query[0] == str(path) else {}
        out = {t: cached[t] for t in wanted if t in cached}
        missing = [t for t in wanted if t not in out]
        if missing:
            fps = float(self.config.sampling.query.fps)
            found = 0
            for frame in MediaReader(path, fps, self.config, dense_when_short=True).frames():
                key = round(frame.t, 3)
                if key in missing:
                    out[key] = frame.image
                    found += 1
                if found == len(missing) or frame.t > missing[-1] + 1:
                    break
        self._query = (str(path), {**cached, **out})
        return out

    def reference_problem(self, video: dict) -> str | None:
        """Why the reference file cannot be used (missing, changed), or None."""
        ref_id = video["ref_id"]
        if ref_id not in self._ref_ok:
            path = Path(video["path"])
            if not path.is_file():
                self._ref_ok[ref_id] = f"reference file not found: {path}"
            elif sha256_file(path) != video["sha256"]:
                self._ref_ok[ref_id] = f"reference file changed since indexing: {path}"
            else:
                self._ref_ok[ref_id] = None
        return self._ref_ok[ref_id]

    def reference_frame(self, video: dict, t: float, box: Box | None = None) -> np.ndarray | None:
        """The reference frame as indexed: at time `t`, or for a still the tile `box` of it
        (cropped at full resolution, then brought to the sampled size, as when it was indexed)."""
        key = (video["ref_id"], round(t, 3), box)
        if key not in self._refs:
            if len(self._refs) >= self.REF_CACHE:
                self._refs.pop(next(iter(self._refs)))
            self._refs[key] = self._decode_reference(video, t, box)
        return self._refs[key]

    def reference_thumbnails(self, video: dict, times, run_gap_s: float = 3.0) -> dict[float, np.ndarray]:
        """Grey thumbnails (media.reader.grey_thumbnail, of the frame as indexed) of a reference
        video at these times: {time rounded to 3 decimals: thumbnail}; empty when its file is
        missing or changed. Times close together are read in one pass, without seeking."""
        if self.reference_problem(video) or video["kind"] == "still" or is_still(video["path"]):
            return {}
        wanted = sorted({round(float(t), 3) for t in times})
        runs: list[list[float]] = []
        for t in wanted:
            if runs and t - runs[-1][-1] <= run_gap_s:
                runs[-1].append(t)
            else:
                runs.append([t])
        out: dict[float, np.ndarray] = {}
        cap = open_capture(video["path"], cv2.CAP_FFMPEG)
        cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
        try:
            for run in runs:
                cap.set(cv2.CAP_PROP_POS_MSEC, max(0.0, run[0] * 1000 - 200))
                k = 0
                while k < len(run) and cap.grab():
                    now = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000
                    if now < run[k] - 1e-3:
                        continue
                    ok, bgr = cap.retrieve()
                    if not ok or bgr is None:
                        break
                    small = grey_thumbnail(cv2.cvtColor(downscale(bgr, self.max_side), cv2.COLOR_BGR2RGB))
                    while k < len(run) and run[k] <= now + 1e-3:
                        out[run[k]] = small
                        k += 1
        finally:
            cap.release()
        return out

    def still(self, video: dict) -> np.ndarray | None:
        """A still reference, whole, at its own resolution (RGB)."""
        bgr = self._still_bgr(video)
        return None if bgr is None else cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB)

    def _still_bgr(self, video: dict) -> np.ndarray | None:
        if self._still[0] != video["ref_id"]:
            data = np.frombuffer(Path(video["path"]).read_bytes(), np.uint8)
            self._still = (video["ref_id"], cv2.imdecode(data, cv2.IMREAD_COLOR))
        return self._still[1]

    def _decode_reference(self, video: dict, t: float, box: Box | None = None) -> np.ndarray | None:
        path = video["path"]
        if video["kind"] == "still" or is_still(path):
            bgr = self._still_bgr(video)
            bgr = None if bgr is None else crop_box(bgr, box)
        else:
            cap = open_capture(path, cv2.CAP_FFMPEG)
            cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
            try:
                cap.set(cv2.CAP_PROP_POS_MSEC, max(0.0, t * 1000 - 200))
                bgr = None
                while cap.grab():
                    now = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000
                    if now >= t - 1e-3:
                        ok, bgr = cap.retrieve()
                        break
            finally:
                cap.release()
        if bgr is None:
            return None
        return cv2.cvtColor(downscale(bgr, self.max_side), cv2.COLOR_BGR2RGB)
