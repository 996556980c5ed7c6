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
    verification: dict | None = None
    calibration: dict | None = None
    exhibits: list[dict] = field(default_factory=list)  # frame pictures for the report (exhibits.py)

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
            "p_value": (self.calibration or {}).get("p_value"),
            "p_value_at_floor": (self.calibration or {}).get("p_value_at_floor"),
            "log10_p_value": (self.calibration or {}).get("log10_p_value"),
            "expected_false_matches": (self.calibration or {}).get("expected_false_matches"),
            "verification": self.verification,
            "exhibits": self.exhibits,
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


def _chains(hits: list[Hit], cfg: dict, ref_step: float) -> list[list[Hit]]:
    """Chains of hits that move forward in both timelines at a plausible speed (dynamic
    programming over hits sorted by query time, after Tan et al.'s temporal network).

    A hit j may follow hit i when 0 < dq <= max_gap and the reference advances by
    speed * dq, for a speed in [min_speed, max_speed], give or take `tol` (the reference
    sampling step plus the configured tolerance, as sparse reference sampling quantises ref_t).
    Each chain maximises the sum of similarities; its hits are removed and the next is found.
    """
    seg = cfg["segments"]
    max_gap = float(seg["max_gap_s"])
    lo, hi = float(seg["min_speed"]), float(seg["max_speed"])
    tol = float(seg["offset_tolerance_s"]) + ref_step
    min_frames = int(seg["min_frames"])
    # a query frame's best few hits on this reference are enough; more only slows the search
    per_q: dict[int, list[Hit]] = {}
    for h in hits:
        per_q.setdefault(h.q_index, []).append(h)
    pool = [h for lst in per_q.values() for h in sorted(lst, key=lambda h: -h.sim)[:6]]
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
            start = int(np.searchsorted(q, q[j] - max_gap, "left"))
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


def _fit_line(pairs: list[Hit], lo: float, hi: float) -> tuple[float, float]:
    """ref_t = a * q_t + b over a chain: Theil-Sen slope (robust to quantised ref times),
    clamped to the allowed speeds, and the median intercept."""
    q = np.array([h.q_t for h in pairs])
    r = np.array([h.ref_t for h in pairs])
    if len(pairs) >= 2 and q[-1] > q[0]:
        i, j = np.triu_indices(len(q), k=1)
        far = (q[j] - q[i]) >= 0.5 * (q[-1] - q[0])  # long baselines only: short ones are noise
        if not far.any():
            far = np.ones_like(i, dtype=bool)
        a = float(np.median((r[j] - r[i])[far] / (q[j] - q[i])[far]))
    else:
        a = 1.0
    a = min(max(a, lo), hi)
    b = float(np.median(r - a * q))
    return a, b


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
        key = {"pdq": "median_distance", "orb": "median_votes"}.get(name, "median_similarity")
        stats[name] = {"frames": len(per_frame), key: round(float(statistics.median(raws)), 6)}
    return stats


def build_segments(
    hits: list[Hit],
    config: dict,
    query_step: float,
    clip_duration: float,
    ref_durations: dict[str, float],
    ref_steps: dict[str, float] | None = None,
) -> list[Segment]:
    """Segments from hits. `ref_steps`: each reference's sampling interval (seconds)."""
    seg_cfg = config["segments"]
    max_gap = float(seg_cfg["max_gap_s"])
    min_frames = int(seg_cfg["min_frames"])
    min_duration = float(seg_cfg["min_duration_s"])
    lo, hi = float(seg_cfg["min_speed"]), float(seg_cfg["max_speed"])
    ref_steps = ref_steps or {}
    by_ref: dict[str, list[Hit]] = {}
    for h in hits:
        by_ref.setdefault(h.ref_id, []).append(h)
    segments: list[Segment] = []
    for ref_id, ref_hits in by_ref.items():
        kind = ref_hits[0].kind
        if kind == "still":
            chains = _runs(ref_hits, max_gap)
        else:
            chains = _chains(ref_hits, config, ref_steps.get(ref_id, 0.5))
        found: list[Segment] = []
        for chain in chains:
            for run in (_runs(chain, max_gap) if kind != "still" else [chain]):
                best: dict[int, Hit] = {}
                for h in run:
                    if h.q_index not in best or h.sim > best[h.q_index].sim:
                        best[h.q_index] = h
                pairs = sorted(best.values(), key=lambda h: h.q_t)
                q_start = pairs[0].q_t
                q_end = pairs[-1].q_t + query_step
                if clip_duration:
                    q_end = min(clip_duration, q_end)
                if len(pairs) < min_frames or q_end - q_start < min_duration:
                    continue
                if kind == "still":
                    r_start = r_end = 0.0
                    speed = None
                else:
                    speed, b = _fit_line(pairs, lo, hi)
                    ref_len = ref_durations.get(ref_id) or float("inf")
                    r_start = min(max(0.0, speed * q_start + b), ref_len)
                    r_end = min(max(r_start, speed * q_end + b), ref_len)
                stats = _channel_stats(run)
                level, rule = _level(stats, config, min_frames)
                agreeing = [name for name, s in stats.items() if s["frames"] >= min_frames]
                found.append(
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
                        channel_stats=stats | ({"speed": round(speed, 3)} if speed is not None else {}),
                        pairs=pairs,
                    )
                )
        segments.extend(_suppress_overlaps(found))
    segments.sort(key=lambda s: (level_rank(s.level), -s.score, s.query_start))
    return segments


def _suppress_overlaps(segments: list[Segment]) -> list[Segment]:
    """On one reference, keep the strongest of segments that cover the same query time (a
    static scene gives parallel chains at nearby offsets: they are one match, not several)."""
    kept: list[Segment] = []
    for s in sorted(segments, key=lambda s: (level_rank(s.level), -len(s.pairs) * s.score)):
        overlaps = any(
            min(s.query_end, k.query_end) - max(s.query_start, k.query_start)
            > 0.5 * min(s.query_end - s.query_start, k.query_end - k.query_start)
            for k in kept
        )
        if not overlaps:
            kept.append(s)
    return kept


def apply_verification(segment: Segment, record: dict, config: dict) -> bool:
    """Attach a verification record and let it move the level. False: drop the segment (only
    local-feature votes supported it, and the frames did not match geometrically)."""
    segment.verification = record
    v = config["verify"]
    if record["status"] == "verified":
        median = record["median_inliers"]
        words = (
            f"local features: {record['pairs_verified']} of {record['pairs_checked']} frame pairs verified "
            f"(RANSAC, median {median:g} inliers"
        )
        if median >= v["near_identical_min_inliers"] and level_rank(segment.level) > 0:
            segment.level, segment.rule = LEVELS[0], f"{words} >= {v['near_identical_min_inliers']}); " + segment.rule
        elif level_rank(segment.level) > 1:
            segment.level, segment.rule = LEVELS[1], f"{words} >= {v['min_inliers']} per pair); " + segment.rule
        if "local" not in segment.channels:
            segment.channels = segment.channels + ["local"]
        return True
    if record["status"] == "not verified" and set(segment.channels) <= {"orb"}:
        return False
    return True


def apply_calibration(segment: Segment, stats: dict, config: dict) -> None:
    """Attach p-value figures; a segment too likely by chance is held at weak resemblance."""
    segment.calibration = stats
    limit = float(config["calibration"]["max_expected_false_matches"])
    e = stats.get("expected_false_matches")
    if e is not None and e > limit and level_rank(segment.level) < 2:
        segment.rule = (
            f"held at weak resemblance: {e:.3g} expected false matches > {limit:g} "
            f"(was {segment.level}: {segment.rule})"
        )
        segment.level = LEVELS[2]


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
                "p_value": best.to_dict()["p_value"],
                "expected_false_matches": best.to_dict()["expected_false_matches"],
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
            "p_value": None,
            "p_value_at_floor": None,
            "log10_p_value": None,
            "expected_false_matches": None,
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
    cal = best.calibration or {}
    if cal.get("p_value") is not None:
        bound = "below " if cal.get("p_value_at_floor") else ""
        summary += (
            f" Unrelated footage matches this well with probability {bound}{cal['p_value']:.2g} "
            f"({bound}{cal['expected_false_matches']:.2g} expected false matches in this scan)."
        )
    return {
        "flagged": best.level in flag_levels,
        "level": best.level,
        "score": round(best.score, 6),
        "p_value": cal.get("p_value"),
        "p_value_at_floor": cal.get("p_value_at_floor"),
        "log10_p_value": cal.get("log10_p_value"),
        "expected_false_matches": cal.get("expected_false_matches"),
        "rule": best.rule,
        "summary": summary,
    }
