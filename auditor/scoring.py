"""From per-frame search hits to segments, per-work totals and a verdict.

A hit is one query frame landing within a channel's threshold of one reference frame.
Hits on one reference video whose time offset (ref_t - query_t) agrees, over consecutive query
frames, form a segment `(query_start, query_end, ref_id, ref_start, ref_end, score)`. No
segment, no verdict: a clip is only flagged on the strength of a segment, never of stray frames.
Stills (key art) have no timeline: their hits form a segment over query time alone.
"""

from __future__ import annotations

import statistics
from dataclasses import dataclass, field

import numpy as np

LEVELS = ("near-identical copy", "strong resemblance", "weak resemblance", "no match")


def level_rank(level: str) -> int:
    return LEVELS.index(level)


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

    @property
    def offset(self) -> float:
        return self.ref_t - self.q_t


@dataclass
class Segment:
    ref_id: str
    work: str
    owner: str
    kind: str
    query_start: float
    query_end: float
    ref_start: float
    ref_end: float
    score: float
    level: str
    rule: str
    channels: list[str]
    channel_stats: dict
    pairs: list[Hit] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "ref_id": self.ref_id,
            "work": self.work,
            "kind": self.kind,
            "query_start": round(self.query_start, 3),
            "query_end": round(self.query_end, 3),
            "ref_start": round(self.ref_start, 3),
            "ref_end": round(self.ref_end, 3),
            "score": round(self.score, 6),
            "level": self.level,
            "rule": self.rule,
            "channels": self.channels,
            "channel_stats": self.channel_stats,
            "frames": len(self.pairs),
            "pairs": [
                {
                    "query_t": round(h.q_t, 3),
                    "ref_t": round(h.ref_t, 3),
                    "channel": h.channel,
                    "raw": round(float(h.raw), 6),
                    "similarity": round(float(h.sim), 6),
                    "variant": h.variant,
                }
                for h in self.pairs
            ],
        }


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


def _offset_clusters(hits: list[Hit], tol: float, min_frames: int) -> list[list[Hit]]:
    """Greedy: take the time offset most hits agree on (within `tol`), remove its hits, repeat.

    Sliding-window counts over sorted offsets: O(n log n) per cluster, so long copies with
    thousands of hits stay fast.
    """
    remaining = sorted(hits, key=lambda h: h.offset)
    clusters = []
    while len(remaining) >= min_frames:
        offs = np.fromiter((h.offset for h in remaining), dtype=np.float64, count=len(remaining))
        support = np.searchsorted(offs, offs + tol, "right") - np.searchsorted(offs, offs - tol, "left")
        centre = float(offs[int(np.argmax(support))])
        window = np.abs(offs - centre) <= tol
        centre = float(np.median(offs[window]))  # re-centre on the members
        window = np.abs(offs - centre) <= tol
        members = [h for h, w in zip(remaining, window) if w]
        if len({h.q_index for h in members}) < min_frames:
            break
        clusters.append(members)
        remaining = [h for h, w in zip(remaining, window) if not w]
    return clusters


def _level(stats: dict, cfg: dict, min_frames: int) -> tuple[str, str]:
    v = cfg["verdict"]
    pdq = stats.get("pdq")
    clip = stats.get("clip")
    if pdq and pdq["frames"] >= min_frames:
        d = pdq["median_distance"]
        if d <= v["near_identical_max_median_pdq_distance"]:
            return LEVELS[0], (
                f"PDQ median Hamming distance {d:g} <= {v['near_identical_max_median_pdq_distance']} bits "
                f"over {pdq['frames']} frames"
            )
        return LEVELS[1], (
            f"PDQ median Hamming distance {d:g} <= {cfg['channels']['pdq']['max_distance']} bits "
            f"(hit threshold) over {pdq['frames']} frames"
        )
    if clip and clip["frames"] >= min_frames and clip["median_similarity"] >= v["strong_min_median_clip_similarity"]:
        return LEVELS[1], (
            f"CLIP median cosine similarity {clip['median_similarity']:.3f} >= "
            f"{v['strong_min_median_clip_similarity']} over {clip['frames']} frames"
        )
    parts = [f"{name} hits on {s['frames']} frames" for name, s in stats.items()]
    return LEVELS[2], "segment of hits over the channel thresholds, below the strong-resemblance rules (" + ", ".join(parts) + ")"


def _channel_stats(hits: list[Hit]) -> dict:
    stats: dict = {}
    for name in sorted({h.channel for h in hits}):
        per_frame: dict[int, Hit] = {}
        for h in hits:
            if h.channel == name and (h.q_index not in per_frame or h.sim > per_frame[h.q_index].sim):
                per_frame[h.q_index] = h
        raws = [h.raw for h in per_frame.values()]
        key = "median_distance" if name == "pdq" else "median_similarity"
        stats[name] = {"frames": len(per_frame), key: round(float(statistics.median(raws)), 6)}
    return stats


def build_segments(
    hits: list[Hit],
    config: dict,
    query_step: float,
    clip_duration: float,
    ref_durations: dict[str, float],
) -> list[Segment]:
    seg_cfg = config["segments"]
    tol = float(seg_cfg["offset_tolerance_s"])
    max_gap = float(seg_cfg["max_gap_s"])
    min_frames = int(seg_cfg["min_frames"])
    min_duration = float(seg_cfg["min_duration_s"])
    by_ref: dict[str, list[Hit]] = {}
    for h in hits:
        by_ref.setdefault(h.ref_id, []).append(h)
    segments: list[Segment] = []
    for ref_id, ref_hits in by_ref.items():
        kind = ref_hits[0].kind
        clusters = [ref_hits] if kind == "still" else _offset_clusters(ref_hits, tol, min_frames)
        for cluster in clusters:
            for run in _runs(cluster, max_gap):
                best: dict[int, Hit] = {}
                for h in run:
                    if h.q_index not in best or h.sim > best[h.q_index].sim:
                        best[h.q_index] = h
                pairs = sorted(best.values(), key=lambda h: h.q_t)
                q_start = pairs[0].q_t
                q_end = min(clip_duration, pairs[-1].q_t + query_step) if clip_duration else pairs[-1].q_t + query_step
                if len(pairs) < min_frames or q_end - q_start < min_duration:
                    continue
                if kind == "still":
                    r_start = r_end = 0.0
                else:
                    offset = statistics.median(h.offset for h in pairs)
                    ref_len = ref_durations.get(ref_id) or float("inf")
                    r_start = max(0.0, q_start + offset)
                    r_end = min(ref_len, q_end + offset)
                stats = _channel_stats(run)
                level, rule = _level(stats, config, min_frames)
                agreeing = [name for name, s in stats.items() if s["frames"] >= min_frames]
                segments.append(
                    Segment(
                        ref_id=ref_id,
                        work=pairs[0].work,
                        owner=pairs[0].owner,
                        kind=kind,
                        query_start=q_start,
                        query_end=q_end,
                        ref_start=r_start,
                        ref_end=r_end,
                        score=float(sum(h.sim for h in pairs) / len(pairs)),
                        level=level,
                        rule=rule,
                        channels=agreeing or sorted(stats),
                        channel_stats=stats,
                        pairs=pairs,
                    )
                )
    segments.sort(key=lambda s: (level_rank(s.level), -s.score, s.query_start))
    return segments


def _union_length(intervals: list[tuple[float, float]]) -> float:
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


def per_work(segments: list[Segment], clip_duration: float, work_metadata: dict[str, dict]) -> list[dict]:
    works: dict[str, list[Segment]] = {}
    for s in segments:
        works.setdefault(s.work, []).append(s)
    out = []
    for name, segs in works.items():
        matched = _union_length([(s.query_start, s.query_end) for s in segs])
        best = max(segs, key=lambda s: (-level_rank(s.level), s.score))
        out.append(
            {
                "work": name,
                "owner": segs[0].owner,
                "metadata": work_metadata.get(name, {}),
                "level": best.level,
                "best_score": round(best.score, 6),
                "matched_seconds": round(matched, 3),
                "share_of_clip": round(matched / clip_duration, 4) if clip_duration else None,
                "channels": sorted({c for s in segs for c in s.channels}),
                "best_segment": {k: v for k, v in best.to_dict().items() if k != "pairs"},
                "segments": [s.to_dict() for s in segs],
            }
        )
    out.sort(key=lambda w: (level_rank(w["level"]), -w["best_score"]))
    return out


def verdict(segments: list[Segment], config: dict, clip_name: str) -> dict:
    flag_levels = list(config["verdict"]["flag_levels"])
    if not segments:
        return {
            "flagged": False,
            "level": LEVELS[-1],
            "score": 0.0,
            "rule": "no segment: no run of consecutive frames matched one reference at a steady time offset",
            "summary": f"No part of {clip_name} matches the reference index.",
        }
    best = segments[0]  # sorted strongest first
    where = (
        f"the still {best.ref_id}"
        if best.kind == "still"
        else f"seconds {best.ref_start:.1f}-{best.ref_end:.1f} of {best.ref_id}"
    )
    summary = (
        f"Seconds {best.query_start:.1f}-{best.query_end:.1f} of {clip_name} match {where} "
        f"({best.work}, {best.owner}): {best.level}."
    )
    if len(segments) > 1:
        summary += f" {len(segments) - 1} further segment(s) in the evidence."
    return {
        "flagged": best.level in flag_levels,
        "level": best.level,
        "score": round(best.score, 6),
        "rule": best.rule,
        "summary": summary,
    }
