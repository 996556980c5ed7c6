"""Alignment guided by a segment's timeline: compare along it, through stretches where frames alone say little.

Retrieval finds a copy where its frames stand out among the whole catalogue; a copy taken from
another master, or a stretch of it under a caption or heavy compression, can fall below that
while still being plainly the same footage when compared with the right reference frames. Once a
segment's timeline (ref_t = speed * query_t + offset, either direction) is fixed on retrieval's
hits, each query frame in its gaps and beyond its ends is compared directly, by every channel
that can (`Channel.compare`), with the reference frames the timeline predicts (a small window
around them) and with a control: frames of the same reference well off the timeline. A frame is
supported where a channel's score on the timeline beats its best control score by the channel's
margin (`Channel.beats`). The span grows while supported frames follow each other within
`segments.guided_max_unsupported_s` and stops where they do not, at the reference's ends, or
where another reference's segment holds the clip. Segments on one reference that their grown
spans bring together on one timeline become one.

The p-value and the level still rest on retrieval's pairs alone; the guided frames set the span
and add to its score (segments.evidence_score), and the evidence lists which parts of the span
rest on which (`Part`).
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from statistics import median

import numpy as np

from ..settings import Segments
from .segments import Hit, Segment, evidence_score, held_between, on_one_timeline, overlapping, ref_span

Frames = Callable[[str], tuple[np.ndarray, np.ndarray]]  # ref_id -> (frame ids, times), in time order
Vectors = Callable[[str, np.ndarray], tuple[np.ndarray, np.ndarray]]  # channel, frame ids -> (rows, vectors)


@dataclass(frozen=True)
class Part:
    """A stretch of a span and what it rests on: "retrieval" (frames the search paired), "guided"
    (frames a direct comparison along the timeline supports) or "unsupported" (frames neither
    supports, inside the span: fades, flashes, cuts the timeline runs on under)."""

    query_start: float
    query_end: float
    basis: str
    frames: int
    # guided parts, per channel that supported a frame: (frames, median raw on the timeline,
    # median best raw off it)
    figures: Mapping[str, tuple[int, float, float]]


@dataclass(frozen=True)
class Guide:
    """What comparing along a timeline needs: the clip's frames and their vectors, the channels,
    and the index's reference frames."""

    channels: Mapping  # name -> Channel
    embeddings: Mapping  # name -> Embeddings of the clip's sampled frames
    times: np.ndarray  # each sampled frame's time (s)
    query_step: float
    clip_duration: float
    ref_durations: Mapping[str, float]
    ref_steps: Mapping[str, float]
    frames: Frames
    vectors: Vectors
    higher_is_better: Mapping[str, bool]
    # the pictures themselves, where no channel tells: the clip's grey thumbnails per sampled frame,
    # and the reference's at given times ({time: thumbnail}, empty when its file cannot be read)
    thumbs: np.ndarray | None = None
    ref_thumbs: Callable[[str, np.ndarray], Mapping[float, np.ndarray]] | None = None


def extend(segments: list[Segment], guide: Guide, cfg: Segments,
           rebuild: Callable[[list[Hit], int], Segment | None], rank: Callable) -> list[Segment]:
    """Segments with their spans grown along their timelines (module docstring), merged where
    they meet on one timeline, strongest first. `rebuild(hits, sign)`: the segment retrieval's
    hits make (segments._segment_from); `rank(stats)`: the channels' rank of a segment."""
    if not cfg.guided or not segments:
        return segments
    cache: dict[str, _Reference] = {}
    grown = [_grow(s, segments, guide, cfg, cache, rank) if s.kind == "video" and s.speed is not None else s
             for s in segments]
    merged = _merge(grown, guide, cfg, rebuild, rank)
    kept = _drop_overlapped(merged, rank, float(cfg.overlap_max_share))
    kept.sort(key=lambda s: (rank(s.stats), -s.score, s.query_start))
    return [replace(s, key=k) for k, s in enumerate(kept)]


@dataclass
class _Reference:
    ids: np.ndarray
    times: np.ndarray
    vectors: dict  # channel -> {frame row: (vectors)} filled on demand
    pictures: dict = field(default_factory=dict)  # frame row -> its picture vector (None: flat), read on demand
    want: np.ndarray = field(default_factory=lambda: np.zeros(0, np.int64))  # rows the current walk may compare with


def _reference(ref_id: str, guide: Guide, cache: dict) -> _Reference:
    if ref_id not in cache:
        ids, times = guide.frames(ref_id)
        cache[ref_id] = _Reference(ids, times, {})
    return cache[ref_id]


def _fetch(ref: _Reference, name: str, rows: np.ndarray, guide: Guide) -> dict:
    """The channel's vectors of reference frames `rows` (positions in ref.ids), fetched from the
    index once each, in one call for those not yet fetched: {row: its vectors}."""
    have = ref.vectors.setdefault(name, {})
    missing = np.array([r for r in rows if int(r) not in have], dtype=np.int64)
    if len(missing):
        got_rows, vecs = guide.vectors(name, ref.ids[missing])
        for k, r in enumerate(missing):
            have[int(r)] = vecs[got_rows == k]
    return have


def _vectors(ref: _Reference, name: str, rows: np.ndarray, guide: Guide) -> tuple[np.ndarray, np.ndarray]:
    """The channel's vectors of reference frames `rows`: (row of each vector, vectors)."""
    have = _fetch(ref, name, rows, guide)
    parts = [have[int(r)] for r in rows]
    width = parts[0].shape[1] if parts else 0
    vec = np.concatenate(parts) if parts and sum(len(p) for p in parts) else np.zeros((0, width), np.uint8)
    which = np.concatenate([np.full(len(p), i, np.int64) for i, p in enumerate(parts)]) if parts else np.zeros(0, np.int64)
    return which, vec


def _variant(s: Segment, channel: str) -> str:
    """The version of the query frames the segment matched as (as shot, mirrored...): the most
    common among its pairs of that channel, else among all its pairs."""
    own = [h.variant for h in s.pairs if h.channel == channel] or [h.variant for h in s.pairs]
    return Counter(own).most_common(1)[0][0] if own else "original"


def _grow(s: Segment, others: Sequence[Segment], guide: Guide, cfg: Segments, cache: dict, rank: Callable) -> Segment:
    ref = _reference(s.ref_id, guide, cache)
    if len(ref.ids) < 2:
        return s
    duration = guide.ref_durations.get(s.ref_id) or float(ref.times[-1])
    window = float(cfg.guided_window_s) + guide.ref_steps.get(s.ref_id, 0.5) / 2
    pool = np.unique(np.linspace(0, len(ref.ids) - 1, min(len(ref.ids), 3 * int(cfg.guided_control_frames))).round()
                     ).astype(np.int64)  # control frames are drawn from here, spread over the reference
    # every frame the walk may compare with, fetched from the index in one call a channel
    reach = [s.ref_at(0.0), s.ref_at(guide.clip_duration or float(guide.times[-1]))]
    ahead = np.nonzero((ref.times >= min(reach) - 2 * window) & (ref.times <= max(reach) + 2 * window))[0]
    for name in guide.channels:
        _fetch(ref, name, np.union1d(ahead, pool), guide)
    ref.want = np.union1d(ahead, pool)
    # another reference's segment at least as strong holds the clip there (a weaker one, chance
    # hits in a degraded stretch, does not interrupt a copy's timeline)
    held_elsewhere = [(o.query_start, o.query_end) for o in others
                      if o.ref_id != s.ref_id and rank(o.stats) <= rank(s.stats)]
    paired = {h.q_index for h in s.pairs}
    times = guide.times
    tried: dict[int, Hit | None] = {}

    def support(i: int) -> Hit | None:
        if i not in tried:
            tried[i] = _compare(i, s, ref, pool, window, guide, cfg)
        return tried[i]

    def walk(order: Sequence[int], last: float) -> None:
        for i in order:
            t = float(times[i])
            r = s.ref_at(t)
            if r < -window or r > duration + window or any(a <= t < b for a, b in held_elsewhere):
                return
            if support(i) is not None:
                last = t
            elif abs(t - last) > float(cfg.guided_max_unsupported_s):
                return

    inside = [i for i in range(len(times)) if s.query_start <= times[i] < s.query_end and i not in paired]
    for i in inside:
        support(i)
    first_pair, last_pair = s.pairs[0].q_t, s.pairs[-1].q_t
    walk([i for i in range(len(times)) if times[i] > last_pair and i not in paired], last_pair)
    walk([i for i in reversed(range(len(times))) if times[i] < first_pair and i not in paired], first_pair)
    guided = sorted((h for h in tried.values() if h is not None), key=lambda h: h.q_t)
    if not guided and not inside:
        return replace(s, parts=_parts(s, (), guide))
    return _with_guided(s, guided, guide, cfg)


def _with_guided(s: Segment, guided: Sequence[Hit], guide: Guide, cfg: Segments) -> Segment:
    """The segment with these guided frames: its span covers them, its score counts them."""
    qs = min([s.query_start] + [h.q_t for h in guided])
    qe = max([s.query_end] + [h.q_t + guide.query_step for h in guided])
    if guide.clip_duration:
        qe = min(qe, guide.clip_duration)
    assert s.speed is not None
    rs, re = ref_span(s.speed, s.offset, qs, qe, guide.ref_durations.get(s.ref_id) or float("inf"))
    score = evidence_score([h.sim for h in s.pairs] + [h.sim for h in guided], float(cfg.score_prior_frames))
    out = replace(s, query_start=qs, query_end=qe, ref_start=rs, ref_end=re, guided=tuple(guided), score=score)
    return replace(out, parts=_parts(out, guided, guide))


def _compare(i: int, s: Segment, ref: _Reference, pool: np.ndarray, window: float, guide: Guide,
             cfg: Segments) -> Hit | None:
    """Query frame i against the reference frames s's timeline predicts and against the control:
    the first supporting channel's comparison as a Hit, or None."""
    t = float(guide.times[i])
    r = s.ref_at(t)
    near = np.nonzero(np.abs(ref.times - r) <= window)[0]
    if not len(near):
        near = np.array([int(np.argmin(np.abs(ref.times - r)))])
        if abs(float(ref.times[near[0]]) - r) > 2 * window:
            return None
    far = pool[np.abs(ref.times[pool] - r) >= float(cfg.guided_control_min_s)][: int(cfg.guided_control_frames)]
    if len(far) < int(cfg.guided_min_control_frames):
        return None  # no control to beat: the comparison would say nothing
    rows = np.concatenate([near, far])
    # channels with one vector a frame (a hash: cheap) first; the first that supports the frame is
    # its evidence, and the dearer ones (local features) are compared only where it does not
    for name, ch in sorted(guide.channels.items(), key=lambda item: (item[1].per_frame == "many", item[0])):
        # (the pictures themselves are compared last, below, where no channel supports the frame)
        which, vec = _vectors(ref, name, rows, guide)
        variant = _variant(s, name)
        raw = ch.compare(guide.embeddings[name], i, variant, vec, which, len(rows))
        if raw is None:
            continue
        on_raw, off_raw = raw[: len(near)], raw[len(near):]
        pick = int(np.argmax(on_raw) if guide.higher_is_better[name] else np.argmin(on_raw))
        on = float(on_raw[pick])
        off = float(off_raw.max() if guide.higher_is_better[name] else off_raw.min())
        if not ch.beats(on, off):
            continue
        f = int(near[pick])
        return Hit(q_index=i, q_t=t, channel=name, frame_id=int(ref.ids[f]), ref_id=s.ref_id, kind=s.kind, work=s.work,
                   owner=s.owner, ref_t=float(ref.times[f]), raw=on, sim=float(ch.similarity(np.array([on]))[0]),
                   variant=variant, control=off)
    return _compare_pictures(i, s, ref, near, far, guide, cfg)


PICTURE = "picture"  # the name guided frames supported by the pictures themselves carry


def picture_vector(thumb: np.ndarray, mirrored: bool = False) -> np.ndarray | None:
    """A grey thumbnail's inner 80 % (crops and borders differ between copies), zero-mean and of
    unit length, so that a dot product is the two pictures' correlation; None for a flat one."""
    k = thumb.shape[0] // 10
    v = thumb[k:-k, k:-k].astype(np.float32)
    if mirrored:
        v = v[:, ::-1]
    v = v.ravel() - v.mean()
    norm = float(np.linalg.norm(v))
    return v / norm if norm > 1e-3 * len(v) else None


def _compare_pictures(i: int, s: Segment, ref: _Reference, near: np.ndarray, far: np.ndarray, guide: Guide,
                      cfg: Segments) -> Hit | None:
    """The query frame's picture against the predicted reference frames' and the control's (see
    `segments.guided_picture_*`): a frame no channel's features tell apart (a copy from another
    master, heavily compressed) may still show the same picture, in its layout and tones."""
    if guide.thumbs is None or guide.ref_thumbs is None or not cfg.guided_picture:
        return None
    asked = np.concatenate([near, far])
    missing = [] if all(int(r) in ref.pictures for r in asked) else \
        [int(r) for r in np.union1d(ref.want, asked) if int(r) not in ref.pictures]
    if missing:  # every frame the walk may compare with, read in one pass (segments.guided_picture)
        got = guide.ref_thumbs(s.ref_id, ref.times[missing])
        for r in missing:
            thumb = got.get(round(float(ref.times[r]), 3))
            ref.pictures[r] = picture_vector(thumb) if thumb is not None else None
    variant = _variant(s, PICTURE)  # the version of the frames most of its pairs matched as
    q = picture_vector(guide.thumbs[i], mirrored=variant == "flip_horizontal")
    on_rows = [r for r in near if ref.pictures.get(int(r)) is not None]
    off_rows = [r for r in far if ref.pictures.get(int(r)) is not None]
    if q is None or not on_rows or len(off_rows) < int(cfg.guided_min_control_frames):
        return None
    on_all = [float(q @ ref.pictures[int(r)]) for r in on_rows]
    pick = int(np.argmax(on_all))
    on, off = on_all[pick], max(float(q @ ref.pictures[int(r)]) for r in off_rows)
    if on < float(cfg.guided_picture_min_correlation) or on < off + float(cfg.guided_picture_margin):
        return None
    f = int(on_rows[pick])
    return Hit(q_index=i, q_t=float(guide.times[i]), channel=PICTURE, frame_id=int(ref.ids[f]), ref_id=s.ref_id, kind=s.kind,
               work=s.work, owner=s.owner, ref_t=float(ref.times[f]), raw=on, sim=max(0.0, on), variant=variant,
               control=off)


def _parts(s: Segment, guided: Sequence[Hit], guide: Guide) -> tuple[Part, ...]:
    """The span's sampled frames grouped into runs by what supports each."""
    basis: list[tuple[float, str, Hit | None]] = []
    by_frame = {h.q_index: h for h in guided}
    paired = {h.q_index for h in s.pairs}
    for i, t in enumerate(guide.times):
        if s.query_start - 1e-6 <= t < s.query_end - 1e-6:
            kind = "retrieval" if i in paired else "guided" if i in by_frame else "unsupported"
            basis.append((float(t), kind, by_frame.get(i)))
    parts: list[Part] = []
    start = 0
    for j in range(1, len(basis) + 1):
        if j == len(basis) or basis[j][1] != basis[start][1]:
            run = basis[start:j]
            hits = [h for _, _, h in run if h is not None]
            figures = {}
            for name in sorted({h.channel for h in hits}):
                mine = [h for h in hits if h.channel == name]
                figures[name] = (len(mine), float(median(h.raw for h in mine)),
                                 float(median(h.control for h in mine if h.control is not None)))
            end = basis[j][0] if j < len(basis) else s.query_end
            parts.append(Part(run[0][0] if start else s.query_start, end, run[0][1], len(run), figures))
            start = j
    return tuple(parts)


def _merge(segs: list[Segment], guide: Guide, cfg: Segments, rebuild, rank: Callable) -> list[Segment]:
    """Segments on one reference whose grown spans meet (or come within the unsupported limit)
    on one timeline, with no other reference's segment at least as strong between them, become one."""
    out: list[Segment] = []
    by_ref: dict[str, list[Segment]] = {}
    for s in segs:
        by_ref.setdefault(s.ref_id, []).append(s)
    limit = float(cfg.guided_max_unsupported_s)
    ranked = [(rank(s.stats), s) for s in segs]
    for ref_id, group in by_ref.items():
        if group[0].kind != "video":
            out.extend(group)
            continue
        group.sort(key=lambda s: (s.query_start, s.query_end))
        merged = [group[0]]
        for s in group[1:]:
            p = merged[-1]
            gap = s.query_start - p.query_end
            tol = float(cfg.offset_tolerance_s) + guide.ref_steps.get(ref_id, 0.5) + 0.05 * max(gap, 0.0)
            joined = None
            if gap <= limit and not held_between(p, s, ranked, rank, guide.query_step) and on_one_timeline(p, s, tol):
                joined = rebuild(list(p.hits) + list(s.hits), -1 if p.reversed else 1)
            if joined is None:
                merged.append(s)
                continue
            paired = {h.q_index for h in joined.pairs}
            guided: dict[int, Hit] = {}
            for h in list(p.guided) + list(s.guided):
                if h.q_index not in paired and (h.q_index not in guided or h.sim > guided[h.q_index].sim):
                    guided[h.q_index] = h
            joined = replace(joined, query_start=min(p.query_start, s.query_start, joined.query_start),
                             query_end=max(p.query_end, s.query_end, joined.query_end))
            merged[-1] = _with_guided(joined, sorted(guided.values(), key=lambda h: h.q_t), guide, cfg)
        out.extend(merged)
    return out


def _drop_overlapped(segs: list[Segment], rank: Callable, max_share: float) -> list[Segment]:
    """On one reference, of spans that now cover the same query time, the stronger is kept (a
    fragment at a wrong offset inside a copy's grown span is not a second match)."""
    kept: list[Segment] = []
    for s in sorted(segs, key=lambda s: (rank(s.stats), -s.score, s.query_start)):
        if not any(k.ref_id == s.ref_id and overlapping(s, k, max_share) for k in kept):
            kept.append(s)
    return kept
