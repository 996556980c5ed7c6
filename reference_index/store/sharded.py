"""Reading a sharded index (made by shards.py) as one index.

`ShardedIndex` answers what `ReferenceIndex` answers to a scan, for the whole catalogue: counts
(the source index's: they set the number of trials in calibration), the calibration, catalogue
lookups (frame references, videos, works' metadata: asked of each shard's catalogue), and
searches. A search goes to every shard through a `fanout(method, args per shard)`: by default
`LocalShards`, each shard searched in this process; `auditor --engine ray` passes one that asks
a Ray actor per shard. Answers are merged in canonical order (knn.py), so a channel kept as
exact search or inverted lists finds the neighbours the unsharded index finds. Visual words do
not: each shard short-lists its own frames with its own commonest words and counts (see
`WORDS_NOTE`).

Opening verifies every shard (each an ordinary index: files, sizes, SHA-256, counts) and that
each is the shard the top manifest names (its manifest's SHA-256, counts and fingerprints); a
shard changed after sharding is refused, naming it.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from ..errors import IndexCorrupt, IndexIsSharded
from ..search import knn
from ..search.openmp import faiss
from .catalogue import FrameRef
from .files import sha256_file
from .manifest import MANIFEST, SHARDED_FORMAT, read_json_manifest
from .reader import ReadView, ReferenceIndex

Fanout = Callable[[str, list], list]  # (method, args per shard) -> answer per shard
SHARD_DIR = re.compile(r"shard-[0-9]{3,6}")
SHA256 = re.compile(r"[0-9a-f]{64}")
WORDS_NOTE = ("; sharded: each shard short-lists its own frames (its own commonest words, its own counts of "
              "frames held and frames a descriptor reaches, its own sample of competitors: the nearest in any shard "
              "counts), so candidates can differ from the unsharded index's")


def is_sharded(path: str | Path) -> bool:
    """Whether `path` holds a sharded index (a top manifest of the sharded format)."""
    try:
        return json.loads((Path(path) / MANIFEST).read_bytes()).get("format") == SHARDED_FORMAT
    except (OSError, ValueError, AttributeError):
        return False


def open_reader(path: str | Path, fanout: Fanout | None = None, verify: bool = True):
    """A read view of the index at `path`: a ShardedIndex for a sharded one, else a ReferenceIndex."""
    if is_sharded(path):
        return ShardedIndex.open(path, verify=verify, fanout=fanout)
    return ReferenceIndex.open(path, verify=verify)


def resident_bytes() -> int:
    """This process's resident memory (Linux; 0 elsewhere)."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            return next(int(line.split()[1]) * 1024 for line in f if line.startswith("VmRSS:"))
    except (OSError, StopIteration, ValueError):
        return 0


class ShardBackend:
    """Searches one shard: in this process, or as a Ray actor (`ray.remote(ShardBackend)`), which
    opens its shard once and maps every channel's vectors at start."""

    def __init__(self, path: str | Path | None = None, manifest_sha256: str | None = None,
                 index: ReferenceIndex | None = None, load: bool = True, threads: int | None = None):
        """`threads`: FAISS's threads in this process (a shard actor: the CPUs it was given)."""
        if threads:
            faiss.omp_set_num_threads(int(threads))
        if index is None:
            if path is None:
                raise ValueError("a ShardBackend needs its shard's path or its open index")
            index = ReferenceIndex.open(path)
        self.index = index
        if manifest_sha256 is not None and self.index.manifest_sha256 != manifest_sha256:
            self.index.close()
            raise IndexCorrupt(f"{self.index.path / MANIFEST}: not the shard the sharded index names (its SHA-256 differs)")
        if load:
            for name in self.index.channels:
                self.index.vectors(name)

    def search(self, name: str, vectors: np.ndarray, k: int):
        stats: dict = {}
        return (*self.index.search(name, vectors, k, stats), stats)

    def shortlists(self, name: str, vectors, frame_of, rows, exclude):
        stats: dict = {}
        return self.index.shortlists(name, vectors, frame_of, rows, exclude, stats), stats

    def votes(self, name: str, vectors, frame_of, rows, shortlists, k, max_distance, only):
        stats: dict = {}
        return self.index.votes(name, vectors, frame_of, rows, shortlists, k, max_distance, only, stats), stats

    def nearest_competitors(self, name: str, vectors):
        return self.index.nearest_competitors(name, vectors)

    def search_settings(self) -> dict:
        return self.index.search_settings()

    def to_gpu(self, name: str, device: int) -> bool:
        return self.index.vectors(name).to_gpu(device)

    def stats(self) -> dict:
        """What serving this shard costs: files, resident memory of the process, frames, and the
        threads FAISS searches with."""
        gen = self.index._gen
        return {"files_bytes": sum(f.stat().st_size for f in gen.iterdir() if f.is_file()),
                "resident_bytes": resident_bytes(), "frames": self.index.counts()["frames"], "pid": os.getpid(),
                "threads": faiss.omp_get_max_threads()}

    def close(self) -> None:
        self.index.close()


class LocalShards:
    """The default fanout: each shard searched in turn in this process."""

    def __init__(self, backends: list[ShardBackend]):
        self.backends = backends

    def __call__(self, method: str, args: list) -> list:
        return [getattr(b, method)(*a) for b, a in zip(self.backends, args)]


def _refuse(where: Path, problem: str):
    raise IndexCorrupt(f"{where}: {problem} (damaged or edited); the sharded index is refused")


def validate_top(manifest, where: Path) -> None:
    """Refuse a top manifest whose shape this tool cannot trust, naming the key."""
    if not isinstance(manifest, dict):
        _refuse(where, f"a JSON {type(manifest).__name__}, not a manifest")
    for key, kind in (("index_id", str), ("source", dict), ("channels", dict), ("counts", dict), ("shards", list)):
        if not isinstance(manifest.get(key), kind) or not manifest.get(key):
            _refuse(where, f"{key}: missing or not a {kind.__name__}")
    for key in ("works", "videos", "frames"):
        if not isinstance(manifest["counts"].get(key), int) or manifest["counts"][key] < 0:
            _refuse(where, f"counts.{key}: not a whole number >= 0")
    for name, spec in manifest["channels"].items():
        if not isinstance(spec, dict) or not isinstance(spec.get("fingerprint"), dict) or "metric" not in spec:
            _refuse(where, f"channels.{name}: no metric or fingerprint")
    if len(manifest["shards"]) < 2:
        _refuse(where, "shards: fewer than 2")
    seen = set()
    for i, entry in enumerate(manifest["shards"]):
        if not isinstance(entry, dict) or not SHARD_DIR.fullmatch(str(entry.get("path", ""))) or entry["path"] in seen:
            _refuse(where, f"shards[{i}].path: must be a folder name shard-NNN beside the manifest, each once")
        seen.add(entry["path"])
        if not SHA256.fullmatch(str(entry.get("manifest_sha256", ""))) or not isinstance(entry.get("counts"), dict):
            _refuse(where, f"shards[{i}]: no manifest_sha256 or counts")
    cal = manifest.get("calibration")
    if cal is not None and (not isinstance(cal, dict) or cal.get("file") != "calibration.json"
                            or not SHA256.fullmatch(str(cal.get("sha256", ""))) or not isinstance(cal.get("bytes"), int)):
        _refuse(where, "calibration: must name calibration.json with its bytes and sha256")


class ShardedIndex(ReadView):
    """A read view of a sharded index, answering as the unsharded index would (see the module)."""

    def __init__(self, path: Path, manifest: dict, raw: bytes, shards: list[ReferenceIndex], fanout: Fanout | None):
        self.path, self.manifest, self.shards = path, manifest, shards
        self.manifest_sha256 = hashlib.sha256(raw).hexdigest()
        self._local = fanout is None
        self.fanout = fanout or LocalShards([ShardBackend(index=s, load=False) for s in shards])
        self.served_by = str(getattr(self.fanout, "describe", "this process"))
        self._settings: dict | None = None

    @classmethod
    def open(cls, path: str | Path, verify: bool = True, fanout: Fanout | None = None) -> ShardedIndex:
        path = Path(path)
        mpath = path / MANIFEST
        manifest, raw = read_json_manifest(path)
        if manifest.get("format") != SHARDED_FORMAT:
            raise IndexCorrupt(f"{mpath}: not a sharded index's manifest")
        validate_top(manifest, mpath)
        shards: list[ReferenceIndex] = []
        try:
            for entry in manifest["shards"]:
                shards.append(ReferenceIndex.open(path / entry["path"], verify=verify))
                if verify:
                    problem = _shard_problem(manifest, entry, shards[-1])
                    if problem:
                        raise IndexCorrupt(f"{problem}; the sharded index at {path} is refused")
            if verify:
                problem = _sum_problem(manifest, mpath)
                if problem:
                    raise IndexCorrupt(problem)
        except BaseException:
            for s in shards:
                s.close()
            raise
        return cls(path, manifest, raw, shards, fanout)

    def close(self) -> None:
        for s in self.shards:
            s.close()

    # -- what it holds ------------------------------------------------------------------------
    @property
    def generation(self) -> int:
        return int(self.manifest["source"]["generation"])

    @property
    def sharding(self) -> dict:
        """What the evidence records of the sharding."""
        src = self.manifest["source"]
        return {"shards": len(self.shards), "by": self.manifest.get("by", "work"), "manifest_sha256": self.manifest_sha256,
                "source_id": src["index_id"], "source_manifest_sha256": src.get("manifest_sha256"),
                "shard_manifests": [e["manifest_sha256"] for e in self.manifest["shards"]]}

    def counts(self) -> dict:
        return dict(self.manifest["counts"])

    def calibration(self) -> dict | None:
        entry = self.manifest.get("calibration")
        if not entry:
            return None
        f = self.path / entry["file"]
        if not f.is_file() or f.stat().st_size != entry["bytes"] or sha256_file(f) != entry["sha256"]:
            raise IndexCorrupt(f"{f}: missing, or its size or SHA-256 differs from {self.path / MANIFEST}'s")
        return json.loads(f.read_bytes())

    # -- searching ----------------------------------------------------------------------------
    def search_settings(self) -> dict[str, dict]:
        """Per channel, as one index: the shards' structure (the same in each), vectors in all."""
        if self._settings is None:
            parts = self.fanout("search_settings", [()] * len(self.shards))
            out = {}
            for name in self.channels:
                s = dict(parts[0][name])
                s["vectors"] = sum(p[name]["vectors"] for p in parts)
                s["on_gpu"] = all(p[name]["on_gpu"] for p in parts)
                if s["structure"] == "words":
                    s["description"] += WORDS_NOTE
                out[name] = s
            self._settings = out
        return self._settings

    def structure(self, name: str) -> str:
        return self.search_settings()[name]["structure"]

    def search(self, name: str, vectors: np.ndarray, k: int, stats: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, frame ids), each (n, k): the k best of every shard's, in canonical order.
        `stats`: vectors searched, added up over the shards."""
        parts = self.fanout("search", [(name, vectors, k)] * len(self.shards))
        _add(stats, [p[2] for p in parts])
        return knn.merge([p[:2] for p in parts], k, higher_is_better=self.channels[name]["metric"] == "ip")

    def shortlists(self, name, vectors, frame_of, rows, exclude=None, stats=None) -> list:
        """Per query frame: (every shard's short-listed frames, the best score, each shard's short list)."""
        parts = self.fanout("shortlists", [(name, vectors, frame_of, rows, exclude)] * len(self.shards))
        _add(stats, [p[1] for p in parts])
        out = []
        for i in range(len(rows)):
            mine = tuple(p[0][i] for p in parts)
            frames = np.sort(np.concatenate([m[0] for m in mine])) if mine else np.zeros(0, np.int64)
            out.append((frames, max((m[1] for m in mine), default=0.0), mine))
        return out

    def votes(self, name, vectors, frame_of, rows, shortlists, k, max_distance, only=None, stats=None) -> list:
        """Each shard's votes among its own short list, merged: most votes first (ties: lower id)."""
        args = [(name, vectors, frame_of, rows, [s[2][j] for s in shortlists], k, max_distance, only)
                for j in range(len(self.shards))]
        parts = self.fanout("votes", args)
        _add(stats, [p[1] for p in parts])
        return [knn.merge_frames([p[0][i] for p in parts], k) for i in range(len(rows))]

    def nearest_competitors(self, name, vectors) -> np.ndarray | None:
        """Each query descriptor's nearest kept competitor in any shard (None: no shard keeps any)."""
        parts = [p for p in self.fanout("nearest_competitors", [(name, vectors)] * len(self.shards)) if p is not None]
        return np.minimum.reduce(parts) if parts else None

    def to_gpu(self, name: str, device: int) -> bool:
        return all(self.fanout("to_gpu", [(name, device)] * len(self.shards)))

    # -- the catalogue, asked of every shard ----------------------------------------------------
    def frame_refs(self, frame_ids: Iterable[int]) -> dict[int, FrameRef]:
        ids = list(frame_ids)
        out: dict[int, FrameRef] = {}
        for s in self.shards:
            out.update(s.frame_refs(ids))
        return out

    def video(self, ref_id: str) -> dict | None:
        return next((v for s in self.shards if (v := s.video(ref_id)) is not None), None)

    def videos(self) -> list[dict]:
        return [v for s in self.shards for v in s.videos()]

    def work_metadata(self, name: str) -> dict:
        return next((m for s in self.shards if (m := s.work_metadata(name))), {})

    def works(self) -> list[dict]:
        """Every work once, its videos and frames counted over the shards that hold them."""
        merged: dict[str, dict] = {}
        for s in self.shards:
            for w in s.works():
                if w["work"] in merged:
                    merged[w["work"]]["videos"] += w["videos"]
                    merged[w["work"]]["frames"] += w["frames"]
                else:
                    merged[w["work"]] = dict(w)
        return [merged[k] for k in sorted(merged)]

    def video_frames(self, ref_id: str) -> tuple[np.ndarray, np.ndarray]:
        for s in self.shards:
            ids, times = s.video_frames(ref_id)
            if len(ids):
                return ids, times
        return np.zeros(0, np.int64), np.zeros(0, np.float64)

    def frame_vectors(self, name: str, frame_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """As ReferenceIndex.frame_vectors: each shard gives the vectors of the frames it holds."""
        parts = [s.frame_vectors(name, frame_ids) for s in self.shards]
        return np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])

    def work_frame_ids(self) -> dict[str, np.ndarray]:
        out: dict[str, list] = {}
        for s in self.shards:
            for w, ids in s.work_frame_ids().items():
                out.setdefault(w, []).append(ids)
        return {w: np.sort(np.concatenate(parts)) for w, parts in out.items()}

    def info(self) -> dict:
        src = self.manifest["source"]
        return {
            "path": str(self.path), "index_id": self.index_id, "format": SHARDED_FORMAT, "generation": self.generation,
            "manifest_sha256": self.manifest_sha256, "created_utc": self.manifest.get("created_utc"),
            "updated_utc": self.manifest.get("created_utc"), "versions": self.manifest.get("versions", {}),
            "counts": self.counts(), "calibrated": bool(self.manifest.get("calibration")),
            "channels": {name: {"metric": spec["metric"], "dim": spec["dim"], "vectors": spec.get("count"),
                                "per_frame": spec.get("per_frame", "one"), "structure": spec.get("structure"),
                                "fingerprint": spec["fingerprint"]} for name, spec in self.channels.items()},
            "works": self.works(),
            "sharded": {"by": self.manifest.get("by"), "source": src,
                        "shards": list(self.manifest["shards"])},
        }

    def check_integrity(self) -> list[str]:
        """Every problem of every shard (each file read again) and of the top manifest's claims."""
        found = []
        for entry, s in zip(self.manifest["shards"], self.shards):
            found += s.check_integrity()
            problem = _shard_problem(self.manifest, entry, s)
            if problem:
                found.append(problem)
        problem = _sum_problem(self.manifest, self.path / MANIFEST)
        if problem:
            found.append(problem)
        try:
            self.calibration()
        except (IndexCorrupt, ValueError) as exc:
            found.append(str(exc))
        return found

    def writer(self):
        raise IndexIsSharded(f"{self.path}: a sharded index is read-only; change the unsharded index and shard it again")


def _add(stats: dict | None, parts: list[dict]) -> None:
    if stats is not None:
        for p in parts:
            for key, n in p.items():
                stats[key] = stats.get(key, 0) + n


def _shard_problem(top: dict, entry: dict, shard: ReferenceIndex) -> str | None:
    """What is wrong with a shard for the top manifest that names it, or None."""
    f = shard.path / MANIFEST
    if shard.manifest_sha256 != entry["manifest_sha256"]:
        return f"{f}: its SHA-256 differs from the one the sharded index's manifest records (changed or replaced after sharding)"
    if shard.counts() != entry["counts"]:
        return f"{f}: counts {shard.counts()}, the sharded index's manifest says {entry['counts']}"
    if sorted(shard.channels) != sorted(top["channels"]):
        return f"{f}: channels {','.join(sorted(shard.channels))}, the sharded index has {','.join(sorted(top['channels']))}"
    for name, spec in top["channels"].items():
        if shard.channels[name]["fingerprint"].get("id") != spec["fingerprint"].get("id"):
            return f"{f}: channel {name}'s fingerprint differs from the sharded index's"
    return None


def _sum_problem(top: dict, mpath: Path) -> str | None:
    for key in ("videos", "frames"):
        total = sum(int(e["counts"].get(key, 0)) for e in top["shards"])
        if total != top["counts"][key]:
            return f"{mpath}: counts.{key} is {top['counts'][key]}, its shards hold {total} (damaged or edited)"
    return None
