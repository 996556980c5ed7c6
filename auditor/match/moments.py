"""A moment is evidence: one or a few frames of a clip that reproduce a catalogue frame or still.

An image-to-video generator shows the image it was given in the first (or last) frames of its
output and then lets the picture drift; a keyframe interpolation shows its two keyframes at its
two ends. However densely the clip is sampled, only one or a few frames carry the image, and a
segment (`segments.min_frames`, `segments.min_duration_s`) cannot stand on so few. A moment can,
on its own terms (decision.py):

- its frames are hits on one reference (a still, or frames of a video) that no segment on that
  reference covers; consecutive ones (at most `segments.max_gap_s` apart) are one moment;
- its best frame passes its channel's moment rule (`Meaning.moment`: PDQ's distance at most
  `channels.pdq.moment_max_distance`, on frames of sufficient PDQ quality), or geometric
  verification verifies its pairs (as a segment's: `verify.min_verified_share`; local features
  have no rule of their own for one frame);
- and the index is calibrated: its best frame's p-value from the per-frame null, times every
  frame and reference the scan compared (its expected false matches, `NullModel.moment`), is
  within `calibration.max_expected_false_matches`.

Then it reaches "a frame of the work reproduced". Only the strongest `moments.max_candidates`
candidates of a clip are decided (the ones a channel's rule already passes first), which bounds
what verification costs.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from ..channels import Meaning
from ..settings import Configuration
from .segments import Hit, Segment, best_per_frame, channel_stats, evidence_score


def passes_rule(h: Hit, meanings: Mapping[str, Meaning]) -> bool:
    """Whether this hit alone passes its channel's moment rule."""
    m = meanings.get(h.channel)
    return m is not None and m.moment is not None and m.moment.comparison.holds(h.raw, m.moment.threshold)


def candidates(hits: Sequence[Hit], segments: Sequence[Segment], meanings: Mapping[str, Meaning], config: Configuration,
               query_step: float, clip_duration: float, first_key: int) -> list[Segment]:
    """The clip's candidate moments, strongest first, at most `moments.max_candidates`, keyed
    from `first_key` on (see the module docstring)."""
    if not config.moments.enabled or int(config.moments.max_candidates) == 0:
        return []
    covered: dict[str, list[tuple[float, float]]] = {}
    for s in segments:
        covered.setdefault(s.ref_id, []).append((s.query_start - 1e-6, s.query_end))
    free = [h for h in hits if h.channel in meanings and not any(a <= h.q_t < b for a, b in covered.get(h.ref_id, ()))]
    gap = float(config.segments.max_gap_s)
    found: list[tuple[tuple, list[Hit]]] = []
    for ref_id in sorted({h.ref_id for h in free}):
        mine = [h for h in free if h.ref_id == ref_id]
        # frames a channel's rule lets stand, consecutive ones as one moment, with every hit on them
        standing = {h.q_index: h.q_t for h in mine if passes_rule(h, meanings)}
        for run in _runs(standing, gap):
            found.append(_candidate([h for h in mine if h.q_index in run], meanings))
        # elsewhere, the best frame of each run of local features' hits, for verification to judge
        votes = [h for h in mine if h.q_index not in standing and meanings[h.channel].needs_verification]
        for run in _runs({h.q_index: h.q_t for h in votes}, gap):
            top = max((h for h in votes if h.q_index in run), key=lambda h: (h.sim, -h.q_t))
            found.append(_candidate([h for h in mine if h.q_index == top.q_index], meanings))
    found.sort(key=lambda item: item[0])
    statistics = {n: m.statistic for n, m in meanings.items()}
    prior = float(config.segments.score_prior_frames)
    return [_moment(run, first_key + k, query_step, clip_duration, statistics, prior)
            for k, (_, run) in enumerate(found[: int(config.moments.max_candidates)])]


def _runs(times: Mapping[int, float], gap: float) -> list[set[int]]:
    """Frames (q_index -> time) in runs whose consecutive frames are at most `gap` apart."""
    runs: list[set[int]] = []
    last = None
    for q, t in sorted(times.items(), key=lambda kv: kv[1]):
        if last is None or t - last > gap:
            runs.append(set())
        runs[-1].add(q)
        last = t
    return runs


def _candidate(run: list[Hit], meanings: Mapping[str, Meaning]) -> tuple[tuple, list[Hit]]:
    """(sort key, strongest first: moments a channel's rule passes, then by best similarity; the hits)."""
    best = max(run, key=lambda h: h.sim)
    return (not any(passes_rule(h, meanings) for h in run), -best.sim, best.q_t, best.ref_id), run


def _moment(run: list[Hit], key: int, query_step: float, clip_duration: float, statistics: Mapping[str, str],
            prior: float) -> Segment:
    pairs = best_per_frame(run)
    first = pairs[0]
    q_end = pairs[-1].q_t + query_step
    if clip_duration:
        q_end = min(q_end, clip_duration)
    ref_ts = [h.ref_t for h in pairs] if first.kind != "still" else [0.0]
    stats = channel_stats(list(run), statistics)
    return Segment(
        key=key, ref_id=first.ref_id, work=first.work, owner=first.owner, kind=first.kind,
        query_start=first.q_t, query_end=max(q_end, first.q_t), ref_start=min(ref_ts), ref_end=max(ref_ts),
        score=evidence_score([h.sim for h in pairs], prior), channels=tuple(sorted(stats)), stats=stats,
        speed=None, pairs=tuple(pairs), hits=tuple(run), moment=True,
    )


def best_raw(segment: Segment, channel: str, higher_is_better: bool) -> float | None:
    """The moment's best raw score on one channel (None when that channel has no frame in it)."""
    raws = [h.raw for h in segment.hits if h.channel == channel]
    if not raws:
        return None
    return max(raws) if higher_is_better else min(raws)
