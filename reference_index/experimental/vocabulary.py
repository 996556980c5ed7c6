"""The binary vocabulary of visual words (reference_index.words): two levels of k-majority
centroids trained on reference descriptors, so that assigning a descriptor its word costs about
2 sqrt(words) comparisons, and the signature bits kept beside each posting (Hamming embedding).
The vocabulary grows with the catalogue (`words_for`)."""

from __future__ import annotations

import hashlib

import numpy as np

from ..search.openmp import faiss
from ..search.threads import one_thread

SIG_BITS = 16
# The vocabulary grows with the catalogue: a word for about DESCRIPTORS_PER_WORD descriptors (so a
# word's postings, and what a query reads, stay about the same), at most TOP x LEAF words, trained
# on TRAIN_PER_WORD descriptors a word drawn at random (at least TRAIN_MIN).
TOP, LEAF, DESCRIPTORS_PER_WORD, TRAIN_PER_WORD, TRAIN_MIN = 1024, 1024, 32, 12, 1_000_000


def words_for(n: int) -> int:
    """The vocabulary size for a catalogue of n descriptors."""
    return int(max(64, min(TOP * LEAF, n // DESCRIPTORS_PER_WORD)))


def training_size(n: int) -> int:
    """How many of n descriptors (drawn at random) its vocabulary is trained on."""
    return int(min(n, max(TRAIN_MIN, TRAIN_PER_WORD * words_for(n))))


def cell_lists(top: np.ndarray, codes: np.ndarray, cells: np.ndarray) -> faiss.IndexBinaryIVF:
    """FAISS inverted lists keyed by a vocabulary's top-level cells (`top`), holding `codes` under
    the `cells` given (their ids: positions in `codes`), nothing to train: searched in the `nprobe`
    cells nearest a query or, through `search_preassigned`, in cells found beforehand."""
    bits = top.shape[1] * 8
    quantizer = faiss.IndexBinaryFlat(bits)
    quantizer.add(np.ascontiguousarray(top, np.uint8))
    index = faiss.IndexBinaryIVF(quantizer, bits, len(top))
    index.own_fields = True
    quantizer.this.disown()  # type: ignore[attr-defined]  # SWIG's proxy, absent from faiss's stubs
    # named, so that they live through the call (swig_ptr keeps no reference)
    codes, ids = np.ascontiguousarray(codes, np.uint8), np.arange(len(codes), dtype=np.int64)
    cells = np.ascontiguousarray(cells, np.int64)
    index.add_core(  # type: ignore[attr-defined]  # IndexBinaryIVF.add_core is not in faiss's stubs
        len(codes), faiss.swig_ptr(codes), faiss.swig_ptr(ids), faiss.swig_ptr(cells))
    return index


def _binary_kmeans(sample: np.ndarray, k: int, seed: int, iterations: int = 10, max_per_centroid: int = 64) -> np.ndarray:
    """k binary centroids of packed codes by k-majority (as DBoW trains binary vocabularies):
    assign each code to its nearest centroid in Hamming distance, make each bit of a centroid
    the majority bit of its codes, repeat; an empty centroid restarts from a random code."""
    rng = np.random.default_rng(seed)
    if len(sample) > k * max_per_centroid:
        sample = sample[np.sort(rng.choice(len(sample), size=k * max_per_centroid, replace=False))]
    k = max(1, min(k, len(sample)))
    centroids = sample[rng.choice(len(sample), size=k, replace=False)].copy()
    bits = np.unpackbits(sample, axis=1)
    for _ in range(iterations):
        index = faiss.IndexBinaryFlat(sample.shape[1] * 8)
        index.add(centroids)
        _, label = index.search(sample, 1)
        label = label[:, 0]
        order = np.argsort(label, kind="stable")
        present, start, count = np.unique(label[order], return_index=True, return_counts=True)
        ones = np.add.reduceat(bits[order].astype(np.int32), start, axis=0)
        updated = centroids.copy()
        updated[present] = np.packbits((2 * ones > count[:, None]).astype(np.uint8), axis=1)
        empty = np.setdiff1d(np.arange(k), present)
        updated[empty] = sample[rng.choice(len(sample), size=len(empty))]
        if np.array_equal(updated, centroids):
            break
        centroids = updated
    return centroids


class Vocabulary:
    """Two levels of binary centroids (word id = first[cell] + leaf), and the 16 bit positions of
    a descriptor kept beside each posting as its signature (Hamming embedding)."""

    def __init__(self, top: np.ndarray, leaves: np.ndarray, first: np.ndarray, sig_bits: np.ndarray):
        self.top = np.ascontiguousarray(top, np.uint8)  # (k1, 32)
        self.leaves = np.ascontiguousarray(leaves, np.uint8)  # (words, 32), cell by cell
        self.first = np.asarray(first, np.int64)  # (k1 + 1,): the cell's first word
        self.sig_bits = np.asarray(sig_bits, np.int64)  # (SIG_BITS,) bit positions, most significant first
        self._top_index = faiss.IndexBinaryFlat(self.top.shape[1] * 8)
        self._top_index.add(self.top)
        self._leaf_index: dict[int, faiss.IndexBinaryFlat] = {}

    @property
    def size(self) -> int:
        return int(len(self.leaves))

    def arrays(self) -> dict[str, np.ndarray]:
        """What a words file stores of the vocabulary, by array name."""
        return {"top": self.top, "leaves": self.leaves, "first": self.first, "sig_bits": self.sig_bits}

    @property
    def id(self) -> str:
        return hashlib.sha256(self.top.tobytes() + self.leaves.tobytes() + self.sig_bits.tobytes()).hexdigest()[:16]

    @classmethod
    def for_catalogue(cls, sample: np.ndarray, n: int, seed: int = 1234) -> Vocabulary:
        """The vocabulary for n descriptors, trained on `sample` (`training_size(n)` of them, drawn
        at random): about sqrt(words) cells of as many leaves."""
        words = words_for(n)
        top = max(8, min(TOP, int(round(np.sqrt(words)))))
        return cls.train(sample, top, max(2, -(-words // top)), seed)

    @classmethod
    def train(cls, sample: np.ndarray, k1: int, k2: int, seed: int = 1234) -> Vocabulary:
        with one_thread():
            return cls._train(np.ascontiguousarray(sample, np.uint8), k1, k2, seed)

    @classmethod
    def _train(cls, sample: np.ndarray, k1: int, k2: int, seed: int) -> Vocabulary:
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
        out = cls(top, np.concatenate(leaves), np.asarray(first), np.arange(SIG_BITS) * (sample.shape[1] * 8 // SIG_BITS))
        out.sig_bits = out._least_settled_bits(sample[: 200_000])
        return out

    def _least_settled_bits(self, sample: np.ndarray) -> np.ndarray:
        """The SIG_BITS bit positions that vary most among descriptors of the same word: what the
        word has not already said about a descriptor."""
        words = self.assign(sample)[:, 0]
        bits = np.unpackbits(sample, axis=1).astype(np.float64)
        order = np.argsort(words, kind="stable")
        words, bits = words[order], bits[order]
        starts = np.r_[0, np.nonzero(np.diff(words))[0] + 1]
        counts = np.diff(np.r_[starts, len(words)])
        ones = np.add.reduceat(bits, starts, axis=0)
        p = ones / counts[:, None]
        spread = ((p * (1 - p)) * counts[:, None]).sum(axis=0)  # within-word variance per bit
        return np.sort(np.argsort(-spread, kind="stable")[:SIG_BITS])

    def signature(self, codes: np.ndarray) -> np.ndarray:
        """The signature bits of each descriptor (uint16)."""
        codes = np.ascontiguousarray(codes, np.uint8)
        out = np.zeros(len(codes), np.uint16)
        for i, pos in enumerate(self.sig_bits.tolist()):  # bit pos is bit 7 - pos % 8 of byte pos // 8 (unpackbits' order)
            out |= ((codes[:, pos // 8] >> (7 - pos % 8)) & 1).astype(np.uint16) << (SIG_BITS - 1 - i)
        return out

    def cells(self, codes: np.ndarray, n: int = 1) -> np.ndarray:
        """The n nearest top-level cells of each descriptor, nearest first ((len(codes), n))."""
        return self._top_index.search(np.ascontiguousarray(codes, np.uint8), n)[1]

    def assign(self, codes: np.ndarray, m: int = 1, cell: np.ndarray | None = None) -> np.ndarray:
        """The m nearest words of each descriptor, nearest first ((n, m) int32): its nearest
        leaves in its nearest cell and, for m > 1, in its second nearest cell too. `cell`: the
        descriptors' nearest cells when already found (`cells`), not searched again."""
        codes = np.ascontiguousarray(codes, np.uint8)
        if not len(codes):
            return np.zeros((0, m), np.int32)
        cells = min(len(self.top), 1 if m == 1 else 2)
        cell = self.cells(codes, cells) if cell is None or cell.shape[1] < cells else cell[:, :cells]
        dist = np.full((len(codes), cells * m), 1 << 20, np.int64)
        word = np.zeros((len(codes), cells * m), np.int64)
        with one_thread():
            self._leaves_of(codes, cell, m, dist, word)
        best = np.argsort(dist, axis=1, kind="stable")[:, :m]
        out = np.take_along_axis(word, best, axis=1)
        missing = np.take_along_axis(dist, best, axis=1) >= 1 << 20
        out[missing] = out[:, :1].repeat(m, axis=1)[missing]  # fewer leaves than m: repeat the nearest
        return out.astype(np.int32)

    def _leaves_of(self, codes: np.ndarray, cell: np.ndarray, m: int, dist: np.ndarray, word: np.ndarray) -> None:
        """Fill (dist, word) with each code's m nearest leaves in each of its cells."""
        for t in range(cell.shape[1]):
            order = np.argsort(cell[:, t], kind="stable")
            present, start = np.unique(cell[order, t], return_index=True)
            for c, rows in zip(present, np.split(order, start[1:])):
                lo, hi = int(self.first[c]), int(self.first[c + 1])
                if c not in self._leaf_index:
                    idx = faiss.IndexBinaryFlat(self.leaves.shape[1] * 8)
                    idx.add(self.leaves[lo:hi])
                    self._leaf_index[int(c)] = idx
                d, leaf = self._leaf_index[int(c)].search(codes[rows], min(m, hi - lo))
                got = leaf >= 0
                block = np.where(got, d, 1 << 20)
                dist[rows, t * m : t * m + block.shape[1]] = block
                word[rows, t * m : t * m + block.shape[1]] = np.where(got, lo + leaf, 0)
