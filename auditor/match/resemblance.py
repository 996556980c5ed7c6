"""Resemblance without a shared timeline: how close a clip's frames come to one work's frames.

A generator that re-draws a work's characters and places in new shots makes frames that look
like the work's but never line up in time with one reference video: no segment can show it. For
each channel that declares it (float channels such as CLIP), and for each work:

- every sampled frame of the clip, and crops of some of them (so a character filling part of the
  picture counts), is searched; a frame's score for the work is its best similarity to any of the
  work's frames (over the frame and its crops);
- the frames are thinned to one per `calibration.decorrelation_s` seconds (the best of each
  stretch), and the statistic is the mean of the top `top_share` of them (at least `min_frames`):
  a clip that resembles the work in a few shots counts, one stray frame does not;
- its p-value is the chance that unrelated footage reaches it: the clip's frames are drawn again
  from the channel's null distribution (the same one segments are calibrated with: the best
  similarity unrelated frames reach against the whole catalogue, which is at least what they
  reach against one work, so the p-value errs on the careful side), `draws` times with a fixed
  seed; beyond the draws, a normal tail fitted to them. Expected false matches = p x the works
  the clip was compared with.

Without a calibration there is no p-value, and the level is never granted (decision.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from ..settings import Configuration


@dataclass(frozen=True)
class Nearest:
    """A clip frame (or a crop of it) and its nearest frame of one work."""

    query_t: float
    crop: tuple[float, float, float, float] | None  # None: the whole frame
    similarity: float
    frame_id: int
    ref_id: str
    ref_t: float
    ref_box: tuple[float, float, float, float] | None


@dataclass(frozen=True)
class WorkResemblance:
    """One work's resemblance statistic over a clip, with what it rests on."""

    work: str
    owner: str
    channel: str
    value: float  # the statistic: mean of the top frames' similarities
    frames: int  # thinned frames the statistic chose from
    top_frames: int  # how many of them it averages
    p_value: float | None = None
    p_value_at_floor: bool | None = None
    log10_p_value: float | None = None
    expected_false_matches: float | None = None
    nearest: tuple[Nearest, ...] = field(default=())  # the clip's closest frames to the work, best first


def thin(times: np.ndarray, scores: np.ndarray, step: float) -> np.ndarray:
    """The best score of each `step`-second stretch of the clip (frames are not independent)."""
    if len(times) == 0:
        return np.zeros(0)
    bins = np.floor((times - times.min()) / max(step, 1e-9)).astype(np.int64)
    out = np.full(bins.max() + 1, -np.inf)
    np.maximum.at(out, bins, scores)
    return out[np.isfinite(out)]


def statistic(thinned: np.ndarray, top_share: float, min_frames: int) -> tuple[float, int]:
    """(mean of the top share of the thinned scores, how many were averaged)."""
    n = len(thinned)
    if n == 0:
        return float("nan"), 0
    m = min(n, max(min_frames, math.ceil(top_share * n)))
    return float(np.mean(np.sort(thinned)[-m:])), m


class NullDraws:
    """The statistic of unrelated footage, drawn from a channel's null samples (see the module
    docstring): drawn once per (frames, variants) and reused for every work of a clip."""

    def __init__(self, null, config: Configuration):
        cfg = config.resemblance
        self.null = np.asarray(null, dtype=np.float64)
        self.top_share, self.min_frames = float(cfg.top_share), int(cfg.min_frames)
        self.draws, self.seed = int(cfg.draws), int(cfg.seed)
        self.floor = float(config.calibration.min_p_value)
        self._stats: dict[tuple[int, int], np.ndarray] = {}

    def stats(self, n: int, variants: int) -> np.ndarray:
        key = (n, max(1, variants))
        if key not in self._stats:
            rng = np.random.default_rng(self.seed)
            sims = rng.choice(self.null, size=(self.draws, n, key[1])).max(axis=2)
            m = min(n, max(self.min_frames, math.ceil(self.top_share * n)))
            self._stats[key] = np.sort(sims, axis=1)[:, -m:].mean(axis=1)
        return self._stats[key]

    def p_value(self, value: float, n: int, variants: int) -> tuple[float, bool]:
        """(p, whether the true p is below the stated floor)."""
        if len(self.null) == 0 or n == 0 or not math.isfinite(value):
            return 1.0, False
        stats = self.stats(n, variants)
        at_least = int((stats >= value - 1e-12).sum())
        p = (1 + at_least) / (1 + len(stats))
        if at_least < 10:  # beyond the draws: a normal tail fitted to them
            z = (value - float(stats.mean())) / max(float(stats.std()), 1e-6)
            p = min(p, 0.5 * math.erfc(z / math.sqrt(2)))
        return max(p, self.floor), p < self.floor


def work_resemblance(
    work: str,
    owner: str,
    channel: str,
    times: np.ndarray,
    scores: np.ndarray,
    variants: int,
    config: Configuration,
    null: NullDraws | None,
    works_compared: int,
    nearest: tuple[Nearest, ...] = (),
) -> WorkResemblance:
    """The statistic of one work over a clip, and its p-value when `null` is given.
    `scores[i]`: frame i's best similarity to the work over it and its crops."""
    cfg = config.resemblance
    top_share, min_frames = float(cfg.top_share), int(cfg.min_frames)
    thinned = thin(np.asarray(times, dtype=np.float64), np.asarray(scores, dtype=np.float64),
                   float(config.calibration.decorrelation_s))
    value, m = statistic(thinned, top_share, min_frames)
    stated = round(value, 6) if math.isfinite(value) else 0.0
    if null is None or len(thinned) < min_frames:
        return WorkResemblance(work, owner, channel, stated, len(thinned), m, nearest=nearest)
    p, at_floor = null.p_value(value, len(thinned), variants)
    return WorkResemblance(
        work, owner, channel, stated, len(thinned), m, p_value=p, p_value_at_floor=at_floor,
        log10_p_value=round(math.log10(p), 3), expected_false_matches=min(p * max(1, works_compared), float(works_compared)),
        nearest=nearest,
    )
