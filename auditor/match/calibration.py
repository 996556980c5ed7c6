"""p-values from null distributions of match scores.

A null distribution holds, per channel, the best score a frame known to be unrelated to the
catalogue reaches against it (auditor/indexing/calibrate.py makes them, from background footage
or by leaving one work out, and stores them in the index).

From it, a frame pair's p-value is the share of null frames that scored at least as well
(with +1 smoothing, so never 0) where the null holds at least `tail_min_null_values` such
frames; beyond that, where an empirical share says little, it is the tail of a Gumbel
distribution fitted to the null (each null value is the best of many comparisons: an extreme
value, as in BLAST's E-values). It is then corrected for the number of query variants searched
(Sidak) and the number of channels (Bonferroni).

A segment's frames are not independent evidence: a held drawing repeats one picture for
seconds, a long shot changes little. Its pairs are thinned to one per `decorrelation_s` seconds,
pairs that land on the reference frame the previous one landed on count once (one picture),
and the rest are combined by Brown's method: Fisher's statistic, scaled for the correlation of
neighbouring frames' scores measured on the background at the same spacing (or
`assumed_frame_correlation` where it cannot be measured), over an effective number of
independent frames. Expected false matches = p-value x the number of (query frame, reference
video) trials the scan made.

What a count supports is kept apart from what a model extrapolates: with n null frames, no
count says less than 1 in n+1. Each segment also carries how many null frames came at least as
close as its closest frame (`null_closer` of `null_frames`): a plain count a reader can check,
which page one of a report quotes; the model's figure is marked as extrapolated when it is
below 1/(n+1). All of it is stated in each evidence record, so a reader can check or redo it.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from ..channels import Meaning
from ..settings import Configuration

FORMAT = "auditor.calibration/1"
EULER_GAMMA = 0.5772156649015329


@dataclass(frozen=True)
class SegmentCalibration:
    """A segment's p-value figures (all None when no pair's channel is calibrated)."""

    p_value: float | None
    p_value_at_floor: bool | None
    log10_p_value: float | None
    expected_false_matches: float | None
    frames_used: int
    effective_frames: float | None = None  # independent frames the combination counts (Brown)
    null_frames: int | None = None  # null frames of the closest frame's channel
    null_closer: int | None = None  # of them, how many came at least as close as the closest frame
    extrapolated: bool | None = None  # the p-value is below what the null's count supports


def _log_chi2_sf_even(x: float, dof: int) -> float:
    """log P(X >= x) for X ~ chi-square with an even number of degrees of freedom (closed form)."""
    m = dof // 2
    half = x / 2.0
    terms = [i * math.log(half) - math.lgamma(i + 1) if half > 0 else (0.0 if i == 0 else -math.inf) for i in range(m)]
    top = max(terms)
    return -half + top + math.log(sum(math.exp(t - top) for t in terms))


def amount(data: dict) -> dict:
    """How much the calibration rests on: clips, works, minutes and null frames (the fewest any
    channel holds), from what was stored."""
    sources = data.get("sources") or []
    frames = min((len(c.get("samples", ())) for c in data.get("channels", {}).values()), default=0)
    seconds = sum(float(s.get("duration_s") or 0.0) for s in sources)
    return {"clips": sum(1 for s in sources if "sha256" in s), "works": sum(1 for s in sources if "work" in s),
            "minutes": round(seconds / 60.0, 2), "frames": frames}


def shortfall(data: dict, config: Configuration) -> str | None:
    """A sentence when the calibration rests on less than the documented minimum, else None."""
    got, cal = amount(data), config.calibration
    short = []
    if got["frames"] < int(cal.min_null_frames):
        short.append(f"{got['frames']} null frames (minimum {int(cal.min_null_frames)})")
    if data.get("method") == "background" and got["minutes"] < float(cal.min_background_minutes):
        short.append(f"{got['minutes']:g} minutes of background (minimum {float(cal.min_background_minutes):g})")
    if not short:
        return None
    return ("calibration rests on " + " and ".join(short) + ": p-values below 1 in "
            f"{got['frames'] + 1} are extrapolated by a model, not counted; add background footage")


def matches_fingerprints(calibration: dict | None, fingerprint_ids: Mapping[str, str]) -> bool:
    """Whether stored null distributions were made with these very channels."""
    if not calibration:
        return False
    return all(
        calibration["channels"].get(name, {}).get("fingerprint_id") == fid for name, fid in fingerprint_ids.items()
    )


class NullModel:
    """p-values from a stored calibration."""

    def __init__(self, calibration: dict, meanings: Mapping[str, Meaning], config: Configuration):
        self.method = calibration["method"]
        self.config = config.calibration
        self.tail_min = int(self.config.tail_min_null_values)
        self.n_channels = len(meanings)
        self.null = {}
        self.correlation: dict[str, float | None] = {}
        self.amount = dict(calibration.get("amount") or {})
        self.sources = list(calibration.get("sources") or [])
        for name, meaning in meanings.items():
            entry = calibration["channels"].get(name)
            if entry is None:
                continue
            samples = np.asarray(entry["samples"], dtype=np.float64)
            higher = bool(entry["higher_is_better"])
            variants = 1 if entry.get("variants_in_null") else meaning.query_variants
            # Gumbel (maxima) fitted by moments to x = raw, or -raw when lower is better
            x = samples if higher else -samples
            floor = meaning.resolution
            beta = max(float(np.std(x)) * math.sqrt(6) / math.pi, floor) if len(x) else floor
            mu = float(np.mean(x)) - EULER_GAMMA * beta if len(x) else 0.0
            self.null[name] = (samples, higher, variants, mu, beta)
            step = max(1, round(float(self.config.decorrelation_s) * float(calibration.get("sampling_fps") or 0)))
            self.correlation[name] = lag_correlation(entry.get("series") or [], step) \
                if calibration.get("sampling_fps") else None

    def rho(self, channel: str) -> float:
        """The correlation of neighbouring frames' scores used for this channel (measured, else assumed)."""
        measured = self.correlation.get(channel)
        return float(self.config.assumed_frame_correlation) if measured is None else measured

    def closer(self, channel: str, raw: float) -> int:
        """How many null frames of this channel scored at least as well as `raw`."""
        samples, higher = self.null[channel][0], self.null[channel][1]
        if higher:
            return len(samples) - int(np.searchsorted(samples, raw, "left"))
        return int(np.searchsorted(samples, raw, "right"))

    def _counted(self, pairs) -> dict:
        """The plain count for the closest pair: null frames at least as close, of how many."""
        best = min(pairs, key=lambda h: (self.closer(h.channel, h.raw) / (len(self.null[h.channel][0]) + 1)))
        return {"null_frames": len(self.null[best.channel][0]), "null_closer": self.closer(best.channel, best.raw)}

    def frame_p(self, channel: str, raw: float) -> float:
        samples, higher, variants, mu, beta = self.null[channel]
        n = len(samples)
        if higher:
            at_least = n - int(np.searchsorted(samples, raw, "left"))
        else:
            at_least = int(np.searchsorted(samples, raw, "right"))
        if at_least >= self.tail_min:
            p = (1 + at_least) / (1 + n)
        else:
            z = ((raw if higher else -raw) - mu) / beta
            p = -math.expm1(-math.exp(-z)) if z > -30 else 1.0
            p = max(p, 1e-300)
        if variants > 1:  # the query searched several variants; the null saw one (Sidak)
            p = 1.0 - (1.0 - p) ** variants
        return min(1.0, p * self.n_channels)

    def segment(self, pairs, trials: int) -> SegmentCalibration:
        """p-value and expected false matches of a segment from its frame pairs."""
        step = float(self.config.decorrelation_s)
        thinned, last, last_frame = [], -math.inf, None
        for h in pairs:
            if h.channel in self.null and h.q_t - last >= step - 1e-9:
                if (h.channel, h.frame_id) != last_frame:  # the same reference picture again: one picture
                    thinned.append(h)
                last, last_frame = h.q_t, (h.channel, h.frame_id)
        if not thinned:
            return SegmentCalibration(None, None, None, None, 0)
        logs = [math.log(max(self.frame_p(h.channel, h.raw), 1e-300)) for h in thinned]
        rho = max(self.rho(h.channel) for h in thinned)
        m = len(thinned)
        # Brown's method: E[X] = 2m kept, its variance widened by the neighbours' correlation,
        # so X/c follows a chi-square of 2 n_eff degrees of freedom, n_eff = m (1 - rho) / (1 + rho);
        # n_eff is rounded up to a whole frame (more degrees of freedom: a larger, more careful p)
        n_eff = max(1.0, m * (1.0 - rho) / (1.0 + rho)) if m > 1 else 1.0
        whole = min(m, math.ceil(n_eff - 1e-9))
        log_p = _log_chi2_sf_even(-2.0 * sum(logs) * whole / m, 2 * whole)
        return self._figures(log_p, trials, m, round(n_eff, 2), thinned)

    def _figures(self, log_p: float, trials: int, used: int, n_eff: float, pairs) -> SegmentCalibration:
        floor = math.log(float(self.config.min_p_value))
        at_floor = log_p < floor
        log_p = min(0.0, max(log_p, floor))
        counted = self._counted(pairs)
        return SegmentCalibration(
            p_value=float(math.exp(log_p)),
            p_value_at_floor=at_floor,
            log10_p_value=round(log_p / math.log(10), 3),
            expected_false_matches=float(min(math.exp(log_p + math.log(max(1, trials))), float(trials))),
            frames_used=used, effective_frames=n_eff,
            extrapolated=log_p < -math.log(counted["null_frames"] + 1) - 1e-12, **counted,
        )

    def moment(self, pairs, trials: int) -> SegmentCalibration:
        """p-value and expected false matches of a moment (match.moments): its best frame's p-value,
        over every frame and reference the scan compared (the trials), as for one frame pair: a
        moment stands on its closest frame, and the trials count every frame it could have been."""
        mine = [h for h in pairs if h.channel in self.null]
        if not mine:
            return SegmentCalibration(None, None, None, None, 0)
        log_p = math.log(max(min(self.frame_p(h.channel, h.raw) for h in mine), 1e-300))
        return self._figures(log_p, trials, 1, 1.0, mine)

    def describe(self) -> str:
        counts = ", ".join(f"{name} {len(s[0])} null frames" for name, s in self.null.items())
        rhos = ", ".join(f"{name} {self.rho(name):.2f} ({'measured' if self.correlation.get(name) is not None else 'assumed'})"
                         for name in self.null)
        return (
            f"null distributions by {self.method} ({counts}); frame p-values empirical with +1 smoothing, a "
            f"Gumbel tail fit beyond the {self.tail_min}th most extreme null value (an extrapolation: a count "
            f"supports no p-value below 1/(null frames + 1)), Sidak for query variants, Bonferroni for "
            f"{self.n_channels} channel(s); Brown's method over pairs thinned to one per "
            f"{self.config.decorrelation_s} s, a reference frame repeated counting once, neighbouring frames' "
            f"correlation {rhos}; expected false matches = p x (query frames x reference videos); "
            f"p-values below {self.config.min_p_value:g} are reported as that floor"
        )


def lag_correlation(series, step: int) -> float | None:
    """The correlation of scores `step` frames apart within each source, by ranks (so that it is
    the correlation of the frames' empirical p-values), clipped to [0, 0.95]; None with too few
    pairs to say (fewer than 20)."""
    a, b = [], []
    for run in series:
        run = list(run)
        a += run[:-step] if step < len(run) else []
        b += run[step:] if step < len(run) else []
    if len(a) < 20:
        return None
    ra, rb = _ranks(np.asarray(a, dtype=np.float64)), _ranks(np.asarray(b, dtype=np.float64))
    if ra.std() == 0 or rb.std() == 0:
        return 0.95  # constant scores: nothing shows the frames are independent
    return float(min(0.95, max(0.0, np.corrcoef(ra, rb)[0, 1])))


def _ranks(x: np.ndarray) -> np.ndarray:
    """Ranks with ties given their average rank (scores such as Hamming distances tie often)."""
    values, inverse, counts = np.unique(x, return_inverse=True, return_counts=True)
    starts = np.cumsum(counts) - counts
    return (starts + (counts - 1) / 2.0)[inverse]
