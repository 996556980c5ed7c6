"""From a scan's decision to its evidence record (auditor.evidence/1), built once.

Segments become records with their rule outcomes, verification, calibration and exhibits;
segments are grouped into per-work totals (matched seconds, share of the clip, best segment,
channels that agree); the verdict gets its rule outcomes and its sentence.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

from ..evidence import records as ev
from ..evidence.rules import Level
from ..evidence.wording import rule_text, verdict_sentence
from ..match.calibration import shortfall
from ..match.decision import Decided, DecidedResemblance, Decision


def _calibration_fields(d: Decided) -> dict:
    c = d.calibration
    if c is None or c.p_value is None:
        return {"p_value": None, "p_value_at_floor": None, "log10_p_value": None, "expected_false_matches": None,
                "chance": None}
    chance = ev.Chance(null_frames=c.null_frames, null_closer=c.null_closer, frames_combined=c.frames_used,
                       effective_frames=c.effective_frames,
                       extrapolated=bool(c.extrapolated)) if c.null_frames is not None else None
    return {"p_value": c.p_value, "p_value_at_floor": c.p_value_at_floor, "log10_p_value": c.log10_p_value,
            "expected_false_matches": c.expected_false_matches, "chance": chance}


def _union(boxes) -> tuple[float, float, float, float] | None:
    boxes = [b for b in boxes if b is not None]
    if not boxes:
        return None
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def ref_region(d: Decided) -> tuple[float, float, float, float] | None:
    """For a still: the region of it the segment shows: where its verified frames land on it,
    else the tiles its pairs matched (the whole still for whole-still matches)."""
    if d.segment.kind != "still":
        return None
    landed = [p.region for p in (d.verification.pairs if d.verification else ()) if p.region is not None]
    return _union(landed) or _union([h.ref_box or (0.0, 0.0, 1.0, 1.0) for h in d.segment.pairs])


def segment_record(d: Decided, shown=None, with_pairs: bool = True):
    s = d.segment
    exhibits = shown.exhibits.get(s.key, ()) if shown is not None else ()
    fields = dict(
        ref_id=s.ref_id, work=s.work, kind=s.kind,
        query_start=round(s.query_start, 3), query_end=round(s.query_end, 3),
        ref_start=round(s.ref_start, 3), ref_end=round(s.ref_end, 3), score=round(s.score, 6),
        level=d.level, rule=rule_text(d.outcomes, "en"), rules=d.outcomes, channels=d.channels,
        channel_stats=dict(s.stats), speed=s.speed, **_calibration_fields(d),
        verification=d.verification, ref_region=ref_region(d),
        still_image=shown.stills.get(s.key) if shown is not None else None, exhibits=exhibits, frames=len(s.pairs),
        guided_frames=len(s.guided), parts=tuple(_part_record(p) for p in s.parts),
    )
    if not with_pairs:
        return ev.SegmentSummary(**fields)
    pairs = tuple(
        ev.Pair(query_t=round(h.q_t, 3), ref_t=round(h.ref_t, 3), channel=h.channel, raw=round(float(h.raw), 6),
                similarity=round(float(h.sim), 6), variant=h.variant, ref_box=h.ref_box)
        for h in s.pairs
    )
    guided = tuple(
        ev.GuidedPair(query_t=round(h.q_t, 3), ref_t=round(h.ref_t, 3), channel=h.channel, raw=round(float(h.raw), 6),
                      similarity=round(float(h.sim), 6), variant=h.variant, control_raw=round(float(h.control or 0.0), 6))
        for h in s.guided
    )
    return ev.Segment(**fields, pairs=pairs, guided_pairs=guided)


def _part_record(p) -> ev.SpanPart:
    return ev.SpanPart(query_start=round(p.query_start, 3), query_end=round(p.query_end, 3), basis=p.basis, frames=p.frames,
                       channels={n: ev.GuidedFigure(frames=f, median_raw=round(on, 3), median_control_raw=round(off, 3))
                                 for n, (f, on, off) in p.figures.items()})


def union_length(intervals: list[tuple[float, float]]) -> float:
    total = 0.0
    current: tuple[float, float] | None = None  # the union's interval being extended
    for s, e in sorted(intervals):
        if current is None or s > current[1]:
            if current is not None:
                total += current[1] - current[0]
            current = (s, e)
        else:
            current = (current[0], max(current[1], e))
    if current is not None:
        total += current[1] - current[0]
    return total


def resemblance_record(d: DecidedResemblance, shown=None) -> ev.Resemblance:
    r = d.resemblance
    return ev.Resemblance(
        channel=r.channel, value=r.value, frames=r.frames, top_frames=r.top_frames, p_value=r.p_value,
        p_value_at_floor=r.p_value_at_floor, log10_p_value=r.log10_p_value,
        expected_false_matches=r.expected_false_matches, level=d.level, rules=d.outcomes,
        gallery=shown.galleries.get((r.work, r.channel), ()) if shown is not None else (),
    )


def work_records(decision: Decision, shown, clip_duration: float, metadata: Mapping[str, dict]) -> tuple[ev.Work, ...]:
    """Per-work totals, strongest work first; within a work, segments strongest first. A work
    is listed when it has a segment, or when the clip resembles it without a shared timeline."""
    by_work: dict[str, list[Decided]] = {}
    for d in decision.segments:
        by_work.setdefault(d.segment.work, []).append(d)
    resembling: dict[str, DecidedResemblance] = {}
    for r in decision.resemblances:  # strongest first: a work's best channel
        if r.level != Level.NONE or r.resemblance.work in by_work:
            resembling.setdefault(r.resemblance.work, r)
    works = []
    for name in list(by_work) + [w for w in resembling if w not in by_work]:
        segs = by_work.get(name, [])
        res = resembling.get(name)
        matched = union_length([(d.segment.query_start, d.segment.query_end) for d in segs])
        best = max(segs, key=lambda d: (-d.level.rank, d.segment.score)) if segs else None
        level = best.level if best else Level.NONE
        if res is not None and res.level.rank < level.rank:
            level = res.level
        if best is not None:
            cal = _calibration_fields(best)
            owner, best_score = segs[0].segment.owner, best.segment.score
        else:
            assert res is not None  # a work without segments is listed for its resemblance
            cal = {"p_value": res.resemblance.p_value, "expected_false_matches": res.resemblance.expected_false_matches}
            owner, best_score = res.resemblance.owner, res.resemblance.value
        works.append(ev.Work(
            work=name, owner=owner, metadata=metadata.get(name, {}),
            level=level, best_score=round(best_score, 6),
            matched_seconds=round(matched, 3), share_of_clip=round(matched / clip_duration, 4) if clip_duration else None,
            channels=tuple(sorted({c for d in segs for c in d.channels} | ({res.resemblance.channel} if res else set()))),
            p_value=cal["p_value"], expected_false_matches=cal["expected_false_matches"],
            best_segment=segment_record(best, shown, with_pairs=False) if best else None,
            segments=tuple(segment_record(d, shown) for d in segs),
            resemblance=resemblance_record(res, shown) if res is not None else None,
        ))
    works.sort(key=lambda w: (w.level.rank, -w.best_score))
    return tuple(works)


def resemblance_check(decision: Decision, meanings, calibrated: bool, counts: dict, closest: int = 5):
    """What the search for resemblance without a shared timeline compared (None when no channel
    of the index measures it)."""
    channels = tuple(n for n, m in meanings.items() if m.resemblance)
    if not channels:
        return None
    return ev.ResemblanceCheck(
        channels=channels, works_compared=int(counts.get("works", 0)), calibrated=calibrated,
        closest=tuple(
            ev.ClosestWork(work=d.resemblance.work, owner=d.resemblance.owner, channel=d.resemblance.channel,
                           value=d.resemblance.value, p_value=d.resemblance.p_value,
                           expected_false_matches=d.resemblance.expected_false_matches, level=d.level)
            for d in decision.resemblances[:closest]
        ),
    )


def verdict_record(decision: Decision, works: tuple[ev.Work, ...], clip_path: str) -> ev.Verdict:
    best = decision.best
    n = len(decision.segments)
    if best is None:
        return ev.Verdict(flagged=decision.flagged, level=decision.level, score=0.0, rule=rule_text((), "en"),
                          rules=(decision.flag_outcome,),
                          summary=verdict_sentence(Path(clip_path).name, None, None, None, 0, None, None, None))
    if isinstance(best, DecidedResemblance):
        r = best.resemblance
        return ev.Verdict(
            flagged=decision.flagged, level=decision.level, score=round(r.value, 6), p_value=r.p_value,
            p_value_at_floor=r.p_value_at_floor, log10_p_value=r.log10_p_value,
            expected_false_matches=r.expected_false_matches, rule=rule_text(best.outcomes, "en"),
            rules=decision.verdict_outcomes,
            summary=verdict_sentence(Path(clip_path).name, resemblance_record(best), r.work, r.owner, n, r.p_value,
                                     r.p_value_at_floor, r.expected_false_matches),
        )
    cal = _calibration_fields(best)
    record = segment_record(best, with_pairs=False)
    return ev.Verdict(
        flagged=decision.flagged, level=decision.level, score=round(best.segment.score, 6), **cal,
        rule=rule_text(best.outcomes, "en"), rules=decision.verdict_outcomes,
        summary=verdict_sentence(Path(clip_path).name, record, best.segment.work, best.segment.owner, n,
                                 cal["p_value"], cal["p_value_at_floor"], cal["expected_false_matches"]),
    )


def null_basis(null, config) -> ev.NullBasis | None:
    """What the scan's null distributions rest on (a match.calibration.NullModel, or None)."""
    if null is None:
        return None
    got = null.amount or {}
    sources = tuple(ev.NullSource(**{k: s.get(k) for k in ("name", "sha256", "duration_s", "work")},
                                  frames=int(s.get("frames") or 0)) for s in null.sources)
    frames = int(got.get("frames", min((len(x[0]) for x in null.null.values()), default=0)))
    stored = {"method": "background" if any(s.sha256 for s in sources) else "leave-one-work-out", "sources": null.sources,
              "channels": {n: {"samples": x[0]} for n, x in null.null.items()}}
    return ev.NullBasis(method=stored["method"], correlation={n: round(null.rho(n), 3) for n in null.null},
                        correlation_measured=all(null.correlation.get(n) is not None for n in null.null),
                        clips=sum(1 for s in sources if s.sha256), works=sum(1 for s in sources if s.work),
                        minutes=float(got.get("minutes", 0.0)), frames=frames, sources=sources,
                        shortfall=shortfall(stored, config))
