"""The channel contract: a name, a dimension, a metric, a fingerprint and `embed`.

A channel turns frames into vectors that the reference index can search. Batching lives here,
in the base class; a channel implements `embed_batch` for one batch only.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import ClassVar, Sequence

import numpy as np


@dataclass
class Embeddings:
    """Vectors for a run of frames, in frame order.

    vectors: float32 (n, dim) for metric "ip"; uint8 (n, dim // 8) packed bits for "hamming".
    keep:    bool (n,) — frames this channel can vouch for (e.g. PDQ drops featureless frames).
    quality: float32 (n,) channel-specific quality, or None.
    """

    vectors: np.ndarray
    keep: np.ndarray
    quality: np.ndarray | None = None
    # query side only: further vectors per frame for variants of it (e.g. "flip_horizontal")
    variants: dict[str, np.ndarray] | None = None

    @staticmethod
    def concat(parts: Sequence["Embeddings"], width: int, dtype) -> "Embeddings":
        if not parts:
            return Embeddings(np.zeros((0, width), dtype=dtype), np.zeros(0, dtype=bool), None)
        quality = None
        if all(p.quality is not None for p in parts):
            quality = np.concatenate([p.quality for p in parts])
        variants = None
        if all(p.variants for p in parts):
            variants = {k: np.concatenate([p.variants[k] for p in parts]) for k in parts[0].variants}
        return Embeddings(
            np.concatenate([p.vectors for p in parts]), np.concatenate([p.keep for p in parts]), quality, variants
        )


def fingerprint_id(identity: dict) -> str:
    """A short stable id of what makes two channels' vectors comparable."""
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class Channel(ABC):
    """Base class for embedders. Subclasses set `name`, `metric`, `dim` and implement `embed_batch`."""

    name: ClassVar[str]
    metric: ClassVar[str]  # "ip" (float vectors, inner product) or "hamming" (bit vectors)
    dim: int  # vector dimension; number of bits for "hamming"
    batch_size: int = 64

    def __init__(self, config: dict):
        self.config = config

    @property
    def settings(self) -> dict:
        """This channel's table of the configuration (`[channels.<name>]`)."""
        return self.config["channels"].get(self.name, {})

    @property
    def vector_width(self) -> int:
        return self.dim // 8 if self.metric == "hamming" else self.dim

    @property
    def vector_dtype(self):
        return np.uint8 if self.metric == "hamming" else np.float32

    @abstractmethod
    def identity(self) -> dict:
        """Everything that decides the vectors: algorithm, model, weights hash, preprocessing."""

    def fingerprint(self) -> dict:
        """The identity, its short id, and where things came from (not part of the id)."""
        ident = self.identity()
        return {
            "id": fingerprint_id(ident),
            **ident,
            "source": self.source(),
        }

    def source(self) -> dict:
        """Informational: paths and library versions. Not compared when opening an index."""
        return {}

    @abstractmethod
    def embed_batch(self, images: list[np.ndarray]) -> Embeddings:
        """Embed one batch of RGB uint8 images."""

    def embed_query_batch(self, images: list[np.ndarray]) -> Embeddings:
        """Embed a batch of query frames; a channel may add variants (flips, rotations)."""
        return self.embed_batch(images)

    def embed(self, images: Sequence[np.ndarray], query: bool = False) -> Embeddings:
        one = self.embed_query_batch if query else self.embed_batch
        parts = [one(list(images[i : i + self.batch_size])) for i in range(0, len(images), self.batch_size)]
        return Embeddings.concat(parts, self.vector_width, self.vector_dtype)

    # -- scores ---------------------------------------------------------------------------
    @abstractmethod
    def similarity(self, raw: np.ndarray) -> np.ndarray:
        """Raw search scores (inner product or Hamming distance) mapped to [0, 1], higher = closer."""

    @abstractmethod
    def is_hit(self, raw: np.ndarray) -> np.ndarray:
        """Whether raw search scores pass this channel's configured hit threshold."""
