"""The vocabulary of decisions: levels, rules as data, and the outcome of applying a rule.

A rule says: measure this, compare it with that threshold (which comes from that setting of
the configuration), and if it holds, this happens (a level is granted, a level is capped, a
segment is dropped, a clip is flagged). Applying it gives a `RuleOutcome`, which the evidence
keeps: rule id, measured value, threshold, comparison, whether it passed. Sentences in English
and Japanese are rendered from outcomes where they are shown (evidence/wording.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, Field


class Level(StrEnum):
    """How strongly a segment (or a clip, by its strongest segment) matches, strongest first."""

    NEAR_IDENTICAL = "near-identical copy"
    STRONG = "strong resemblance"
    # one or a few of the clip's frames reproduce a frame or still of the work near-identically
    # (match/moments.py): the image an image-to-video generator was given, say
    MOMENT = "a frame of the work reproduced"
    # the clip's frames come close to one work's frames, calibrated, but never line up in time
    RESEMBLANCE = "resemblance without a shared timeline"
    WEAK = "weak resemblance"
    NONE = "no match"

    @property
    def rank(self) -> int:
        """0 for the strongest level; larger is weaker."""
        return _RANK[self]


_RANK = {level: i for i, level in enumerate(Level)}


class Effect(StrEnum):
    GRANT = "grant"  # passed: the segment reaches at least `level`
    CAP = "cap"  # failed: the segment is held at `level` at most
    REQUIRE = "require"  # failed: the segment is dropped (listed as rejected)
    FLAG = "flag"  # passed: the clip is flagged


class Comparison(StrEnum):
    LE = "<="
    GE = ">="
    IN = "in"

    def holds(self, measured, threshold) -> bool:
        if measured is None:
            return False
        if self is Comparison.IN:
            return measured in threshold
        if isinstance(measured, float) and math.isnan(measured):
            return False
        return measured <= threshold if self is Comparison.LE else measured >= threshold


Threshold = float | tuple[str, ...]


class RuleOutcome(BaseModel):
    """One rule applied to one segment (or to the verdict): what was measured against what."""

    model_config = ConfigDict(frozen=True, extra="ignore", json_schema_extra={"additionalProperties": False})

    rule: str = Field(description="Rule id, e.g. 'pdq.near_identical' or 'calibration.chance'.")
    effect: Effect = Field(description="What the rule does: grant a level when it passes, cap the level or "
                                       "drop the segment when it fails, flag the clip when it passes.")
    level: Level | None = Field(None, description="The level the rule grants or caps at (none for require and flag).")
    measure: str = Field(description="What was measured, e.g. 'pdq.median_distance', 'verification.median_inliers'.")
    measured: float | str | None = Field(description="The measured value (a level name for the flag rule).")
    comparison: Comparison = Field(description="How the measured value is compared with the threshold.")
    threshold: Threshold = Field(description="The threshold (a list of levels for the flag rule).")
    setting: str = Field(description="The configuration key the threshold comes from (see tool.parameters).")
    frames: int | None = Field(None, description="Frames the measured statistic is taken over, where it is one.")
    min_frames: int | None = Field(None, description="Frames the rule needs before it can pass, where it needs some.")
    passed: bool = Field(description="Whether the comparison holds (and the frame count is met).")
    decisive: bool = Field(False, description="Whether this outcome decided the result: the passing rules that "
                                              "granted the final level, a cap or requirement that failed, the flag rule.")


@dataclass(frozen=True)
class Rule:
    """A rule as data (see the module docstring); `evaluate` applies it to a measurement."""

    id: str
    effect: Effect
    measure: str
    comparison: Comparison
    threshold: Threshold
    setting: str
    level: Level | None = None
    min_frames: int | None = None

    def evaluate(self, measured, frames: int | None = None, precondition: bool = True) -> RuleOutcome:
        """The outcome for `measured` (over `frames` frames). `precondition`: whatever else the
        rule needs (e.g. the segment verified) holds; without it the rule fails."""
        enough = precondition and (self.min_frames is None or (frames is not None and frames >= self.min_frames))
        passed = enough and self.comparison.holds(measured, self.threshold)
        if isinstance(measured, float) and math.isfinite(measured):
            measured = float(f"{measured:.6g}")  # as stated in the evidence; compared unrounded
        return RuleOutcome(
            rule=self.id, effect=self.effect, level=self.level, measure=self.measure, measured=measured,
            comparison=self.comparison, threshold=self.threshold, setting=self.setting, frames=frames,
            min_frames=self.min_frames, passed=passed,
        )
