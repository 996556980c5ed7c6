"""Looking up the vectors a channel stores (a ChannelVectors) for given frames, by id."""

from __future__ import annotations

import numpy as np

from .openmp import faiss


def of_frames(vectors, frame_ids: np.ndarray, shift: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """(ids, vectors) stored for these frames (a vector's frame is its id >> `shift`), in storage order.

    An exact (flat) index looks them up through its ids, sorted once per open index (a few
    frames of a large catalogue cost a few lookups, not a pass over it); other structures
    filter a pass over every id."""
    frame_ids = np.unique(np.asarray(frame_ids, dtype=np.int64))
    if vectors.structure != "flat":
        return vectors.all_ids_and_vectors(where=lambda ids: np.isin(ids >> shift, frame_ids))
    if getattr(vectors, "_sorted_ids", None) is None:
        stored = faiss.vector_to_array(vectors.index.id_map).astype(np.int64)
        order = np.argsort(stored, kind="stable")
        vectors._sorted_ids = (stored, stored[order], order)
    stored, ids, order = vectors._sorted_ids
    frames = ids >> shift
    lo = np.searchsorted(frames, frame_ids, "left")
    hi = np.searchsorted(frames, frame_ids, "right")
    pos = np.sort(np.concatenate([order[a:b] for a, b in zip(lo, hi)])) if len(frame_ids) else np.zeros(0, np.int64)
    picked = stored[pos]
    if not len(pos):
        return picked, np.zeros((0, vectors.width), np.uint8 if vectors.metric == "hamming" else np.float32)
    inner = vectors.index.index
    # storage positions come in runs (a video's vectors were added together): one call a run
    breaks = np.nonzero(np.diff(pos) != 1)[0] + 1
    parts = [inner.reconstruct_n(int(run[0]), len(run)) for run in np.split(pos, breaks)]
    return picked, vectors._check(np.concatenate(parts))
