"""ORB structures for N reference frames of local features: the ORB part of benchmarks.index
(`--orb N`), run alone or from there.

    python -m benchmarks.local --orb 100000
    python -m benchmarks.local --orb 1800000 --orb-out-of-core --work /tmp   # words only, ~20 GB of disk

Reference frames: the real footage of ../shared/corpus/videos (or `--footage DIR`; sampled at
2 frames/s, ORB as the channel describes reference frames), planted at random places among N
synthetic frames. A synthetic frame has 200 descriptors, each built byte by byte from two random real descriptors
(so its bits, and the words it falls in, are distributed like real footage's, but it copies no
real frame). Queries: edited copies of planted real frames (crop 70 % + caption, colour shift,
mirror), described as the channel describes query frames (spread corners, mirrored variant).

For each structure (exhaustive up to --orb-exact-max frames, Hamming k-means inverted lists as
`index add` builds them, visual words), it prints build time, bytes per frame, query frames/s,
descriptors compared per query frame, peak memory of the searching process, and the recall of
planted copies: the share of query frames whose planted source frame (or its neighbour in time)
is the top candidate with at least the channel's min_votes, and the share among the top 10.

With --orb-out-of-core (`build_words_out_of_core`), visual words only, for catalogues whose
descriptors do not fit in memory (1.8 M frames: 11.5 GB of them): the frames are generated and
written chunk by chunk in frame order (reference_index.experimental.words_file), never held whole; the
searching process is the same. Exhaustive search and inverted lists are not built then (see
NOT_OUT_OF_CORE).
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from auditor.channels.orb import ORBChannel
from auditor.config import Config, load_config
from auditor.media.reader import MediaReader
from auditor.settings import Configuration
from benchmarks.common import (
    add_shared_arguments,
    corpus_clips,
    peak_rss_gb,
    record,
    run_module,
)
from reference_index.search.vectors import ChannelVectors, choose_structure
from reference_index.store.manifest import MANY_SHIFT

PER_FRAME = 200


def real_frames(config: Configuration, fps: float = 2.0, footage: Path | None = None) -> tuple[list[np.ndarray], list[str]]:
    """Every frame of the corpus videos (or of the videos in `footage`) sampled at `fps`, and its name."""
    images, names = [], []
    for path in corpus_clips(footage):
        for fr in MediaReader(path, fps, config).frames():
            images.append(fr.image)
            names.append(f"{path.name}@{fr.t:.1f}")
    return images, names


def edits(image: np.ndarray, i: int) -> np.ndarray:
    """One of three edits a generated copy shows: a captioned crop, a colour shift, a mirror."""
    h, w = image.shape[:2]
    kind = i % 3
    if kind == 0:
        out = cv2.resize(image[int(0.15 * h): int(0.85 * h), int(0.15 * w): int(0.85 * w)], (w, h))
        cv2.putText(out, "GENERATED", (int(0.05 * w), int(0.9 * h)), cv2.FONT_HERSHEY_SIMPLEX, w / 600, (255, 255, 255), 2)
        return out
    if kind == 1:
        return np.clip(image.astype(np.float32) * [1.15, 0.95, 0.85] + 12, 0, 255).astype(np.uint8)
    return np.ascontiguousarray(image[:, ::-1])


def synthetic(real: np.ndarray, n_frames: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    a = real[rng.integers(0, len(real), n_frames * PER_FRAME)]
    b = real[rng.integers(0, len(real), n_frames * PER_FRAME)]
    return np.where(rng.random(a.shape) < 0.5, a, b)


def descriptor_ids(frames: np.ndarray) -> np.ndarray:
    """The ids of PER_FRAME descriptors of each synthetic frame (frame id << MANY_SHIFT | rank)."""
    return (np.repeat(frames, PER_FRAME) << MANY_SHIFT) | np.tile(np.arange(PER_FRAME), len(frames))


def plant(n: int, work: Path, queries: int, config: Configuration, footage: Path | None = None) -> dict:
    """The real frames planted among n, the queries (edited copies of planted frames, saved in
    `work` with the frames each may find) and what a build needs to lay the frames out."""
    orb = ORBChannel(config)
    images, names = real_frames(config, footage=footage)
    emb = orb.embed_batch(images)
    assert emb.frame_of is not None  # ORB: the frame of each descriptor
    kept = np.nonzero(emb.keep)[0]
    real = emb.vectors
    n = max(n, len(kept))
    rng = np.random.default_rng(0)
    slots = np.sort(rng.choice(n, size=len(kept), replace=False))  # where the real frames are planted
    frame_of_real = dict(zip(kept.tolist(), slots.tolist()))
    ids_real = np.array([(frame_of_real[int(f)] << MANY_SHIFT) | r for f, r in
                         zip(emb.frame_of, np.concatenate([np.arange(c) for c in np.bincount(emb.frame_of)[kept]]))], np.int64)
    pick = rng.choice(len(kept), size=min(queries, len(kept)), replace=False)
    q_images = [edits(images[kept[i]], j) for j, i in enumerate(pick)]
    q = orb.embed_query_batch(q_images)
    assert q.frame_of is not None
    truth = [frame_of_real[int(kept[i])] for i in pick]
    # a planted frame's neighbours in its video count too (2 frames/s: the same shot)
    neighbours = {frame_of_real[int(kept[i])]: {frame_of_real.get(int(kept[i]) + d) for d in (-1, 0, 1)} - {None}
                  for i in pick}
    np.savez(work / "orb_queries.npz", vectors=q.vectors, frame_of=q.frame_of, keep=q.keep,
             variant_of=q.variant_of if q.variant_of is not None else np.zeros(len(q.vectors), np.int8),
             truth=np.array(truth))
    (work / "orb_neighbours.json").write_text(json.dumps({str(k): sorted(v) for k, v in neighbours.items()}))
    return {"n": n, "real": real, "ids_real": ids_real, "synth_slots": np.setdiff1d(np.arange(n), slots),
            "summary": {"frames": n, "real_frames_planted": len(kept), "query_frames": int(q.keep.sum())}}


def build(n: int, work: Path, queries: int, config: Configuration, exact_max: int, kinds=("flat", "ivf", "words"),
          footage: Path | None = None) -> dict:
    p = plant(n, work, queries, config, footage)
    n, real, ids_real, synth_slots = p["n"], p["real"], p["ids_real"], p["synth_slots"]

    def chunks(step: int = 20_000):
        yield ids_real, real
        for c, at in enumerate(range(0, len(synth_slots), step)):
            fr = synth_slots[at: at + step]
            vec = synthetic(real, len(fr), seed=1 + c)
            ids = descriptor_ids(fr)
            yield ids, vec

    total = 0
    flat = ChannelVectors("hamming", 256)
    t0 = time.perf_counter()
    for ids, vec in chunks():
        flat.add(ids, vec)
        total += len(ids)
    t_flat = time.perf_counter() - t0
    out = {**p["summary"], "descriptors": total}
    structures = {}
    if n <= exact_max and "flat" in kinds:
        flat.save(work / "orb.flat")
        structures["flat"] = {"build_s": round(t_flat, 1), "bytes_per_frame": round((work / "orb.flat").stat().st_size / n)}
    if "ivf" in kinds:
        _, nlist = choose_structure("hamming", total, {"local": 0}, local="ivf")
        t0 = time.perf_counter()
        ivf = flat.rebuilt("ivf", nlist)
        ivf.save(work / "orb.ivf")
        structures["ivf"] = {"build_s": round(time.perf_counter() - t0, 1), "nlist": nlist,
                             "bytes_per_frame": round((work / "orb.ivf").stat().st_size / n)}
        del ivf
    if "words" not in kinds:
        out["structures"] = structures
        return out
    t0 = time.perf_counter()
    words = flat.rebuilt("words")
    words.save(work / "orb.words")
    per = words.index.bytes_per_frame()
    structures["words"] = {"build_s": round(time.perf_counter() - t0, 1), "words": words.index.vocabulary.size,
                           "searched_bytes_per_frame": round(per["inverted_file"]),
                           "competition_bytes_per_frame": round(per["competition"], 1),
                           "descriptor_bytes_per_frame": round(per["descriptors"])}
    out["structures"] = structures
    return out


NOT_OUT_OF_CORE = ("exhaustive search and inverted lists are not built out of core: at 1.8 M frames, assigning 360 M "
                   "descriptors to 65,536 lists (4 sqrt(n), capped) is ~2.4e13 comparisons (hours on this machine), and "
                   "exhaustive search compares every query descriptor with all 360 M")


def build_words_out_of_core(n: int, work: Path, queries: int, config: Configuration, step: int = 10_000,
                            footage: Path | None = None) -> dict:
    """Visual words for n frames without holding their descriptors: the same planted frames and
    queries as `build`, the vocabulary trained on `training_size(n)` descriptors drawn at random
    from twice as many at the stream's start, then the frames written chunk by chunk in frame order
    (reference_index.experimental.words_file). Synthetic frames come from other seeds than `build`'s, drawn alike."""
    from reference_index.experimental.vocabulary import Vocabulary, training_size
    from reference_index.experimental.words_file import WordFileWriter

    p = plant(n, work, queries, config, footage)
    n, real, ids_real, synth_slots = p["n"], p["real"], p["ids_real"], p["synth_slots"]
    real_frame = ids_real >> MANY_SHIFT

    def chunks():
        for c, lo in enumerate(range(0, n, step)):
            planted = (real_frame >= lo) & (real_frame < lo + step)
            fr = synth_slots[(synth_slots >= lo) & (synth_slots < lo + step)]
            ids = np.r_[ids_real[planted], descriptor_ids(fr)]
            codes = np.concatenate([real[planted], synthetic(real, len(fr), seed=1_000_000 + c)])
            order = np.argsort(ids, kind="stable")
            yield ids[order], codes[order]

    total = len(ids_real) + PER_FRAME * len(synth_slots)
    holder = ChannelVectors("hamming", 256)
    t0 = time.perf_counter()
    head, got, wanted = [], 0, training_size(total)
    for _, codes in chunks():
        head.append(codes)
        got += len(codes)
        if got >= 2 * wanted or got >= total:
            break
    first = np.concatenate(head)
    rng = np.random.default_rng(1234)
    sample = first[np.sort(rng.choice(len(first), size=min(len(first), wanted), replace=False))]
    del head, first
    vocab = Vocabulary.for_catalogue(sample, total)
    del sample
    t_train = time.perf_counter() - t0
    writer = WordFileWriter(work / "orb.words", vocab, n, total, holder.SHIFT_FOR_WORDS)
    for c, (ids, codes) in enumerate(chunks()):
        writer.add(ids, codes)
        if c % 5 == 0:
            print(f"orb out of core: {c * step:,} of {n:,} frames, {time.perf_counter() - t0:.0f} s, "
                  f"peak RSS {peak_rss_gb():.2f} GB", file=sys.stderr, flush=True)
    t_assign = time.perf_counter() - t0 - t_train
    writer.close()
    t_all = time.perf_counter() - t0
    per = ChannelVectors.load(work / "orb.words", "hamming", 256, mmap=True).index.bytes_per_frame()
    words = {"build_s": round(t_all, 1), "train_s": round(t_train, 1), "assign_and_write_s": round(t_assign, 1),
             "place_postings_s": round(t_all - t_train - t_assign, 1), "words": vocab.size,
             "searched_bytes_per_frame": round(per["inverted_file"]), "competition_bytes_per_frame": round(per["competition"], 1),
             "descriptor_bytes_per_frame": round(per["descriptors"]),
             "file_gb": round((work / "orb.words").stat().st_size / 1e9, 2), "build_peak_rss_gb": round(peak_rss_gb(), 2)}
    return {**p["summary"], "descriptors": total, "out_of_core": True, "not_built": NOT_OUT_OF_CORE,
            "structures": {"words": words}}


def search(work: Path, structure: str, config: Configuration, nprobe: int | None = None) -> dict:
    """Search the planted queries in the structure built in `work`; inverted lists with `nprobe`
    lists (default: the configuration's `index.nprobe_binary`, as a scan would)."""
    nprobe = int(nprobe or config.index.nprobe_binary)

    orb = ORBChannel(config)
    z = np.load(work / "orb_queries.npz")
    from auditor.channels.base import Embeddings

    q = Embeddings(z["vectors"], z["keep"], None, None, z["frame_of"], variant_of=z["variant_of"])
    truth = z["truth"]
    neighbours = {int(k): set(v) for k, v in json.loads((work / "orb_neighbours.json").read_text()).items()}
    vec = ChannelVectors.load(work / f"orb.{structure}", "hamming", 256, mmap=True, nprobe=nprobe)
    stats: dict = {}

    class Search:
        by_frame = vec.structure == "words"

        def __call__(self, x, k):
            d, i = vec.search(x, k)
            stats["compared"] = stats.get("compared", 0) + len(x) * (vec.ntotal if vec.structure == "flat" else 0)
            return d, np.where(i >= 0, i >> MANY_SHIFT, -1)

        def shortlists(self, x, fo, rows):
            return vec.shortlists(x, fo, rows, stats=stats)

        def votes(self, x, fo, rows, short, k, max_distance, only=None):
            return vec.votes(x, fo, rows, short, k, max_distance, only, stats=stats)

        def nearest_competitors(self, x):
            return vec.nearest_competitors(x)

    t0 = time.perf_counter()
    rows, ranked = orb.candidates(q, Search(), 10)
    dt = time.perf_counter() - t0
    top1, top10 = recall(rows, ranked, truth, neighbours, orb.min_votes)
    n = len(rows)
    out = {"structure": vec.structure, "query_frames_per_s": round(n / dt, 2),
           "recall_top1_with_min_votes": top1, "recall_top10": top10, "search_peak_rss_gb": round(peak_rss_gb(), 3)}
    if stats.get("compared"):
        out["descriptor_pairs_compared_per_query_frame"] = int(stats["compared"] / n)
    if stats.get("postings"):
        out["postings_read_per_query_frame"] = int(stats["postings"] / n)
    if vec.structure == "ivf":
        out["nprobe"] = nprobe
    return out


def recall(rows, ranked, truth, neighbours: dict, min_votes: int) -> tuple[float, float]:
    """The share of query frames whose planted source (or its neighbour in time) is the top
    candidate with at least min_votes, and the share that has it among the top 10."""
    top1 = top10 = 0
    for r, cands in zip(rows, ranked):
        want = neighbours[int(truth[r])]
        top1 += bool(cands) and cands[0][0] in want and cands[0][1] >= min_votes
        top10 += any(f in want for f, _, _ in cands)
    return round(top1 / len(rows), 3), round(top10 / len(rows), 3)


def load(config_path: str | None) -> Config:
    return load_config(Path(config_path) if config_path else None)


def add_arguments(ap: argparse.ArgumentParser) -> None:
    """The ORB benchmark's options (benchmarks.index has them too)."""
    ap.add_argument("--orb", dest="n_orb", type=int, default=0, help="ORB reference frames to index (0: skip)")
    ap.add_argument("--orb-queries", type=int, default=60, help="edited copies of planted frames to look up")
    ap.add_argument("--orb-exact-max", type=int, default=100_000, help="measure exhaustive search up to this many frames")
    ap.add_argument("--orb-structures", default="flat,ivf,words", help="ORB structures to build and measure")
    ap.add_argument("--orb-out-of-core", action="store_true",
                    help="visual words only, written chunk by chunk (reference_index.experimental.words_file): for 1.8 M frames")
    ap.add_argument("--footage", type=Path, default=None,
                    help="the real frames from the videos in this folder (default: ../shared/corpus/videos)")
    ap.add_argument("--config", default=None, help="auditor configuration (ORB settings)")


def run(args: argparse.Namespace, work: Path) -> dict:
    """Build the ORB structures for `args.n_orb` frames in `work`, search each in a fresh process,
    print what each costs and finds; return the figures."""
    config = load(args.config)
    if args.orb_out_of_core:
        built = build_words_out_of_core(args.n_orb, work, args.orb_queries, config, footage=args.footage)
    else:
        built = build(args.n_orb, work, args.orb_queries, config, args.orb_exact_max,
                      tuple(args.orb_structures.split(",")), footage=args.footage)
    print(f"orb build: {json.dumps(built)}", flush=True)
    figures = {"orb": {k: v for k, v in built.items() if k not in ("structures", "not_built")}}
    for structure, cost in built["structures"].items():
        config_args = ["--config", str(Path(args.config).resolve())] if args.config else []
        out = run_module("benchmarks.local", "--_search", str(work.resolve()), structure, *config_args).strip()
        print(f"orb search: {out}", flush=True)
        found = json.loads(out)
        figures[f"orb_{structure}"] = {**cost, **{k: v for k, v in found.items() if k != "structure"}}
    return figures


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    add_arguments(ap)
    ap.add_argument("--work", type=Path, default=None, help="folder for the index files (default: a temporary one)")
    ap.add_argument("--_search", nargs=2, metavar=("WORK", "STRUCTURE"), help=argparse.SUPPRESS)
    add_shared_arguments(ap)
    args = ap.parse_args(argv)
    if args._search:  # the searching process: its peak memory is what serving the structure costs
        print(json.dumps(search(Path(args._search[0]), args._search[1], load(args.config))))
        return
    if not args.n_orb:
        ap.error("--orb N: how many reference frames")
    if args.work is not None:
        args.work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="bench_local_", dir=args.work) as tmp:
        figures = run(args, Path(tmp))
    record("local", figures, argv, args.results)


if __name__ == "__main__":
    main()
