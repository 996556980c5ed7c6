"""The reference index: a folder with one FAISS index per channel, a SQLite catalogue, and
`manifest.json` that ties them together.

    DIR/manifest.json          format, index id, generation, channels (fingerprint, metric, dim,
                               count, file, sha256), catalogue (file, sha256, counts), versions
    DIR/gen-000007/            the files of the current generation
        catalogue.sqlite
        <channel>.faiss | <channel>.faissbin

Writes are copy-on-write: a writer builds generation N+1 beside N, and the commit is the
atomic replacement of manifest.json. A crash at any moment leaves manifest.json naming a
complete generation, so the previous index stays readable. One writer at a time (a lock file).
"""

from __future__ import annotations

import contextlib
import fcntl
import hashlib
import json
import os
import shutil
import sqlite3
import uuid
from datetime import datetime, timezone
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Iterable

import faiss
import numpy as np

from . import catalogue
from .errors import (
    CatalogueConflict,
    ChannelMismatch,
    FingerprintMismatch,
    IndexCorrupt,
    IndexLocked,
    IndexNotFound,
    ReferenceIndexError,
)
from .files import atomic_write_bytes, sha256_file
from .vectors import ChannelVectors, choose_structure

FORMAT = "reference_index/1"
# Channels with many vectors per frame (local features) store id = frame_id << MANY_SHIFT | rank.
MANY_SHIFT = 10
MAX_PER_FRAME = 1 << MANY_SHIFT
MANIFEST = "manifest.json"
LOCK = ".lock"
CATALOGUE = "catalogue.sqlite"
CALIBRATION = "calibration.json"


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


def _versions() -> dict:
    out = {"faiss": getattr(faiss, "__version__", "unknown")}
    try:
        out["reference_index"] = version("auditor")
    except PackageNotFoundError:  # pragma: no cover - source checkout
        out["reference_index"] = "source"
    return out


def _vector_file(name: str, metric: str) -> str:
    return f"{name}.faissbin" if metric == "hamming" else f"{name}.faiss"


def _gen_dir(generation: int) -> str:
    return f"gen-{generation:06d}"


def describe_fingerprint(fp: dict) -> str:
    """A one-line human description of a channel fingerprint, for mismatch messages."""
    keys = [k for k in ("model", "pretrained", "weights_sha256", "algorithm") if fp.get(k)]
    parts = [f"{k}={str(fp[k])[:16] if k == 'weights_sha256' else fp[k]}" for k in keys]
    if "preprocess" in fp:
        pp = fp["preprocess"]
        parts.append(f"preprocess={pp.get('size')}/{pp.get('interpolation')}/{pp.get('resize_mode')}")
    return f"id {fp.get('id')} ({', '.join(parts)})" if parts else f"id {fp.get('id')}"


class ReferenceIndex:
    """A read view of one committed generation. Use `writer()` to change the index."""

    def __init__(self, path: Path, manifest: dict, manifest_bytes: bytes):
        self.path = path
        self.manifest = manifest
        self.manifest_sha256 = hashlib.sha256(manifest_bytes).hexdigest()
        gen = path / _gen_dir(manifest["generation"])
        self._conn = catalogue.connect(gen / CATALOGUE, readonly=True)
        self._vectors: dict[str, ChannelVectors] = {}

    # -- opening ----------------------------------------------------------------------------
    @staticmethod
    def _read_manifest(path: Path) -> tuple[dict, bytes]:
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
        if manifest.get("format") != FORMAT:
            raise IndexCorrupt(f"{mpath}: format {manifest.get('format')!r}, this tool reads {FORMAT!r}")
        return manifest, raw

    @classmethod
    def open(cls, path: str | Path) -> "ReferenceIndex":
        """Open the current generation. Checks that every file is present with its recorded size."""
        path = Path(path)
        manifest, raw = cls._read_manifest(path)
        gen = path / _gen_dir(manifest["generation"])
        entries = [manifest["catalogue"]] + list(manifest["channels"].values())
        for entry in entries:
            f = gen / entry["file"]
            if not f.is_file():
                raise IndexCorrupt(f"{f}: file of the index is missing")
            if f.stat().st_size != entry["bytes"]:
                raise IndexCorrupt(f"{f}: {f.stat().st_size} bytes, the manifest says {entry['bytes']} (damaged)")
        return cls(path, manifest, raw)

    @classmethod
    def create(cls, path: str | Path, channels: dict[str, dict]) -> "ReferenceIndex":
        """Create an empty index. `channels`: name -> {"metric", "dim", "fingerprint"[, "per_frame"]}.

        per_frame is "one" (a vector per frame: hashes, embeddings; the FAISS id is the frame id)
        or "many" (local features: FAISS id = frame_id << MANY_SHIFT | rank within the frame).
        """
        path = Path(path)
        if (path / MANIFEST).exists():
            raise CatalogueConflict(f"{path}: an index already exists here")
        if not channels:
            raise ChannelMismatch("an index needs at least one channel")
        path.mkdir(parents=True, exist_ok=True)
        with _lock(path):
            gen = path / _gen_dir(1)
            if gen.exists():
                shutil.rmtree(gen)
            gen.mkdir()
            conn = catalogue.connect(gen / CATALOGUE)
            catalogue.init(conn)
            conn.commit()
            conn.close()
            manifest = {
                "format": FORMAT,
                "index_id": uuid.uuid4().hex,
                "generation": 1,
                "created_utc": _now(),
                "updated_utc": _now(),
                "channels": {},
                "catalogue": {"file": CATALOGUE},
            }
            empty = {}
            for name, spec in channels.items():
                vec = empty[name] = ChannelVectors(spec["metric"], spec["dim"])
                fname = _vector_file(name, spec["metric"])
                vec.save(gen / fname)
                per_frame = spec.get("per_frame", "one")
                if per_frame not in ("one", "many"):
                    raise ChannelMismatch(f"channel {name}: per_frame must be 'one' or 'many'")
                manifest["channels"][name] = {
                    "metric": spec["metric"],
                    "dim": int(spec["dim"]),
                    "per_frame": per_frame,
                    "fingerprint": spec["fingerprint"],
                    "file": fname,
                }
            _write_manifest(path, manifest, empty)
        return cls.open(path)

    def close(self) -> None:
        self._conn.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # -- what it holds ------------------------------------------------------------------------
    @property
    def index_id(self) -> str:
        return self.manifest["index_id"]

    @property
    def channels(self) -> dict[str, dict]:
        return self.manifest["channels"]

    def check_channels(self, names: Iterable[str]) -> None:
        names = list(names)
        if sorted(names) != sorted(self.channels):
            raise ChannelMismatch(
                f"{self.path}: the index holds channels {','.join(sorted(self.channels))}; "
                f"asked for {','.join(names)} (an index's channels are fixed when it is created)"
            )

    def check_fingerprint(self, name: str, fingerprint: dict) -> None:
        """Refuse vectors made differently from the index's for this channel."""
        if name not in self.channels:
            raise ChannelMismatch(f"{self.path}: no channel '{name}' in this index")
        stored = self.channels[name]["fingerprint"]
        if stored.get("id") != fingerprint.get("id"):
            raise FingerprintMismatch(
                f"{self.path}: channel '{name}' was built with {describe_fingerprint(stored)}, "
                f"but this run uses {describe_fingerprint(fingerprint)}; "
                "use the same model, weights and preprocessing, or build a new index"
            )

    def vectors(self, name: str) -> ChannelVectors:
        if name not in self._vectors:
            spec = self.channels[name]
            f = self.path / _gen_dir(self.manifest["generation"]) / spec["file"]
            # memory-mapped: a large index is paged in as searches touch it, not read whole
            self._vectors[name] = ChannelVectors.load(f, spec["metric"], spec["dim"], mmap=True, nprobe=spec.get("nprobe"))
        return self._vectors[name]

    def search(self, name: str, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, frame ids), each (n, k); -1 where there is no neighbour."""
        scores, ids = self.vectors(name).search(vectors, k)
        if self.channels[name].get("per_frame", "one") == "many":
            ids = np.where(ids >= 0, ids >> MANY_SHIFT, -1)
        return scores, ids

    def frame_refs(self, frame_ids: Iterable[int]) -> dict[int, catalogue.FrameRef]:
        return catalogue.frame_refs(self._conn, frame_ids)

    def work_frame_ids(self) -> dict[str, np.ndarray]:
        """Frame ids of every work (for leave-one-work-out calibration)."""
        out: dict[str, list[int]] = {}
        for fid, work in self._conn.execute(
            "SELECT f.frame_id, w.name FROM frames f JOIN videos v USING(video_id) JOIN works w USING(work_id)"
        ):
            out.setdefault(work, []).append(fid)
        return {w: np.asarray(ids, dtype=np.int64) for w, ids in out.items()}

    def frame_vectors(self, name: str, frame_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row into frame_ids of each vector, vectors) stored for these frames in a channel."""
        shift = MANY_SHIFT if self.channels[name].get("per_frame", "one") == "many" else 0
        ids, vecs = self.vectors(name).all_ids_and_vectors(where=lambda ids: np.isin(ids >> shift, frame_ids))
        pos = {int(f): i for i, f in enumerate(frame_ids)}
        rows = np.array([pos[int(f)] for f in ids >> shift], dtype=np.int64)
        return rows, vecs

    def calibration(self) -> dict | None:
        """The stored null distributions (see auditor.calibrate), or None."""
        entry = self.manifest.get("calibration")
        if not entry:
            return None
        f = self.path / _gen_dir(self.manifest["generation"]) / entry["file"]
        if not f.is_file() or f.stat().st_size != entry["bytes"]:
            raise IndexCorrupt(f"{f}: calibration file missing or damaged")
        return json.loads(f.read_text())

    def works(self) -> list[dict]:
        return catalogue.works(self._conn)

    def work_metadata(self, name: str) -> dict:
        return catalogue.work_metadata(self._conn, name)

    def videos(self) -> list[dict]:
        return catalogue.videos(self._conn)

    def video(self, ref_id: str) -> dict | None:
        return catalogue.video(self._conn, ref_id)

    def info(self) -> dict:
        counts = catalogue.counts(self._conn)
        return {
            "path": str(self.path),
            "index_id": self.index_id,
            "format": self.manifest["format"],
            "generation": self.manifest["generation"],
            "manifest_sha256": self.manifest_sha256,
            "created_utc": self.manifest.get("created_utc"),
            "updated_utc": self.manifest.get("updated_utc"),
            "versions": self.manifest.get("versions", {}),
            "counts": counts,
            "calibrated": bool(self.manifest.get("calibration")),
            "channels": {
                name: {
                    "metric": spec["metric"],
                    "dim": spec["dim"],
                    "vectors": spec.get("count", 0),
                    "per_frame": spec.get("per_frame", "one"),
                    "structure": spec.get("structure"),
                    "fingerprint": spec["fingerprint"],
                }
                for name, spec in self.channels.items()
            },
            "works": self.works(),
        }

    def verify(self) -> list[str]:
        """Full check of every file against its recorded SHA-256; returns the problems found."""
        problems = []
        gen = self.path / _gen_dir(self.manifest["generation"])
        extra = [self.manifest["calibration"]] if self.manifest.get("calibration") else []
        for entry in [self.manifest["catalogue"]] + list(self.channels.values()) + extra:
            f = gen / entry["file"]
            if not f.is_file():
                problems.append(f"{f}: missing")
            elif sha256_file(f) != entry["sha256"]:
                problems.append(f"{f}: SHA-256 differs from the manifest (damaged or altered)")
        return problems

    def writer(self) -> "IndexWriter":
        return IndexWriter(self.path)


@contextlib.contextmanager
def _lock(path: Path):
    fd = os.open(path / LOCK, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            raise IndexLocked(f"{path}: another process is writing to this index") from exc
        yield
    finally:
        os.close(fd)


def _write_manifest(path: Path, manifest: dict, vectors: dict[str, ChannelVectors]) -> None:
    gen = path / _gen_dir(manifest["generation"])
    manifest["updated_utc"] = _now()
    manifest["versions"] = _versions()
    conn = catalogue.connect(gen / manifest["catalogue"]["file"], readonly=True)
    try:
        manifest["catalogue"]["counts"] = catalogue.counts(conn)
    finally:
        conn.close()
    for entry in [manifest["catalogue"]] + list(manifest["channels"].values()) + (
        [manifest["calibration"]] if manifest.get("calibration") else []
    ):
        f = gen / entry["file"]
        with open(f, "rb+") as fh:
            os.fsync(fh.fileno())
        entry["bytes"] = f.stat().st_size
        entry["sha256"] = sha256_file(f)
    for name, entry in manifest["channels"].items():
        entry["count"] = vectors[name].ntotal
        entry["structure"] = vectors[name].describe()
    atomic_write_bytes(path / MANIFEST, (json.dumps(manifest, indent=2, sort_keys=True) + "\n").encode())


class IndexWriter:
    """Adds works, videos, frames and vectors; commits a new generation atomically.

    Use as a context manager: leaving it normally commits, leaving it by an exception discards
    everything since the last commit. `checkpoint()` commits and carries on (long builds).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock_cm = None
        self._conn: sqlite3.Connection | None = None
        self._vectors: dict[str, ChannelVectors] = {}
        self.manifest: dict = {}
        self.pending = 0

    def __enter__(self) -> "IndexWriter":
        self._lock_cm = _lock(self.path)
        self._lock_cm.__enter__()
        try:
            self._begin()
        except BaseException:
            self._lock_cm.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._commit()
            else:
                self._discard()
        finally:
            self._lock_cm.__exit__(None, None, None)

    def _begin(self) -> None:
        manifest, _ = ReferenceIndex._read_manifest(self.path)
        self.manifest = manifest
        old = self.path / _gen_dir(manifest["generation"])
        new_gen = manifest["generation"] + 1
        new = self.path / _gen_dir(new_gen)
        # A leftover from a writer that crashed before its commit: never named by the manifest.
        for stale in self.path.glob("gen-*"):
            if stale.name not in (old.name,):
                shutil.rmtree(stale, ignore_errors=True)
        new.mkdir()
        src = catalogue.connect(old / manifest["catalogue"]["file"], readonly=True)
        self._conn = catalogue.connect(new / CATALOGUE)
        src.backup(self._conn)
        src.close()
        self._vectors = {
            name: ChannelVectors.load(old / spec["file"], spec["metric"], spec["dim"], nprobe=spec.get("nprobe"))
            for name, spec in manifest["channels"].items()
        }
        self._calibration: bytes | None = None
        if manifest.get("calibration"):
            self._calibration = (old / manifest["calibration"]["file"]).read_bytes()
        self._new_gen = new_gen
        self.pending = 0

    def _commit(self) -> None:
        new = self.path / _gen_dir(self._new_gen)
        self._conn.commit()
        self._conn.close()
        self._conn = None
        for name, vec in self._vectors.items():
            vec.save(new / self.manifest["channels"][name]["file"])
        if self._calibration is not None:
            (new / CALIBRATION).write_bytes(self._calibration)
            self.manifest["calibration"] = {"file": CALIBRATION}
        else:
            self.manifest.pop("calibration", None)
        old_gen = self.manifest["generation"]
        self.manifest["generation"] = self._new_gen
        self.manifest["catalogue"]["file"] = CATALOGUE
        _write_manifest(self.path, self.manifest, self._vectors)  # the commit point
        shutil.rmtree(self.path / _gen_dir(old_gen), ignore_errors=True)

    def _discard(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        shutil.rmtree(self.path / _gen_dir(self._new_gen), ignore_errors=True)

    def checkpoint(self) -> None:
        """Commit what was added so far and continue in a fresh generation."""
        self._commit()
        self._begin()

    # -- adding -------------------------------------------------------------------------------
    @property
    def channels(self) -> dict[str, dict]:
        return self.manifest["channels"]

    def set_calibration(self, data: dict) -> None:
        """Store null distributions with the index (replacing any earlier ones)."""
        self._calibration = (json.dumps(data, sort_keys=True) + "\n").encode()

    def remove_work(self, name: str) -> dict:
        """Remove a work: its videos and frames from the catalogue, their vectors from every
        channel. Returns what went: {"videos": n, "frames": n, "vectors": {channel: n}}."""
        spans = catalogue.work_frame_spans(self._conn, name)
        if spans is None:
            raise CatalogueConflict(f"no work named {name!r} in the index")
        removed = {"videos": len(spans), "frames": sum(hi - lo for lo, hi in spans), "vectors": {}}
        for ch, vec in self._vectors.items():
            if self.channels[ch].get("per_frame", "one") == "many":
                ranges = [(lo << MANY_SHIFT, hi << MANY_SHIFT) for lo, hi in spans]
            else:
                ranges = list(spans)
            removed["vectors"][ch] = vec.remove(ranges=ranges)
        catalogue.delete_work(self._conn, name)
        self.pending += 1
        self._calibration = None  # null distributions described the old catalogue
        return removed

    def optimize(self, exact_max: dict | None = None, nprobe: dict | None = None, retrain: bool = False) -> dict:
        """Put every channel in the structure its size calls for (see vectors.choose_structure),
        retraining inverted lists when asked or when the list count should change.
        Returns {channel: description of what was done}."""
        done = {}
        for ch, vec in list(self._vectors.items()):
            if nprobe and ch in self.channels:
                vec.nprobe = int(nprobe.get(vec.metric, vec.nprobe))
                self.channels[ch]["nprobe"] = vec.nprobe
            one = self.channels[ch].get("per_frame", "one") == "one"
            structure, nlist = choose_structure(vec.metric, vec.ntotal, exact_max, one_per_frame=one)
            current = vec.index.nlist if vec.structure == "ivf" else 0
            if structure == vec.structure and nlist == current and not (retrain and structure == "ivf"):
                done[ch] = f"kept: {vec.describe()}"
                continue
            self._vectors[ch] = vec.rebuilt(structure, nlist)
            done[ch] = f"rebuilt: {self._vectors[ch].describe()} ({vec.ntotal} vectors)"
            self.pending += 1
        return done

    def find_sha256(self, sha256: str) -> tuple[str, str] | None:
        return catalogue.video_by_sha256(self._conn, sha256)

    def ref_id_taken(self, ref_id: str) -> bool:
        return catalogue.video(self._conn, ref_id) is not None

    def add_video(
        self,
        *,
        work: str,
        owner: str,
        ref_id: str,
        info: dict,
        times: np.ndarray,
        vectors: dict[str, tuple[np.ndarray, np.ndarray]],
        video_metadata: dict | None = None,
        work_metadata: dict | None = None,
    ) -> int:
        """Add one video (or still) with its sampled frames and, per channel, (rows, vectors):
        `rows[i]` is the index (into `times`) of the frame vector i belongs to.

        All or nothing: a conflict leaves the catalogue and the vectors as they were.
        Returns the number of frames added.
        """
        if sorted(vectors) != sorted(self.channels):
            raise ChannelMismatch(f"vectors for {sorted(vectors)}, index has {sorted(self.channels)}")
        n = len(times)
        for name, (rows, vecs) in vectors.items():
            rows = np.asarray(rows, dtype=np.int64)
            vecs = np.asarray(vecs)
            if len(rows) != len(vecs):
                raise ValueError(f"channel {name}: {len(vecs)} vectors but {len(rows)} rows")
            if len(rows) and (rows.min() < 0 or rows.max() >= n):
                raise ValueError(f"channel {name}: rows outside the {n} frames")
            if len(vecs) and vecs.shape[1:] != (self._vectors[name].width,):
                raise ValueError(f"channel {name}: vectors of width {vecs.shape[1:]}, "
                                 f"the index stores {self._vectors[name].width}")
            many = self.channels[name].get("per_frame", "one") == "many"
            counts = np.bincount(rows, minlength=n) if len(rows) else np.zeros(n, int)
            if not many and (counts > 1).any():
                raise ValueError(f"channel {name}: one vector per frame, got several for a frame")
            if many and (counts > MAX_PER_FRAME).any():
                raise ValueError(f"channel {name}: more than {MAX_PER_FRAME} vectors for one frame")
        self._conn.execute("SAVEPOINT add_video")
        try:
            work_id = catalogue.upsert_work(self._conn, work, owner, work_metadata)
            video_id = catalogue.add_video(self._conn, work_id, ref_id, info, video_metadata)
            ids = catalogue.add_frames(self._conn, video_id, times)
        except (CatalogueConflict, sqlite3.Error) as exc:
            self._conn.execute("ROLLBACK TO add_video")
            self._conn.execute("RELEASE add_video")
            if isinstance(exc, sqlite3.Error):
                raise CatalogueConflict(f"{info.get('path')}: catalogue refused the entry: {exc}") from exc
            raise
        self._conn.execute("RELEASE add_video")
        for name, (rows, vecs) in vectors.items():
            rows = np.asarray(rows, dtype=np.int64)
            if self.channels[name].get("per_frame", "one") == "many":
                order = np.argsort(rows, kind="stable")
                rank = np.empty_like(rows)
                sorted_rows = rows[order]
                starts = np.searchsorted(sorted_rows, sorted_rows, "left")
                rank[order] = np.arange(len(rows)) - starts
                vector_ids = (ids[rows] << MANY_SHIFT) | rank
            else:
                vector_ids = ids[rows]
            self._vectors[name].add(vector_ids, np.asarray(vecs))
        self.pending += 1
        # The catalogue changed: the stored null distributions no longer describe it.
        self._calibration = None
        return n


def open_index(path: str | Path) -> ReferenceIndex:
    return ReferenceIndex.open(path)


__all__ = ["ReferenceIndex", "IndexWriter", "ReferenceIndexError", "open_index", "describe_fingerprint"]
