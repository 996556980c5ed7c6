"""The records of a segment's frames: its frame pairs, and what each stretch of its span rests on."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from .base import Record


class Pair(Record):
    """One query frame of a segment with its best reference frame."""

    query_t: float = Field(description="Time in the suspect clip (s).")
    ref_t: float = Field(description="Time in the reference (s; 0 for a still).")
    channel: str = Field(description="The channel of this hit.")
    raw: float = Field(description="The channel's raw score (Hamming distance, votes or cosine similarity).")
    similarity: float = Field(description="The raw score mapped to [0, 1], higher = closer.")
    variant: str = Field("original", description="Which variant of the query frame matched (e.g. flip_horizontal).")
    ref_box: tuple[float, float, float, float] | None = Field(
        None, description="For a still indexed by tiles: the region [x0, y0, x1, y1] (shares of its width and height) "
                          "of the tile that matched; none for a whole frame.")


class GuidedPair(Pair):
    """A query frame retrieval did not pair, compared directly with the reference frames the
    segment's timeline predicts (its best `raw`) and with frames of the same reference off the
    timeline (the best of them: `control_raw`). Its channel is "picture" where no channel's
    features told the frame apart and the pictures themselves did: the correlation of grey
    32x32 thumbnails (their inner 80 %) with the reference frames read from the reference file."""

    control_raw: float = Field(description="The channel's best raw score for this query frame off the timeline.")


class GuidedFigure(Record):
    """One channel's comparisons along the timeline in a part of a span."""

    frames: int = Field(description="Frames of the part this channel supported.")
    median_raw: float = Field(description="Median raw score on the timeline (PDQ: Hamming bits; ORB: matching descriptors; "
                                          "picture: correlation).")
    median_control_raw: float = Field(description="Median of the same frames' best raw score off the timeline.")


class SpanPart(Record):
    """A stretch of a segment's span and what it rests on."""

    query_start: float = Field(description="Start in the suspect clip (s).")
    query_end: float = Field(description="End in the suspect clip (s).")
    basis: Literal["retrieval", "guided", "unsupported"] = Field(
        description="'retrieval': frames the index search paired with the reference; 'guided': frames compared "
                    "directly along the timeline that beat the control; 'unsupported': frames neither supports, "
                    "inside the span (fades, flashes, cuts the timeline runs on under).")
    frames: int = Field(description="Sampled query frames in the stretch.")
    channels: dict[str, GuidedFigure] = Field(default_factory=dict, description="Guided parts: per channel, its figures.")
