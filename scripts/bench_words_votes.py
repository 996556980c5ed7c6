#!/usr/bin/env python3
"""Visual words' second step on the planted copies of `bench_index.py --orb N`: where copies are
lost as the catalogue grows, and what brings them back.

Step 1 short-lists the frames a query frame's words point to; step 2 counts each query
descriptor's votes for its 3 nearest descriptors among the short-listed frames only. Exhaustive
search counts its 3 nearest in the whole catalogue, so in a short list an unrelated frame meets
none of the competition that would take its votes elsewhere. For each rule below, this prints the
share of query frames whose planted source frame (or its neighbour in time) comes first with at
least the channel's min_votes, and the share among the top 10 (each query frame's variant, as
shot or mirrored, chosen as the ORB channel chooses it; here both variants' votes are counted,
where the channel counts the mirrored one's only when its short list scores at least as well, so
`list 300` can differ from bench_index's figure by a query frame or two):

- `list L`: votes among the L frames step 1 scores highest (the index's own rule: L = its short
  list, 300);
- `list L, sampled competition`: the same, a vote counting only when its descriptor is closer
  than the query descriptor's nearest among every M-th descriptor of the catalogue (`--sample`),
  searched through inverted lists: an estimate, from a structure 1/M of the catalogue's size, of
  the competition the short list leaves out.

The index and queries are built as `bench_index.py --orb N --orb-structures words` builds them
(`--out-of-core` as `--orb-out-of-core`) in `--work`, or reused when `--work` already holds them.

    .venv/bin/python scripts/bench_words_votes.py --orb 100000 --work /tmp/w100k
    .venv/bin/python scripts/bench_words_votes.py --orb 1800000 --out-of-core --work /tmp/w18  # ~50 min, 17 GB
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import faiss
import numpy as np

import bench_local
from reference_index.vectors import ChannelVectors

LENGTHS = (30, 100, 300, 1000)
GATED = (100, 300)


def sampled_competition(words, every: int, nprobe: int, seed: int = 1) -> faiss.IndexBinary:
    """Every `every`-th descriptor of the catalogue (drawn at random), searchable."""
    n = len(words._desc)
    rows = np.sort(np.random.default_rng(seed).choice(n, size=max(1, n // every), replace=False))
    codes = np.ascontiguousarray(words._desc[rows])
    if len(codes) < 200_000:
        index = faiss.IndexBinaryFlat(256)
    else:  # inverted lists, as the channel would keep them at this size
        index = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(256), 256, 4096)
        index.train(codes[:: max(1, len(codes) // 400_000)])
        index.nprobe = nprobe
    index.add(codes)
    return index


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orb", type=int, required=True, help="reference frames")
    ap.add_argument("--work", type=Path, required=True, help="folder for the index and queries (reused when present)")
    ap.add_argument("--out-of-core", action="store_true")
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--sample", type=int, default=64, help="M: every M-th descriptor estimates the competition")
    ap.add_argument("--nprobe", type=int, default=16, help="lists of the sample's 4,096 searched (from 200,000 sampled)")
    args = ap.parse_args()
    config = bench_local.load(None)
    args.work.mkdir(parents=True, exist_ok=True)
    if not (args.work / "orb.words").exists():
        t0 = time.perf_counter()
        if args.out_of_core:
            bench_local.build_words_out_of_core(args.orb, args.work, args.queries, config)
        else:
            bench_local.build(args.orb, args.work, args.queries, config, exact_max=0, kinds=("words",))
        print(f"built {args.orb:,} frames in {time.perf_counter() - t0:.0f} s", flush=True)
    orb = bench_local.create_channel("orb", config)
    z = np.load(args.work / "orb_queries.npz")
    wanted = {int(k): set(v) for k, v in json.loads((args.work / "orb_neighbours.json").read_text()).items()}
    words = ChannelVectors.load(args.work / "orb.words", "hamming", 256, mmap=True).index
    t0 = time.perf_counter()
    sample = sampled_competition(words, args.sample, args.nprobe)
    print(f"{words.frames:,} frames, {len(words._desc):,} descriptors; competition sampled: {sample.ntotal:,} "
          f"descriptors (1 in {args.sample}; nprobe {args.nprobe} from 200,000) in {time.perf_counter() - t0:.0f} s", flush=True)

    rows = np.nonzero(z["keep"])[0]
    found: dict[str, list] = {}  # rule -> per query frame: {variant: (frame ids, votes)}
    seconds = {"sampled competition": 0.0, "list 100": 0.0, "list 300": 0.0}  # both steps, or the sample's search
    for r in rows:
        per_rule: dict[str, dict] = {}
        for v in np.unique(z["variant_of"]):
            sel = (z["frame_of"] == r) & (z["variant_of"] == v)
            codes = np.ascontiguousarray(z["vectors"][sel])
            if not len(codes):
                continue
            one = np.zeros(len(codes), np.int64)
            t0 = time.perf_counter()
            nearest_sampled = sample.search(codes, 1)[0][:, 0].astype(np.int64)
            seconds["sampled competition"] += time.perf_counter() - t0
            for length in LENGTHS:
                t0 = time.perf_counter()
                words.shortlist = length
                short = words.shortlists(codes, one, np.array([0]))[0][0]
                per_rule.setdefault(f"list {length}", {})[int(v)] = words._votes(codes, short, 10, orb.max_descriptor_distance, None)
                if f"list {length}" in seconds:
                    seconds[f"list {length}"] += time.perf_counter() - t0
                if length in GATED:
                    gate = np.minimum(orb.max_descriptor_distance, nearest_sampled - 1)
                    per_rule.setdefault(f"list {length}, sampled competition", {})[int(v)] = words._votes(codes, short, 10, gate, None)
        for rule, per_variant in per_rule.items():
            found.setdefault(rule, []).append((int(z["truth"][r]), per_variant))

    print(f"{len(rows)} query frames; planted source first (with >= {orb.min_votes} votes) / in the top 10:")
    for rule, frames in found.items():
        first = top10 = 0
        for truth, per_variant in frames:
            best = {v: float(votes[0]) if len(votes) else 0.0 for v, (_, votes) in per_variant.items()}
            plain = best.get(0, 0.0)
            chosen = 1 if best.get(1, 0.0) > plain and best.get(1, 0.0) >= orb.mirror_ratio * plain else 0
            fids, votes = per_variant.get(chosen, per_variant[min(per_variant)])
            first += bool(len(fids)) and int(fids[0]) in wanted[truth] and votes[0] >= orb.min_votes
            top10 += any(int(f) in wanted[truth] for f in fids[:10])
        print(f"  {rule:36} {first / len(frames):.3f} / {top10 / len(frames):.3f}")
    print("wall time a query frame (both variants; FAISS on every core; the file in the page cache): " +
          ", ".join(f"{what} {1000 * t / len(rows):.0f} ms" for what, t in seconds.items()))


if __name__ == "__main__":
    main()
