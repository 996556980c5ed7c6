"""One FAISS index per channel: binary (Hamming) for bit vectors, inner product for floats.

Vectors are stored under explicit ids (the catalogue's frame ids) through FAISS's ID maps,
because not every frame has a vector in every channel (PDQ drops featureless frames).
Files are FAISS's own serialisation format, never pickle.
"""

from __future__ import annotations

from pathlib import Path

import faiss
import numpy as np

from .errors import IndexCorrupt

METRICS = ("hamming", "ip")


class ChannelVectors:
    def __init__(self, metric: str, dim: int, index=None):
        if metric not in METRICS:
            raise ValueError(f"unknown metric '{metric}' (known: {', '.join(METRICS)})")
        if metric == "hamming" and dim % 8:
            raise ValueError("a binary channel's dimension must be a multiple of 8 bits")
        self.metric = metric
        self.dim = int(dim)
        if index is None:
            if metric == "hamming":
                index = faiss.IndexBinaryIDMap2(faiss.IndexBinaryFlat(self.dim))
            else:
                index = faiss.IndexIDMap2(faiss.IndexFlatIP(self.dim))
        self.index = index

    @property
    def width(self) -> int:
        return self.dim // 8 if self.metric == "hamming" else self.dim

    @property
    def ntotal(self) -> int:
        return int(self.index.ntotal)

    def describe(self) -> str:
        inner = faiss.downcast_IndexBinary(self.index.index) if self.metric == "hamming" else faiss.downcast_index(
            self.index.index
        )
        return f"{type(self.index).__name__}({type(inner).__name__}), exact search"

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

    def search(self, vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(scores, ids), each (n, k). Hamming: distances (lower = closer); ip: similarity.

        Missing neighbours (fewer than k vectors) have id -1.
        """
        vectors = self._check(vectors)
        if len(vectors) == 0 or self.ntotal == 0:
            fill = np.full((len(vectors), k), -1, dtype=np.int64)
            return np.zeros((len(vectors), k), dtype=np.float32), fill
        return self.index.search(vectors, k)

    def save(self, path: str | Path) -> None:
        if self.metric == "hamming":
            faiss.write_index_binary(self.index, str(path))
        else:
            faiss.write_index(self.index, str(path))

    @classmethod
    def load(cls, path: str | Path, metric: str, dim: int) -> "ChannelVectors":
        try:
            if metric == "hamming":
                index = faiss.read_index_binary(str(path))
            else:
                index = faiss.read_index(str(path))
        except RuntimeError as exc:
            raise IndexCorrupt(f"{path}: FAISS could not read this index file: {str(exc).splitlines()[0]}") from exc
        if index.d != dim:
            raise IndexCorrupt(f"{path}: holds {index.d}-dimensional vectors, the manifest says {dim}")
        return cls(metric, dim, index)
