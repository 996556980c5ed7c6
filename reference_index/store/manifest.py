"""The index folder's layout and its `manifest.json`, the one file that says what is committed.

    DIR/manifest.json          format, index id, generation, channels (fingerprint, metric, dim,
                               count, file, bytes, sha256, kind and description of the structure,
                               and its FAISS factory string where FAISS has one),
                               catalogue (file, bytes, sha256, counts), calibration (file, bytes,
                               sha256), versions; its shape is checked on reading (schema.py)
    DIR/gen-000007/            the files of generation 7
        catalogue.sqlite
        <channel>.faiss | <channel>.faissbin
        calibration.json       (when calibrated)
    DIR/readers/               leases of the readers that hold a generation open (see leases.py)
    DIR/.lock                  held by the one writer

A commit is the atomic replacement of manifest.json: a crash at any moment leaves it naming a
complete generation. Readers and writers check that generation against it before use
(integrity.py).
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
from collections.abc import Iterator
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from ..errors import IndexCorrupt, IndexIsSharded, IndexLocked, IndexNotFound
from ..search.openmp import faiss
from . import catalogue
from .files import atomic_write_bytes, sha256_file
from .schema import validate_manifest
from .verified import identity, remember_written

FORMAT = "reference_index/1"
SHARDED_FORMAT = "reference_index.sharded/1"  # a folder of shards (sharded.py)
MANIFEST = "manifest.json"
LOCK = ".lock"
CATALOGUE = "catalogue.sqlite"
CALIBRATION = "calibration.json"
# Channels with many vectors per frame (local features) store id = frame_id << MANY_SHIFT | rank.
MANY_SHIFT = 10
MAX_PER_FRAME = 1 << MANY_SHIFT


def now_utc() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def gen_dir(generation: int) -> str:
    return f"gen-{generation:06d}"


def generation_of(name: str) -> int | None:
    """The generation a `gen-NNNNNN` folder name stands for, or None."""
    if name.startswith("gen-") and name[4:].isdigit():
        return int(name[4:])
    return None


def vector_file(name: str, metric: str) -> str:
    return f"{name}.faissbin" if metric == "hamming" else f"{name}.faiss"


def exists(path: str | Path) -> bool:
    """Whether `path` holds an index (a manifest)."""
    return (Path(path) / MANIFEST).is_file()


def read_json_manifest(path: Path) -> tuple[dict, bytes]:
    """The manifest.json of the folder `path` as a JSON object, and its exact bytes, whatever its
    format (an index's, or a sharded index's). Raises IndexNotFound or IndexCorrupt."""
    mpath = path / MANIFEST
    if not path.is_dir():
        raise IndexNotFound(f"{path}: no such index folder")
    if not mpath.is_file():
        raise IndexNotFound(f"{path}: not an index (no {MANIFEST}); create one with `auditor index add`")
    raw = mpath.read_bytes()
    try:
        manifest = json.loads(raw)
    except ValueError as exc:
        raise IndexCorrupt(f"{mpath}: not valid JSON ({exc})") from exc
    if not isinstance(manifest, dict):
        raise IndexCorrupt(f"{mpath}: a JSON {type(manifest).__name__}, not a manifest (an object); damaged or edited")
    return manifest, raw


def read_manifest(path: Path) -> tuple[dict, bytes]:
    """(manifest, its exact bytes). Raises IndexNotFound or IndexCorrupt."""
    mpath = path / MANIFEST
    manifest, raw = read_json_manifest(path)
    if manifest.get("format") == SHARDED_FORMAT:
        raise IndexIsSharded(f"{path}: a sharded index, which is read-only (scan it, or show it with `auditor index info`); "
                             "change the unsharded index it was made from and shard that again")
    if manifest.get("format") != FORMAT:
        raise IndexCorrupt(f"{mpath}: format {str(manifest.get('format'))[:80]!r}, this tool reads {FORMAT!r}")
    validate_manifest(manifest, str(mpath))
    return manifest, raw


def committed_files(manifest: dict) -> list[dict]:
    """The manifest's entries for every file of its generation (catalogue, channels, calibration)."""
    extra = [manifest["calibration"]] if manifest.get("calibration") else []
    return [manifest["catalogue"]] + list(manifest["channels"].values()) + extra


def library_versions() -> dict:
    out = {"faiss": getattr(faiss, "__version__", "unknown")}
    try:
        out["reference_index"] = version("auditor")
    except PackageNotFoundError:  # pragma: no cover - source checkout
        out["reference_index"] = "source"
    return out


def write_manifest(path: Path, manifest: dict, vectors: dict) -> None:
    """Record sizes, checksums, counts and structures of the manifest's generation, then commit
    it by replacing manifest.json atomically. `vectors`: channel name -> ChannelVectors."""
    gen = path / gen_dir(manifest["generation"])
    manifest["updated_utc"] = now_utc()
    manifest["versions"] = library_versions()
    conn = catalogue.connect(gen / manifest["catalogue"]["file"], readonly=True)
    try:
        manifest["catalogue"]["counts"] = catalogue.counts(conn)
    finally:
        conn.close()
    for entry in committed_files(manifest):
        f = gen / entry["file"]
        with open(f, "rb+") as fh:
            os.fsync(fh.fileno())
        before = identity(f.stat())
        entry["bytes"] = before[2]
        entry["sha256"] = sha256_file(f)
        remember_written(f, entry["sha256"], before)  # so this writer's next generation need not read it again
    for name, entry in manifest["channels"].items():
        entry["count"] = vectors[name].ntotal
        entry["kind"] = vectors[name].structure
        entry["structure"] = vectors[name].describe()
        entry["factory"] = vectors[name].factory  # None where FAISS has no factory string for it
    atomic_write_bytes(path / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())


@contextlib.contextmanager
def writer_lock(path: Path, wait: bool = False) -> Iterator[None]:
    """Exclusive right to change the index at `path`; IndexLocked when another process has it
    (`wait`: wait for it instead, for what holds it a moment only, such as creating the index)."""
    lock = path / LOCK
    try:
        # never follow a link planted in its place: the lock is this folder's own file
        fd = os.open(lock, os.O_RDWR | os.O_CREAT | os.O_NOFOLLOW, 0o644)
    except IsADirectoryError:
        raise IndexCorrupt(f"{lock}: the index's lock file is a folder; remove it") from None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            raise IndexCorrupt(f"{lock}: the index's lock file is a symbolic link; remove it") from None
        raise
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX if wait else fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexLocked(f"{path}: another process is writing to this index") from exc
        yield
    finally:
        os.close(fd)


def describe_fingerprint(fp: dict) -> str:
    """A one-line human description of a channel fingerprint, for mismatch messages."""
    keys = [k for k in ("model", "pretrained", "weights_sha256", "algorithm") if fp.get(k)]
    parts = [f"{k}={str(fp[k])[:16] if k == 'weights_sha256' else fp[k]}" for k in keys]
    if "preprocess" in fp:
        pp = fp["preprocess"]
        parts.append(f"preprocess={pp.get('size')}/{pp.get('interpolation')}/{pp.get('resize_mode')}")
    return f"id {fp.get('id')} ({', '.join(parts)})" if parts else f"id {fp.get('id')}"
