"""Alignment in time: from per-frame search hits to segments.

A hit is one query frame landing within a channel's threshold of one reference frame.
Hits on one reference video that lie on one timeline (ref_t = speed * query_t + offset, the
speed positive, or negative for a copy played backwards), over consecutive query frames, form a
segment `(query_start, query_end, ref_id, ref_start, ref_end, score)`. No segment, no verdict: a
clip is only flagged on the strength of a segment, never of stray frames. Stills (key art) have
no timeline: their hits form a segment over query time alone. Once a segment's timeline is
fixed, match.guided compares the frames around it along that timeline and extends its span.

Segments are immutable; the level a segment reaches is decided elsewhere (decision.py), from
the segment, its verification and its calibration.
"""

from __future__ import annotations

import statistics
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from ..evidence.records import ChannelStat
from ..settings import Configuration, Segments


@dataclass(frozen=True)
class Hit:
    q_index: int
    q_t: float
    channel: str
    frame_id: int
    ref_id: str
    kind: str
    work: str
    owner: str
    ref_t: float
    raw: float  # distance (hamming) or similarity (ip)
    sim: float  # mapped to [0, 1]
    variant: str = "original"  # which variant of the query frame matched (e.g. flip_horizontal)
    ref_box: tuple[float, float, float, float] | None = None  # the region of a still its tile shows
    control: float | None = None  # guided comparisons only: the best raw score off the timeline

    @property
    def offset(self) -> float:
        return self.ref_t - self.q_t


@dataclass(frozen=True, eq=False)
class Segment:
    """A run of query frames matching one reference at a steady offset (see the module docstring)."""

    key: int  # position in the order alignment found them: a stable id within one scan
    ref_id: str
    work: str
    owner: str
    kind: str
    query_start: float
    query_end: float
    ref_start: float
    ref_end: float
    score: float  # the span's evidence: see `evidence_score`
    channels: tuple[str, ...]  # channels with at least segments.min_frames frames (or all that hit)
    stats: Mapping[str, ChannelStat]  # per channel: its summary statistic over the segment
    speed: float | None  # reference seconds per query second (videos; negative: played backwards)
    pairs: tuple[Hit, ...] = field(default=())  # each query frame's best hit, in time order
    hits: tuple[Hit, ...] = field(default=(), repr=False)  # every hit of its run (its statistics come from them)
    offset: float = 0.0  # videos: ref_t = speed * query_t + offset
    # query frames retrieval did not pair that a direct comparison along the timeline supports
    # (match.guided): each a Hit whose `control` is the best score off the timeline
    guided: tuple[Hit, ...] = field(default=())
    parts: tuple[Any, ...] = field(default=())  # match.guided.Part: what each stretch of the span rests on
    moment: bool = False  # one or a few frames that stand on their own (match.moments), not a timeline

    @property
    def reversed(self) -> bool:
        return self.speed is not None and self.speed < 0

    def ref_at(self, q_t: float) -> float:
        """The reference time the segment's timeline gives for a query time (videos)."""
        return (self.speed or 0.0) * q_t + self.offset


def for_short_clip(config: Configuration, n_frames: int, duration_s: float) -> tuple[Configuration, str | None]:
    """The configuration a clip's segments are held to, and a note when it differs from `config`.

    A clip (or a still) with fewer sampled frames than `segments.min_frames`, or shorter than
    `segments.min_duration_s`, could never hold a segment however exactly it matched: for it a
    segment needs every sampled frame and the clip's whole length instead."""
    seg = config.segments
    min_frames, min_duration = int(seg.min_frames), float(seg.min_duration_s)
    if n_frames <= 0 or (n_frames >= min_frames and duration_s >= min_duration):
        return config, None
    short = seg.model_copy(update={"min_frames": min(min_frames, n_frames),
                                   "min_duration_s": min(min_duration, max(0.0, duration_s))})
    note = (f"the clip has {n_frames} sampled frame(s) over {duration_s:.2f} s, fewer than segments.min_frames "
            f"({min_frames}) or segments.min_duration_s ({min_duration:g} s) ask: a segment needs all "
            f"{short.min_frames} frame(s) and {short.min_duration_s:.2f} s instead")
    return config.model_copy(update={"segments": short}), note


def _runs(hits: list[Hit], max_gap: float) -> list[list[Hit]]:
    """Split hits (any order) into runs of query time with no gap over `max_gap`."""
    hits = sorted(hits, key=lambda h: (h.q_t, -h.sim))
    runs: list[list[Hit]] = []
    for h in hits:
        if runs and h.q_t - runs[-1][-1].q_t <= max_gap:
            runs[-1].append(h)
        else:
            runs.append([h])
    return runs


def max_gap(seg: Segments, ref_step: float) -> float:
    """The longest query-time gap between consecutive hits of a segment on a reference sampled
    every `ref_step` seconds: `max_gap_s`, or the query time between two reference frames at the
    slowest speed allowed, if longer (a copy's frames match well only near the reference's
    sampled instants: at 0.5 frames/s its hits are 2 s apart, at 2 frames/s 0.5 s)."""
    return max(float(seg.max_gap_s), ref_step / float(seg.min_speed))


def _chains(hits: list[Hit], cfg: Configuration, ref_step: float) -> list[list[Hit]]:
    """Chains of hits that move forward in both timelines at a plausible speed (dynamic
    programming over hits sorted by query time, after Tan et al.'s temporal network).

    A hit j may follow hit i when 0 < dq <= `max_gap` and the reference advances by
    speed * dq, for a speed in [min_speed, max_speed], give or take `tol` (the reference
    sampling step plus the configured tolerance, as sparse reference sampling quantises ref_t).
    Each chain maximises the sum of similarities; its hits are removed and the next is found.
    """
    seg = cfg.segments
    gap = max_gap(seg, ref_step)
    lo, hi = float(seg.min_speed), float(seg.max_speed)
    tol = float(seg.offset_tolerance_s) + ref_step
    min_frames = int(seg.min_frames)
    per_frame = int(seg.hits_per_query_frame)
    per_q: dict[int, list[Hit]] = {}
    for h in hits:
        per_q.setdefault(h.q_index, []).append(h)
    pool = [h for lst in per_q.values() for h in sorted(lst, key=lambda h: -h.sim)[:per_frame]]
    chains = []
    while True:
        pool.sort(key=lambda h: (h.q_t, h.ref_t))
        n = len(pool)
        if len({h.q_index for h in pool}) < min_frames:
            break
        q = np.array([h.q_t for h in pool])
        r = np.array([h.ref_t for h in pool])
        w = np.array([h.sim for h in pool])
        score = w.copy()
        prev = np.full(n, -1)
        for j in range(n):
            start = int(np.searchsorted(q, q[j] - gap, "left"))
            end = int(np.searchsorted(q, q[j], "left"))
            if end <= start:
                continue
            dq = q[j] - q[start:end]
            dr = r[j] - r[start:end]
            ok = (dr >= lo * dq - tol) & (dr <= hi * dq + tol)
            if ok.any():
                cand = np.where(ok, score[start:end], -np.inf)
                i = int(np.argmax(cand))
                if cand[i] + w[j] > score[j]:
                    score[j] = cand[i] + w[j]
                    prev[j] = start + i
        j = int(np.argmax(score))
        path = []
        while j >= 0:
            path.append(j)
            j = int(prev[j])
        chain = [pool[i] for i in reversed(path)]
        if len({h.q_index for h in chain}) < min_frames:
            break
        chains.append(chain)
        taken = {id(pool[i]) for i in path}
        pool = [h for h in pool if id(h) not in taken]
    return chains


def evidence_score(sims: list[float], prior_frames: float) -> float:
    """A span's score: the sum of its supported frames' similarities over their number plus
    `prior_frames`, i.e. their mean similarity shrunk toward 0 for short spans, so that a whole
    copy ranks above a fragment of it. In [0, 1)."""
    return float(sum(sims) / (len(sims) + prior_frames)) if sims else 0.0


def _fit_line(pairs: list[Hit], lo: float, hi: float, min_baseline_share: float, sign: int = 1) -> tuple[float, float]:
    """ref_t = a * q_t + b over a chain: Theil-Sen slope (robust to quantised ref times) over
    long baselines, clamped to the allowed speeds (negated for a chain running backwards,
    `sign` -1), and the median intercept."""
    q = np.array([h.q_t for h in pairs])
    r = sign * np.array([h.ref_t for h in pairs])
    if len(pairs) >= 2 and q[-1] > q[0]:
        i, j = np.triu_indices(len(q), k=1)
        far = (q[j] - q[i]) >= min_baseline_share * (q[-1] - q[0])
        if not far.any():
            far = np.ones_like(i, dtype=bool)
        a = float(np.median((r[j] - r[i])[far] / (q[j] - q[i])[far]))
    else:
        a = 1.0
    a = min(max(a, lo), hi)
    b = float(np.median(r - a * q))
    return sign * a, sign * b


def best_per_frame(hits: Iterable[Hit]) -> list[Hit]:
    """Each query frame's most similar hit (the first of equals), in time order."""
    best: dict[int, Hit] = {}
    for h in hits:
        if h.q_index not in best or h.sim > best[h.q_index].sim:
            best[h.q_index] = h
    return sorted(best.values(), key=lambda h: h.q_t)


def channel_stats(hits: list[Hit], statistics_by_channel: Mapping[str, str]) -> dict[str, ChannelStat]:
    """Per channel: frames hit and the median of each frame's best raw score."""
    stats: dict[str, ChannelStat] = {}
    for name in sorted({h.channel for h in hits}):
        per_frame = best_per_frame(h for h in hits if h.channel == name)
        raws = [h.raw for h in per_frame]
        stats[name] = ChannelStat(frames=len(per_frame), statistic=statistics_by_channel.get(name, "median_raw"),
                                  value=round(float(statistics.median(raws)), 6))
    return stats


@dataclass(frozen=True)
class _Context:
    """What building a segment from a run of hits needs to know."""

    config: Configuration
    query_step: float
    clip_duration: float
    ref_durations: dict
    ref_steps: dict
    names: Mapping[str, str]
    rank: Callable

    @property
    def seg(self) -> Segments:
        return self.config.segments


def _segment_from(run: list[Hit], ctx: _Context, sign: int = 1) -> Segment | None:
    """The segment a run of hits on one reference makes, or None when it is too short (or when
    no hit of it lies on the timeline fitted to it: chance hits scattered around a chain).
    `sign` -1: the run goes backwards in the reference."""
    if not run:
        return None
    seg = ctx.seg
    pairs = best_per_frame(run)
    q_start = pairs[0].q_t
    q_end = pairs[-1].q_t + ctx.query_step
    if ctx.clip_duration:
        q_end = min(ctx.clip_duration, q_end)
    min_frames = int(seg.min_frames)
    if len(pairs) < min_frames or q_end - q_start < float(seg.min_duration_s) - 1e-9:
        return None
    ref_id, kind = pairs[0].ref_id, pairs[0].kind
    b = 0.0
    if kind == "still":
        r_start = r_end = 0.0
        speed = None
    else:
        lo, hi, share = float(seg.min_speed), float(seg.max_speed), float(seg.fit_min_baseline_share)
        speed, b = _fit_line(pairs, lo, hi, share, sign)
        # pairs off the fitted timeline are chance hits the chain picked up on its way: drop them
        tol = float(seg.offset_tolerance_s) + ctx.ref_steps.get(ref_id, 0.5)
        on_line = [h for h in pairs if abs(h.ref_t - (speed * h.q_t + b)) <= tol]
        if len(on_line) < len(pairs):
            kept = {h.q_index for h in on_line}
            return _segment_from([h for h in run if h.q_index in kept and abs(h.ref_t - (speed * h.q_t + b)) <= tol], ctx,
                                 sign)
        r_start, r_end = ref_span(speed, b, q_start, q_end, ctx.ref_durations.get(ref_id) or float("inf"))
    stats = channel_stats(run, ctx.names)
    agreeing = tuple(name for name, st in stats.items() if st.frames >= min_frames)
    return Segment(
        key=-1, ref_id=ref_id, work=pairs[0].work, owner=pairs[0].owner, kind=kind,
        query_start=q_start, query_end=q_end, ref_start=r_start, ref_end=r_end,
        score=evidence_score([h.sim for h in pairs], float(seg.score_prior_frames)),
        channels=agreeing or tuple(sorted(stats)), stats=stats,
        speed=round(speed, 3) if speed is not None else None, pairs=tuple(pairs), hits=tuple(run), offset=b,
    )


def ref_span(speed: float, offset: float, q_start: float, q_end: float, ref_len: float) -> tuple[float, float]:
    """The reference interval a timeline maps [q_start, q_end] to (earliest first, within the reference)."""
    a, b = sorted((speed * q_start + offset, speed * q_end + offset))
    r_start = min(max(0.0, a), ref_len)
    return r_start, min(max(r_start, b), ref_len)


def build_segments(
    hits: list[Hit],
    config: Configuration,
    query_step: float,
    clip_duration: float,
    ref_durations: dict[str, float],
    ref_steps: dict[str, float] | None = None,
    statistics_by_channel: Mapping[str, str] | None = None,
    strength: Callable[[Mapping[str, ChannelStat]], int] | None = None,
    grow: Callable[[list[Segment], Callable[[list[Hit], int], Segment | None], Callable], list[Segment]] | None = None,
) -> list[Segment]:
    """Segments from hits, strongest first. `ref_steps`: each reference's sampling interval (s).
    `statistics_by_channel`: each channel's statistic name. `strength(stats)`: a rank (0 =
    strongest) that decides which of two overlapping segments on one reference is kept.
    `grow(segments, rebuild, rank)`: a last step over the segments (match.guided.extend grows
    their spans along their timelines), given `rebuild(hits, sign)`, the segment a run of hits
    makes, and the rank; without it, spans rest on retrieval alone."""
    ctx = _Context(config, query_step, clip_duration, ref_durations, ref_steps or {}, statistics_by_channel or {},
                   strength or (lambda stats: 0))
    by_ref: dict[str, list[Hit]] = {}
    for h in hits:
        by_ref.setdefault(h.ref_id, []).append(h)
    found: list[tuple[int, Segment]] = []
    for ref_id, ref_hits in by_ref.items():
        kind = ref_hits[0].kind
        step = ctx.ref_steps.get(ref_id, 0.5)
        gap = float(ctx.seg.max_gap_s) if kind == "still" else max_gap(ctx.seg, step)
        directed = [(1, c) for c in (_runs(ref_hits, gap) if kind == "still" else _chains(ref_hits, config, step))]
        if kind != "still" and ctx.seg.reversed:
            # a copy played backwards: the same chaining on the reference's timeline turned round
            turned = [replace(h, ref_t=-h.ref_t) for h in ref_hits]
            back = {id(t): h for t, h in zip(turned, ref_hits)}
            directed += [(-1, [back[id(t)] for t in c]) for c in _chains(turned, config, step)]
        candidates: list[tuple[int, Segment]] = []
        for sign, chain in directed:
            for run in (_runs(chain, gap) if kind != "still" else [chain]):
                segment = _segment_from(run, ctx, sign)
                if segment is not None:
                    candidates.append((ctx.rank(segment.stats), segment))
        candidates = _forwards_unless_clearly_backwards(candidates, float(ctx.seg.overlap_max_share))
        found.extend(_suppress_overlaps(candidates, float(ctx.seg.overlap_max_share)))
    found = _bridge(found, ctx)
    found.sort(key=lambda rs: (rs[0], -rs[1].score, rs[1].query_start))
    segments = [_with_key(s, key) for key, (_, s) in enumerate(found)]
    if grow is None:
        return segments
    return grow(segments, lambda hits, sign: _segment_from(hits, ctx, sign), ctx.rank)


def _bridge(found: list[tuple[int, Segment]], ctx: _Context) -> list[tuple[int, Segment]]:
    """Join segments on one reference that one copy split: consecutive in query time, no more
    than `bridge_max_gap_s` apart, on the same timeline (the second starts where the first's
    line says it should, at about the same speed; stills have no timeline), with no segment of
    another reference at least as strong (by the channels' rank) in between. A fade, a flash,
    featureless or badly degraded frames carry no signal, so a copy that passes through them
    keeps its time offset on both sides; a cut to other footage the catalogue holds shows as
    that footage's segment, and stops the bridge (chance hits of a weaker kind do not)."""
    limit = float(ctx.seg.bridge_max_gap_s)
    if limit <= 0 or len(found) < 2:
        return found
    tol = float(ctx.seg.offset_tolerance_s)
    by_ref: dict[str, list[Segment]] = {}
    for _, s in found:
        by_ref.setdefault(s.ref_id, []).append(s)
    out: list[tuple[int, Segment]] = []
    for ref_id, segs in by_ref.items():
        segs.sort(key=lambda s: s.query_start)
        merged = [segs[0]]
        for s in segs[1:]:
            p = merged[-1]
            gap = s.query_start - p.query_end
            joinable = -ctx.query_step <= gap <= limit and not held_between(p, s, found, ctx.rank, ctx.query_step)
            if joinable and p.kind != "still":
                joinable = on_one_timeline(p, s, tol + ctx.ref_steps.get(ref_id, 0.5) + 0.05 * max(gap, 0))
            joined = _segment_from(list(p.hits) + list(s.hits), ctx, -1 if p.reversed else 1) if joinable else None
            if joined is not None:
                merged[-1] = joined
            else:
                merged.append(s)
        out.extend((ctx.rank(s.stats), s) for s in merged)
    return out


def on_one_timeline(p: Segment, s: Segment, tol: float) -> bool:
    """Whether segment `s`, later in the query than `p` on the same reference, continues p's
    timeline: the same direction, about the same speed, and where p's line says s starts."""
    assert p.speed is not None and s.speed is not None  # _segment_from fits every video's timeline
    if (p.speed < 0) != (s.speed < 0) or abs(p.speed - s.speed) > 0.15:
        return False
    speed = (p.speed + s.speed) / 2
    expected = p.ref_at(p.query_end) + speed * (s.query_start - p.query_end)
    return abs(expected - s.ref_at(s.query_start)) <= tol


def held_between(p: Segment, s: Segment, found: Iterable[tuple[int, Segment]], rank: Callable, step: float) -> bool:
    """Whether a segment of another reference, ranked (rank, segment) in `found` at least as
    strong as the weaker of p and s, holds more than `step` of the query time between them:
    a cut to other catalogued footage, which a copy's timeline does not run on through."""
    strength = min(rank(p.stats), rank(s.stats))
    return any(min(o.query_end, s.query_start) - max(o.query_start, p.query_end) > step
               for r, o in found if o.ref_id != p.ref_id and r <= strength)


def overlapping(a: Segment, b: Segment, max_share: float) -> bool:
    """Whether two segments share more than `max_share` of the shorter one's query time."""
    return min(a.query_end, b.query_end) - max(a.query_start, b.query_start) > max_share * min(
        a.query_end - a.query_start, b.query_end - b.query_start)


def _with_key(s: Segment, key: int) -> Segment:
    return replace(s, key=key)


def _forwards_unless_clearly_backwards(candidates: list[tuple[int, Segment]], max_share: float) -> list[tuple[int, Segment]]:
    """A chain running backwards that its channels' rules alone do not rank first (votes of local
    features, say, which a static scene casts both ways) replaces the forward chains it overlaps,
    ranked as strong or stronger, only when it carries at least twice their evidence (pairs x
    score): a copy played backwards leaves forward chains of a few frames each. A backward chain
    the first rank holds (hashes agreeing closely) competes with forward ones as any chain does."""
    def strength(s: Segment) -> float:
        return len(s.pairs) * s.score

    forwards = [(r, s) for r, s in candidates if not s.reversed]
    return [(r, s) for r, s in candidates if not s.reversed or r == 0 or all(
        strength(s) >= 2.0 * strength(f) for fr, f in forwards if fr <= r and overlapping(s, f, max_share))]


def _suppress_overlaps(candidates: list[tuple[int, Segment]], max_share: float) -> list[tuple[int, Segment]]:
    """On one reference, keep the strongest of segments that cover the same query time (a
    static scene gives parallel chains at nearby offsets: they are one match, not several)."""
    kept: list[tuple[int, Segment]] = []
    for rank, s in sorted(candidates, key=lambda rs: (rs[0], -len(rs[1].pairs) * rs[1].score)):
        if not any(overlapping(s, k, max_share) for _, k in kept):
            kept.append((rank, s))
    return kept
