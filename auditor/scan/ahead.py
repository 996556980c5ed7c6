"""Searching while the clip is still being decoded.

A channel's candidates for a query frame depend on that frame's vectors alone, so each chunk of
embedded frames (pipeline.CHUNK of them) is searched as soon as it is embedded, in one helper
thread, while the next chunk is decoded and described: FAISS, OpenCV's decoder and its feature
detector all release the GIL, and a 60-s clip's search, otherwise a third of its scan after the
last frame is described, mostly happens on the core decoding leaves free.

While frames are still being decoded and described, a chunk is searched on one FAISS thread: the
other core is busy, and an OpenMP team that splits the search takes its turns with the decoder
and the feature detector (the 35-minute catalogue's scan, 16 lists probed then: 3.1 s of CPU for
ORB's search on two threads, 2.7 s on one, and the scan 7 % shorter; python -m benchmarks.scan
--local). Chunks searched once every frame is described (the tail of the scan, when nothing else
runs) get FAISS's threads.
"""

from __future__ import annotations

import contextlib
from concurrent.futures import Future, ThreadPoolExecutor

import numpy as np

from reference_index.search import one_thread

from ..channels.base import Embeddings
from ..evidence import records as ev


class SearchAhead:
    """Candidates of every channel, chunk by chunk (`submit`, as `embed_file`'s `on_chunk`),
    gathered per channel over the whole clip (`gather`)."""

    def __init__(self, channels: dict, index, k: int):
        self.channels, self.k = channels, k
        self.searchers = {name: index.searcher(name) for name in channels}
        self.pool = ThreadPoolExecutor(1, thread_name_prefix="auditor-search")
        self.parts: list[tuple[int, Future]] = []  # (first embedded frame of the chunk, its candidates)
        self.embedded = 0
        self.described = False  # every frame described: nothing else competes for the cores

    def submit(self, chunk: dict[str, Embeddings]) -> None:
        self.parts.append((self.embedded, self.pool.submit(self._candidates, chunk)))
        self.embedded += len(next(iter(chunk.values())).keep)

    def _candidates(self, chunk: dict[str, Embeddings]) -> dict:
        with contextlib.nullcontext() if self.described else one_thread():
            return {name: (*self.channels[name].candidates(emb, self.searchers[name], self.k), int(emb.keep.sum()),
                           len(emb.vectors)) for name, emb in chunk.items()}

    def gather(self, name: str) -> tuple[np.ndarray, list, ev.Searched]:
        """Channel `name`'s candidates over every embedded frame (rows numbered in embedding
        order), and what it searched; raises what a chunk's search raised. Call it once every
        frame is described: chunks not yet searched then get all of FAISS's threads."""
        self.described = True
        rows, ranked, frames, described = [], [], 0, 0
        for first, future in self.parts:
            r, found, n_frames, n_vectors = future.result()[name]
            rows.append(np.asarray(r, np.int64) + first)
            ranked.extend(found)
            frames, described = frames + n_frames, described + n_vectors
        stats = self.searchers[name].stats
        return (np.concatenate(rows) if rows else np.zeros(0, np.int64), ranked,
                ev.Searched(frames=frames, vectors=int(stats.get("vectors", described))))

    def close(self) -> None:
        """Waits for the chunk being searched; drops those not started (a clip that failed)."""
        self.pool.shutdown(wait=True, cancel_futures=True)
