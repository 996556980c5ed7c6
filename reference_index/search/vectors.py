"""One index per channel, its structure chosen by size.

- `flat`: exact search (`IndexIDMap2` over `IndexFlatIP` / `IndexBinaryFlat`). Small catalogues.
- `ivf` for float channels: `IndexIVFScalarQuantizer` (inverted lists of 8-bit scalar-quantised
  vectors, 1 byte a dimension): a quarter of the memory of floats, close to exact distances,
  `nprobe` lists searched per query.
- `ivf` for binary channels with many codes a frame (ORB): `IndexBinaryIVF` over Hamming
  k-means centroids: only the `nprobe` nearest lists are compared bit by bit; from
  `grouped.GROUPED_FROM` lists, those lists are found through groups of the centroids.
- `mih` for binary channels with one code a frame (PDQ): the compact multi-index hash of
  `multihash.py`, for near-duplicate lookups within 31 bits.
- `words` for binary channels with many codes a frame (ORB): visual words in an inverted file
  (`words.py`): 1 KB a reference frame searched, then a short list of frames matched by their
  descriptors (kept in the same file, memory-mapped), frame by frame.

Inverted-file and hash structures store the catalogue's ids with the codes (no id map), support removal
and are memory-mapped when an index is opened for reading, so a large index is paged in as
searches touch it rather than read whole. `optimize()` rebuilds a channel in the structure its
size calls for, retraining the centroids on its own vectors.

Files are FAISS's own serialisation format (the multi-index hash: raw arrays), never pickle.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import numpy as np

from ..errors import IndexCorrupt
from ..experimental.vocabulary import Vocabulary, training_size, words_for
from ..experimental.words import WordIndex
from . import grouped
from .arrays import per_distinct_row
from .multihash import MultiHash
from .openmp import faiss

METRICS = ("hamming", "ip")
STRUCTURES = ("flat", "ivf", "mih", "words")
# Defaults; callers (auditor's [index] configuration) may pass their own. Local features are searched
# exhaustively only while that costs little: a 60-s clip against 12,000 ORB descriptors scans in
# 3.1x its decode time exhaustively, 2.5x in inverted lists (python -m benchmarks.scan --local --small-catalogues).
EXACT_MAX = {"ip": 200_000, "hamming": 250_000, "local": 5_000}
# Binary (ORB) lists: 8 searched find 99.6 % of the neighbours within 40 bits exhaustive search
# finds (16: 99.8 %) in half the time; a 60-s clip's query descriptors against the 35-minute
# catalogue of python -m benchmarks.scan --local, 4,096 lists
NPROBE = {"ip": 16, "hamming": 8}
LOCAL_LISTS = 4  # inverted lists of local features: this many times sqrt(n) (choose_structure)
LISTS_OUTGROWN = 4  # `index add` retrains inverted lists when its size calls for this many times as many


def choose_structure(metric: str, n: int, exact_max: dict | None = None, one_per_frame: bool = False,
                     local: str = "ivf") -> tuple[str, int]:
    """(structure, nlist) for n vectors: exact search up to a size; beyond it, the multi-index
    hash for binary channels with one code per frame (PDQ: near-duplicate lookups within 31
    bits); for binary channels with many codes a frame (ORB; `exact_max["local"]` is their
    limit) `local`: inverted lists, or visual words; else inverted lists with about sqrt(n)
    lists (a power of two, at most 65536 and n/39). Local features get four times as many lists
    (`LOCAL_LISTS`): their queries are many and short lists are cheaper to scan; on the evaluation
    set the same figures as sqrt(n) lists, and a 60-s clip's 160,000 descriptors searched in 4.0 s
    instead of 6.7 s (one thread, 842,791 reference descriptors)."""
    limits = {**EXACT_MAX, **(exact_max or {})}
    limit = limits["local"] if metric == "hamming" and not one_per_frame else limits[metric]
    if n <= limit:
        return "flat", 0
    if metric == "hamming" and one_per_frame:
        return "mih", 0
    if metric == "hamming" and local == "words":
        return "words", 0
    return "ivf", min(65536, sqrt_lists(n, LOCAL_LISTS if metric == "hamming" else 1))


def sqrt_lists(n: int, times: int = 1) -> int:
    """`times` x sqrt(n) k-means cells for n points, a power of two, at most n/39 (k-means wants
    ~39 training points a cell)."""
    cells = 2 ** round(math.log2(math.sqrt(n))) * times
    while cells > 1 and cells * 39 > n:
        cells //= 2
    return int(cells)


def gpu_count() -> int:
    """GPUs FAISS can use here (0 with faiss-cpu, whatever the machine has)."""
    if not hasattr(faiss, "StandardGpuResources"):
        return 0
    return int(faiss.get_num_gpus())


class ChannelVectors:
    def __init__(self, metric: str, dim: int, index=None, nprobe: int | None = None):
        if metric not in METRICS:
            raise ValueError(f"unknown metric '{metric}' (known: {', '.join(METRICS)})")
        if metric == "hamming" and dim % 8:
            raise ValueError("a binary channel's dimension must be a multiple of 8 bits")
        self.metric = metric
        self.dim = int(dim)
        if index is None:
            index = self._empty_flat()
        self.index = index
        self.nprobe = int(nprobe or NPROBE[metric])

    def _empty_flat(self):
        if self.metric == "hamming":
            return faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(self.dim))
        return faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))

    @property
    def nprobe(self) -> int:
        """Lists searched a query in inverted lists (kept, unused, by other structures)."""
        return self._nprobe

    @nprobe.setter
    def nprobe(self, value: int) -> None:
        self._nprobe = int(value)
        if self.structure == "ivf":
            if self.metric == "hamming":
                grouped.probe(self.index, self._nprobe)
            else:
                self.index.nprobe = self._nprobe

    # -- description ----------------------------------------------------------------------------
    @property
    def structure(self) -> str:
        if isinstance(self.index, MultiHash):
            return "mih"
        if isinstance(self.index, WordIndex):
            return "words"
        return "ivf" if isinstance(self.index, (faiss.IndexIVF, faiss.IndexBinaryIVF)) else "flat"

    @property
    def width(self) -> int:
        return self.dim // 8 if self.metric == "hamming" else self.dim

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    @property
    def factory(self) -> str | None:
        """The structure as a FAISS factory string (`faiss.index_factory`, or
        `faiss.index_binary_factory` for binary channels), where FAISS has one: not for the
        multi-index hash (this project's own) nor for visual words (experimental). Inverted lists
        of binary codes may find their lists through groups of centroids (`grouped`), which the
        string does not say; `describe` does."""
        binary = self.metric == "hamming"
        if self.structure == "flat":
            return "IDMap2,BFlat" if binary else "IDMap2,Flat"
        if self.structure == "ivf":
            return f"BIVF{self.index.nlist}" if binary else f"IVF{self.index.nlist},SQ8"
        return None

    def describe(self) -> str:
        if self.structure == "words":
            return self.index.describe()
        if self.structure == "mih":
            return (f"multi-index hash (2 tables x 20-bit keys, {self.index.flips} flips), radius "
                    f"{self.index.radius} bits: near-duplicate search")
        if self.structure == "ivf":
            kind = "IndexBinaryIVF" if self.metric == "hamming" else "IndexIVFScalarQuantizer(SQ8)"
            q = faiss.downcast_IndexBinary(self.index.quantizer) if self.metric == "hamming" else None
            via = (f" (nearest lists found through {q.nlist} groups of centroids, {q.nprobe} searched)"
                   if isinstance(q, faiss.IndexBinaryIVF) else "")
            return f"{kind}, {self.index.nlist} lists{via}, nprobe {self.nprobe}: approximate search"
        inner = faiss.downcast_IndexBinary(self.index.index) if self.metric == "hamming" else faiss.downcast_index(
            self.index.index
        )
        return f"{type(self.index).__name__}({type(inner).__name__}), exact search"

    # -- vectors --------------------------------------------------------------------------------
    def _check(self, vectors: np.ndarray) -> np.ndarray:
        dtype = np.uint8 if self.metric == "hamming" else np.float32
        vectors = np.ascontiguousarray(vectors, dtype=dtype)
        if vectors.ndim != 2 or vectors.shape[1] != self.width:
            raise ValueError(f"expected vectors of shape (n, {self.width}), got {vectors.shape}")
        return vectors

    def add(self, ids: np.ndarray, vectors: np.ndarray) -> None:
        vectors = self._check(vectors)
        ids = np.ascontiguousarray(ids, dtype=np.int64)
        if len(ids) != len(vectors):
            raise ValueError("ids and vectors differ in length")
        if len(ids):
            self.index.add_with_ids(vectors, ids)
            self._sorted_ids = None  # search.by_frame's lookup, made again when next asked

    def search(self, vectors: np.ndarray, k: int, stats: dict | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (n, k). Hamming: distances (lower = closer); ip: similarity.

        Missing neighbours (fewer than k vectors) have id -1. Binary codes that occur more than
        once (a query's unchanged corners from frame to frame: half of a clip's descriptors) are
        searched once and their answer repeated: FAISS answers each query on its own, so the
        result is the same. `stats`, when given, adds up the vectors searched ("vectors").
        """
        if self.structure == "words":
            raise ValueError("a channel in visual words is searched frame by frame (search_frames), not vector by vector")
        vectors = self._check(vectors)
        if len(vectors) == 0 or self.ntotal == 0:
            fill = np.full((len(vectors), k), -1, dtype=np.int64)
            return np.zeros((len(vectors), k), dtype=np.float32), fill

        def searched(codes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            if stats is not None:
                stats["vectors"] = stats.get("vectors", 0) + len(codes)
            return self.index.search(codes, k)

        return per_distinct_row(vectors, searched) if self.metric == "hamming" else searched(vectors)

    def search_frames(self, vectors: np.ndarray, frame_of: np.ndarray, rows: np.ndarray, k: int, max_distance: int,
                      exclude: np.ndarray | None = None, stats: dict | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """Visual words only: for each query frame of `rows` (its descriptors by `frame_of`), its k
        reference frames with the most votes, (frame ids, votes). In two steps, `shortlists` then
        `votes`, for callers that choose between steps."""
        return self.index.search_frames(self._check(vectors), frame_of, np.asarray(rows), k, max_distance, exclude, stats)

    def shortlists(self, vectors, frame_of, rows, exclude=None, stats=None) -> list:
        return self.index.shortlists(self._check(vectors), frame_of, np.asarray(rows), exclude, stats)

    def votes(self, vectors, frame_of, rows, shortlists, k, max_distance, only=None, stats=None) -> list:
        return self.index.votes(self._check(vectors), frame_of, np.asarray(rows), shortlists, k, max_distance, only, stats)

    def nearest_competitors(self, vectors) -> np.ndarray | None:
        """Visual words: each query descriptor's distance to its nearest kept competitor (None: none kept)."""
        return self.index.nearest_competitors(self._check(vectors))

    def remove(self, ids: np.ndarray | None = None, ranges: list[tuple[int, int]] | None = None) -> int:
        """Remove vectors by id and by id ranges [lo, hi); returns how many went."""
        self._sorted_ids = None
        selectors: list[faiss.IDSelector] = []
        if ids is not None and len(ids):
            selectors.append(faiss.IDSelectorBatch(np.ascontiguousarray(ids, dtype=np.int64)))
        for lo, hi in ranges or []:
            selectors.append(faiss.IDSelectorRange(int(lo), int(hi)))
        if self.structure == "words":
            return self.index.remove_ids(list(ranges or []))
        if self.structure == "mih":
            stored = self.index.all()[1]
            gone = np.zeros(len(stored), bool) if ids is None else np.isin(stored, ids)
            for lo, hi in ranges or []:
                gone |= (stored >= lo) & (stored < hi)
            return self.index.remove_ids(stored[gone])
        removed = 0
        for sel in selectors:  # one at a time: FAISS's selectors do not own their children
            removed += int(self.index.remove_ids(sel))
        return removed

    def all_ids_and_vectors(self, where: Callable[[np.ndarray], np.ndarray] | None = None) -> tuple[np.ndarray, np.ndarray]:
        """Every (id, vector) stored, in storage order; with `where(ids) -> bool mask`, only those
        it keeps, and only those are reconstructed. Inverted-file float channels give their 8-bit
        quantised values back (what the index searches), not the original floats."""
        def keep(ids: np.ndarray) -> np.ndarray:
            return np.ones(len(ids), bool) if where is None else np.asarray(where(ids), bool)

        if self.structure == "words":
            ids, codes = self.index.all()
            sel = keep(ids)
            return ids[sel], np.asarray(codes[sel])
        if self.structure == "mih":
            codes, ids = self.index.all()
            sel = keep(ids)
            return np.asarray(ids[sel], np.int64), np.asarray(codes[sel])
        if self.structure == "flat":
            ids = faiss.vector_to_array(self.index.id_map).astype(np.int64)
            inner = self.index.index
            sel = np.nonzero(keep(ids))[0]
            if len(sel) == inner.ntotal and len(sel):
                vecs = inner.reconstruct_n(0, inner.ntotal)
            elif len(sel):
                vecs = np.stack([inner.reconstruct(int(i)) for i in sel])
            else:
                vecs = np.zeros((0, self.width))
            return ids[sel], self._check(vecs)
        invlists = self.index.invlists
        ids_parts, vec_parts = [], []
        for lst in range(self.index.nlist):
            n = invlists.list_size(lst)
            if not n:
                continue
            ids = faiss.rev_swig_ptr(invlists.get_ids(lst), n).copy()
            sel = keep(ids)
            if not sel.any():
                continue
            codes = faiss.rev_swig_ptr(invlists.get_codes(lst), n * invlists.code_size).reshape(n, invlists.code_size)[sel]
            ids_parts.append(ids[sel])
            vec_parts.append(codes.copy() if self.metric == "hamming" else self.index.sq.decode(codes))
        if not ids_parts:
            return np.zeros(0, np.int64), np.zeros((0, self.width), np.uint8 if self.metric == "hamming" else np.float32)
        return np.concatenate(ids_parts).astype(np.int64), self._check(np.concatenate(vec_parts))

    # -- structure ------------------------------------------------------------------------------
    def rebuilt(self, structure: str, nlist: int = 0, seed: int = 1234, train_max: int = 200_000) -> ChannelVectors:
        """A new ChannelVectors holding the same vectors in `structure` (trained on them)."""
        if structure not in STRUCTURES:
            raise ValueError(f"unknown structure '{structure}' (known: {', '.join(STRUCTURES)})")
        ids, vecs = self.all_ids_and_vectors()
        if structure == "words":
            return self.in_words(ids, vecs, seed=seed)
        if structure in ("flat", "mih"):
            if structure == "mih" and self.metric != "hamming":
                raise ValueError("the multi-index hash holds binary codes only")
            out = ChannelVectors(self.metric, self.dim, MultiHash(self.dim) if structure == "mih" else None, nprobe=self.nprobe)
            out.add(ids, vecs)
            return out
        if len(vecs) < nlist:
            raise ValueError(f"{len(vecs)} vectors cannot train {nlist} lists")
        rng = np.random.default_rng(seed)
        size = min(len(vecs), max(train_max, 39 * nlist))
        out = ChannelVectors.trained(self.metric, self.dim, nlist, vecs[np.sort(rng.choice(len(vecs), size=size, replace=False))],
                                     nprobe=self.nprobe, seed=seed)
        step = 1_000_000
        for i in range(0, len(ids), step):
            out.add(ids[i : i + step], vecs[i : i + step])
        return out

    def subset(self, where: Callable[[np.ndarray], np.ndarray]) -> ChannelVectors:
        """The vectors whose ids `where(ids)` keeps, in this very structure, not retrained: the
        same inverted lists' centroids (each kept code stays in its list, in its order), the same
        vocabulary, the same hash tables' layout. A shard (shards.py) searched like this answers
        as the whole would for the vectors it holds."""
        if self.structure == "ivf":
            return self._ivf_subset(where)
        ids, vecs = self.all_ids_and_vectors(where)
        inner: WordIndex | MultiHash | None
        if self.structure == "words":
            w = self.index
            inner = WordIndex(w.vocabulary, **{s: getattr(w, s) for s in WordIndex.SETTINGS})
        else:
            inner = MultiHash(self.dim, self.index.flips, self.index.radius) if self.structure == "mih" else None
        out = ChannelVectors(self.metric, self.dim, inner, nprobe=self.nprobe)
        out.add(ids, vecs)
        return out

    def _ivf_subset(self, where) -> ChannelVectors:
        src = self.index
        index: faiss.IndexBinaryIVF | faiss.IndexIVFScalarQuantizer
        if self.metric == "hamming":
            quantizer = faiss.clone_binary_index(src.quantizer)  # type: ignore[attr-defined]  # not in faiss's stubs
            index = faiss.IndexBinaryIVF(quantizer, self.dim, src.nlist)
        else:
            quantizer = faiss.clone_index(src.quantizer)
            index = faiss.IndexIVFScalarQuantizer(quantizer, self.dim, src.nlist, faiss.ScalarQuantizer.QT_8bit,
                                                  faiss.METRIC_INNER_PRODUCT)
            index.by_residual = False
            faiss.copy_array_to_vector(faiss.vector_to_array(src.sq.trained), index.sq.trained)
        index.own_fields = True
        quantizer.this.disown()  # the new index owns its copy of the centroids (SWIG's proxy: Any, above)
        index.is_trained = True
        lists, size, into = src.invlists, src.invlists.code_size, index.invlists
        assert into is not None  # made with the index (faiss's stubs say it may be missing)
        for lst in range(src.nlist):
            n = lists.list_size(lst)
            if not n:
                continue
            ids = faiss.rev_swig_ptr(lists.get_ids(lst), n).copy()
            keep = np.asarray(where(ids), bool)
            if not keep.any():
                continue
            codes = np.ascontiguousarray(faiss.rev_swig_ptr(lists.get_codes(lst), n * size).reshape(n, size)[keep])
            kept = np.ascontiguousarray(ids[keep], np.int64)
            into.add_entries(lst, len(kept), faiss.swig_ptr(kept), faiss.swig_ptr(codes))
            index.ntotal += len(kept)
        return ChannelVectors(self.metric, self.dim, index, nprobe=self.nprobe)

    SHIFT_FOR_WORDS = 10  # vector id = frame id << 10 | rank (reference_index.manifest.MANY_SHIFT)

    def words_wanted(self, n: int | None = None) -> int:
        """The vocabulary size for n descriptors (default: those held): `vocabulary.words_for`."""
        return words_for(self.ntotal if n is None else n)

    def vocabulary_outgrown(self) -> bool:
        """Visual words whose catalogue now wants more than 4x the words their vocabulary has:
        `index optimize` retrains it, and `index add` says so."""
        return self.structure == "words" and self.words_wanted() > 4 * self.index.vocabulary.size

    def in_words(self, ids: np.ndarray, vecs: np.ndarray, seed: int = 1234, stop_share: float = 0.01) -> ChannelVectors:
        """The same descriptors as visual words (a vocabulary trained on them, then assigned)."""
        if self.metric != "hamming":
            raise ValueError("visual words hold binary descriptors only")
        rng = np.random.default_rng(seed)
        sample = vecs[np.sort(rng.choice(len(vecs), size=training_size(len(vecs)), replace=False))]
        vocab = Vocabulary.for_catalogue(sample, len(vecs), seed)
        out = ChannelVectors(self.metric, self.dim, WordIndex(vocab, self.SHIFT_FOR_WORDS, stop_share), nprobe=self.nprobe)
        out.add(ids, vecs)
        return out

    @classmethod
    def trained(cls, metric: str, dim: int, nlist: int, sample: np.ndarray, nprobe: int | None = None,
                seed: int = 1234) -> ChannelVectors:
        """An empty inverted-file channel whose `nlist` centroids are trained on `sample`."""
        index: faiss.IndexBinaryIVF | faiss.IndexIVFScalarQuantizer
        if metric == "hamming":
            index = faiss.IndexBinaryIVF(faiss.IndexBinaryFlat(dim), dim, nlist)
        else:
            index = faiss.IndexIVFScalarQuantizer(faiss.IndexFlatIP(dim), dim, nlist,
                                                  faiss.ScalarQuantizer.QT_8bit, faiss.METRIC_INNER_PRODUCT)
            index.by_residual = False  # codes quantise the vectors themselves: decodable without the lists
        index.cp.seed = seed
        out = cls(metric, dim, index, nprobe=nprobe)
        index.train(out._check(sample))
        if metric == "hamming" and nlist >= grouped.GROUPED_FROM:
            grouped.group_centroids(index, dim, sqrt_lists(nlist), seed)
            out.nprobe = out.nprobe  # the groups compared hold the lists asked for
        return out

    def centroids(self) -> np.ndarray:
        """Inverted lists (binary): list i's centroid in row i, however they are searched."""
        return grouped.centroids_of(self.index, self.width)

    def to_gpu(self, device: int = 0) -> bool:
        """Search float channels on a GPU (faiss-gpu); binary channels stay on the CPU.
        Returns whether the index moved."""
        if self.metric != "ip" or gpu_count() <= device:
            return False
        self._gpu_resources = faiss.StandardGpuResources()
        self.index = faiss.index_cpu_to_gpu(self._gpu_resources, device, self.index)
        self.on_gpu = True
        return True

    # -- files ----------------------------------------------------------------------------------
    def save(self, path: str | Path) -> None:
        if self.structure in ("mih", "words"):
            self.index.save(path)
        elif self.metric == "hamming":
            faiss.write_index_binary(self.index, str(path))
        else:
            faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: str | Path, metric: str, dim: int, mmap: bool = False, nprobe: int | None = None) -> ChannelVectors:
        """Read a channel file; `mmap=True` (read-only use) maps it instead of reading it all."""
        flags = (faiss.IO_FLAG_MMAP | faiss.IO_FLAG_READ_ONLY) if mmap else 0
        index: faiss.IndexBinary | faiss.Index
        try:
            if metric == "hamming" and MultiHash.is_file(path):
                return cls(metric, dim, MultiHash.load(path, mmap=mmap), nprobe=nprobe)
            if metric == "hamming" and WordIndex.is_file(path):
                return cls(metric, dim, WordIndex.load(path, mmap=mmap), nprobe=nprobe)
            if metric == "hamming":
                index = faiss.read_index_binary(str(path), flags)
            else:
                index = faiss.read_index(str(path), flags)
        except (RuntimeError, ValueError, OSError) as exc:
            raise IndexCorrupt(f"{path}: could not read this index file: {str(exc).splitlines()[0]}") from exc
        if index.d != dim:
            raise IndexCorrupt(f"{path}: holds {index.d}-dimensional vectors, the manifest says {dim}")
        return cls(metric, dim, index, nprobe=nprobe)
