"""The ORB part of bench_index.py (`--orb N`): structures for N reference frames of local features.

Reference frames: the real footage of ../shared/corpus/videos (sampled at 2 frames/s, ORB as the
channel describes reference frames), planted at random places among N synthetic frames. A
synthetic frame has 200 descriptors, each built byte by byte from two random real descriptors
(so its bits, and the words it falls in, are distributed like real footage's, but it copies no
real frame). Queries: edited copies of planted real frames (crop 70 % + caption, colour shift,
mirror), described as the channel describes query frames (spread corners, mirrored variant).

For each structure (exhaustive up to --orb-exact-max frames, Hamming k-means inverted lists as
`index add` builds them, visual words), it prints build time, bytes per frame, query frames/s,
descriptors compared per query frame, peak memory of the searching process, and the recall of
planted copies: the share of query frames whose planted source frame (or its neighbour in time)
is the top candidate with at least the channel's min_votes, and the share among the top 10.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from auditor.channels import create_channel  # noqa: E402
from auditor.config import load_config  # noqa: E402
from auditor.media.reader import MediaReader  # noqa: E402
from reference_index.manifest import MANY_SHIFT  # noqa: E402
from reference_index.vectors import ChannelVectors, choose_structure  # noqa: E402

CORPUS = ROOT.parent / "shared" / "corpus" / "videos"
PER_FRAME = 200


def real_frames(config: dict, fps: float = 2.0) -> tuple[list[np.ndarray], list[str]]:
    if not CORPUS.is_dir():
        raise SystemExit(f"bench_local: needs real footage in {CORPUS}")
    images, names = [], []
    for path in sorted(p for p in CORPUS.iterdir() if p.is_file()):
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


def build(n: int, work: Path, queries: int, config: dict, exact_max: int, kinds=("flat", "ivf", "words")) -> dict:
    orb = create_channel("orb", config)
    images, names = real_frames(config)
    emb = orb.embed_batch(images)
    kept = np.nonzero(emb.keep)[0]
    real = emb.vectors
    n = max(n, len(kept))
    rng = np.random.default_rng(0)
    slots = np.sort(rng.choice(n, size=len(kept), replace=False))  # where the real frames are planted
    frame_of_real = dict(zip(kept.tolist(), slots.tolist()))
    ids_real = np.array([(frame_of_real[int(f)] << MANY_SHIFT) | r for f, r in
                         zip(emb.frame_of, np.concatenate([np.arange(c) for c in np.bincount(emb.frame_of)[kept]]))], np.int64)
    synth_slots = np.setdiff1d(np.arange(n), slots)

    def chunks(step: int = 20_000):
        yield ids_real, real
        for c, at in enumerate(range(0, len(synth_slots), step)):
            fr = synth_slots[at: at + step]
            vec = synthetic(real, len(fr), seed=1 + c)
            ids = (np.repeat(fr, PER_FRAME) << MANY_SHIFT) | np.tile(np.arange(PER_FRAME), len(fr))
            yield ids, vec

    pick = rng.choice(len(kept), size=min(queries, len(kept)), replace=False)
    q_images = [edits(images[kept[i]], j) for j, i in enumerate(pick)]
    q = orb.embed_query_batch(q_images)
    truth = [frame_of_real[int(kept[i])] for i in pick]
    # a planted frame's neighbours in its video count too (2 frames/s: the same shot)
    neighbours = {frame_of_real[int(kept[i])]: {frame_of_real.get(int(kept[i]) + d) for d in (-1, 0, 1)} - {None}
                  for i in pick}
    np.savez(work / "orb_queries.npz", vectors=q.vectors, frame_of=q.frame_of, keep=q.keep,
             variant_of=q.variant_of if q.variant_of is not None else np.zeros(len(q.vectors), np.int8),
             truth=np.array(truth))
    (work / "orb_neighbours.json").write_text(json.dumps({str(k): sorted(v) for k, v in neighbours.items()}))
    total = 0
    flat = ChannelVectors("hamming", 256)
    t0 = time.perf_counter()
    for ids, vec in chunks():
        flat.add(ids, vec)
        total += len(ids)
    t_flat = time.perf_counter() - t0
    out = {"frames": n, "real_frames_planted": len(kept), "descriptors": total, "query_frames": int(q.keep.sum())}
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
                           "descriptor_bytes_per_frame": round(per["descriptors"])}
    out["structures"] = structures
    return out


def search(work: Path, structure: str, config: dict, nprobe: int = 16) -> dict:
    from bench_index import peak_rss_gb  # noqa: PLC0415 (the searching process's own peak)

    orb = create_channel("orb", config)
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

    t0 = time.perf_counter()
    rows, ranked = orb.candidates(q, Search(), 10)
    dt = time.perf_counter() - t0
    top1 = top10 = 0
    for r, cands in zip(rows, ranked):
        want = neighbours[int(truth[r])]
        top1 += bool(cands) and cands[0][0] in want and cands[0][1] >= orb.min_votes
        top10 += any(f in want for f, _, _ in cands)
    n = len(rows)
    out = {"structure": vec.structure, "query_frames_per_s": round(n / dt, 2),
           "recall_top1_with_min_votes": round(top1 / n, 3), "recall_top10": round(top10 / n, 3),
           "search_peak_rss_gb": round(peak_rss_gb(), 3)}
    if stats.get("compared"):
        out["descriptor_pairs_compared_per_query_frame"] = int(stats["compared"] / n)
    if stats.get("postings"):
        out["postings_read_per_query_frame"] = int(stats["postings"] / n)
    if vec.structure == "ivf":
        out["nprobe"] = nprobe
    return out


def load(config_path: str | None) -> dict:
    return load_config(Path(config_path) if config_path else None)
