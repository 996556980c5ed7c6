"""The one decision: segments, their verification and their calibration -> levels and a verdict.

`decide` is a pure function. It applies the rules of a `Policy` (rules as data, built once from
the configuration and the channels' own declarations) to every segment, sorts once, and returns
new records; nothing it is given is changed. A segment's level is the strongest level a rule
grants it:

- the channels' rules (e.g. PDQ's median distance, CLIP's median similarity), each declared by
  its channel with thresholds from `[channels.<name>]`;
- geometric verification: a verified segment is at least a strong resemblance, a near-identical
  copy when its median pair has enough inliers (`[verify]`);
- any segment at all is a weak resemblance;

then a segment too likely by chance is held at weak resemblance (`[calibration]`; a segment verified
geometrically is not, unless `calibration.hold_verified_segments`), and a segment
that only channels needing verification support, and that verification refuted, is dropped.

A work whose frames the clip comes close to without a shared timeline (resemblance.py) reaches
"resemblance without a shared timeline" when its expected false matches are within
`resemblance.max_expected_false_matches`; without a calibration it has none, and never does.

The clip's verdict is the strongest level of its segments and works' resemblances; it is flagged
when that level is one of `verdict.flag_levels`. Every rule applied is kept as a `RuleOutcome`
in the evidence.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from ..channels import Meaning
from ..evidence.records import ChannelStat, Verification, VerificationStatus
from ..evidence.rules import Comparison, Effect, Level, Rule, RuleOutcome
from ..settings import Configuration
from . import moments
from .calibration import SegmentCalibration
from .resemblance import WorkResemblance
from .segments import Segment

LOCAL = "local"  # the name segments list among their channels when geometric verification agrees


@dataclass(frozen=True)
class Policy:
    """The rules a decision applies (see the module docstring)."""

    channel_rules: Mapping[str, tuple[Rule, ...]]
    needs_verification: frozenset[str]
    any_segment: Rule
    verified: Rule
    verified_near_identical: Rule
    verification_required: Rule
    chance: Rule
    hold_verified: bool  # whether the chance rule also holds back geometrically verified segments
    resemblance: Rule
    flag: Rule
    moment_rules: Mapping[str, Rule]  # per channel: when one frame stands on its own (Meaning.moment)
    moment_verified: Rule
    moment_chance: Rule
    higher_is_better: Mapping[str, bool]

    @classmethod
    def from_config(cls, config: Configuration, meanings: Mapping[str, Meaning]) -> Policy:
        v, cal = config.verify, config.calibration
        share = float(v.min_verified_share)
        return cls(
            channel_rules={name: tuple(m.rules) for name, m in meanings.items()},
            needs_verification=frozenset(name for name, m in meanings.items() if m.needs_verification),
            any_segment=Rule("segment.any", Effect.GRANT, "segment.frames", Comparison.GE,
                             float(config.segments.min_frames), "segments.min_frames", Level.WEAK),
            verified=Rule("verification.verified", Effect.GRANT, "verification.verified_share", Comparison.GE,
                          share, "verify.min_verified_share", Level.STRONG),
            verified_near_identical=Rule("verification.near_identical", Effect.GRANT, "verification.median_inliers",
                                         Comparison.GE, float(v.near_identical_min_inliers),
                                         "verify.near_identical_min_inliers", Level.NEAR_IDENTICAL),
            verification_required=Rule("verification.required", Effect.REQUIRE, "verification.verified_share",
                                       Comparison.GE, share, "verify.min_verified_share"),
            chance=Rule("calibration.chance", Effect.CAP, "calibration.expected_false_matches", Comparison.LE,
                        float(cal.max_expected_false_matches), "calibration.max_expected_false_matches", Level.WEAK),
            hold_verified=bool(cal.hold_verified_segments),
            resemblance=Rule("resemblance.chance", Effect.GRANT, "resemblance.expected_false_matches", Comparison.LE,
                             float(config.resemblance.max_expected_false_matches),
                             "resemblance.max_expected_false_matches", Level.RESEMBLANCE),
            flag=Rule("verdict.flag", Effect.FLAG, "verdict.level", Comparison.IN,
                      tuple(str(x) for x in config.verdict.flag_levels), "verdict.flag_levels"),
            moment_rules={name: m.moment for name, m in meanings.items() if m.moment is not None},
            moment_verified=Rule("moment.verified", Effect.GRANT, "verification.verified_share", Comparison.GE,
                                 share, "verify.min_verified_share", Level.MOMENT),
            moment_chance=Rule("moment.chance", Effect.REQUIRE, "calibration.expected_false_matches", Comparison.LE,
                               float(cal.max_expected_false_matches), "calibration.max_expected_false_matches"),
            higher_is_better={name: m.higher_is_better for name, m in meanings.items()},
        )

    def channel_outcomes(self, stats: Mapping[str, ChannelStat]) -> list[RuleOutcome]:
        """The channels' own rules applied to a segment's statistics."""
        return [
            rule.evaluate(stat.value, stat.frames)
            for name, stat in stats.items()
            for rule in self.channel_rules.get(name, ())
        ]

    def channel_rank(self, stats: Mapping[str, ChannelStat]) -> int:
        """The rank (0 = strongest) of the level the channels' rules alone give: how alignment
        chooses between overlapping candidate segments, and how segments queue for verification."""
        return min([Level.WEAK.rank] + [o.level.rank for o in self.channel_outcomes(stats) if o.passed and o.level is not None])


@dataclass(frozen=True)
class Decided:
    """A segment with what the decision made of it."""

    segment: Segment
    level: Level
    outcomes: tuple[RuleOutcome, ...]
    channels: tuple[str, ...]
    verification: Verification | None = None
    calibration: SegmentCalibration | None = None

    @property
    def decisive(self) -> tuple[RuleOutcome, ...]:
        return tuple(o for o in self.outcomes if o.decisive)


@dataclass(frozen=True)
class DecidedResemblance:
    """A work's resemblance with the level its rule gives it (no match when it fails)."""

    resemblance: WorkResemblance
    level: Level
    outcomes: tuple[RuleOutcome, ...]

    @property
    def decisive(self) -> tuple[RuleOutcome, ...]:
        return tuple(o for o in self.outcomes if o.decisive)


@dataclass(frozen=True)
class Decision:
    """Kept segments strongest first, rejected ones, works' resemblances strongest first, and
    the verdict."""

    segments: tuple[Decided, ...]
    rejected: tuple[Decided, ...]
    level: Level
    flagged: bool
    flag_outcome: RuleOutcome
    resemblances: tuple[DecidedResemblance, ...] = ()

    @property
    def best(self) -> Decided | DecidedResemblance | None:
        """What the verdict rests on: the strongest segment, or a work's resemblance when it is
        stronger than every segment."""
        seg = self.segments[0] if self.segments else None
        res = self.resemblances[0] if self.resemblances and self.resemblances[0].level != Level.NONE else None
        if res is not None and (seg is None or res.level.rank < seg.level.rank):
            return res
        return seg

    @property
    def verdict_outcomes(self) -> tuple[RuleOutcome, ...]:
        """What decided the verdict: the best's decisive outcomes, then the flag rule."""
        return (self.best.decisive if self.best else ()) + (self.flag_outcome,)


def _verified(verification: Verification | None, policy: Policy) -> tuple[bool, float]:
    """(whether verification found the segment's pairs matching, the share of pairs verified)."""
    if verification is None or verification.status == VerificationStatus.UNAVAILABLE:
        return False, 0.0
    share = verification.pairs_verified / verification.pairs_checked if verification.pairs_checked else 0.0
    # what rests on verification (its levels, the exemption from the chance cap) needs a pair
    # that matched: a status of "verified" over no pair checked, or none verified, is not one
    return (verification.status == VerificationStatus.VERIFIED and verification.pairs_verified > 0
            and policy.verified.comparison.holds(share, policy.verified.threshold)), share


def _decide_moment(segment: Segment, verification: Verification | None, calibration: SegmentCalibration | None,
                   policy: Policy) -> tuple[Decided, bool]:
    """A moment (match.moments): "a frame of the work reproduced" when a channel's moment rule or
    geometric verification grants it and its expected false matches are within the limit;
    otherwise it is dropped (it is no segment, so no other level applies)."""
    outcomes = []
    for name in sorted({h.channel for h in segment.hits}):
        rule = policy.moment_rules.get(name)
        best = moments.best_raw(segment, name, policy.higher_is_better.get(name, True))
        if rule is not None and best is not None:
            outcomes.append(rule.evaluate(best))
    verified, share = _verified(verification, policy)
    channels = segment.channels
    if verification is not None and verification.status != VerificationStatus.UNAVAILABLE:
        outcomes.append(policy.moment_verified.evaluate(share, precondition=verified))
        if verified and LOCAL not in channels:
            channels = channels + (LOCAL,)
    measured = calibration.expected_false_matches if calibration is not None else None
    chance = policy.moment_chance.evaluate(measured)
    outcomes.append(chance)
    granted = any(o.effect == Effect.GRANT and o.passed for o in outcomes)
    kept = granted and chance.passed
    marked = tuple(o.model_copy(update={"decisive": True}) if (
        (kept and o.effect == Effect.GRANT and o.passed) or (o.effect == Effect.REQUIRE and not o.passed)
        or (not granted and o.effect == Effect.GRANT)) else o for o in outcomes)
    level = Level.MOMENT if kept else Level.WEAK
    return Decided(segment, level, marked, channels, verification, calibration), kept


def _decide_one(segment: Segment, verification: Verification | None, calibration: SegmentCalibration | None,
                policy: Policy) -> tuple[Decided, bool]:
    """(the decided segment, whether it is kept)."""
    if segment.moment:
        return _decide_moment(segment, verification, calibration, policy)
    outcomes = [policy.any_segment.evaluate(float(len(segment.pairs)))] + policy.channel_outcomes(segment.stats)
    channels = segment.channels
    kept = True
    verified = False
    if verification is not None and verification.status != VerificationStatus.UNAVAILABLE:
        verified, share = _verified(verification, policy)
        outcomes.append(policy.verified.evaluate(share, precondition=verified))
        outcomes.append(policy.verified_near_identical.evaluate(verification.median_inliers, precondition=verified))
        if channels and set(channels) <= policy.needs_verification:  # only votes-like channels support it
            required = policy.verification_required.evaluate(share, precondition=verified)
            outcomes.append(required)
            kept = required.passed
        if verified and LOCAL not in channels:
            channels = channels + (LOCAL,)
    held = policy.hold_verified or not verified  # geometry is the stronger test: votes' chance does not override it
    if kept and held and calibration is not None and calibration.expected_false_matches is not None:
        outcomes.append(policy.chance.evaluate(calibration.expected_false_matches))
    granted = min((o.level for o in outcomes if o.effect == Effect.GRANT and o.passed and o.level is not None),
                  key=lambda lv: lv.rank)
    level = granted
    for o in outcomes:
        if o.effect == Effect.CAP and not o.passed and o.level is not None and o.level.rank > level.rank:
            level = o.level
    marked = tuple(
        o.model_copy(update={"decisive": True}) if (
            (o.effect == Effect.GRANT and o.passed and o.level == granted)
            or (o.effect == Effect.CAP and not o.passed and o.level == level and level != granted)
            or (o.effect == Effect.REQUIRE and not o.passed)
        ) else o
        for o in outcomes
    )
    decided = Decided(segment, level, marked, channels, verification, calibration if kept else None)
    return decided, kept


def _decide_resemblance(r: WorkResemblance, policy: Policy) -> DecidedResemblance:
    if r.expected_false_matches is None:  # not calibrated: no p-value, no level
        return DecidedResemblance(r, Level.NONE, ())
    outcome = policy.resemblance.evaluate(r.expected_false_matches)
    outcome = outcome.model_copy(update={"decisive": True})
    return DecidedResemblance(r, Level.RESEMBLANCE if outcome.passed else Level.NONE, (outcome,))


def decide(
    segments: Sequence[Segment],
    verification: Mapping[int, Verification],
    calibration: Mapping[int, SegmentCalibration],
    policy: Policy,
    resemblances: Sequence[WorkResemblance] = (),
) -> Decision:
    """Levels and verdict (see the module docstring). `verification` and `calibration` are keyed
    by `Segment.key`; a segment without an entry was not verified or not calibrated."""
    kept: list[Decided] = []
    rejected: list[Decided] = []
    for s in segments:
        decided, keep = _decide_one(s, verification.get(s.key), calibration.get(s.key), policy)
        (kept if keep else rejected).append(decided)
    kept.sort(key=lambda d: (d.level.rank, -d.segment.score, d.segment.query_start, d.segment.key))
    works = sorted((_decide_resemblance(r, policy) for r in resemblances),
                   key=lambda d: (d.level.rank, d.resemblance.p_value if d.resemblance.p_value is not None else 2.0,
                                  -d.resemblance.value, d.resemblance.work))
    levels = [d.level for d in kept] + [d.level for d in works]
    level = min(levels, key=lambda lv: lv.rank) if levels else Level.NONE
    flag = policy.flag.evaluate(str(level)).model_copy(update={"decisive": True})
    return Decision(tuple(kept), tuple(rejected), level, flag.passed, flag, tuple(works))
