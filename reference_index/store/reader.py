"""A read view of one committed generation of a reference index.

`ReferenceIndex.open` reads the manifest, takes a lease on the generation it names (so no
writer deletes it while it is in use, see leases.py) and keeps reading that generation until
`close()`, however many commits happen meanwhile. Vectors are memory-mapped on first use.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterable
from pathlib import Path

import numpy as np

from ..errors import ChannelMismatch, FingerprintMismatch, IndexCorrupt, IndexLocked
from ..search import by_frame, knn
from ..search.vectors import ChannelVectors
from . import catalogue, integrity
from .leases import Lease
from .manifest import MANY_SHIFT, describe_fingerprint, gen_dir, read_manifest
from .writer import IndexWriter, create_index

OPEN_ATTEMPTS = 50  # commits that may land while a reader opens before it gives up


class ReadView:
    """What every read view of an index (ReferenceIndex, sharded.ShardedIndex) answers alike from
    its manifest (`self.manifest`, `self.path`)."""

    manifest: dict
    path: Path

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

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

    def many_per_frame(self, name: str) -> bool:
        return self.channels[name].get("per_frame", "one") == "many"

    def searcher(self, name: str, exclude: np.ndarray | None = None, margin: int = 64) -> Searcher:
        """How to search channel `name` (never returning the frames in `exclude`)."""
        return Searcher(self, name, exclude, margin)

    # -- what a Searcher asks, which each kind of view answers its own way ------------------------
    def structure(self, name: str) -> str:
        raise NotImplementedError

    def search(self, name: str, vectors: np.ndarray, k: int, stats: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
        raise NotImplementedError

    def shortlists(self, name: str, vectors, frame_of, rows, exclude=None, stats=None) -> list:
        raise NotImplementedError

    def votes(self, name: str, vectors, frame_of, rows, shortlists, k, max_distance, only=None, stats=None) -> list:
        raise NotImplementedError

    def nearest_competitors(self, name: str, vectors) -> np.ndarray | None:
        raise NotImplementedError


MAP_ABOVE_BYTES = 256 * 2**20  # channel files larger than this are memory-mapped, smaller ones read


class ReferenceIndex(ReadView):
    """A read view of one committed generation. Use `writer()` to change the index."""

    def __init__(self, path: Path, manifest: dict, manifest_bytes: bytes, lease: Lease | None = None,
                 verified: dict[str, tuple] | None = None):
        self.path = path
        self._verified = verified  # file name -> identity verified at open (None: not verified)
        self.manifest = manifest
        self.manifest_sha256 = hashlib.sha256(manifest_bytes).hexdigest()
        self._lease = lease
        self._gen = path / gen_dir(manifest["generation"])
        try:
            self._conn = catalogue.connect(self._gen / manifest["catalogue"]["file"], readonly=True)
        except sqlite3.Error as exc:
            raise IndexCorrupt(f"{self._gen / manifest['catalogue']['file']}: cannot open the catalogue ({exc})") from None
        self._vectors: dict[str, ChannelVectors] = {}

    # -- opening ----------------------------------------------------------------------------
    @classmethod
    def open(cls, path: str | Path, verify: bool = True) -> ReferenceIndex:
        """Open the current generation and hold it, after checking it (see integrity.py): the
        manifest's shape, every file against its size and SHA-256, the catalogue's counts
        against the manifest's (a channel's count is checked when its vectors are loaded).
        IndexCorrupt names the first file or count that fails. `verify=False` checks none of
        it: only for `check_integrity`, which lists every problem."""
        path = Path(path)
        for _ in range(OPEN_ATTEMPTS):
            manifest, raw = read_manifest(path)  # its shape is validated there
            lease = Lease.take(path, manifest["generation"])
            again, _ = read_manifest(path)
            if again.get("generation") == manifest["generation"]:
                break  # still current once leased: no writer will delete it now
            if lease is not None:
                lease.release()  # a commit landed meanwhile: open the newer generation
        else:
            raise IndexLocked(f"{path}: the index changed {OPEN_ATTEMPTS} times while opening it; try again")
        try:
            gen = path / gen_dir(manifest["generation"])
            verified = integrity.verify_files(path, gen, manifest) if verify else None
            index = cls(path, manifest, raw, lease, verified)
        except BaseException:
            if lease is not None:
                lease.release()
            raise
        if verified is not None:  # verify
            try:
                f = gen / manifest["catalogue"]["file"]
                integrity.check_catalogue_counts(manifest, index._conn, f)
                integrity.still_verified(f, verified)  # the catalogue SQLite opened is the one verified
            except BaseException:
                index.close()
                raise
        return index

    @classmethod
    def create(cls, path: str | Path, channels: dict[str, dict]) -> ReferenceIndex:
        """Create an empty index (see writer.create_index) and open it."""
        create_index(Path(path), channels)
        return cls.open(path)

    def close(self) -> None:
        self._conn.close()
        self._vectors.clear()
        if self._lease is not None:
            self._lease.release()
            self._lease = None

    # -- what it holds ------------------------------------------------------------------------
    @property
    def generation(self) -> int:
        return int(self.manifest["generation"])

    def vectors(self, name: str) -> ChannelVectors:
        if name not in self._vectors:
            spec = self.channels[name]
            f = self._gen / spec["file"]
            # a large channel is memory-mapped: paged in as searches touch it, not read whole, and
            # shared by every process that maps it; a small one is read, which FAISS scans faster
            # (inverted lists: 20 % less time than mapped)
            mapped = int(spec.get("bytes") or f.stat().st_size) > MAP_ABOVE_BYTES
            vec = ChannelVectors.load(f, spec["metric"], spec["dim"], mmap=mapped, nprobe=spec.get("nprobe"))
            if self._verified is not None:
                integrity.still_verified(f, self._verified)  # what was mapped is what was verified
                integrity.check_channel_count(name, spec, vec, f)
            self._vectors[name] = vec
        return self._vectors[name]

    def search(self, name: str, vectors: np.ndarray, k: int, stats: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, frame ids), each (n, k); -1 where there is no neighbour. Best first, ties by
        vector id (knn.canonical): the answer a sharded index gives too. `stats`: see
        ChannelVectors.search."""
        vec = self.vectors(name)
        scores, ids = knn.canonical(lambda v, n: vec.search(v, n, stats), vectors, k, vec.ntotal,
                                    higher_is_better=vec.metric == "ip")
        if self.many_per_frame(name):
            ids = np.where(ids >= 0, ids >> MANY_SHIFT, -1)
        return scores, ids

    def structure(self, name: str) -> str:
        return self.vectors(name).structure

    def shortlists(self, name: str, vectors, frame_of, rows, exclude=None, stats=None) -> list:
        """Visual words, step 1 (see Searcher.shortlists)."""
        return self.vectors(name).shortlists(vectors, frame_of, rows, exclude, stats)

    def votes(self, name: str, vectors, frame_of, rows, shortlists, k, max_distance, only=None, stats=None) -> list:
        """Visual words, step 2 (see Searcher.votes)."""
        return self.vectors(name).votes(vectors, frame_of, rows, shortlists, k, max_distance, only, stats)

    def nearest_competitors(self, name: str, vectors) -> np.ndarray | None:
        """Visual words: see Searcher.nearest_competitors."""
        return self.vectors(name).nearest_competitors(vectors)

    def to_gpu(self, name: str, device: int) -> bool:
        return self.vectors(name).to_gpu(device)

    sharding = None  # a ShardedIndex says how it is sharded, and where its shards are searched
    served_by = None

    def search_settings(self) -> dict[str, dict]:
        """Per channel: the structure searched and its parameters, as this reader uses them."""
        out = {}
        for name in self.channels:
            vec = self.vectors(name)
            out[name] = {
                "structure": vec.structure,
                "description": vec.describe(),
                "vectors": vec.ntotal,
                "nprobe": vec.nprobe if vec.structure == "ivf" else None,
                "on_gpu": bool(getattr(vec, "on_gpu", False)),
            }
        return out

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

    def video_frames(self, ref_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(frame ids, times) of one reference's frames, in time order."""
        return catalogue.video_frames(self._conn, ref_id)

    def frame_vectors(self, name: str, frame_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row into frame_ids of each vector, vectors) stored for these frames in a channel."""
        shift = MANY_SHIFT if self.many_per_frame(name) else 0
        ids, vecs = by_frame.of_frames(self.vectors(name), frame_ids, shift)
        pos = {int(f): i for i, f in enumerate(frame_ids)}
        rows = np.array([pos[int(f)] for f in ids >> shift], dtype=np.int64)
        return rows, vecs

    def calibration(self) -> dict | None:
        """The stored null distributions (see auditor's calibration), or None."""
        entry = self.manifest.get("calibration")
        if not entry:
            return None
        f = self._gen / entry["file"]
        if not f.is_file() or f.stat().st_size != entry["bytes"]:
            raise IndexCorrupt(f"{f}: calibration file missing or damaged")
        try:
            data = json.loads(f.read_bytes())
        except ValueError as exc:
            raise IndexCorrupt(f"{f}: calibration file is not valid JSON ({exc})") from None
        if self._verified is not None:
            integrity.still_verified(f, self._verified)  # what was read is what was verified
        if not isinstance(data, dict):
            raise IndexCorrupt(f"{f}: calibration file holds a JSON {type(data).__name__}, not an object")
        return data

    def counts(self) -> dict:
        return dict(self.manifest["catalogue"].get("counts", {}))

    def works(self) -> list[dict]:
        return catalogue.works(self._conn)

    def work_metadata(self, name: str) -> dict:
        return catalogue.work_metadata(self._conn, name)

    def videos(self) -> list[dict]:
        return catalogue.videos(self._conn)

    def video(self, ref_id: str) -> dict | None:
        return catalogue.video(self._conn, ref_id)

    def info(self) -> dict:
        return {
            "path": str(self.path),
            "index_id": self.index_id,
            "format": self.manifest["format"],
            "generation": self.generation,
            "manifest_sha256": self.manifest_sha256,
            "created_utc": self.manifest.get("created_utc"),
            "updated_utc": self.manifest.get("updated_utc"),
            "versions": self.manifest.get("versions", {}),
            "counts": catalogue.counts(self._conn),
            "calibrated": bool(self.manifest.get("calibration")),
            "channels": {
                name: {
                    "metric": spec["metric"],
                    "dim": spec["dim"],
                    "vectors": self.vectors(name).ntotal,  # loading checks it against the manifest's count
                    "per_frame": spec.get("per_frame", "one"),
                    "structure": spec.get("structure"),
                    "factory": spec.get("factory"),
                    "fingerprint": spec["fingerprint"],
                }
                for name, spec in self.channels.items()
            },
            "works": self.works(),
        }

    def check_integrity(self) -> list[str]:
        """Full check, every file read again: sizes and SHA-256 against the manifest, then the
        counts of the files that matched. Returns every problem found (empty: sound)."""
        def load(name):
            spec = self.channels[name]
            return ChannelVectors.load(self._gen / spec["file"], spec["metric"], spec["dim"], mmap=True)

        return integrity.problems(self._gen, self.manifest, load)

    def writer(self) -> IndexWriter:
        return IndexWriter(self.path)


class Searcher:
    """Searches one channel of a ReferenceIndex or a ShardedIndex: vector by vector
    (`searcher(vectors, k)` -> (scores, frame ids)), or, where it keeps visual words, frame by
    frame (`by_frame`: `shortlists`, then `votes`). With
    `exclude`, those frames are never returned (`margin` extra neighbours are fetched so that
    some remain)."""

    def __init__(self, index: ReadView, name: str, exclude: np.ndarray | None = None, margin: int = 64):
        self.index, self.name, self.margin = index, name, int(margin)
        self.exclude = None if exclude is None else np.asarray(exclude, np.int64)
        self.by_frame = index.structure(name) == "words"
        self.stats: dict = {}  # vectors searched (repeated codes once), by every call

    def __call__(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        if self.exclude is None:
            return self.index.search(self.name, vectors, k, self.stats)
        scores, ids = self.index.search(self.name, vectors, k + self.margin, self.stats)
        ok = (ids >= 0) & ~np.isin(ids, self.exclude)
        out_s = np.zeros((len(ids), k), dtype=scores.dtype)
        out_i = np.full((len(ids), k), -1, dtype=np.int64)
        for r in range(len(ids)):
            sel = np.nonzero(ok[r])[0][:k]
            out_s[r, : len(sel)] = scores[r, sel]
            out_i[r, : len(sel)] = ids[r, sel]
        return out_s, out_i

    def shortlists(self, vectors: np.ndarray, frame_of: np.ndarray, rows: np.ndarray, stats: dict | None = None) -> list:
        """Visual words, step 1: per query frame, (short-listed frames, best short-list score)."""
        return self.index.shortlists(self.name, vectors, frame_of, rows, self.exclude, stats)

    def votes(self, vectors: np.ndarray, frame_of: np.ndarray, rows: np.ndarray, shortlists: list, k: int,
              max_distance: int, only: np.ndarray | None = None, stats: dict | None = None) -> list:
        """Visual words, step 2 (for the frames `only` allows): votes among each short list."""
        return self.index.votes(self.name, vectors, frame_of, rows, shortlists, k, max_distance, only, stats)

    def nearest_competitors(self, vectors: np.ndarray) -> np.ndarray | None:
        """Visual words: each query descriptor's distance to its nearest descriptor kept as the
        catalogue's competition (None: none kept); `competition.limits` turns it into the
        farthest its votes in step 2 may come from."""
        return self.index.nearest_competitors(self.name, vectors)


def open_index(path: str | Path) -> ReferenceIndex:
    return ReferenceIndex.open(path)
