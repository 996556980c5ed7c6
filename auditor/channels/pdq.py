"""The `pdq` channel: Meta's PDQ 256-bit perceptual hash, via the `pdqhash` package.

Weight-free. A near-duplicate / copy signal compared by Hamming distance. PDQ's own quality
score (0..100) says how much structure a frame has; featureless frames (black, flat colour)
give unreliable hashes and are dropped under `channels.pdq.min_quality`.
"""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

import numpy as np
import pdqhash
from pydantic import Field

from ..evidence.rules import Comparison, Effect, Level, Rule
from ..media.images import trim_borders
from ..media.reader import frame_input
from ..settings import HASH_BITS, Configuration, Table
from .base import Channel, Embeddings, Meaning, statistic_rule

PDQ_BITS = 256
# the order in which pdqhash.compute_dihedral returns the hashes of a frame's 8 symmetries
DIHEDRAL = (
    "original", "rot90", "rot180", "rot270", "flip_vertical", "flip_horizontal", "transpose", "transverse",
)


class PDQSettings(Table):
    """`[channels.pdq]` (configs/default.toml says why each value)."""

    min_quality: int = Field(50, ge=0, le=100)
    max_distance: int = Field(31, ge=0, le=HASH_BITS)
    trim_borders: bool = True
    query_dihedral: bool = True
    near_identical_max_median_distance: int = Field(20, ge=0, le=HASH_BITS)
    guided_max_distance: int = Field(96, ge=0, le=HASH_BITS)
    guided_margin: int = Field(20, ge=0, le=HASH_BITS)
    moment_max_distance: int = Field(31, ge=0, le=HASH_BITS)


class PDQChannel(Channel):
    name = "pdq"
    metric = "hamming"
    dim = PDQ_BITS
    batch_size = 256
    raw_higher_is_better = False  # Hamming distance
    Settings = PDQSettings

    # the statistic in words, its unit and what the channel sees, per language
    words = {
        "label": {"en": "PDQ median Hamming distance", "ja": "PDQ ハミング距離の中央値"},
        "unit": {"en": "bits", "ja": "ビット"},
        "moment_label": {"en": "PDQ Hamming distance of the moment's closest frame",
                         "ja": "その瞬間の最も近いフレームの PDQ ハミング距離"},
        "description": {
            "en": "PDQ, Meta's 256-bit perceptual hash: near-identical copies, robust to re-encoding, "
                  "scaling and colour changes; mirrored and rotated copies through the 8 symmetries of "
                  "each suspect frame.",
            "ja": "PDQ（Meta の 256 ビット知覚ハッシュ）：ほぼ同一の複製を検出します。再エンコード、拡大縮小、"
                  "色の変化に強く、被疑フレームごとに 8 通りの対称変換を調べるため、反転・回転した複製も検出します。",
        },
    }

    @classmethod
    def meaning(cls, config: Configuration) -> Meaning:
        dihedral = bool(config.channels.of(cls.name, PDQSettings).query_dihedral)
        return Meaning(
            name=cls.name,
            statistic="median_distance",
            higher_is_better=False,
            rules=(
                statistic_rule(cls.name, "median_distance", "near_identical", Level.NEAR_IDENTICAL, Comparison.LE,
                               "near_identical_max_median_distance", config),
                statistic_rule(cls.name, "median_distance", "strong", Level.STRONG, Comparison.LE,
                               "max_distance", config),
            ),
            needs_verification=False,
            moment=Rule(id=f"{cls.name}.moment", effect=Effect.GRANT, level=Level.MOMENT, measure=f"{cls.name}.moment",
                        comparison=Comparison.LE, threshold=float(config.channels.of(cls.name, PDQSettings).moment_max_distance),
                        setting=f"channels.{cls.name}.moment_max_distance"),
            resolution=0.5,  # distances are whole bits
            worst=float(cls.dim),
            query_variants=len(DIHEDRAL) if dihedral else 1,
            resemblance=False,
            words=cls.words,
        )

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
        return int(self.settings.min_quality)

    @property
    def max_distance(self) -> int:
        return int(self.settings.max_distance)

    @property
    def trim(self) -> bool:
        """Hash the picture inside near-black letterbox/pillarbox bars, on both sides alike."""
        return bool(self.settings.trim_borders)

    @property
    def dihedral(self) -> bool:
        return bool(self.settings.query_dihedral)

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

    compares_directly = True

    def compare(self, query: Embeddings, frame: int, variant: str, ref_vectors: np.ndarray, ref_rows: np.ndarray,
                n_ref: int) -> np.ndarray | None:
        """Hamming distances from the query frame's hash (its `variant` symmetry) to each reference frame's."""
        if not query.keep[frame]:
            return None  # a featureless frame: PDQ cannot vouch for it
        vec = query.vectors[frame] if variant == "original" or not query.variants or variant not in query.variants \
            else query.variants[variant][frame]
        out = np.full(n_ref, float(PDQ_BITS))
        if len(ref_vectors):
            out[ref_rows] = np.unpackbits(np.bitwise_xor(ref_vectors, vec[None, :]), axis=1).sum(axis=1)
        return out

    def beats(self, on: float, off: float) -> bool:
        s = self.settings
        return on <= int(s.guided_max_distance) and on <= off - int(s.guided_margin)

    def similarity(self, raw: np.ndarray) -> np.ndarray:
        # Unrelated hashes sit near 128 bits apart; identical ones at 0.
        return np.clip(1.0 - np.asarray(raw, dtype=np.float32) / 128.0, 0.0, 1.0)

    def is_hit(self, raw: np.ndarray) -> np.ndarray:
        return np.asarray(raw) <= self.max_distance
