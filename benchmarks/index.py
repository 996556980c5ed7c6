"""Index benchmark: build time, queries/s, recall against exact search and peak memory.

    python -m benchmarks.index --float 1000000 --pdq 1000000
    python -m benchmarks.index --float 10000000 --pdq 10000000
    python -m benchmarks.index --pdq 10000000 --pdq-model uniform
    python -m benchmarks.index --orb 100000
    python -m benchmarks.index --orb 1800000 --orb-out-of-core --work /tmp   # words only, ~20 GB of disk

ORB channel (--orb N frames): see benchmarks/local.py (real footage planted among synthetic
frames, edited copies as queries; exhaustive search, inverted lists and visual words side by side).

Float channel (CLIP-like): unit vectors in two levels of clusters (10,000 works, 200,000 shots,
frames around their shot; `--shots` for fewer, 20 a work); queries are fresh frames of random
shots. The index is the one `auditor index optimize` builds for that size
(reference_index.search.vectors.choose_structure: IVF with 8-bit scalar quantisation). Recall@10
is the share of the exact top 10 (brute force over every vector) that the index returns.

PDQ channel: 256-bit hashes, in the structure `index optimize` picks for PDQ at that size (the
multi-index hash beyond the exact-search limit; nprobe does not apply to it). `clustered`
(default) models PDQ of video frames: hashes of one scene differ from the scene's hash in ~20 %
of bits, scenes are independent; `uniform` draws
every bit independently (the hardest case for inverted lists). Queries are stored hashes with
0-31 bits flipped (near-duplicate lookups) plus as many unrelated hashes; recall is the share of
stored hashes within Hamming distance 31 of a query (found by brute force) that the index returns.

Data are generated chunk by chunk from seeds, never held whole. Each search runs in a fresh
process that loads (memory-maps) the saved index, so its peak RSS is what serving costs.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

from benchmarks import local
from benchmarks.common import add_shared_arguments, peak_rss_gb, record, run_module
from reference_index.search import faiss
from reference_index.search.multihash import MultiHash
from reference_index.search.vectors import ChannelVectors, choose_structure

CHUNK = 500_000
DIM = 512
CENTRES = 10_000   # "works"
SHOTS = 200_000    # "shots", each within one work
FLIP = 0.2         # PDQ: share of bits in which a frame's hash differs from its scene's
K = 10


# -- data ------------------------------------------------------------------------------------
def _unit(x: np.ndarray) -> np.ndarray:
    return x / np.linalg.norm(x, axis=1, keepdims=True)


def float_centres(seed: int = 0, shots: int = SHOTS) -> np.ndarray:
    """Shot centres: 10,000 work directions (one for every 20 shots), 20 shots around each
    (cosine ~0.8 to their work)."""
    rng = np.random.default_rng(seed)
    n_works = max(1, shots * CENTRES // SHOTS)
    works = _unit(rng.standard_normal((n_works, DIM)).astype(np.float32))
    return _unit(works[np.arange(shots) % n_works] + rng.standard_normal((shots, DIM)).astype(np.float32) * 0.033)


def float_chunk(centres: np.ndarray, n: int, seed: int) -> np.ndarray:
    """Frames: a shot centre plus noise (cosine ~0.9 to their shot)."""
    rng = np.random.default_rng(seed)
    return _unit(centres[rng.integers(0, len(centres), n)] + rng.standard_normal((n, DIM)).astype(np.float32) * 0.021)


def pdq_scenes(seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).integers(0, 256, (1_000_000, 32), dtype=np.uint8)


def pdq_chunk(scenes: np.ndarray, n: int, seed: int, model: str) -> np.ndarray:
    rng = np.random.default_rng(seed)
    if model == "uniform":
        return rng.integers(0, 256, (n, 32), dtype=np.uint8)
    base = scenes[rng.integers(0, len(scenes), n)]
    flips = np.packbits(rng.random((n, 256)) < FLIP, axis=1)
    return base ^ flips


def flip_bits(x: np.ndarray, rng: np.random.Generator, max_bits: int = 31) -> np.ndarray:
    out = x.copy()
    for row in out:
        k = int(rng.integers(0, max_bits + 1))
        bits = rng.choice(256, size=k, replace=False)
        row[bits // 8] ^= (1 << (7 - bits % 8)).astype(np.uint8)
    return out


# -- float -----------------------------------------------------------------------------------
def build_float(n: int, work: Path, queries: int, shots: int = SHOTS) -> dict:
    centres = float_centres(shots=shots)
    q = float_chunk(centres, queries, seed=999_999)
    structure, nlist = choose_structure("ip", n)
    chunks = [(i, min(CHUNK, n - i)) for i in range(0, n, CHUNK)]
    t0 = time.perf_counter()
    if structure == "ivf":
        sample = float_chunk(centres, max(200_000, 39 * nlist), seed=123_456)
        vec = ChannelVectors.trained("ip", DIM, nlist, sample)
    else:
        vec = ChannelVectors("ip", DIM)
    t_train = time.perf_counter() - t0
    gt_d = np.full((queries, K), -np.inf, dtype=np.float32)
    gt_i = np.full((queries, K), -1, dtype=np.int64)
    t_add = t_gt = 0.0
    for start, size in chunks:
        x = float_chunk(centres, size, seed=start + 1)
        t1 = time.perf_counter()
        vec.add(np.arange(start, start + size), x)
        t2 = time.perf_counter()
        d, i = faiss.knn(q, x, K, metric=faiss.METRIC_INNER_PRODUCT)
        d, i = np.concatenate([gt_d, d], 1), np.concatenate([gt_i, i + start], 1)
        order = np.argsort(-d, axis=1)[:, :K]
        gt_d, gt_i = np.take_along_axis(d, order, 1), np.take_along_axis(i, order, 1)
        t_gt += time.perf_counter() - t2
        t_add += t2 - t1
    vec.save(work / "float.index")
    np.save(work / "float_q.npy", q)
    np.save(work / "float_gt.npy", gt_i)
    return {"n": n, "structure": vec.describe(), "train_s": round(t_train, 1), "add_s": round(t_add, 1),
            "ground_truth_s": round(t_gt, 1), "build_peak_rss_gb": round(peak_rss_gb(), 2),
            "file_gb": round((work / "float.index").stat().st_size / 1e9, 2)}


def search_float(work: Path, nprobe: int) -> dict:
    q = np.load(work / "float_q.npy")
    gt = np.load(work / "float_gt.npy")
    vec = ChannelVectors.load(work / "float.index", "ip", DIM, mmap=True, nprobe=nprobe)
    vec.search(q[:50], K)  # touch the lists once (page-in), as a running service would have
    t0 = time.perf_counter()
    _, found = vec.search(q, K)
    dt = time.perf_counter() - t0
    recall = np.mean([len(set(a) & set(b)) / K for a, b in zip(found.tolist(), gt.tolist())])
    return {"nprobe": nprobe, "queries_per_s": round(len(q) / dt, 1), "recall_at_10": round(float(recall), 4),
            "search_peak_rss_gb": round(peak_rss_gb(), 2)}


# -- pdq -------------------------------------------------------------------------------------
def build_pdq(n: int, work: Path, queries: int, model: str) -> dict:
    scenes = pdq_scenes()
    rng = np.random.default_rng(7)
    picks = np.sort(rng.choice(n, size=queries, replace=False))
    structure, nlist = choose_structure("hamming", n, one_per_frame=True)
    t0 = time.perf_counter()
    if structure == "mih":
        vec = ChannelVectors("hamming", 256, MultiHash())
    else:
        vec = ChannelVectors("hamming", 256)
    t_train = time.perf_counter() - t0
    near = np.zeros((queries, 32), np.uint8)
    t_add = 0.0
    parts = []
    for start in range(0, n, CHUNK):
        size = min(CHUNK, n - start)
        x = pdq_chunk(scenes, size, start + 1, model)
        sel = (picks >= start) & (picks < start + size)
        near[sel] = x[picks[sel] - start]
        t1 = time.perf_counter()
        parts.append(x)
        t_add += time.perf_counter() - t1
    t1 = time.perf_counter()
    vec.add(np.arange(n), np.concatenate(parts))  # one sort per table, as `index optimize` does
    del parts
    t_add += time.perf_counter() - t1
    q = np.concatenate([flip_bits(near, rng), pdq_chunk(scenes, queries, 777_777, "uniform")])
    # exact answer: every stored hash within distance 31 of each query (brute force, chunk by chunk)
    t2 = time.perf_counter()
    truth: list[set] = [set() for _ in range(len(q))]
    for start in range(0, n, CHUNK):
        size = min(CHUNK, n - start)
        flat = faiss.IndexBinaryFlat(256)
        flat.add(pdq_chunk(scenes, size, start + 1, model))
        lims, _, ids = flat.range_search(q, 32)  # strictly below 32: distance <= 31
        for j in range(len(q)):
            truth[j].update((ids[lims[j] : lims[j + 1]] + start).tolist())
    t_gt = time.perf_counter() - t2
    vec.save(work / "pdq.index")
    np.save(work / "pdq_q.npy", q)
    (work / "pdq_truth.json").write_text(json.dumps([sorted(t) for t in truth]))
    return {"n": n, "model": model, "structure": vec.describe(), "train_s": round(t_train, 1), "add_s": round(t_add, 1),
            "ground_truth_s": round(t_gt, 1), "build_peak_rss_gb": round(peak_rss_gb(), 2),
            "file_gb": round((work / "pdq.index").stat().st_size / 1e9, 3),
            "true_neighbours": sum(len(t) for t in truth)}


def search_pdq(work: Path, nprobe: int) -> dict:
    q = np.load(work / "pdq_q.npy")
    truth = json.loads((work / "pdq_truth.json").read_text())
    vec = ChannelVectors.load(work / "pdq.index", "hamming", 256, mmap=True, nprobe=nprobe)
    vec.search(q[:50], K)
    t0 = time.perf_counter()
    d, found = vec.search(q, K)  # the scan's lookup: top k, then the 31-bit threshold
    dt = time.perf_counter() - t0
    hit = [set(f[dd <= 31].tolist()) for f, dd in zip(found, d)]
    wanted = sum(len(t) for t in truth)
    got = sum(len(h & set(t)) for h, t in zip(hit, truth))
    return {"nprobe": nprobe, "lookups_per_s": round(len(q) / dt, 1),
            "recall_within_31": round(got / wanted, 4) if wanted else None,
            "search_peak_rss_gb": round(peak_rss_gb(), 3)}


def figures_of(built: dict) -> dict:
    """A build's figures, its vector count named as such."""
    return {("vectors" if k == "n" else k): v for k, v in built.items()}


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--float", dest="n_float", type=int, default=0, help="float vectors to index (0: skip)")
    ap.add_argument("--shots", type=int, default=SHOTS, help="float: shots the vectors cluster around, 20 a work")
    ap.add_argument("--pdq", dest="n_pdq", type=int, default=0, help="PDQ hashes to index (0: skip)")
    ap.add_argument("--pdq-model", choices=("clustered", "uniform"), default="clustered")
    local.add_arguments(ap)
    ap.add_argument("--queries", type=int, default=1000)
    ap.add_argument("--nprobe-float", default="8,16,32", help="nprobe values to measure (float)")
    ap.add_argument("--nprobe-pdq", default="16,64,256", help="nprobe values to measure (PDQ)")
    ap.add_argument("--work", type=Path, default=None, help="folder for the index files (default: a temporary one)")
    ap.add_argument("--_search", nargs=3, help=argparse.SUPPRESS)
    add_shared_arguments(ap)
    args = ap.parse_args(argv)
    if args._search:  # the searching process: its peak memory is what serving the index costs
        kind, work, nprobe = args._search
        res = (search_float if kind == "float" else search_pdq)(Path(work), int(nprobe))
        print(json.dumps(res))
        return
    faiss.omp_set_num_threads(faiss.omp_get_max_threads())
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
    figures: dict = {}
    with tempfile.TemporaryDirectory(prefix="bench_index_", dir=args.work) as tmp:
        work = Path(tmp).resolve()
        for kind, n in (("float", args.n_float), ("pdq", args.n_pdq)):
            if not n:
                continue
            built = (build_float(n, work, args.queries, args.shots) if kind == "float"
                     else build_pdq(n, work, args.queries, args.pdq_model))
            print(f"{kind} build: {json.dumps(built)}", flush=True)
            figures[kind] = figures_of(built)
            for nprobe in [int(v) for v in (args.nprobe_float if kind == "float" else args.nprobe_pdq).split(",")]:
                out = run_module("benchmarks.index", "--_search", kind, str(work), str(nprobe)).strip()
                print(f"{kind} search: {out}", flush=True)
                figures[f"{kind}_nprobe_{nprobe}"] = json.loads(out)
            (work / f"{kind}.index").unlink()
        if args.n_orb:
            figures.update(local.run(args, work))
    record("index", figures, argv, args.results)


if __name__ == "__main__":
    main()
