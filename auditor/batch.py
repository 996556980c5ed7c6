"""Batch scans: many clips, resumable, in parallel worker processes, a bad clip costing itself alone.

- Inputs: files, folders (searched recursively for video and image files), glob patterns and
  lists of paths (`--from-list FILE`, `-` for standard input).
- Resumable: each clip's evidence is written atomically as soon as it is done. A re-run skips a
  clip whose evidence already exists for the same clip SHA-256, index manifest and parameters
  (`force=True` redoes it). An interrupted run loses nothing already written.
- Workers: with `workers > 1`, clips are scanned in that many processes, each holding its own
  index and models (loaded once); at most `2 x workers` clips are in flight, so memory stays
  bounded whatever the number of clips. A worker that dies (a decoder crash on a hostile file)
  costs the clip it was scanning: the clips in flight with it are retried one at a time.
  Workers are spawned, not forked: a script that calls this with `workers > 1` must keep its
  top-level code under `if __name__ == "__main__":` (the `auditor` command does).
- `matches.csv` and `summary.csv` list every clip of the batch, including those skipped because
  they were already done, and are rewritten atomically at the end (also on Ctrl-C).
"""

from __future__ import annotations

import contextlib
import glob
import hashlib
import importlib.util
import json
import os
import sys
from collections import deque
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from pathlib import Path
from typing import Callable, Iterable

from reference_index.files import sha256_file

from .errors import AuditorError, InputError, MissingDependency, UsageError
from .evidence import evidence_path, matches_rows, write_evidence, write_matches_csv, write_summary_csv
from .sampling import STILL_SUFFIXES

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".gif", ".mpg", ".mpeg", ".ts", ".flv", ".wmv", ".3gp"}
MEDIA_SUFFIXES = VIDEO_SUFFIXES | STILL_SUFFIXES


# -- inputs ----------------------------------------------------------------------------------
def expand_inputs(args: Iterable[str | Path], from_list: str | None = None, stdin=None) -> list[Path]:
    """Paths to scan, in the order given, each once. Folders are searched recursively for media
    files; patterns with * ? [ are expanded; a path that does not exist is kept (it becomes an
    error row naming it) unless it is a pattern that matches nothing (a usage error)."""
    items: list[str] = [str(a) for a in args]
    if from_list is not None:
        if from_list == "-":
            lines = (stdin or sys.stdin).read().splitlines()
        else:
            try:
                lines = Path(from_list).read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise UsageError(f"--from-list {from_list}: cannot read ({exc.strerror or exc})") from None
        items += [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    out: list[Path] = []
    seen: set[str] = set()

    def add(p: Path) -> None:
        key = os.path.abspath(p)
        if key not in seen:
            seen.add(key)
            out.append(p)

    for item in items:
        p = Path(item)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if f.is_file() and f.suffix.lower() in MEDIA_SUFFIXES and not any(part.startswith(".") for part in f.relative_to(p).parts):
                    add(f)
        elif not p.exists() and any(c in item for c in "*?["):
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                raise UsageError(f"{item}: the pattern matches no file")
            for m in matches:
                if Path(m).is_file():
                    add(Path(m))
        else:
            add(p)
    return out


# -- resuming --------------------------------------------------------------------------------
def parameters_sha256(config: dict) -> str:
    return hashlib.sha256(json.dumps(config, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def finished_evidence(out_dir: Path, query_id: str, clip_sha: str, manifest_sha: str, params_sha: str) -> dict | None:
    """The evidence an earlier run wrote for this very clip, index and parameters, or None."""
    path = evidence_path(out_dir, query_id)
    try:
        ev = json.loads(path.read_text(encoding="utf-8"))
        same = (
            ev["clip"]["sha256"] == clip_sha
            and ev["index"]["manifest_sha256"] == manifest_sha
            and parameters_sha256(ev["tool"]["parameters"]) == params_sha
        )
    except (OSError, ValueError, KeyError, TypeError):
        return None
    return ev if same else None


# -- workers ---------------------------------------------------------------------------------
_WORKER = {}


def _worker_init(index_path: str, config: dict, threads: int, context_file: str | None = None) -> None:
    """Runs once in each worker process: share the cores, open the index, load the models."""
    import cv2

    cv2.setNumThreads(threads)
    with contextlib.suppress(Exception):
        import faiss

        faiss.omp_set_num_threads(threads)
    from .scan import Scanner

    _WORKER["scanner"] = Scanner(index_path, config, context_file)
    if "torch" in sys.modules:  # the index has a clip channel: its model is loaded now
        sys.modules["torch"].set_num_threads(threads)


def scan_one(scanner, path, query_id: str, out_dir) -> tuple[str, dict | str]:
    """("ok", evidence) or ("error", the one-line reason). Whatever one file does to a decoder or
    a library costs that file alone; an index or model problem (any other AuditorError) is
    raised, since every clip would fail the same way."""
    try:
        return "ok", scanner.scan(path, query_id, out_dir)
    except InputError as exc:
        return "error", _reason(exc, path)
    except (MemoryError, OSError, ValueError, RuntimeError) as exc:
        return "error", f"unexpected {type(exc).__name__}: {exc}"


def _worker_scan(path: str, query_id: str, out_dir: str) -> tuple[str, dict | str]:
    return scan_one(_WORKER["scanner"], path, query_id, out_dir)


# -- the batch -------------------------------------------------------------------------------
def run_batch(
    paths: list[str | Path],
    index_path: str | Path,
    out_dir: str | Path,
    config: dict,
    progress: Callable | None = None,
    scanner=None,
    pdf: dict | None = None,
    force: bool = False,
    workers: int = 1,
    task: Callable | None = None,
    engine: str = "local",
    address: str | None = None,
    context_file: str | Path | None = None,
):
    """Scan every clip (see the module docstring); write evidence, matches.csv, summary.csv.
    Returns a ScanReport.

    `pdf`: keyword arguments of `report.render_report` (lang, redact_references, sign,
    passphrase); with it, every flagged clip also gets its evidence PDF. A report that cannot
    be rendered marks that clip as failed, with the reason; its evidence stays.

    `task`: what a worker process runs per clip (a module-level function taking path, query id
    and output folder), for tests; the default scans with the worker's Scanner."""
    from .scan import ClipOutcome, Scanner, ScanReport, query_ids

    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    paths = [Path(p) for p in paths]
    ids = query_ids(paths)
    if engine not in ("local", "ray"):
        raise UsageError(f"--engine {engine!r}: choose local or ray")
    if engine == "ray" and importlib.util.find_spec("ray") is None:
        raise MissingDependency(RAY_MISSING)
    in_process = engine == "local" and workers <= 1
    own = scanner is None and in_process
    if context_file is not None:
        from .provenance import read_context

        try:
            read_context(context_file)  # a malformed context file stops the batch before it starts
        except InputError as exc:
            raise UsageError(f"--context {exc}") from None
        context_file = str(context_file)
    scanner = scanner if scanner is not None else (Scanner(index_path, config, context_file) if in_process else None)
    from reference_index import ReferenceIndex

    if scanner is not None:
        manifest_sha = scanner.index.manifest_sha256
    else:
        with ReferenceIndex.open(index_path) as idx:
            manifest_sha = idx.manifest_sha256
    params_sha = parameters_sha256(config)
    report = ScanReport(str(out))
    rows: list[dict] = []

    def finish(outcome: "ClipOutcome", ev: dict | None) -> None:
        if ev is not None:
            rows.extend(matches_rows(ev))
            if pdf is not None and ev["verdict"]["flagged"]:
                _render(outcome, pdf)
        report.outcomes.append(outcome)
        if progress:
            progress(outcome)

    def done(path: Path, qid: str, ev: dict, status: str = "ok") -> None:
        written = evidence_path(out, qid) if status == "skipped" else write_evidence(out, ev)
        outcome = ClipOutcome(
            str(path), qid, status, evidence_path=str(written), verdict=ev["verdict"],
            top_work=ev["works"][0]["work"] if ev["works"] else None,
            segments=sum(len(w["segments"]) for w in ev["works"]),
            frames=0 if status == "skipped" else int(ev["clip"].get("frames_sampled") or 0),
        )
        finish(outcome, ev)

    def failed(path: Path, qid: str, reason: str) -> None:
        finish(ClipOutcome(str(path), qid, "error", error=reason), None)

    def settle(path: Path, qid: str, status: str, value) -> None:
        done(path, qid, value) if status == "ok" else failed(path, qid, value)

    # clips to scan, after skipping the finished ones
    todo: list[tuple[Path, str]] = []
    try:
        for path, qid in zip(paths, ids):
            if not path.is_file():
                failed(path, qid, "file not found" if not path.exists() else "not a regular file")
                continue
            if not force and evidence_path(out, qid).is_file():  # hash only when there is something to match
                try:
                    clip_sha = sha256_file(path)
                except OSError as exc:
                    failed(path, qid, f"cannot read: {exc.strerror or exc}")
                    continue
                ev = finished_evidence(out, qid, clip_sha, manifest_sha, params_sha)
                if ev is not None:
                    done(path, qid, ev, status="skipped")
                    continue
            todo.append((path, qid))
        if engine == "ray":
            _run_ray(todo, str(index_path), str(out), config, workers, address, settle, failed, context_file)
        elif workers <= 1:
            for path, qid in todo:
                settle(path, qid, *scan_one(scanner, path, qid, out))
        else:
            _run_pool(todo, str(index_path), str(out), config, workers, settle, failed, task or _worker_scan, context_file)
    finally:
        # Also on Ctrl-C: the CSVs list every clip finished so far.
        report.matches_csv = str(out / "matches.csv")
        report.summary_csv = str(out / "summary.csv")
        write_matches_csv(report.matches_csv, rows)
        write_summary_csv(report.summary_csv, [o.summary_row() for o in report.outcomes])
        if own and scanner is not None:
            with contextlib.suppress(Exception):
                scanner.close()
    return report


def _reason(exc: InputError, clip) -> str:
    """The one-line reason for a clip's summary row; names the file at fault when it is not the
    clip itself (a malformed sidecar context file, say)."""
    return exc.reason if Path(exc.path) == Path(clip) else f"{exc.path}: {exc.reason}"


def _render(outcome, pdf: dict) -> None:
    from .report import default_report_path, render_report

    existing = default_report_path(outcome.evidence_path, pdf.get("lang", "en"))
    if outcome.status == "skipped" and existing.is_file():
        outcome.report_path = str(existing)  # rendered by the earlier run from this same evidence
        return
    try:
        outcome.report_path = str(render_report(outcome.evidence_path, **pdf))
    except (AuditorError, OSError, ValueError) as exc:
        outcome.status, outcome.error = "error", f"evidence written, report failed: {exc}"


def longest_first(todo: list[tuple[Path, str]]) -> list[tuple[Path, str]]:
    """Larger files first (a clip's size stands in for its length, without opening it here):
    workers then finish together rather than one scanning a long clip alone at the end."""

    def size(item: tuple[Path, str]) -> int:
        try:
            return item[0].stat().st_size
        except OSError:
            return 0

    return sorted(todo, key=size, reverse=True)


def _run_pool(todo, index_path: str, out: str, config: dict, workers: int, settle, failed, task, context_file=None) -> None:
    import multiprocessing as mp

    threads = max(1, (os.cpu_count() or 1) // workers)
    ctx = mp.get_context("spawn")  # no inherited threads or locks from this process

    def new_pool(n: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(n, mp_context=ctx, initializer=_worker_init, initargs=(index_path, config, threads, context_file))

    queue = deque(longest_first(todo))
    suspects: deque = deque()  # in flight when a worker died: retried one at a time
    pool = new_pool(workers)
    try:
        while queue or suspects:
            if suspects:  # isolate: one clip, one fresh worker
                path, qid = suspects.popleft()
                with new_pool(1) as solo:
                    fut = solo.submit(task, str(path), qid, out)
                    _collect(fut, path, qid, settle, failed, died="the worker process died while scanning this clip "
                             "(a crash in a decoder or library)")
                continue
            inflight: dict[Future, tuple[Path, str]] = {}
            broken = False
            while (queue or inflight) and not broken:
                while queue and len(inflight) < 2 * workers:
                    path, qid = queue.popleft()
                    inflight[pool.submit(task, str(path), qid, out)] = (path, qid)
                finished, _ = wait(inflight, return_when=FIRST_COMPLETED)
                for fut in finished:
                    path, qid = inflight.pop(fut)
                    if isinstance(fut.exception(), BrokenProcessPool):
                        broken = True
                        suspects.append((path, qid))
                    else:
                        _collect(fut, path, qid, settle, failed)
            if broken:
                suspects.extend(inflight.values())
                pool.shutdown(wait=False, cancel_futures=True)
                pool = new_pool(workers)
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _collect(fut: Future, path: Path, qid: str, settle, failed, died: str | None = None) -> None:
    exc = fut.exception()
    if exc is None:
        settle(path, qid, *fut.result())
    elif isinstance(exc, BrokenProcessPool):
        failed(path, qid, died or "the worker process died")
    elif isinstance(exc, AuditorError):
        raise exc  # an index or model problem: every clip would fail the same way
    else:  # the task itself broke (scan_one catches what a file can do)
        failed(path, qid, f"unexpected {type(exc).__name__}: {exc}")


# -- Ray ---------------------------------------------------------------------------------------
RAY_MISSING = "the ray engine needs Ray: pip install 'auditor[ray]' (or pip install ray)"


def ray_actor_options(device: str) -> dict:
    """Resources one scanning actor asks Ray for: a GPU when the clip channel runs on CUDA."""
    device = (device or "cpu").lower()
    if device == "cuda" or device.startswith("cuda:"):
        return {"num_cpus": 1, "num_gpus": 1}
    return {"num_cpus": 1}


class _RayScanner:
    """A Ray actor: loads the index and models once, then scans clip after clip. Paths (clips,
    index, output folder) must be the same on every node: a shared file system."""

    def __init__(self, index_path: str, config: dict, context_file: str | None = None):
        from .scan import Scanner

        self.scanner = Scanner(index_path, config, context_file)

    def scan(self, path: str, query_id: str, out_dir: str) -> tuple[str, dict | str]:
        return scan_one(self.scanner, path, query_id, out_dir)


def _run_ray(todo, index_path: str, out: str, config: dict, workers: int, address: str | None, settle, failed,
             context_file: str | None = None) -> None:
    import ray  # present: run_batch checked before any work

    started = False
    if not ray.is_initialized():
        kwargs = {"address": address} if address else {"num_cpus": max(workers, 1)}
        ray.init(include_dashboard=False, log_to_driver=False, **kwargs)
        started = True
    try:
        actor_cls = ray.remote(_RayScanner).options(**ray_actor_options(config["channels"]["clip"]["device"]))
        n = workers if workers > 1 else max(1, int(ray.available_resources().get("CPU", 1)))
        n = max(1, min(n, len(todo))) if todo else 0
        actors = [actor_cls.remote(index_path, config, context_file) for _ in range(n)]
        idle = deque(actors)
        queue = deque(todo)
        running: dict = {}
        while queue or running:
            while queue and idle:
                actor = idle.popleft()
                path, qid = queue.popleft()
                running[actor.scan.remote(str(path), qid, out)] = (actor, path, qid)
            ready, _ = ray.wait(list(running), num_returns=1)
            for ref in ready:
                actor, path, qid = running.pop(ref)
                try:
                    status, value = ray.get(ref)
                except ray.exceptions.RayActorError:
                    failed(path, qid, "the Ray worker died while scanning this clip (a crash in a decoder or library)")
                    idle.append(actor_cls.remote(index_path, config, context_file))
                    continue
                except ray.exceptions.RayTaskError as exc:
                    cause = exc.cause if hasattr(exc, "cause") else exc
                    if isinstance(cause, AuditorError):
                        raise cause from None  # the index or a model: every clip would fail alike
                    failed(path, qid, f"unexpected error in a Ray worker: {cause}")
                    idle.append(actor)
                    continue
                idle.append(actor)
                settle(path, qid, status, value)
    finally:
        if started:
            ray.shutdown()
