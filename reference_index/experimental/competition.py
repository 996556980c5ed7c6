"""A sample of the catalogue's descriptors that stands in for the competition visual words' short
lists leave out.

Visual words' second step (reference_index.words) counts a query descriptor's votes among its
short-listed frames only. Exhaustive search counts its nearest descriptors in the whole catalogue,
so a descriptor's vote goes elsewhere when some frame outside the short list holds a closer one.
Within a short list that competition is missing, and as the catalogue grows unrelated frames
collect votes exhaustive search would never give them (at 1.8 M frames, 0.833 of planted copies
came first with short lists of 300, against 0.967 for exhaustive search).

Every `every`-th stored descriptor (in id order) is kept here, in inverted lists keyed by the
vocabulary's top-level cells (no training of its own; adding assigns). A query descriptor's
distance to its nearest kept descriptor estimates that of its `every`-th nearest in the whole
catalogue, and its votes count only for descriptors closer than that (`limits`): a descriptor any
patch of the catalogue matches as well does not vote. A copy's descriptors are far closer to their
source than to anything else, and keep their votes. A kept descriptor that is itself the match
loses that vote: one in `every`.

Cost: 32 / `every` bytes a reference descriptor (every 256th: 25 B a reference frame, beside the
1 KB of the inverted file) and, per query descriptor, its top-level cells and about SCANNED codes.
"""

from __future__ import annotations

import math

import numpy as np

from ..search.arrays import per_distinct_row
from ..search.openmp import faiss
from ..search.threads import one_thread
from .vocabulary import Vocabulary, cell_lists

SCANNED = 2048  # codes compared per query descriptor, about: lists probed = SCANNED / mean list size
FLAT_BELOW = 4 * SCANNED  # fewer kept descriptors than this: compared with every one (exact, and cheaper)
FAR = 1 << 16  # the distance reported where nothing is kept


class Competition:
    """Kept descriptors grouped by the vocabulary's top-level cell: `codes` cell by cell,
    `offsets[c]:offsets[c + 1]` those of cell c."""

    def __init__(self, top: np.ndarray, codes: np.ndarray, offsets: np.ndarray):
        self.top = np.ascontiguousarray(top, np.uint8)
        self.codes, self.offsets = codes, np.asarray(offsets, np.int64)
        if (codes.ndim != 2 or codes.shape[1] != self.top.shape[1] or len(self.offsets) != len(self.top) + 1
                or self.offsets[0] != 0 or int(self.offsets[-1]) != len(codes) or np.any(np.diff(self.offsets) < 0)):
            raise ValueError(f"the competition's {len(codes)} kept descriptors do not fit its offsets over {len(self.top)} cells")
        self._index = None

    @classmethod
    def of(cls, vocabulary: Vocabulary, kept: np.ndarray) -> Competition:
        """The kept descriptors `kept`, listed under their nearest of the vocabulary's top-level cells."""
        top = vocabulary.top
        kept = np.ascontiguousarray(kept, np.uint8).reshape(-1, top.shape[1])
        cell = vocabulary.cells(kept)[:, 0] if len(kept) else np.zeros(0, np.int64)
        order = np.argsort(cell, kind="stable")
        offsets = np.searchsorted(cell[order], np.arange(len(top) + 1), "left")
        return cls(top, kept[order], offsets)

    @staticmethod
    def kept(codes: np.ndarray, start: int, every: int) -> np.ndarray:
        """Of descriptors at positions start, start + 1, ... in id order (`codes`), those kept:
        every `every`-th position, counted from 0 (the rule `WordIndex` and the out-of-core writer share)."""
        return codes[(-int(start)) % int(every) :: int(every)]

    @staticmethod
    def kept_count(n: int, every: int) -> int:
        return -(-int(n) // int(every))

    def arrays(self) -> dict[str, np.ndarray]:
        """What a words file stores of it, by array name."""
        return {"competition_codes": self.codes, "competition_offsets": self.offsets}

    def __len__(self) -> int:
        return int(len(self.codes))

    @property
    def nprobe(self) -> int:
        return max(1, min(len(self.top), math.ceil(SCANNED * len(self.top) / max(1, len(self)))))

    def _searchable(self):
        if self._index is None:
            bits = self.top.shape[1] * 8
            if len(self) < FLAT_BELOW:
                index = faiss.IndexBinaryFlat(bits)
                index.add(np.ascontiguousarray(self.codes))
            else:
                index = cell_lists(self.top, self.codes, np.repeat(np.arange(len(self.top)), np.diff(self.offsets)))
                index.nprobe = self.nprobe
            self._index = index
        return self._index

    def nearest(self, codes: np.ndarray) -> np.ndarray:
        """Each descriptor's Hamming distance to its nearest kept descriptor (FAR if none is)."""
        codes = np.ascontiguousarray(codes, np.uint8)
        if not len(self) or not len(codes):
            return np.full(len(codes), FAR, np.int64)
        index = self._searchable()

        def nearest(codes: np.ndarray) -> np.ndarray:
            with one_thread():
                dist, found = index.search(codes, 1)
            return np.where(found[:, 0] >= 0, dist[:, 0], FAR).astype(np.int64)

        # lists: ~2,000 codes compared a descriptor, so a descriptor the clip repeats is looked up once
        return per_distinct_row(codes, nearest) if len(self) >= FLAT_BELOW else nearest(codes)


def limits(max_distance, nearest: np.ndarray | None) -> np.ndarray | int:
    """Per query descriptor, the farthest a vote may come from: within `max_distance` and closer
    than its nearest kept descriptor (`nearest`, from every shard: the least); `max_distance` alone
    without a competition."""
    if nearest is None:
        return max_distance
    return np.minimum(max_distance, np.asarray(nearest, np.int64) - 1)
