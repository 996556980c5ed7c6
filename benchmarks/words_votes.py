"""Visual words' second step on the planted copies of `benchmarks.index --orb N`: where copies are
lost as the catalogue grows, and what brings them back.

Step 1 short-lists the frames a query frame's words point to; step 2 counts each query
descriptor's votes for its 3 nearest descriptors among the short-listed frames only. Exhaustive
search counts its 3 nearest in the whole catalogue, so in a short list an unrelated frame meets
none of the competition that would take its votes elsewhere. For each rule below, this prints the
share of query frames whose planted source frame (or its neighbour in time) comes first with at
least the channel's min_votes, and the share among the top 10, as `benchmarks.index --orb` counts
them (the ORB channel's own candidates: its choice between the frame as shot and mirrored):

- `list L`: votes among the L frames step 1 scores highest (the index's own rule: L = its short
  list, 300);
- `list L, competition`: the same, a vote counting only when closer than the query descriptor's
  nearest among every M-th catalogue descriptor (reference_index.experimental.competition, as the index keeps
  it: an estimate, from a structure 1/M of the catalogue's size, of the competition the short
  list leaves out). M is the index's own, or `--sample M` (kept anew from the stored descriptors:
  indexes built before the index kept a competition have none);
- `..., all cells`: the same, step 2 comparing each query descriptor with every short-listed
  descriptor instead of those in its `near_cells` nearest top-level cells (the index's rule
  since the eighth session; a file written before keeps no cells and compares with all).

With `--clip FILE`: the search a scan of that clip does against the index (its query frames
sampled and described as a scan samples and describes them, searched chunk by chunk as the scan's
search thread gets them, on one FAISS thread): CPU seconds, with the index's rule and with step 2
among all short-listed descriptors, alternated, and those of step 1, the competition and step 2.
The clip's frames are not in the catalogue (unless it copies a planted one): most clips a batch
scans are not copies, and every one costs this.

The index and queries are built as `benchmarks.index --orb N --orb-structures words` builds them
(`--out-of-core` as `--orb-out-of-core`; `--footage DIR` as there) in `--work`, or reused when
`--work` already holds them.

    python -m benchmarks.words_votes --orb 100000 --work /tmp/w100k
    python -m benchmarks.words_votes --orb 1800000 --out-of-core --work /tmp/w18  # ~50 min, 17 GB
    python -m benchmarks.words_votes --orb 1800000 --work /tmp/w18 --clip copy.mp4  # the kept index
"""

from __future__ import annotations

import argparse
import json
import time
from pathlib import Path

import numpy as np

from auditor.channels.base import Embeddings
from auditor.channels.orb import ORBChannel
from auditor.settings import Configuration
from benchmarks import local
from benchmarks.common import add_shared_arguments, record
from reference_index.experimental import competition
from reference_index.search.vectors import ChannelVectors

LENGTHS = (30, 100, 300, 1000)
GATED = (100, 300)


class Rule:
    """A words searcher for ORBChannel.candidates: short lists of `length` frames, and with
    `compete`, each query descriptor's votes held under its distance to its nearest kept competitor.
    `cpu`: the CPU seconds of this thread in each step."""

    by_frame = True

    def __init__(self, words, length: int, compete: bool, near_cells: int):
        self.words, self.length, self.compete, self.near_cells, self.sample_seconds = words, length, compete, near_cells, 0.0
        self.cpu = {"step 1": 0.0, "competition": 0.0, "step 2": 0.0}

    def __call__(self, vectors, k):  # a searcher's signature; by_frame: ORBChannel.candidates asks by frame only
        raise NotImplementedError("visual words are searched by frame")

    def _timed(self, step: str, fn, *args):
        c0 = time.thread_time()
        try:
            return fn(*args)
        finally:
            self.cpu[step] += time.thread_time() - c0

    def shortlists(self, vectors, frame_of, rows):
        self.words.shortlist, self.words.near_cells = self.length, self.near_cells
        return self._timed("step 1", self.words.shortlists, vectors, frame_of, rows)

    def nearest_competitors(self, vectors):
        if not self.compete:
            return None
        t0 = time.perf_counter()
        out = self._timed("competition", self.words.nearest_competitors, vectors)
        self.sample_seconds += time.perf_counter() - t0
        return out

    def votes(self, vectors, frame_of, rows, short, k, max_distance, only=None):
        return self._timed("step 2", self.words.votes, vectors, frame_of, rows, short, k, max_distance, only)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--orb", type=int, required=True, help="reference frames")
    ap.add_argument("--work", type=Path, required=True, help="folder for the index and queries (reused when present)")
    ap.add_argument("--out-of-core", action="store_true")
    ap.add_argument("--queries", type=int, default=30)
    ap.add_argument("--sample", type=int, default=0, help="M: keep every M-th descriptor as the competition anew")
    ap.add_argument("--scanned", type=int, default=competition.SCANNED, help="codes compared per query descriptor, about")
    ap.add_argument("--clip", type=Path, default=None, help="also time a scan's search of this clip")
    ap.add_argument("--footage", type=Path, default=None,
                    help="when building: the real frames from the videos in this folder (default: ../shared/corpus/videos)")
    add_shared_arguments(ap)
    args = ap.parse_args(argv)
    config = local.load(None)
    args.work.mkdir(parents=True, exist_ok=True)
    figures: dict = {}
    if not (args.work / "orb.words").exists():
        t0 = time.perf_counter()
        if args.out_of_core:
            built = local.build_words_out_of_core(args.orb, args.work, args.queries, config, footage=args.footage)
        else:
            built = local.build(args.orb, args.work, args.queries, config, exact_max=0, kinds=("words",),
                                footage=args.footage)
        print(f"built {args.orb:,} frames in {time.perf_counter() - t0:.0f} s: {json.dumps(built)}", flush=True)
        figures["build"] = {"total_s": round(time.perf_counter() - t0, 1), **built["structures"]["words"]}
    orb = ORBChannel(config)
    z = np.load(args.work / "orb_queries.npz")
    wanted = {int(k): set(v) for k, v in json.loads((args.work / "orb_neighbours.json").read_text()).items()}
    words = ChannelVectors.load(args.work / "orb.words", "hamming", 256, mmap=True).index
    competition.SCANNED = args.scanned
    if args.sample:
        t0 = time.perf_counter()
        words.keep_competition(args.sample)
        print(f"competition kept anew in {time.perf_counter() - t0:.0f} s", flush=True)
    kept = words.kept_competition
    if kept is None:
        raise SystemExit(f"{args.work / 'orb.words'}: keeps no competition (built before it); pass --sample M")
    print(f"{words.frames:,} frames, {len(words._desc):,} descriptors; competition: {len(kept):,} kept (1 in "
          f"{words.competition}), {len(kept.top)} cells, {kept.nprobe} probed", flush=True)
    figures["index"] = {"frames": words.frames, "descriptors": len(words._desc), "competition_kept": len(kept),
                        "competition_one_in": words.competition, "competition_cells": len(kept.top),
                        "competition_cells_probed": kept.nprobe}

    query = Embeddings(z["vectors"], z["keep"], None, None, z["frame_of"], variant_of=z["variant_of"])
    print(f"{int(query.keep.sum())} query frames; planted source first (with >= {orb.min_votes} votes) / in the top 10; "
          "wall time a query frame (FAISS on every core, the file in the page cache after the first rule):")
    own_cells, own_list = words.near_cells, words.shortlist
    rules = [(length, gated, own_cells) for length in LENGTHS for gated in ((False, True) if length in GATED else (False,))]
    if own_cells:
        rules.append((own_list, True, 0))
    for length, gated, cells in rules:
        rule = Rule(words, length, gated, cells)
        t0 = time.perf_counter()
        rows, ranked = orb.candidates(query, rule, 10)
        dt = (time.perf_counter() - t0) / len(rows)
        first, top10 = local.recall(rows, ranked, z["truth"], wanted, orb.min_votes)
        name = f"list {length}" + (", competition" if gated else "") + ("" if cells else ", all cells")
        spent = f" (of which the competition's search {1000 * rule.sample_seconds / len(rows):.0f} ms)" if gated else ""
        print(f"  {name:36} {first:.3f} / {top10:.3f}   {1000 * dt:4.0f} ms{spent}", flush=True)
        figures[name] = {"source_first_share": first, "source_in_top10_share": top10, "ms_per_query_frame": round(1000 * dt)}
        if gated:
            figures[name]["competition_ms_per_query_frame"] = round(1000 * rule.sample_seconds / len(rows))
    figures["index"]["query_frames"] = int(query.keep.sum())

    if args.clip:
        figures.update(clip_search(args.clip, words, own_list, own_cells, orb, config))
    record("words_votes", figures, argv, args.results)


def clip_search(clip: Path, words, shortlist: int, own: int, orb, config: Configuration, repeat: int = 2) -> dict:
    """The ORB search a scan of `clip` does against `words` (short lists of `shortlist`, step 2 in
    the nearest `own` cells, then among all): its chunks' query embeddings (the
    frames a scan searches: held frames once), each ranked by the channel on one FAISS thread."""
    from auditor.scan.pipeline import embed_file
    from reference_index.search import faiss

    chunks: list = []
    embed_file(clip, config.sampling.query.fps, {"orb": orb}, config, query=True,
               on_chunk=lambda done: chunks.append(done["orb"]))
    frames = sum(int(c.keep.sum()) for c in chunks)
    print(f"{clip.name}: {frames} query frames, {sum(len(c.vectors) for c in chunks):,} descriptors (both variants); "
          "CPU seconds of its search:", flush=True)
    figures: dict = {"clip": {"name": clip.name, "query_frames": frames, "descriptors": sum(len(c.vectors) for c in chunks)}}
    threads = faiss.omp_get_max_threads()
    faiss.omp_set_num_threads(1)
    try:
        for run in range(repeat):
            for cells in (own, 0) if own else (0,):
                rule = Rule(words, shortlist, True, cells)
                c0 = time.thread_time()
                for chunk in chunks:
                    orb.candidates(chunk, rule, 10)
                spent = time.thread_time() - c0
                where = "in the nearest " + str(cells) + " cells" if cells else "among all short-listed descriptors"
                print(f"  step 2 {where:38} "
                      f"{spent:6.2f} s ({1000 * spent / frames:.1f} ms a query frame): "
                      + ", ".join(f"{step} {t:.2f}" for step, t in rule.cpu.items()), flush=True)
                figures[f"clip search {run + 1}, step 2 {f'in the nearest {cells} cells' if cells else 'among all'}"] = {
                    "cpu_s": round(spent, 2), "ms_per_query_frame": round(1000 * spent / frames, 1),
                    **{f"{step.replace(' ', '_')}_cpu_s": round(t, 2) for step, t in rule.cpu.items()}}
    finally:
        faiss.omp_set_num_threads(threads)  # as it was: a caller in the same process keeps its threads
        words.near_cells = own
    return figures


if __name__ == "__main__":
    main()
