"""Shard benchmark: what one shard of N reference frames costs to serve, and a clip's scan time
over shards on local Ray actors against the same index unsharded.

    python -m benchmarks.shards --frames 20000 --shards 2

The index: two generated videos (auditor.media.synth's drawn footage, so a copy of one is found) and N
synthetic reference frames with pdq and orb vectors (200 ORB descriptors a frame, drawn around
4,096 patterns with 10 % of bits flipped), ORB in the structure `index add` picks at that size
(inverted lists beyond `index.exact_max_local`). It is split into --shards shards by work.

Printed, one JSON object a line: per shard its frames, bytes on disk and per frame, a Ray
actor's start time (open, verify, map) and resident memory after a search; search time per
query frame (400 descriptors and their mirror, as ORB queries) in one index, per shard and over
all shards through Ray; the merge's own time; and the scan time of a 6-s copy (5 frames/s):
unsharded, sharded in process, sharded on Ray actors.

`--fanout-actors K`: only what sending one chunk of query descriptors to K shard actors costs
(actors that do no search; a 60-s clip's ORB chunk of 40,000 descriptors, 1.3 MB): RayShards,
which stores the chunk in Ray's object store once, against remote calls given the array itself
(a copy stored per actor): ms a fanout, the best of 20 calls, three times alternated, and the
CPU the scanner's own process spent a fanout (the mean of the 20: what one scanner pays however
many cores the actors have; the wall time above also holds the actors' work, which shares this
machine's cores). With more actors than `--relay W` (default 32, `search.shards_per_relay`), the
same through relay actors that each ask W of them (`RayShards(per_relay=W)`).

    python -m benchmarks.shards --fanout-actors 32
"""

from __future__ import annotations

import argparse
import json
import shutil
import tempfile
import time
from pathlib import Path

import numpy as np

from auditor.config import load_config
from auditor.indexing.ingest import CatalogueItem, add_items, structure_settings
from auditor.media.synth import write_copy, write_scene
from auditor.scan.scanner import Scanner
from auditor.settings import Configuration
from benchmarks.common import add_shared_arguments, record
from reference_index import IndexWriter, ReferenceIndex
from reference_index.search import knn
from reference_index.store.sharded import ShardedIndex
from reference_index.store.shards import shard_index

PER_FRAME = 200
FRAMES_PER_VIDEO = 1000  # 500 s at 2 frames/s
QUERY_DESCRIPTORS = 800  # 400 a query frame, and its mirror's


def synthetic_frames(index: Path, n: int, config: Configuration, seed: int = 0) -> None:
    """Add n synthetic reference frames in videos of FRAMES_PER_VIDEO, 10 videos a work."""
    rng = np.random.default_rng(seed)
    patterns = rng.integers(0, 256, (4096, 32), dtype=np.uint8)
    with IndexWriter(index) as w:
        for v in range(0, n, FRAMES_PER_VIDEO):
            m = min(FRAMES_PER_VIDEO, n - v)
            flips = np.packbits(rng.random((m * PER_FRAME, 256)) < 0.1, axis=1)
            orb = patterns[rng.integers(0, len(patterns), m * PER_FRAME)] ^ flips
            pdq = rng.integers(0, 256, (m, 32), dtype=np.uint8)
            info = {"path": f"/synthetic/v{v}.mp4", "sha256": f"{v:064x}", "kind": "video", "duration_s": m / 2.0,
                    "fps": 25.0, "width": 1280, "height": 720, "sampling_fps": 2.0}
            w.add_video(work=f"Synthetic {v // (10 * FRAMES_PER_VIDEO)}", owner="Bench", ref_id=f"v{v}", info=info,
                        times=np.arange(m) / 2.0,
                        vectors={"pdq": (np.arange(m), pdq), "orb": (np.repeat(np.arange(m), PER_FRAME), orb)})
        w.optimize(**structure_settings(config))


def _idle_resident() -> int:
    """A Ray worker's resident memory with the index package imported and nothing opened."""
    from reference_index.store.sharded import resident_bytes

    return resident_bytes()


def timed(fn, repeat: int = 3) -> float:
    best = float("inf")
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t)
    return best


class _Listener:
    """A shard actor that searches nothing: what remains is the fanout's own cost."""

    def shortlists(self, name, vectors, frame_of, rows, exclude):
        return len(vectors)


def fanout_cost(k: int, per_relay: int, repeat: int = 20) -> dict:
    import ray

    from auditor.scan.shard_actors import RayShards

    ray.init(num_cpus=2, include_dashboard=False, log_to_driver=False)
    try:
        actors = [ray.remote(num_cpus=0)(_Listener).remote() for _ in range(k)]
        chunk = np.random.default_rng(0).integers(0, 256, (40_000, 32), dtype=np.uint8)
        args = [("orb", chunk, np.repeat(np.arange(40), 1000), np.arange(40), None)] * k
        fan, relayed = RayShards(actors), RayShards(actors, per_relay=per_relay)
        ways = {"stored once (RayShards)": lambda: fan("shortlists", args),
                "a copy per actor": lambda: ray.get([a.shortlists.remote(*x) for a, x in zip(actors, args)])}
        if relayed.nodes != fan.nodes:
            ways[f"stored once, through relays of {per_relay}"] = lambda: relayed("shortlists", args)
        for way in ways.values():
            way()  # warm: workers started
        spent: dict[str, list[float]] = {name: [] for name in ways}
        cpu: dict[str, list[float]] = {name: [] for name in ways}
        for _ in range(3):
            for name, way in ways.items():
                c0 = time.process_time()
                spent[name].append(timed(way, repeat))
                cpu[name].append((time.process_time() - c0) / repeat)
        figures = {"actors": k, "chunk_mb": round(chunk.nbytes / 1e6, 2),
                   "ms_a_fanout": {name: [round(1000 * t, 1) for t in ts] for name, ts in spent.items()},
                   "scanner_cpu_ms_a_fanout": {name: [round(1000 * t, 1) for t in ts] for name, ts in cpu.items()}}
        print(json.dumps(figures))
        return figures
    finally:
        ray.shutdown()


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--frames", type=int, default=20_000, help="synthetic reference frames")
    ap.add_argument("--shards", type=int, default=2)
    ap.add_argument("--query-frames", type=int, default=10, help="query frames per search call")
    ap.add_argument("--work", type=Path, default=None, help="folder to build in (default: a temporary one)")
    ap.add_argument("--fanout-actors", type=int, default=0, help="only time a chunk's fanout to this many actors")
    ap.add_argument("--relay", type=int, default=32,
                    help="with --fanout-actors: also through relays asking this many actors each")
    add_shared_arguments(ap)
    args = ap.parse_args(argv)
    if args.fanout_actors:
        record("shards", fanout_cost(args.fanout_actors, args.relay), argv, args.results)
        return
    import ray

    from auditor.scan.batch import run_batch
    from auditor.scan.engines import OnRay
    from auditor.scan.shard_actors import RayShards, start_shard_actors

    work = Path(tempfile.mkdtemp(prefix="bench-shards-")) if args.work is None else args.work
    work.mkdir(parents=True, exist_ok=True)
    config = load_config()
    refs = [write_scene(work / "ref" / f"r{s}.mp4", s, 10.0) for s in (11, 21)]
    copy = write_copy(work / "copy.mp4", 11, 2.0, 6.0, lead_in=1.0, tail=1.0)
    idx, sharded = work / "idx", work / "sharded"
    for p in (idx, sharded):
        shutil.rmtree(p, ignore_errors=True)
    t = time.perf_counter()
    add_items(idx, [CatalogueItem(r, f"Planted {i}", "Bench") for i, r in enumerate(refs)], config, ["pdq", "orb"])
    synthetic_frames(idx, args.frames, config)
    built = time.perf_counter() - t
    t = time.perf_counter()
    shard_index(idx, sharded, args.shards)
    figures: dict = {}
    with ReferenceIndex.open(idx) as whole:
        figures["index"] = {"frames": whole.counts()["frames"], "orb_vectors": whole.vectors("orb").ntotal,
                            "orb": whole.vectors("orb").describe(), "build_s": round(built, 1),
                            "shard_s": round(time.perf_counter() - t, 1)}
        print(json.dumps({"index": figures["index"]}))
        queries = np.ascontiguousarray(whole.vectors("orb").all_ids_and_vectors(
            where=lambda ids: (ids >> 10) <= args.query_frames)[1][: QUERY_DESCRIPTORS * args.query_frames])
        one = timed(lambda: whole.search("orb", queries, 3)) / args.query_frames
        orb = whole.vectors("orb")
        # compared per query frame, lists of average size: QUERY_DESCRIPTORS x nprobe x (vectors / nlist)
        compared = QUERY_DESCRIPTORS * orb.nprobe * orb.ntotal / orb.index.nlist if orb.structure == "ivf" else 0
    ray.init(num_cpus=args.shards + 2, include_dashboard=False, log_to_driver=False)
    try:
        baseline = ray.get(ray.remote(num_cpus=1)(_idle_resident).remote())
        t = time.perf_counter()
        actors = start_shard_actors(sharded)
        start = time.perf_counter() - t
        fan = RayShards(actors)
        with ShardedIndex.open(sharded) as local, ShardedIndex.open(sharded, fanout=fan) as remote:
            each = [timed(lambda b=b: b.search("orb", queries, 3)) / args.query_frames for b in local.fanout.backends]
            parts = fan("search", [("orb", queries, 3)] * args.shards)
            merge = timed(lambda: knn.merge([p[:2] for p in parts], 3, False)) / args.query_frames
            over_ray = timed(lambda: remote.search("orb", queries, 3)) / args.query_frames
            stats = fan("stats", [()] * args.shards)
        for entry, st, s in zip(local.manifest["shards"], stats, each):
            shard = {"shard": entry["path"], "frames": st["frames"], "bytes": st["files_bytes"],
                     "bytes_per_frame": round(st["files_bytes"] / st["frames"]),
                     "actor_resident_mb": round(st["resident_bytes"] / 2**20),
                     "of_which_python_and_libraries_mb": round(baseline / 2**20),
                     "actor_start_s": round(start, 2), "search_ms_per_query_frame": round(1000 * s, 2)}
            print(json.dumps(shard))
            figures[entry["path"]] = {k: v for k, v in shard.items() if k != "shard"}
        searched = {"ns_per_descriptor_compared_unsharded": round(1e9 * one / compared, 2) if compared else None,
                    "search_ms_per_query_frame": {"unsharded": round(1000 * one, 2),
                                                  "sharded_on_ray": round(1000 * over_ray, 2),
                                                  "merge": round(1000 * merge, 3)}}
        print(json.dumps(searched))
        figures.update(searched)
    finally:
        ray.shutdown()
    scans = {}
    for name, path in (("unsharded", idx), ("sharded_in_process", sharded)):
        scanner = Scanner(path, config)
        scanner.scan(copy)  # warm: files mapped, models ready
        scans[name] = round(timed(lambda scanner=scanner: scanner.scan(copy), 2), 2)
        scanner.close()
    t = time.perf_counter()
    run_batch([copy], sharded, work / "out-ray", config, OnRay(workers=1), force=True)
    scans["sharded_on_ray_with_start"] = round(time.perf_counter() - t, 2)
    ev = json.loads((work / "out-ray" / "copy.evidence.json").read_text())
    scans["sharded_on_ray_scan"] = ev["runtime"]["elapsed_s"]
    print(json.dumps({"scan_s_6s_clip": scans, "flagged": ev["verdict"]["flagged"]}))
    figures.update(scan_s_6s_clip=scans, flagged=ev["verdict"]["flagged"])
    if args.work is None:
        shutil.rmtree(work, ignore_errors=True)
    record("shards", figures, argv, args.results)


if __name__ == "__main__":
    main()
