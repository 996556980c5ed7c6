"""Resemblance without a shared timeline, measured on one clip (match/resemblance.py says what
the statistic is and how it is calibrated).

For every channel that declares resemblance, the clip's frames and crops of some of them are
searched against the whole index; each frame's best similarity to each work that turns up gives
the work's statistic, and the frames closest to it are kept for the evidence's gallery.
"""

from __future__ import annotations

import numpy as np

from ..match.resemblance import Nearest, NullDraws, WorkResemblance, work_resemblance
from ..media.reader import crop_box

NEAREST_KEPT = 24  # closest moments kept per work for the gallery


def crop_plan(times: np.ndarray, every: float) -> list[int]:
    """Indices of the frames whose crops are compared: one each `every` seconds."""
    chosen, last = [], -np.inf
    for i, t in enumerate(times):
        if t - last >= every - 1e-9:
            chosen.append(i)
            last = t
    return chosen


def measure(scanner, embedded, clip_path: str) -> list[WorkResemblance]:
    """Every work's resemblance over the clip, per channel that declares it."""
    cfg = scanner.config.resemblance
    names = [n for n, m in scanner.meanings.items() if m.resemblance and n in embedded.embeddings]
    if not names:
        return []
    times = np.asarray(embedded.times, dtype=np.float64)
    crops = [(float(x0), float(y0), float(x1), float(y1)) for x0, y0, x1, y1 in cfg.crops]
    chosen = crop_plan(times, float(cfg.crop_every_s)) if crops else []
    images = scanner.frame_source.query_frames(clip_path, [times[i] for i in chosen]) if chosen else {}
    works_compared = max(1, int(scanner.index.counts().get("works", 1)))
    out: list[WorkResemblance] = []
    for name in names:
        channel, emb = scanner.channels[name], embedded.embeddings[name]
        rows = np.nonzero(emb.keep)[0]
        vectors = [emb.vectors[rows]]
        row_frame: list[int] = rows.tolist()
        row_crop: list = [None] * len(rows)
        crop_images = []
        for i in chosen:
            image = images.get(round(float(times[i]), 3))
            if image is None:
                continue
            for box in crops:
                crop_images.append(np.ascontiguousarray(crop_box(image, box)))
                row_frame.append(i)
                row_crop.append(box)
        if crop_images:
            vectors.append(channel.embed(crop_images).vectors)
        found = _per_work(scanner, name, np.concatenate(vectors), np.asarray(row_frame), row_crop, times)
        null = None
        if scanner.null is not None and name in scanner.null.null:
            null = NullDraws(scanner.null.null[name][0], scanner.config)
        variants = 1 + len(crops) if crop_images else 1
        for (work, owner), (scores, nearest) in found.items():
            out.append(work_resemblance(work, owner, name, times, scores, variants, scanner.config, null,
                                        works_compared, nearest))
    return out


def _per_work(scanner, name: str, vectors: np.ndarray, row_frame: np.ndarray, row_crop: list, times: np.ndarray):
    """{(work, owner): (each frame's best similarity to the work, the closest moments)}."""
    k = int(scanner.config.resemblance.neighbours)
    sims, fids = scanner.index.search(name, vectors, k)
    refs = scanner.index.frame_refs(np.unique(fids[fids >= 0]).tolist())
    n_frames = len(times)
    floor = np.where(fids >= 0, sims, np.inf).min(axis=1)  # a work not among a row's neighbours is below them
    best: dict[tuple[str, str], np.ndarray] = {}
    closest: dict[tuple[str, str], list[Nearest]] = {}
    for r in range(len(vectors)):
        seen: set = set()
        for sim, fid in zip(sims[r].tolist(), fids[r].tolist()):
            ref = refs.get(fid)
            if ref is None:
                continue
            key = (ref.work, ref.owner)
            if key not in best:
                best[key] = np.full(n_frames, -np.inf)
                closest[key] = []
            i = int(row_frame[r])
            if sim > best[key][i]:
                best[key][i] = sim
            if key not in seen:  # the row's nearest frame of this work
                seen.add(key)
                closest[key].append(Nearest(round(float(times[i]), 3), row_crop[r], round(float(sim), 6), int(fid),
                                            ref.ref_id, round(float(ref.t), 3), ref.box))
    out = {}
    row_floor = np.full(n_frames, np.inf)
    np.minimum.at(row_floor, row_frame, np.where(np.isfinite(floor), floor, np.inf))
    for key, scores in best.items():
        scores = np.where(np.isfinite(scores), scores, np.where(np.isfinite(row_floor), row_floor, -1.0))
        nearest = tuple(sorted(closest[key], key=lambda n: (-n.similarity, n.query_t))[:NEAREST_KEPT])
        out[key] = (scores, nearest)
    return out
