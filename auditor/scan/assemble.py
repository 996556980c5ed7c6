"""From a scan's decision to its evidence record (auditor.evidence/1), built once.

Segments become records with their rule outcomes, verification, calibration and exhibits;
segments are grouped into per-work totals (matched seconds, share of the clip, best segment,
channels that agree); the verdict gets its rule outcomes and its sentence.
"""

from __future__ import annotations

from pathlib import Path
from typing import Mapping

from ..evidence import records as ev
from ..evidence.wording import rule_text, verdict_sentence
from ..match.decision import Decided, Decision


def _calibration_fields(d: Decided) -> dict:
    c = d.calibration
    if c is None or c.p_value is None:
        return {"p_value": None, "p_value_at_floor": None, "log10_p_value": None, "expected_false_matches": None}
    return {"p_value": c.p_value, "p_value_at_floor": c.p_value_at_floor, "log10_p_value": c.log10_p_value,
            "expected_false_matches": c.expected_false_matches}


def segment_record(d: Decided, exhibits: tuple[ev.Exhibit, ...] = (), with_pairs: bool = True):
    s = d.segment
    fields = dict(
        ref_id=s.ref_id, work=s.work, kind=s.kind,
        query_start=round(s.query_start, 3), query_end=round(s.query_end, 3),
        ref_start=round(s.ref_start, 3), ref_end=round(s.ref_end, 3), score=round(s.score, 6),
        level=d.level, rule=rule_text(d.outcomes, "en"), rules=d.outcomes, channels=d.channels,
        channel_stats=dict(s.stats), speed=s.speed, **_calibration_fields(d),
        verification=d.verification, exhibits=exhibits, frames=len(s.pairs),
    )
    if not with_pairs:
        return ev.SegmentSummary(**fields)
    pairs = tuple(
        ev.Pair(query_t=round(h.q_t, 3), ref_t=round(h.ref_t, 3), channel=h.channel, raw=round(float(h.raw), 6),
                similarity=round(float(h.sim), 6), variant=h.variant)
        for h in s.pairs
    )
    return ev.Segment(**fields, pairs=pairs)


def union_length(intervals: list[tuple[float, float]]) -> float:
    total, cur_s, cur_e = 0.0, None, None
    for s, e in sorted(intervals):
        if cur_e is None or s > cur_e:
            if cur_e is not None:
                total += cur_e - cur_s
            cur_s, cur_e = s, e
        else:
            cur_e = max(cur_e, e)
    if cur_e is not None:
        total += cur_e - cur_s
    return total


def work_records(decision: Decision, exhibits: Mapping[int, tuple[ev.Exhibit, ...]], clip_duration: float,
                 metadata: Mapping[str, dict]) -> tuple[ev.Work, ...]:
    """Per-work totals, strongest work first; within a work, segments strongest first."""
    by_work: dict[str, list[Decided]] = {}
    for d in decision.segments:
        by_work.setdefault(d.segment.work, []).append(d)
    works = []
    for name, segs in by_work.items():
        matched = union_length([(d.segment.query_start, d.segment.query_end) for d in segs])
        best = max(segs, key=lambda d: (-d.level.rank, d.segment.score))
        cal = _calibration_fields(best)
        works.append(ev.Work(
            work=name, owner=segs[0].segment.owner, metadata=metadata.get(name, {}), level=best.level,
            best_score=round(best.segment.score, 6), matched_seconds=round(matched, 3),
            share_of_clip=round(matched / clip_duration, 4) if clip_duration else None,
            channels=tuple(sorted({c for d in segs for c in d.channels})),
            p_value=cal["p_value"], expected_false_matches=cal["expected_false_matches"],
            best_segment=segment_record(best, exhibits.get(best.segment.key, ()), with_pairs=False),
            segments=tuple(segment_record(d, exhibits.get(d.segment.key, ())) for d in segs),
        ))
    works.sort(key=lambda w: (w.level.rank, -w.best_score))
    return tuple(works)


def verdict_record(decision: Decision, works: tuple[ev.Work, ...], clip_path: str) -> ev.Verdict:
    best = decision.best
    n = len(decision.segments)
    if best is None:
        return ev.Verdict(flagged=decision.flagged, level=decision.level, score=0.0, rule=rule_text((), "en"),
                          rules=(decision.flag_outcome,),
                          summary=verdict_sentence(Path(clip_path).name, None, None, None, 0, None, None, None))
    cal = _calibration_fields(best)
    record = segment_record(best, with_pairs=False)
    return ev.Verdict(
        flagged=decision.flagged, level=decision.level, score=round(best.segment.score, 6), **cal,
        rule=rule_text(best.outcomes, "en"), rules=decision.verdict_outcomes,
        summary=verdict_sentence(Path(clip_path).name, record, best.segment.work, best.segment.owner, n,
                                 cal["p_value"], cal["p_value_at_floor"], cal["expected_false_matches"]),
    )
