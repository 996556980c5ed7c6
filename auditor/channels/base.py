"""The channel contract: a name, a dimension, a metric, a fingerprint, `embed`, and a meaning.

A channel turns frames into vectors that the reference index can search. Batching lives here,
in the base class; a channel implements `embed_batch` for one batch only.

A channel also declares what its scores mean (`Channel.meaning(config)`, available without
loading a model): its summary statistic over a segment, the level rules it takes part in,
whether segments it alone supports need geometric verification, how its null distribution is
fitted, and its description in English and Japanese. The decision, the calibration and the
reports read these declarations; nothing outside `auditor/channels/` names a channel.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..evidence.rules import Comparison, Effect, Level, Rule
from ..settings import Configuration, Table

Candidate = tuple[int, float, str]  # (reference frame id, raw score, query variant)
SearchFn = Callable[[np.ndarray, int], tuple[np.ndarray, np.ndarray]]


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
    # channels with many vectors per frame (local features): the frame index of each vector
    frame_of: np.ndarray | None = None
    # query side, many vectors per frame: which variant of its frame each vector describes
    # (0 the frame as shot, i the i-th of the channel's query_variant_names)
    variant_of: np.ndarray | None = None

    def rows_and_vectors(self) -> tuple[np.ndarray, np.ndarray]:
        """(frame index of each stored vector, vectors) as the reference index takes them."""
        if self.frame_of is not None:
            return self.frame_of, self.vectors
        rows = np.nonzero(self.keep)[0]
        return rows, self.vectors[rows]

    @staticmethod
    def concat(parts: Sequence[Embeddings], width: int, dtype) -> Embeddings:
        if not parts:
            return Embeddings(np.zeros((0, width), dtype=dtype), np.zeros(0, dtype=bool), None)
        quality = None
        if all(p.quality is not None for p in parts):
            quality = np.concatenate([p.quality for p in parts])
        variants = None
        each_variants = [p.variants for p in parts if p.variants]
        if len(each_variants) == len(parts):
            variants = {k: np.concatenate([v[k] for v in each_variants]) for k in each_variants[0]}
        frame_of = None
        if all(p.frame_of is not None for p in parts):
            offsets = np.cumsum([0] + [len(p.keep) for p in parts[:-1]])
            frame_of = np.concatenate([p.frame_of + off for p, off in zip(parts, offsets)]).astype(np.int64)
        variant_of = None
        if all(p.variant_of is not None for p in parts):
            variant_of = np.concatenate([p.variant_of for p in parts])
        return Embeddings(
            np.concatenate([p.vectors for p in parts]),
            np.concatenate([p.keep for p in parts]),
            quality,
            variants,
            frame_of,
            variant_of,
        )


@dataclass(frozen=True)
class Meaning:
    """What a channel's scores mean, as the decision, calibration and reports read it."""

    name: str
    # the summary statistic over a segment's frames (the median of each frame's best raw score)
    statistic: str
    higher_is_better: bool  # raw scores (as `candidates` returns them): larger = closer?
    rules: tuple[Rule, ...]  # level rules this channel takes part in
    # segments only channels like this support are dropped when geometric verification refutes them
    needs_verification: bool
    resolution: float  # raw scores closer than this are the same to the calibration's tail fit
    worst: float  # the raw score of a frame with no candidate at all
    query_variants: int  # versions of each query frame searched (flips, rotations): Sidak correction
    # whether the channel's similarities say how close two pictures look, so that a clip's frames
    # can resemble a work without a shared timeline (float embeddings: yes; hashes and votes: no)
    resemblance: bool
    # {"label": the statistic in words, "unit": its unit, "description": what the channel sees},
    # each per language ("en", "ja")
    words: Mapping[str, Mapping[str, str]]
    # the rule by which one or a few frames stand on their own as a moment (match/moments.py), on
    # the moment's best raw score; None: this channel's frames stand only with geometric verification
    moment: Rule | None = None


def statistic_rule(channel: str, statistic: str, rule: str, level: Level, comparison: Comparison,
                   setting: str, config: Configuration) -> Rule:
    """A rule granting `level` when the channel's statistic compares with the threshold at
    `channels.<channel>.<setting>` over at least `segments.min_frames` frames."""
    return Rule(
        id=f"{channel}.{rule}", effect=Effect.GRANT, level=level, measure=f"{channel}.{statistic}",
        comparison=comparison, threshold=float(getattr(config.channels.of(channel), setting)),
        setting=f"channels.{channel}.{setting}", min_frames=int(config.segments.min_frames),
    )


def fingerprint_id(identity: dict) -> str:
    """A short stable id of what makes two channels' vectors comparable."""
    canonical = json.dumps(identity, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


class Channel(ABC):
    """Base class for embedders. Subclasses set `name`, `metric`, `dim` and implement `embed_batch`."""

    name: ClassVar[str]
    metric: ClassVar[str]  # "ip" (float vectors, inner product) or "hamming" (bit vectors)
    per_frame: ClassVar[str] = "one"  # or "many" (local features)
    # whether a larger raw score (as `candidates` returns it) means a closer match
    raw_higher_is_better: ClassVar[bool] = True
    dim: int  # vector dimension; number of bits for "hamming"
    batch_size: int = 64
    # see Meaning.words
    words: ClassVar[Mapping[str, Mapping[str, str]]] = {"label": {}, "unit": {}, "description": {}}
    # the channel's table of the configuration, `[channels.<name>]`, with its defaults and checks
    # (auditor.config composes the tables of every registered channel); a channel without
    # settings of its own keeps this empty one
    Settings: ClassVar[type[Table]] = Table

    def __init__(self, config: Configuration):
        self.config = config

    @classmethod
    @abstractmethod
    def meaning(cls, config: Configuration) -> Meaning:
        """What this channel's scores mean under `config` (no model is loaded)."""

    @classmethod
    def requested_device(cls, config: Configuration) -> str:
        """The device the configuration asks this channel to run on ('cpu' unless it has a model)."""
        return "cpu"

    @property
    def device(self) -> str:
        """The device this channel runs on."""
        return "cpu"

    @property
    def settings(self):
        """This channel's table of the configuration (`[channels.<name>]`, a `Settings`)."""
        return self.config.channels.of(self.name)

    @property
    def query_variant_names(self) -> tuple[str, ...]:
        """Names of the extra variants `embed_query_batch` adds (flips, rotations), if any."""
        return ()

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

    def use_cores(self, n: int) -> None:  # noqa: B027 (a hook: most channels have nothing to set)
        """How many cores this channel may keep busy at once: a worker process sharing the
        machine with others gets its share. The vectors must not depend on it."""

    def embed(self, images: Sequence[np.ndarray], query: bool = False) -> Embeddings:
        one = self.embed_query_batch if query else self.embed_batch
        parts = [one(list(images[i : i + self.batch_size])) for i in range(0, len(images), self.batch_size)]
        return Embeddings.concat(parts, self.vector_width, self.vector_dtype)

    # -- search -----------------------------------------------------------------------------
    def candidates(self, emb: Embeddings, search: SearchFn, k: int) -> tuple[np.ndarray, list[list[Candidate]]]:
        """The query rows this channel can vouch for and, for each, its top-k reference frames
        as (frame_id, raw score, variant), best first. `search(vectors, k)` gives (scores,
        frame ids) from the index. One vector per frame: the best variant per reference frame."""
        lower_is_better = self.metric == "hamming"
        rows = np.nonzero(emb.keep)[0]
        best: list[dict[int, tuple[float, str]]] = [{} for _ in rows]
        for variant, vectors in [("original", emb.vectors), *(emb.variants or {}).items()]:
            scores, ids = search(vectors[rows], k)
            for r in range(len(rows)):
                cands = best[r]
                for raw, fid in zip(scores[r].tolist(), ids[r].tolist()):
                    if fid < 0:
                        continue
                    old = cands.get(fid)
                    if old is None or (raw < old[0] if lower_is_better else raw > old[0]):
                        cands[fid] = (raw, variant)
        ranked = [
            sorted(((fid, raw, var) for fid, (raw, var) in c.items()), key=lambda x: x[1], reverse=not lower_is_better)[:k]
            for c in best
        ]
        return rows, ranked

    # -- scores ---------------------------------------------------------------------------
    compares_directly: ClassVar[bool] = False  # True where `compare` and `beats` are implemented

    def compare(self, query: Embeddings, frame: int, variant: str, ref_vectors: np.ndarray, ref_rows: np.ndarray,
                n_ref: int) -> np.ndarray | None:
        """Raw scores of one query frame (`frame`, as `variant`) against `n_ref` reference frames,
        compared directly rather than searched (match.guided): `ref_vectors` as the index stores
        them, `ref_rows` the reference frame (0 .. n_ref-1) of each. A frame without a vector gets
        the channel's worst score. None: this channel does not compare frames directly, or cannot
        vouch for this query frame."""
        return None

    def beats(self, on: float, off: float) -> bool:
        """Whether a raw score on a copy's timeline (`on`) stands out from the best raw score of
        the same query frame off it (`off`) by this channel's margin (match.guided)."""
        return False

    @abstractmethod
    def similarity(self, raw: np.ndarray) -> np.ndarray:
        """Raw search scores (inner product or Hamming distance) mapped to [0, 1], higher = closer."""

    @abstractmethod
    def is_hit(self, raw: np.ndarray) -> np.ndarray:
        """Whether raw search scores pass this channel's configured hit threshold."""
