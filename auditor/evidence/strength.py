"""What a p-value rests on, in the evidence: the plain count behind a match's strength and the
background the null distributions were drawn from (auditor/match/calibration.py computes them).

A count is a fact a reader can check ("none of 7,200 frames of unrelated footage came this
close"); a p-value below 1/(null frames + 1) is a model's extrapolation, and says so.
"""

from __future__ import annotations

from pydantic import Field

from .base import Record


class Chance(Record):
    """How rare a match this close is among unrelated footage, by count, and how its frames were combined."""

    null_frames: int = Field(description="Null frames (unrelated footage compared with the whole catalogue) of the "
                                         "closest frame's channel.")
    null_closer: int = Field(description="Of them, how many came at least as close as the match's closest frame.")
    frames_combined: int | None = Field(None, description="Frame pairs whose p-values were combined (thinned to one "
                                                          "per calibration.decorrelation_s, a repeated reference frame "
                                                          "once).")
    effective_frames: float | None = Field(None, description="Independent frames the p-value's combination counts "
                                                             "(Brown's method; 1 for a moment).")
    extrapolated: bool = Field(description="True: the p-value is below 1/(null_frames + 1), which no count supports; "
                                           "it rests on the fitted tail (see calibration.method).")


class NullSource(Record):
    """One source of the null distributions: a background file, or a work left out."""

    name: str | None = Field(None, description="The background file's name (never a path).")
    sha256: str | None = Field(None, description="The background file's SHA-256.")
    duration_s: float | None = Field(None, description="Its duration (s).")
    work: str | None = Field(None, description="Leave-one-work-out: the work left out.")
    frames: int = Field(description="Frames it gave the null.")


class NullBasis(Record):
    """How much the null distributions rest on."""

    method: str = Field("background", description="background or leave-one-work-out.")
    correlation: dict[str, float] = Field(default_factory=dict, description="Per channel: the correlation of "
                                          "neighbouring frames' scores Brown's method used.")
    correlation_measured: bool = Field(False, description="True: measured on the background; else assumed "
                                                          "(calibration.assumed_frame_correlation).")
    clips: int = Field(description="Background clips.")
    works: int = Field(description="Works left out (leave-one-work-out).")
    minutes: float = Field(description="Minutes of background footage.")
    frames: int = Field(description="Null frames (the fewest of any channel).")
    sources: tuple[NullSource, ...] = Field((), description="Every source, in the order calibration read them.")
    shortfall: str | None = Field(None, description="Set when the calibration rests on less than the documented "
                                                    "minimum (calibration.min_null_frames, min_background_minutes).")
