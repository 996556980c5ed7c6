"""The `pdq` channel: Meta's PDQ 256-bit perceptual hash, via the `pdqhash` package.

Weight-free. A near-duplicate / copy signal compared by Hamming distance. PDQ's own quality
score (0..100) says how much structure a frame has; featureless frames (black, flat colour)
give unreliable hashes and are dropped under `channels.pdq.min_quality`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pdqhash

from ..imageops import trim_borders
from ..sampling import frame_input
from .base import Channel, Embeddings

PDQ_BITS = 256
# the order in which pdqhash.compute_dihedral returns the hashes of a frame's 8 symmetries
DIHEDRAL = (
    "original", "rot90", "rot180", "rot270", "flip_vertical", "flip_horizontal", "transpose", "transverse",
)


class PDQChannel(Channel):
    name = "pdq"
    metric = "hamming"
    dim = PDQ_BITS
    batch_size = 256
    raw_higher_is_better = False  # Hamming distance

    @property
    def query_variant_names(self) -> tuple[str, ...]:
        return DIHEDRAL[1:] if self.dihedral else ()

    def identity(self) -> dict:
        return {
            "name": self.name,
            "algorithm": "PDQ (pdqhash)",
            "metric": self.metric,
            "dim": self.dim,
            "bit_packing": "numpy.packbits, big-endian within each byte",
            "input": frame_input(self.config),
            "trim_borders": self.trim,
        }

    def source(self) -> dict:
        try:
            return {"pdqhash": version("pdqhash")}
        except PackageNotFoundError:  # pragma: no cover - installed from source
            return {}

    @property
    def min_quality(self) -> int:
        return int(self.settings.get("min_quality", 50))

    @property
    def max_distance(self) -> int:
        return int(self.settings.get("max_distance", 31))

    @property
    def trim(self) -> bool:
        """Hash the picture inside near-black letterbox/pillarbox bars, on both sides alike."""
        return bool(self.settings.get("trim_borders", True))

    @property
    def dihedral(self) -> bool:
        return bool(self.settings.get("query_dihedral", True))

    def _prepare(self, image: np.ndarray) -> np.ndarray:
        return np.ascontiguousarray(trim_borders(image) if self.trim else image)

    def embed_batch(self, images: list[np.ndarray]) -> Embeddings:
        n = len(images)
        vectors = np.zeros((n, PDQ_BITS // 8), dtype=np.uint8)
        quality = np.zeros(n, dtype=np.float32)
        for i, image in enumerate(images):
            bits, q = pdqhash.compute(self._prepare(image))
            vectors[i] = np.packbits(bits.astype(np.uint8))
            quality[i] = q
        return Embeddings(vectors, quality >= self.min_quality, quality)

    def embed_query_batch(self, images: list[np.ndarray]) -> Embeddings:
        """Query frames also give the hashes of their 7 other symmetries (mirrored or rotated
        copies then match the original); PDQ derives them from one transform, at little cost."""
        if not self.dihedral:
            return self.embed_batch(images)
        n = len(images)
        all_vectors = np.zeros((len(DIHEDRAL), n, PDQ_BITS // 8), dtype=np.uint8)
        quality = np.zeros(n, dtype=np.float32)
        for i, image in enumerate(images):
            hashes, q = pdqhash.compute_dihedral(self._prepare(image))
            for v, bits in enumerate(hashes):
                all_vectors[v, i] = np.packbits(bits.astype(np.uint8))
            quality[i] = q
        variants = {name: all_vectors[v] for v, name in enumerate(DIHEDRAL) if name != "original"}
        return Embeddings(all_vectors[0], quality >= self.min_quality, quality, variants)

    def similarity(self, raw: np.ndarray) -> np.ndarray:
        # Unrelated hashes sit near 128 bits apart; identical ones at 0.
        return np.clip(1.0 - np.asarray(raw, dtype=np.float32) / 128.0, 0.0, 1.0)

    def is_hit(self, raw: np.ndarray) -> np.ndarray:
        return np.asarray(raw) <= self.max_distance
