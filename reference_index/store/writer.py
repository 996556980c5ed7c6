"""Changing a reference index: copy-on-write generations, one writer at a time.

A writer builds generation N+1 beside N and commits it by replacing manifest.json atomically;
leaving it by an exception discards everything since the last commit. After a commit, superseded
generations are deleted unless a reader still holds them (see leases.py): a scan that opened
generation N keeps reading N through any number of commits.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import uuid
from contextlib import AbstractContextManager
from pathlib import Path

import numpy as np

from ..errors import CatalogueConflict, ChannelMismatch, IndexWriteFailed
from ..search.vectors import LISTS_OUTGROWN, ChannelVectors, choose_structure
from . import catalogue, integrity
from .leases import held_generations
from .manifest import (
    CALIBRATION,
    CATALOGUE,
    FORMAT,
    MANIFEST,
    MANY_SHIFT,
    MAX_PER_FRAME,
    gen_dir,
    generation_of,
    now_utc,
    read_manifest,
    vector_file,
    write_manifest,
    writer_lock,
)


def create_index(path: Path, channels: dict[str, dict]) -> None:
    """Create an empty index. `channels`: name -> {"metric", "dim", "fingerprint"[, "per_frame"]}.

    per_frame is "one" (a vector per frame: hashes, embeddings; the FAISS id is the frame id)
    or "many" (local features: FAISS id = frame_id << MANY_SHIFT | rank within the frame).
    """
    if (path / MANIFEST).exists():
        raise CatalogueConflict(f"{path}: an index already exists here")
    if not channels:
        raise ChannelMismatch("an index needs at least one channel")
    path.mkdir(parents=True, exist_ok=True)
    with writer_lock(path, wait=True):  # another process creating it holds the lock a moment only
        if (path / MANIFEST).exists():  # ... and has made it meanwhile
            raise CatalogueConflict(f"{path}: an index already exists here")
        gen = path / gen_dir(1)
        if gen.exists():
            shutil.rmtree(gen)
        gen.mkdir()
        conn = catalogue.connect(gen / CATALOGUE)
        catalogue.init(conn)
        conn.commit()
        conn.close()
        manifest: dict = {  # the manifest's JSON document
            "format": FORMAT,
            "index_id": uuid.uuid4().hex,
            "generation": 1,
            "created_utc": now_utc(),
            "updated_utc": now_utc(),
            "channels": {},
            "catalogue": {"file": CATALOGUE},
        }
        empty: dict[str, ChannelVectors] = {}
        for name, spec in channels.items():
            per_frame = spec.get("per_frame", "one")
            if per_frame not in ("one", "many"):
                raise ChannelMismatch(f"channel {name}: per_frame must be 'one' or 'many'")
            vec = empty[name] = ChannelVectors(spec["metric"], spec["dim"])
            fname = vector_file(name, spec["metric"])
            vec.save(gen / fname)
            manifest["channels"][name] = {
                "metric": spec["metric"],
                "dim": int(spec["dim"]),
                "per_frame": per_frame,
                "fingerprint": spec["fingerprint"],
                "file": fname,
            }
        write_manifest(path, manifest, empty)


def collect_garbage(path: Path, current: int) -> list[int]:
    """Delete generations other than `current` that no reader holds: superseded ones, and
    uncommitted ones a crashed writer left. Call with the writer lock held. Returns those deleted."""
    held = held_generations(path)
    gone = []
    for d in path.glob("gen-*"):
        gen = generation_of(d.name)
        if gen is None or gen == current or gen in held:
            continue
        shutil.rmtree(d, ignore_errors=True)
        gone.append(gen)
    return sorted(gone)


def _write_failure(exc: BaseException) -> bool:
    """Whether an exception is a write that failed (the file system, SQLite's or FAISS's I/O)."""
    if isinstance(exc, (OSError, sqlite3.OperationalError)):
        return True
    return isinstance(exc, RuntimeError) and "faiss" in str(exc).lower()


def _unwritten(path: Path, exc: BaseException) -> str:
    free = shutil.disk_usage(path).free if path.exists() else None
    if isinstance(exc, OSError) and exc.strerror:
        why = exc.strerror
    elif free is not None and free < 1 << 20:
        why = f"no space left on the device ({free} bytes free)"
    else:
        why = " ".join(str(exc).split())[-200:]
    return (f"{path}: the new generation could not be written ({why}); nothing was committed, what was written "
            "of it is removed, and the index is as it was")


class IndexWriter:
    """Adds works, videos, frames and vectors; commits a new generation atomically.

    Use as a context manager: leaving it normally commits, leaving it by an exception discards
    everything since the last commit. `checkpoint()` commits and carries on (long builds).
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._lock_cm: AbstractContextManager[None] | None = None
        self._conn: sqlite3.Connection | None = None  # the new generation's catalogue, while building it
        self._new_gen: int | None = None
        self._vectors: dict[str, ChannelVectors] = {}
        self.manifest: dict = {}
        self.pending = 0

    def __enter__(self) -> IndexWriter:
        lock = self._lock_cm = writer_lock(self.path)
        lock.__enter__()
        try:
            self._begin()
        except BaseException:
            lock.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self._commit()
            else:
                self._discard()
        finally:
            assert self._lock_cm is not None  # taken by __enter__
            self._lock_cm.__exit__(None, None, None)

    def _begin(self) -> None:
        self._new_gen = None  # nothing of ours to discard until the new generation exists
        manifest, _ = read_manifest(self.path)
        self.manifest = manifest
        old = self.path / gen_dir(manifest["generation"])
        # never build on (and so re-checksum) a generation that fails verification
        verified = integrity.verify_files(self.path, old, manifest)
        new_gen = manifest["generation"] + 1
        collect_garbage(self.path, manifest["generation"])  # leftovers of a writer that crashed
        new = self.path / gen_dir(new_gen)
        try:
            new.mkdir()
            self._copy_generation(old, new, manifest, verified)
        except BaseException as exc:
            if self._conn is not None:
                self._conn.close()
                self._conn = None
            failed = _unwritten(self.path, exc) if _write_failure(exc) else None
            shutil.rmtree(new, ignore_errors=True)
            if failed:
                raise IndexWriteFailed(failed) from None
            raise
        self._new_gen = new_gen
        self.pending = 0

    def _copy_generation(self, old: Path, new: Path, manifest: dict, verified: dict) -> None:
        """Start the new generation from the verified files of the old one, their counts checked."""
        src = catalogue.connect(old / manifest["catalogue"]["file"], readonly=True)
        try:
            integrity.check_catalogue_counts(manifest, src, old / manifest["catalogue"]["file"])
            integrity.still_verified(old / manifest["catalogue"]["file"], verified)
            self._conn = catalogue.connect(new / CATALOGUE)
            src.backup(self._conn)
        finally:
            src.close()
        catalogue.ensure_current(self._conn)
        self._vectors = {}
        for name, spec in manifest["channels"].items():
            f = old / spec["file"]
            self._vectors[name] = ChannelVectors.load(f, spec["metric"], spec["dim"], nprobe=spec.get("nprobe"))
            integrity.still_verified(f, verified)
            integrity.check_channel_count(name, spec, self._vectors[name], f)
        self._calibration: bytes | None = None
        if manifest.get("calibration"):
            self._calibration = (old / manifest["calibration"]["file"]).read_bytes()
            integrity.still_verified(old / manifest["calibration"]["file"], verified)

    @property
    def _db(self) -> sqlite3.Connection:
        """The new generation's catalogue; only inside `with IndexWriter(path) as writer:`."""
        if self._conn is None:
            raise RuntimeError("an IndexWriter is used inside its `with` block only")
        return self._conn

    def _commit(self) -> None:
        """Write the new generation and its manifest (the commit point). A write that fails (a full
        disk: FAISS, SQLite and the file system each say it their way) removes the generation and
        raises IndexWriteFailed; the manifest still names the last one committed."""
        try:
            self._write_generation()
        except BaseException as exc:
            failed = _unwritten(self.path, exc) if _write_failure(exc) else None  # the disk as the write found it
            self._discard()
            if failed:
                raise IndexWriteFailed(failed) from None
            raise
        assert self._new_gen is not None
        collect_garbage(self.path, self._new_gen)

    def _write_generation(self) -> None:
        assert self._new_gen is not None  # _begin made the generation this commits
        new = self.path / gen_dir(self._new_gen)
        self._db.commit()
        self._db.close()
        self._conn = None
        for name, vec in self._vectors.items():
            vec.save(new / self.manifest["channels"][name]["file"])
        if self._calibration is not None:
            (new / CALIBRATION).write_bytes(self._calibration)
            self.manifest["calibration"] = {"file": CALIBRATION}
        else:
            self.manifest.pop("calibration", None)
        self.manifest["generation"] = self._new_gen
        self.manifest["catalogue"]["file"] = CATALOGUE
        write_manifest(self.path, self.manifest, self._vectors)  # the commit point

    def _discard(self) -> None:
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if self._new_gen is not None:  # None: a checkpoint's _begin failed, the last commit stands
            shutil.rmtree(self.path / gen_dir(self._new_gen), ignore_errors=True)

    def checkpoint(self) -> None:
        """Commit what was added so far and continue in a fresh generation."""
        self._commit()
        self._begin()

    # -- adding -------------------------------------------------------------------------------
    @property
    def channels(self) -> dict[str, dict]:
        return self.manifest["channels"]

    def _many(self, name: str) -> bool:
        return self.channels[name].get("per_frame", "one") == "many"

    def many_per_frame(self, name: str) -> bool:
        return self._many(name)

    def vectors(self, name: str) -> ChannelVectors:
        """A channel's vectors as this writer holds them (to be committed)."""
        return self._vectors[name]

    def set_calibration(self, data: dict) -> None:
        """Store null distributions with the index (replacing any earlier ones)."""
        self._calibration = (json.dumps(data, sort_keys=True) + "\n").encode()

    def remove_work(self, name: str) -> dict:
        """Remove a work: its videos and frames from the catalogue, their vectors from every
        channel. Returns what went: {"videos": n, "frames": n, "vectors": {channel: n}}."""
        spans = catalogue.work_frame_spans(self._db, name)
        if spans is None:
            raise CatalogueConflict(f"no work named {name!r} in the index")
        removed_vectors: dict[str, int] = {}
        removed = {"videos": len(spans), "frames": sum(hi - lo for lo, hi in spans), "vectors": removed_vectors}
        for ch, vec in self._vectors.items():
            if self._many(ch):
                ranges = [(lo << MANY_SHIFT, hi << MANY_SHIFT) for lo, hi in spans]
            else:
                ranges = list(spans)
            removed_vectors[ch] = vec.remove(ranges=ranges)
        catalogue.delete_work(self._db, name)
        self.pending += 1
        self._calibration = None  # null distributions described the old catalogue
        return removed

    def optimize(self, exact_max: dict | None = None, nprobe: dict | None = None, retrain: bool = False,
                 only_new_kinds: bool = False, local: str = "ivf", before=None) -> dict:
        """Put every channel in the structure its size calls for (see vectors.choose_structure),
        retraining inverted lists when asked or when the list count should change. With
        `only_new_kinds` (what `index add` does by itself as an index grows), only a channel whose
        kind of structure should change, or whose inverted lists are a quarter or less of those its
        size calls for, is rebuilt; the rest is left for `index optimize`. (Lists are retrained each
        time the channel has grown about 16 times, so all retraining costs about a tenth more than
        training once at the final size: 2.6 s at 50,000 ORB descriptors, 32 s at 820,800.)
        `local`: the structure of large local-feature channels ("ivf" or "words"). A channel in
        visual words keeps its vocabulary unless retrained (or grown four times past what it was
        trained for). `before(line)`, when given, is told which channel is about to be built in what
        (training takes minutes at millions of vectors). Returns {channel: description of what was done}."""
        done = {}
        for ch, vec in list(self._vectors.items()):
            if nprobe and ch in self.channels:
                vec.nprobe = int(nprobe.get(vec.metric, vec.nprobe))
                self.channels[ch]["nprobe"] = vec.nprobe
            structure, nlist = choose_structure(vec.metric, vec.ntotal, exact_max, one_per_frame=not self._many(ch),
                                                local=local)
            if only_new_kinds:  # `index add`: inverted lists only once a quarter or less of those called for
                stale = structure == vec.structure == "ivf" and nlist >= LISTS_OUTGROWN * vec.index.nlist
            elif structure == "words":  # retrained when asked, or grown 4x past its vocabulary's size
                stale = retrain or vec.vocabulary_outgrown()
            else:
                stale = (retrain and structure == "ivf") or nlist != (vec.index.nlist if vec.structure == "ivf" else 0)
            if structure == vec.structure and not stale:
                done[ch] = f"kept: {vec.describe()}"
                continue
            if before is not None:
                what = {"ivf": f"{nlist} inverted lists", "flat": "exact search", "mih": "a multi-index hash",
                        "words": "visual words"}[structure]
                before(f"{ch}: building {what} for {vec.ntotal:,} vectors (was: {vec.describe()})")
            self._vectors[ch] = vec.rebuilt(structure, nlist)
            done[ch] = f"rebuilt: {self._vectors[ch].describe()} ({vec.ntotal} vectors)"
            if structure == "words":  # scores are votes of shared words now: the null no longer applies
                self._calibration = None
            self.pending += 1
        return done

    def structures(self) -> dict[str, str]:
        """Each channel's structure as it stands (for the evidence and `index info`)."""
        return {ch: vec.structure for ch, vec in self._vectors.items()}

    def find_sha256(self, sha256: str) -> tuple[str, str] | None:
        return catalogue.video_by_sha256(self._db, sha256)

    def ref_id_taken(self, ref_id: str) -> bool:
        return catalogue.video(self._db, ref_id) is not None

    def _check_vectors(self, vectors: dict[str, tuple[np.ndarray, np.ndarray]], n: int) -> None:
        if sorted(vectors) != sorted(self.channels):
            raise ChannelMismatch(f"vectors for {sorted(vectors)}, index has {sorted(self.channels)}")
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
            counts = np.bincount(rows, minlength=n) if len(rows) else np.zeros(n, int)
            if not self._many(name) and (counts > 1).any():
                raise ValueError(f"channel {name}: one vector per frame, got several for a frame")
            if self._many(name) and (counts > MAX_PER_FRAME).any():
                raise ValueError(f"channel {name}: more than {MAX_PER_FRAME} vectors for one frame")

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
        boxes: list | None = None,
    ) -> int:
        """Add one video (or still) with its sampled frames and, per channel, (rows, vectors):
        `rows[i]` is the index (into `times`) of the frame vector i belongs to. `boxes`: per
        frame, the region of a still a tile shows (None for whole frames).

        All or nothing: a conflict leaves the catalogue and the vectors as they were.
        Returns the number of frames added.
        """
        n = len(times)
        self._check_vectors(vectors, n)
        self._db.execute("SAVEPOINT add_video")
        try:
            work_id = catalogue.upsert_work(self._db, work, owner, work_metadata)
            video_id = catalogue.add_video(self._db, work_id, ref_id, info, video_metadata)
            ids = catalogue.add_frames(self._db, video_id, times, boxes)
        except (CatalogueConflict, sqlite3.Error) as exc:
            self._db.execute("ROLLBACK TO add_video")
            self._db.execute("RELEASE add_video")
            if isinstance(exc, sqlite3.Error):
                raise CatalogueConflict(f"{info.get('path')}: catalogue refused the entry: {exc}") from exc
            raise
        self._db.execute("RELEASE add_video")
        for name, (rows, vecs) in vectors.items():
            rows = np.asarray(rows, dtype=np.int64)
            if self._many(name):
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
