"""p-values from null distributions of match scores.

A null distribution holds, per channel, the best score a frame known to be unrelated to the
catalogue reaches against it (auditor/indexing/calibrate.py makes them, from background footage
or by leaving one work out, and stores them in the index).

From it, a frame pair's p-value is the share of null frames that scored at least as well
(with +1 smoothing, so never 0) where the null holds at least `tail_min_null_values` such
frames; beyond that, where an empirical share says little, it is the tail of a Gumbel
distribution fitted to the null (each null value is the best of many comparisons: an extreme
value, as in BLAST's E-values). It is then corrected for the number of query variants searched
(Sidak) and the number of channels (Bonferroni). A segment's p-value combines its pairs'
p-values by Fisher's method, after thinning the pairs to one per `decorrelation_s` seconds
because neighbouring frames are not independent. Expected false matches = p-value x the number
of (query frame, reference video) trials the scan made. All of it is stated in each evidence
record, so a reader can check or redo it.
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


def _log_chi2_sf_even(x: float, dof: int) -> float:
    """log P(X >= x) for X ~ chi-square with an even number of degrees of freedom (closed form)."""
    m = dof // 2
    half = x / 2.0
    terms = [i * math.log(half) - math.lgamma(i + 1) if half > 0 else (0.0 if i == 0 else -math.inf) for i in range(m)]
    top = max(terms)
    return -half + top + math.log(sum(math.exp(t - top) for t in terms))


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
        thinned, last = [], -math.inf
        for h in pairs:
            if h.channel in self.null and h.q_t - last >= step - 1e-9:
                thinned.append(h)
                last = h.q_t
        if not thinned:
            return SegmentCalibration(None, None, None, None, 0)
        logs = [math.log(max(self.frame_p(h.channel, h.raw), 1e-300)) for h in thinned]
        log_p = _log_chi2_sf_even(-2.0 * sum(logs), 2 * len(logs))
        floor = math.log(float(self.config.min_p_value))
        at_floor = log_p < floor
        log_p = min(0.0, max(log_p, floor))
        log_e = log_p + math.log(max(1, trials))
        return SegmentCalibration(
            p_value=float(math.exp(log_p)),
            p_value_at_floor=at_floor,
            log10_p_value=round(log_p / math.log(10), 3),
            expected_false_matches=float(min(math.exp(log_e), float(trials))),
            frames_used=len(thinned),
        )

    def moment(self, pairs, trials: int) -> SegmentCalibration:
        """p-value and expected false matches of a moment (match.moments): its best frame's p-value,
        over every frame and reference the scan compared (the trials), as for one frame pair: a
        moment stands on its closest frame, and the trials count every frame it could have been."""
        ps = [self.frame_p(h.channel, h.raw) for h in pairs if h.channel in self.null]
        if not ps:
            return SegmentCalibration(None, None, None, None, 0)
        log_p = math.log(max(min(ps), 1e-300))
        floor = math.log(float(self.config.min_p_value))
        at_floor = log_p < floor
        log_p = min(0.0, max(log_p, floor))
        return SegmentCalibration(
            p_value=float(math.exp(log_p)), p_value_at_floor=at_floor, log10_p_value=round(log_p / math.log(10), 3),
            expected_false_matches=float(min(math.exp(log_p + math.log(max(1, trials))), float(trials))), frames_used=1,
        )

    def describe(self) -> str:
        counts = ", ".join(f"{name} {len(s[0])} null frames" for name, s in self.null.items())
        return (
            f"null distributions by {self.method} ({counts}); frame p-values empirical with +1 smoothing, a "
            f"Gumbel tail fit beyond the {self.tail_min}th most extreme null value, Sidak for query "
            f"variants, Bonferroni for {self.n_channels} channel(s); Fisher's method over pairs thinned to one per "
            f"{self.config.decorrelation_s} s; expected false matches = p x (query frames x reference videos); "
            f"p-values below {self.config.min_p_value:g} are reported as that floor"
        )
