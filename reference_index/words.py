"""Visual words for channels with many binary descriptors a frame (ORB): a compact inverted file.

Storing every descriptor costs ~8 KB a reference frame and searching them all grows with the
catalogue. Instead ("Video Google", DBoW): a vocabulary of binary words is trained on reference
descriptors, two levels deep (a descriptor is compared with `k1` centroids, then with the `k2`
of its cell: a few hundred comparisons), and each reference frame is kept as the words its
descriptors fall in, in an inverted file from word to frames. A query frame's descriptors are
assigned to words the same way, and a reference frame's score is the number of its descriptors
that share a word with the query frame's (histogram intersection: "votes", as with exhaustive
matching), the most common words (stop words) aside. About 5 bytes a descriptor and 4 a frame:
under 1 KB a reference frame.

Files are a small JSON header and raw arrays (memory-mapped when read), never pickle.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import faiss
import numpy as np

MAGIC = b"AUDITOR-WORDS1\n"
ALIGN = 64


def _binary_kmeans(sample: np.ndarray, k: int, seed: int) -> np.ndarray:
    """k binary centroids of packed codes: k-means on their bits as +-1, then the majority bit."""
    k = max(1, min(k, len(sample)))
    bits = np.unpackbits(sample, axis=1).astype(np.float32) * 2 - 1
    km = faiss.Kmeans(bits.shape[1], k, niter=12, seed=seed, spherical=False, min_points_per_centroid=1,
                      max_points_per_centroid=max(256, len(sample) // k + 1))
    km.train(bits)
    return np.packbits((km.centroids > 0).astype(np.uint8), axis=1)


class Vocabulary:
    """Two levels of binary centroids; word id = first[cell] + leaf."""

    def __init__(self, top: np.ndarray, leaves: np.ndarray, first: np.ndarray):
        self.top = np.ascontiguousarray(top, np.uint8)  # (k1, 32)
        self.leaves = np.ascontiguousarray(leaves, np.uint8)  # (words, 32), cell by cell
        self.first = np.asarray(first, np.int64)  # (k1 + 1,): the cell's first word
        self._top_index = faiss.IndexBinaryFlat(self.top.shape[1] * 8)
        self._top_index.add(self.top)
        self._leaf_index: dict[int, faiss.IndexBinaryFlat] = {}

    @property
    def size(self) -> int:
        return int(len(self.leaves))

    @property
    def id(self) -> str:
        return hashlib.sha256(self.top.tobytes() + self.leaves.tobytes()).hexdigest()[:16]

    @classmethod
    def train(cls, sample: np.ndarray, k1: int, k2: int, seed: int = 1234) -> "Vocabulary":
        sample = np.ascontiguousarray(sample, np.uint8)
        top = _binary_kmeans(sample, k1, seed)
        index = faiss.IndexBinaryFlat(top.shape[1] * 8)
        index.add(top)
        _, cell = index.search(sample, 1)
        leaves, first = [], [0]
        for c in range(len(top)):
            members = sample[cell[:, 0] == c]
            leaf = _binary_kmeans(members, min(k2, max(1, len(members) // 8)), seed + c) if len(members) else top[c : c + 1]
            leaves.append(leaf)
            first.append(first[-1] + len(leaf))
        return cls(top, np.concatenate(leaves), np.asarray(first))

    def assign(self, codes: np.ndarray) -> np.ndarray:
        """The word of each descriptor (int32)."""
        codes = np.ascontiguousarray(codes, np.uint8)
        if not len(codes):
            return np.zeros(0, np.int32)
        _, cell = self._top_index.search(codes, 1)
        cell = cell[:, 0]
        out = np.empty(len(codes), np.int32)
        for c in np.unique(cell):
            rows = np.nonzero(cell == c)[0]
            lo, hi = int(self.first[c]), int(self.first[c + 1])
            if c not in self._leaf_index:
                idx = faiss.IndexBinaryFlat(self.leaves.shape[1] * 8)
                idx.add(self.leaves[lo:hi])
                self._leaf_index[int(c)] = idx
            _, leaf = self._leaf_index[int(c)].search(codes[rows], 1)
            out[rows] = lo + leaf[:, 0]
        return out


class WordIndex:
    """The inverted file of one channel: for each word, the frames that have it and how often.

    Offers what ChannelVectors uses of a FAISS index (ntotal, add_with_ids, remove_ids) and
    `search_bags` for scoring whole query frames."""

    def __init__(self, vocabulary: Vocabulary, shift: int, stop_share: float = 0.01):
        self.vocabulary = vocabulary
        self.shift = int(shift)  # vector id = frame id << shift | rank
        self.stop_share = float(stop_share)
        self.ntotal = 0  # descriptors added
        self._offsets = np.zeros(vocabulary.size + 1, np.int64)
        self._frames = np.zeros(0, np.int32)  # frame ids below 2^31: 4 bytes a posting ...
        self._counts = np.zeros(0, np.uint8)  # ... and 1 for the count (capped at 255)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []  # (word, frame) of descriptors not merged yet

    # -- adding and removing ------------------------------------------------------------------
    def add_with_ids(self, codes: np.ndarray, ids: np.ndarray) -> None:
        words = self.vocabulary.assign(codes)
        self._pending.append((words.astype(np.int64), np.asarray(ids, np.int64) >> self.shift))
        self.ntotal += len(words)

    def _merge(self) -> None:
        if not self._pending:
            return
        words = np.concatenate([p[0] for p in self._pending])
        frames = np.concatenate([p[1] for p in self._pending])
        self._pending = []
        old_words = np.repeat(np.arange(self.vocabulary.size), np.diff(self._offsets))
        all_words = np.concatenate([old_words, words])
        all_frames = np.concatenate([self._frames.astype(np.int64), frames])
        all_counts = np.concatenate([self._counts.astype(np.int64), np.ones(len(words), np.int64)])
        key = all_words * (1 << 40) + all_frames
        order = np.argsort(key, kind="stable")
        key, all_counts = key[order], all_counts[order]
        uniq, start = np.unique(key, return_index=True)
        counts = np.add.reduceat(all_counts, start) if len(start) else np.zeros(0, np.int64)
        w = uniq >> 40
        frames = uniq & ((1 << 40) - 1)
        if len(frames) and frames.max() >= 2**31:
            raise ValueError("frame ids beyond 2^31 do not fit the inverted file")
        self._frames = frames.astype(np.int32)
        self._counts = np.minimum(counts, 255).astype(np.uint8)
        self._offsets = np.zeros(self.vocabulary.size + 1, np.int64)
        np.add.at(self._offsets, w + 1, 1)
        self._offsets = np.cumsum(self._offsets)

    def remove_ids(self, ranges: list[tuple[int, int]]) -> int:
        """Remove the frames of these vector-id ranges [lo, hi); returns descriptors removed."""
        self._merge()
        frames_lo_hi = [(lo >> self.shift, -(-hi >> self.shift)) for lo, hi in ranges]
        gone = np.zeros(len(self._frames), bool)
        for lo, hi in frames_lo_hi:
            gone |= (self._frames >= lo) & (self._frames < hi)
        removed = int(self._counts[gone].sum())
        words = np.repeat(np.arange(self.vocabulary.size), np.diff(self._offsets))[~gone]
        self._frames, self._counts = self._frames[~gone], self._counts[~gone]
        self._offsets = np.zeros(self.vocabulary.size + 1, np.int64)
        np.add.at(self._offsets, words + 1, 1)
        self._offsets = np.cumsum(self._offsets)
        self.ntotal -= removed
        return removed

    # -- what it holds ------------------------------------------------------------------------
    @property
    def frames(self) -> int:
        self._merge()
        return int(len(np.unique(self._frames))) if len(self._frames) else 0

    def stop_words(self) -> np.ndarray:
        """The most common words (in the most frames), ignored when scoring."""
        self._merge()
        df = np.diff(self._offsets)
        n = int(round(self.stop_share * self.vocabulary.size))
        return np.argsort(-df, kind="stable")[:n] if n else np.zeros(0, np.int64)

    def frame_words(self, frame_ids: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(row into frame_ids, word) of every descriptor of these frames (words repeated by count)."""
        self._merge()
        words = np.repeat(np.arange(self.vocabulary.size), np.diff(self._offsets))
        pos = {int(f): i for i, f in enumerate(frame_ids)}
        sel = np.isin(self._frames, np.asarray(frame_ids, np.int64))
        rows = np.array([pos[int(f)] for f in self._frames[sel]], np.int64)
        return np.repeat(rows, self._counts[sel]), np.repeat(words[sel], self._counts[sel])

    # -- scoring ------------------------------------------------------------------------------
    def search_words(self, words: np.ndarray, frame_of: np.ndarray, rows: np.ndarray, k: int,
                     exclude: np.ndarray | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each query frame in `rows` (its descriptors' words: `words[frame_of == row]`),
        the k reference frames with the most shared descriptors: (frame ids, votes), best first
        (ties: the lower frame id)."""
        self._merge()
        stop = np.zeros(self.vocabulary.size, bool)
        stop[self.stop_words()] = True
        out = []
        order = np.argsort(frame_of, kind="stable")
        starts = np.searchsorted(frame_of[order], rows, "left")
        ends = np.searchsorted(frame_of[order], rows, "right")
        for a, b in zip(starts, ends):
            qw, qc = np.unique(words[order[a:b]], return_counts=True)
            keep = ~stop[qw]
            qw, qc = qw[keep], qc[keep]
            lo, hi = self._offsets[qw], self._offsets[qw + 1]
            n = hi - lo
            if not n.sum():
                out.append((np.zeros(0, np.int64), np.zeros(0, np.float64)))
                continue
            idx = np.repeat(lo - np.cumsum(np.r_[0, n[:-1]]), n) + np.arange(n.sum())
            frames = self._frames[idx].astype(np.int64)
            votes = np.minimum(self._counts[idx], np.repeat(qc, n)).astype(np.int64)
            if exclude is not None and len(exclude):
                ok = ~np.isin(frames, exclude)
                frames, votes = frames[ok], votes[ok]
            uniq, inv = np.unique(frames, return_inverse=True)
            total = np.bincount(inv, weights=votes, minlength=len(uniq))
            best = np.lexsort((uniq, -total))[:k]
            out.append((uniq[best], total[best]))
        return out

    # -- files ----------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        self._merge()
        arrays = {"top": self.vocabulary.top, "leaves": self.vocabulary.leaves, "first": self.vocabulary.first,
                  "offsets": self._offsets, "frames": self._frames, "counts": self._counts}
        layout, pos = [], 0
        for name, a in arrays.items():
            a = np.ascontiguousarray(a)
            layout.append({"name": name, "dtype": a.dtype.str, "shape": list(a.shape), "at": pos})
            pos += -(-a.nbytes // ALIGN) * ALIGN
        header = json.dumps({"shift": self.shift, "stop_share": self.stop_share, "ntotal": self.ntotal,
                             "arrays": layout}).encode()
        start = -(-(len(MAGIC) + 8 + len(header)) // ALIGN) * ALIGN
        with open(path, "wb") as f:
            f.write(MAGIC + len(header).to_bytes(8, "little") + header)
            f.write(b"\0" * (start - f.tell()))
            for (name, a), spec in zip(arrays.items(), layout):
                f.seek(start + spec["at"])
                f.write(np.ascontiguousarray(a).tobytes())
            f.truncate(start + pos)

    @staticmethod
    def is_file(path: str | Path) -> bool:
        with open(path, "rb") as f:
            return f.read(len(MAGIC)) == MAGIC

    @classmethod
    def load(cls, path: str | Path, mmap: bool = False) -> "WordIndex":
        with open(path, "rb") as f:
            if f.read(len(MAGIC)) != MAGIC:
                raise ValueError("not a visual-word file")
            n = int.from_bytes(f.read(8), "little")
            header = json.loads(f.read(n))
        start = -(-(len(MAGIC) + 8 + n) // ALIGN) * ALIGN
        raw = None if mmap else Path(path).read_bytes()
        arrays = {}
        for spec in header["arrays"]:
            dtype, shape, at = np.dtype(spec["dtype"]), tuple(spec["shape"]), start + spec["at"]
            if mmap and int(np.prod(shape)):
                arrays[spec["name"]] = np.memmap(path, dtype=dtype, mode="r", offset=at, shape=shape)
            else:
                count = int(np.prod(shape))
                arrays[spec["name"]] = (np.frombuffer(raw, dtype=dtype, count=count, offset=at).reshape(shape).copy()
                                        if raw is not None else np.zeros(shape, dtype))
        out = cls(Vocabulary(arrays["top"], arrays["leaves"], arrays["first"]), header["shift"], header["stop_share"])
        out._offsets, out._frames, out._counts = arrays["offsets"], arrays["frames"], arrays["counts"]
        out.ntotal = int(header["ntotal"])
        return out
