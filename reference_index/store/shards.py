"""Splitting an index into shards: one folder a machine (or a Ray actor) can hold each.

    OUT/manifest.json      format reference_index.sharded/1: the source index (id, generation,
                           manifest hash), channels (fingerprints, structures, counts), the
                           catalogue's counts, the calibration file, and per shard its folder,
                           the SHA-256 of its manifest.json and its counts
    OUT/calibration.json   the source index's null distributions (when calibrated)
    OUT/shard-001/ ...     each a complete, ordinary index folder

A shard holds a subset of the videos (a work's videos together, unless one work is larger than
a shard should be) with their ORIGINAL frame ids, so frame ids, frame references and evidence
are the source index's. Approximate structures are split, not retrained (ChannelVectors.subset):
inverted lists keep the source's centroids, visual words its vocabulary. The folder is written
beside OUT and renamed into place when complete: a crash leaves no half-sharded index.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import sqlite3
import tempfile
import uuid
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import ShardRefused
from ..search.vectors import ChannelVectors
from . import catalogue
from .files import atomic_write_bytes, fsync_dir
from .manifest import CATALOGUE, FORMAT, MANIFEST, MANY_SHIFT, SHARDED_FORMAT, gen_dir, library_versions, now_utc, write_manifest
from .reader import ReferenceIndex

BY = ("work", "video")
CALIBRATION = "calibration.json"


def shard_name(i: int) -> str:
    return f"shard-{i + 1:03d}"


def _videos(conn: sqlite3.Connection) -> list[tuple[int, str, int]]:
    """(video id, work, frames) of every video, in id order."""
    return [(int(v), w, int(n)) for v, w, n in conn.execute(
        "SELECT v.video_id, w.name, (SELECT COUNT(*) FROM frames f WHERE f.video_id = v.video_id) "
        "FROM videos v JOIN works w USING(work_id) ORDER BY v.video_id")]


def plan(videos: list[tuple[int, str, int]], n: int, by: str = "work") -> list[list[int]]:
    """Video ids per shard. By work: each work's videos stay together, works placed largest first
    on the lightest shard; a work larger than a shard's share (total / n frames) is cut into runs
    of consecutive videos of about that size. By video: runs of consecutive video ids of about
    equal frames. Every shard gets at least one video."""
    if by not in BY:
        raise ShardRefused(f"--by {by!r}: choose {' or '.join(BY)}")
    if n < 2:
        raise ShardRefused(f"--shards {n}: at least 2 (one shard is the index itself)")
    if n > len(videos):
        raise ShardRefused(f"--shards {n}: the index holds {len(videos)} videos and stills; a shard needs at least one")
    total = sum(f for _, _, f in videos)
    share = max(1.0, total / n)
    groups: list[list[tuple[int, int]]] = []  # runs of (video id, frames) that go to one shard
    if by == "video":
        return [[v for v, _ in run] for run in _runs([[(v, f)] for v, _, f in videos], n, share)]
    works: dict[str, list[tuple[int, int]]] = {}
    for v, w, f in videos:
        works.setdefault(w, []).append((v, f))
    for members in works.values():
        groups += _runs([[m] for m in members], max(1, round(sum(f for _, f in members) / share)), share)
    while len(groups) < n:  # fewer groups than shards: cut the largest group that has two videos
        big = max((g for g in groups if len(g) > 1), key=lambda g: sum(f for _, f in g))
        groups.remove(big)
        groups += _runs([[m] for m in big], 2, sum(f for _, f in big) / 2)
    shards: list[list[int]] = [[] for _ in range(n)]
    load = [0] * n
    for g in sorted(groups, key=lambda g: (-sum(f for _, f in g), g[0][0])):
        i = min(range(n), key=lambda j: (load[j], len(shards[j]), j))
        shards[i] += [v for v, _ in g]
        load[i] += sum(f for _, f in g)
    return [sorted(s) for s in shards]


def _runs(items: list[list[tuple[int, int]]], n: int, share: float) -> list:
    """`items` (lists of (video id, frames), in order) joined into at most n consecutive runs of
    about `share` frames each, none empty."""
    n = max(1, min(n, len(items)))
    runs: list[list[tuple[int, int]]] = [[]]
    done = 0.0
    for i, item in enumerate(items):
        left_items, left_runs = len(items) - i, n - len(runs)
        if runs[-1] and left_runs and (done >= share * len(runs) or left_items <= left_runs):
            runs.append([])
        runs[-1] += item
        done += sum(f for _, f in item)
    return runs


def _write_catalogue(src: Path, dst: Path, keep: list[int]) -> None:
    """The source catalogue with only the videos `keep` (their works and frames), ids unchanged."""
    s = catalogue.connect(src, readonly=True)
    d = catalogue.connect(dst)
    try:
        s.backup(d)
        d.execute("CREATE TEMP TABLE keep(video_id INTEGER PRIMARY KEY)")
        d.executemany("INSERT INTO keep VALUES (?)", [(v,) for v in keep])
        d.execute("DELETE FROM frames WHERE video_id NOT IN (SELECT video_id FROM keep)")
        d.execute("DELETE FROM videos WHERE video_id NOT IN (SELECT video_id FROM keep)")
        d.execute("DELETE FROM works WHERE work_id NOT IN (SELECT work_id FROM videos)")
        d.commit()
        d.execute("VACUUM")
    finally:
        s.close()
        d.close()


def _write_shard(source: ReferenceIndex, folder: Path, keep: list[int], number: int, n: int) -> dict:
    """One shard folder: catalogue and channels of the videos `keep`. Returns its top-manifest entry."""
    gen = folder / gen_dir(1)
    gen.mkdir(parents=True)
    _write_catalogue(source._gen / source.manifest["catalogue"]["file"], gen / CATALOGUE, keep)
    conn = catalogue.connect(gen / CATALOGUE, readonly=True)
    try:
        frames = np.fromiter((r[0] for r in conn.execute("SELECT frame_id FROM frames ORDER BY frame_id")), np.int64)
    finally:
        conn.close()
    manifest: dict = {"format": FORMAT, "index_id": uuid.uuid4().hex, "generation": 1, "created_utc": now_utc(),
                      "channels": {}, "catalogue": {"file": CATALOGUE},
                      "shard": {"of": source.index_id, "number": number, "shards": n}}
    vectors: dict[str, ChannelVectors] = {}
    for name, spec in source.channels.items():
        shift = MANY_SHIFT if source.many_per_frame(name) else 0

        def in_shard(ids: np.ndarray, shift: int = shift) -> np.ndarray:
            return np.isin(np.asarray(ids) >> shift, frames)

        vectors[name] = source.vectors(name).subset(in_shard)
        vectors[name].save(gen / spec["file"])
        manifest["channels"][name] = {k: spec[k] for k in ("metric", "dim", "per_frame", "fingerprint", "file", "nprobe")
                                      if k in spec}
    write_manifest(folder, manifest, vectors)
    raw = (folder / MANIFEST).read_bytes()
    written = json.loads(raw)
    return {"path": folder.name, "index_id": written["index_id"], "manifest_sha256": hashlib.sha256(raw).hexdigest(),
            "counts": written["catalogue"]["counts"],
            "vectors": {name: ch["count"] for name, ch in written["channels"].items()},
            "bytes": sum(f.stat().st_size for f in gen.iterdir())}


def shard_index(index_path: str | Path, out: str | Path, n: int, by: str = "work",
                progress: Callable[[str], None] | None = None) -> dict:
    """Split the index at `index_path` into `n` shards in the new folder `out` (see the module
    docstring); returns the top manifest written."""
    out = Path(out)
    if out.exists() or out.is_symlink():
        raise ShardRefused(f"--out {out}: already exists; give a new folder")
    with ReferenceIndex.open(index_path) as source:
        conn = catalogue.connect(source._gen / source.manifest["catalogue"]["file"], readonly=True)
        try:
            shards = plan(_videos(conn), n, by)
        finally:
            conn.close()
        out.parent.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}.", suffix=".tmp", dir=out.parent))
        try:
            entries = []
            for i, keep in enumerate(shards):
                entries.append(_write_shard(source, tmp / shard_name(i), keep, i + 1, n))
                if progress:
                    e = entries[-1]
                    progress(f"{e['path']} ({i + 1}/{n}): {e['counts']['videos']} videos, {e['counts']['frames']} frames, "
                             f"{e['bytes'] / 2**20:.1f} MB")
            top = _top_manifest(source, by, entries)
            if source.calibration() is not None:  # read and checked as the source index reads it
                raw_cal = (source._gen / source.manifest["calibration"]["file"]).read_bytes()
                atomic_write_bytes(tmp / CALIBRATION, raw_cal)
                top["calibration"] = {"file": CALIBRATION, "bytes": len(raw_cal), "sha256": hashlib.sha256(raw_cal).hexdigest()}
            atomic_write_bytes(tmp / MANIFEST, (json.dumps(top, indent=2, sort_keys=True) + "\n").encode())
            tmp.rename(out)  # the whole sharded index appears at once
            fsync_dir(out.parent)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise
    return top


def _top_manifest(source: ReferenceIndex, by: str, entries: list[dict]) -> dict:
    kept = ("metric", "dim", "per_frame", "fingerprint", "count", "kind", "structure", "factory", "nprobe")
    channels = {name: {k: spec[k] for k in kept if k in spec} for name, spec in source.channels.items()}
    return {"format": SHARDED_FORMAT, "index_id": uuid.uuid4().hex, "created_utc": now_utc(), "by": by,
            "source": {"index_id": source.index_id, "generation": source.generation,
                       "manifest_sha256": source.manifest_sha256, "path": str(source.path)},
            "channels": channels, "counts": source.counts(), "shards": entries, "versions": library_versions()}
