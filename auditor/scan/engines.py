"""Where clips are scanned: in this process, in worker processes, or on Ray actors.

One error policy for all three (`scan_one`):
- a bad input (unreadable, over a limit, a decoder that fails, anything one file can do to a
  library) costs that input alone: it becomes an error row with its one-line reason;
- an index, configuration or model failure (an `AuditorError` other than `InputError`, or a
  `ReferenceIndexError`) stops the run with its exit code, since every clip would fail alike.
  A worker or actor that cannot start (its index or model does not open) stops the run the
  same way, with the error it met;
- a worker process that dies (a decoder crash on a hostile file) costs the clip it was on: the
  clips in flight with it are retried one at a time in fresh workers.

The engines are values (`Local`, `WorkerPool`, `OnRay`); `engine_for` makes one from the
command line's options, and `session` opens what an engine needs for a batch.

Each worker or actor opens the index and loads the models once. Workers are spawned, not
forked: a script that scans with a `WorkerPool` must keep its top-level code under
`if __name__ == "__main__":` (the `auditor` command does).
"""

from __future__ import annotations

import contextlib
import os
import sys
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path

from reference_index import ReferenceIndexError
from reference_index.store import open_reader

from ..channels import requested_devices
from ..errors import AuditorError, InputError, UsageError
from ..names import printable
from ..settings import Configuration
from .inputs import longest_first
from .scanner import Scanner
from .shard_actors import RayShards, shard_count, start_shard_actors

Settle = Callable[[Path, str, str, object], None]  # (path, query id, "ok" | "error", evidence or reason)
Failed = Callable[[Path, str, str], None]  # (path, query id, reason)


# -- the engines ---------------------------------------------------------------------------------
@dataclass(frozen=True)
class Local:
    """Clips one after another in this process, with `scanner` if given (else one is opened and
    closed for the batch)."""

    scanner: Scanner | None = None


@dataclass(frozen=True)
class WorkerPool:
    """Clips in `workers` processes, each with cores / workers threads. `task` is what a worker
    runs for a clip (a module-level function of path, query id and output folder, returning
    `scan_one`'s answer); the default scans with the worker's Scanner."""

    workers: int = 2
    task: Callable[[str, str, str], tuple[str, object]] | None = None


@dataclass(frozen=True)
class OnRay:
    """Clips on Ray actors (`workers`: how many; 1 means one a free CPU), on the cluster at
    `address` or on one Ray started on this machine. On a sharded index an actor serves each
    shard, with `shard_cpus` CPUs."""

    workers: int = 1
    address: str | None = None
    shard_cpus: int = 1


Engine = Local | WorkerPool | OnRay
ENGINES = ("local", "ray")


def engine_for(name: str, workers: int = 1, address: str | None = None, shard_cpus: int = 1) -> Engine:
    """The engine `scan --engine NAME --workers N [--address A] [--shard-cpus C]` asks for."""
    if name not in ENGINES:
        raise UsageError(f"--engine {name!r}: choose {' or '.join(ENGINES)}")
    if name == "ray":
        return OnRay(workers, address, shard_cpus)
    return WorkerPool(workers) if workers > 1 else Local()


class _Run:
    """A batch's engine, open: the index's manifest hash (to recognise finished clips) and
    `scan(todo, out, settle, failed)`."""

    def __init__(self, manifest_sha256: str, scan: Callable[[list, str, Settle, Failed], None]):
        self.manifest_sha256, self.scan = manifest_sha256, scan


@contextlib.contextmanager
def session(engine: Engine, index_path: str | Path, config: Configuration, context_file: str | None) -> Iterator[_Run]:
    """What `engine` needs for a batch, opened; closed when the batch ends."""
    if isinstance(engine, Local):
        scanner = engine.scanner or Scanner(index_path, config, context_file)
        try:
            yield _Run(scanner.index.manifest_sha256,
                       lambda todo, out, settle, failed: run_local(todo, scanner, out, settle))
        finally:
            if engine.scanner is None:
                with contextlib.suppress(Exception):
                    scanner.close()
        return
    with open_reader(index_path) as idx:
        manifest_sha, channel_names = idx.manifest_sha256, list(idx.channels)
    if isinstance(engine, WorkerPool):
        yield _Run(manifest_sha, lambda todo, out, settle, failed: run_pool(
            todo, str(index_path), out, config, engine.workers, settle, failed, engine.task or worker_scan, context_file))
    else:
        yield _Run(manifest_sha, lambda todo, out, settle, failed: run_ray(
            todo, str(index_path), out, config, channel_names, engine.workers, engine.address, settle, failed,
            context_file, engine.shard_cpus))


# -- one clip, one policy -------------------------------------------------------------------------
def stops_the_run(exc: BaseException) -> bool:
    """An index, configuration or model failure: every clip would fail the same way."""
    return isinstance(exc, ReferenceIndexError) or (isinstance(exc, AuditorError) and not isinstance(exc, InputError))


def _reason(exc: InputError, clip) -> str:
    """The one-line reason for a clip's summary row; names the file at fault when it is not the
    clip itself (a malformed sidecar context file, say)."""
    return exc.reason if exc.path == printable(clip) else f"{exc.path}: {exc.reason}"


def scan_one(scanner: Scanner, path, query_id: str, out_dir) -> tuple[str, object]:
    """("ok", evidence) or ("error", the one-line reason); raises what stops the run."""
    try:
        return "ok", scanner.scan(path, query_id, out_dir)
    except InputError as exc:
        return "error", _reason(exc, path)
    except Exception as exc:
        if stops_the_run(exc):
            raise
        return "error", unexpected(exc)


def unexpected(exc: BaseException) -> str:
    """One line for an error no check foresaw (a library's assertion, say), naming its type."""
    kind = type(exc).__name__
    if kind == "error":  # cv2.error
        kind = f"{type(exc).__module__}.error"
    return " ".join(f"unexpected {kind}: {exc}".split())


class _Failed(AuditorError):
    """A worker could not start for a reason that is not one of the library's typed errors."""


def _open_scanner(index_path: str, config: Configuration, context_file: str | None, shard_fanout=None) -> Scanner | BaseException:
    """A Scanner, or the error that kept it from opening (raised later, on the first clip)."""
    try:
        return Scanner(index_path, config, context_file, shard_fanout)
    except Exception as exc:
        return exc if stops_the_run(exc) else _Failed(f"a worker could not open the index and models: "
                                                      f"{type(exc).__name__}: {exc}")


# -- this process -------------------------------------------------------------------------------
def run_local(todo, scanner: Scanner, out: str, settle: Settle) -> None:
    for path, qid in todo:
        settle(path, qid, *scan_one(scanner, path, qid, out))


# -- worker processes -----------------------------------------------------------------------------
_WORKER: dict = {}


def die_with_parent(parent: int | None) -> None:
    """Make this worker end when the process that started it ends, however it ends (kill -9
    included): no orphan keeps scanning, holding the index lease and the cores, and the
    multiprocessing resource tracker, which lives while anyone holds its pipe, ends with them.
    On Linux the kernel sends SIGKILL (PR_SET_PDEATHSIG); everywhere a thread also watches the
    parent process id."""
    if parent is None:
        return
    if sys.platform.startswith("linux"):
        with contextlib.suppress(Exception):
            import ctypes
            import signal

            libc = ctypes.CDLL(None, use_errno=True)
            libc.prctl(1, int(signal.SIGKILL), 0, 0, 0)  # PR_SET_PDEATHSIG = 1
    if os.getppid() != parent:  # the parent died before the line above took effect
        os._exit(1)

    def watch() -> None:
        import time

        while os.getppid() == parent:
            time.sleep(0.5)
        os._exit(1)

    import threading

    threading.Thread(target=watch, name="auditor-parent-watch", daemon=True).start()


def _worker_init(index_path: str, config: Configuration, threads: int, context_file: str | None = None,
                 parent: int | None = None) -> None:
    """Runs once in each worker process: end with the parent, share the cores, open the index,
    load the models."""
    die_with_parent(parent)
    import cv2

    cv2.setNumThreads(threads)
    with contextlib.suppress(Exception):
        from reference_index.search import faiss

        faiss.omp_set_num_threads(threads)
    scanner = _WORKER["scanner"] = _open_scanner(index_path, config, context_file)
    if not isinstance(scanner, BaseException):
        for channel in scanner.channels.values():
            channel.use_cores(threads)


def worker_scan(path: str, query_id: str, out_dir: str) -> tuple[str, object]:
    """What a worker process runs per clip (module level: the pool pickles it by name)."""
    scanner = _WORKER["scanner"]
    if isinstance(scanner, BaseException):
        raise scanner
    return scan_one(scanner, path, query_id, out_dir)


def run_pool(todo, index_path: str, out: str, config: Configuration, workers: int, settle: Settle, failed: Failed,
             task: Callable = worker_scan, context_file: str | None = None) -> None:
    import multiprocessing as mp

    threads = max(1, (os.cpu_count() or 1) // workers)
    ctx = mp.get_context("spawn")  # no inherited threads or locks from this process

    def new_pool(n: int) -> ProcessPoolExecutor:
        return ProcessPoolExecutor(n, mp_context=ctx, initializer=_worker_init,
                                   initargs=(index_path, config, threads, context_file, os.getpid()))

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


def _collect(fut: Future, path: Path, qid: str, settle: Settle, failed: Failed, died: str | None = None) -> None:
    exc = fut.exception()
    if exc is None:
        settle(path, qid, *fut.result())
    elif isinstance(exc, BrokenProcessPool):
        failed(path, qid, died or "the worker process died")
    elif stops_the_run(exc):
        raise exc
    else:  # the task itself broke (scan_one catches what a file can do)
        failed(path, qid, unexpected(exc))


# -- Ray ------------------------------------------------------------------------------------------
def ray_actor_options(devices) -> dict:
    """Resources one scanning actor asks Ray for: a GPU when a channel runs on CUDA.
    `devices`: the devices the channels run on (or one device)."""
    devices = [devices] if isinstance(devices, str) else list(devices)
    if any((d or "cpu").lower().startswith("cuda") for d in devices):
        return {"num_cpus": 1, "num_gpus": 1}
    return {"num_cpus": 1}


class _RayScanner:
    """A Ray actor: loads the index and models once, then scans clip after clip. Paths (clips,
    index, output folder) must be the same on every node: a shared file system. With `shards`
    (actors serving the shards of a sharded index), searches go to them."""

    def __init__(self, index_path: str, config: Configuration, context_file: str | None = None, shards: RayShards | None = None):
        self.scanner = _open_scanner(index_path, config, context_file, shards)
        if not isinstance(self.scanner, BaseException):
            for channel in self.scanner.channels.values():
                channel.use_cores(1)  # the one CPU the actor asks Ray for

    def scan(self, path: str, query_id: str, out_dir: str) -> tuple[str, object]:
        if isinstance(self.scanner, BaseException):
            raise self.scanner
        return scan_one(self.scanner, path, query_id, out_dir)


def run_ray(todo, index_path: str, out: str, config: Configuration, channel_names, workers: int, address: str | None,
            settle: Settle, failed: Failed, context_file: str | None = None, shard_cpus: int = 1) -> None:
    """`shard_cpus`: CPUs each shard actor of a sharded index takes (FAISS threads in it)."""
    import ray  # present: the batch checked before any work

    started = False
    sharded = shard_count(index_path)  # a sharded index: an actor a shard besides the scanners
    if not ray.is_initialized():
        kwargs = {"address": address} if address else {"num_cpus": max(workers, 1) + sharded * shard_cpus}
        ray.init(include_dashboard=False, log_to_driver=False, **kwargs)
        started = True
    try:
        options = ray_actor_options(requested_devices(channel_names, config).values())
        actor_cls = ray.remote(_RayScanner).options(**options)
        n = workers if workers > 1 else max(1, int(ray.available_resources().get("CPU", 1)) - sharded * shard_cpus)
        n = max(1, min(n, len(todo))) if todo else 0
        shards = None
        if sharded and n:  # relays are started here too, once for every clip scanner
            shards = RayShards(start_shard_actors(index_path, shard_cpus), shard_cpus, int(config.search.shards_per_relay))
        actors = [actor_cls.remote(index_path, config, context_file, shards) for _ in range(n)]
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
                    idle.append(actor_cls.remote(index_path, config, context_file, shards))
                    continue
                except ray.exceptions.RayTaskError as exc:
                    cause = getattr(exc, "cause", None) or exc
                    if stops_the_run(cause):
                        raise cause from None
                    failed(path, qid, f"unexpected error in a Ray worker: {cause}")
                    idle.append(actor)
                    continue
                idle.append(actor)
                settle(path, qid, status, value)
    finally:
        if started:
            ray.shutdown()
