"""Calibration: null distributions of match scores, and the p-values drawn from them.

A null distribution holds, per channel, the best score a frame known to be unrelated to the
catalogue reaches against it. It comes from a background set the user supplies (footage that
contains none of the catalogue), or, when none is given, from the index itself by leaving one
work out: each work's frames are searched against the other works only.

From it, a frame pair's p-value is the share of null frames that scored at least as well
(with +1 smoothing, so never 0) where the null holds at least `TAIL_MIN` such frames; beyond
that, where an empirical share says little, it is the tail of a Gumbel distribution fitted to
the null (each null value is the best of many comparisons: an extreme value, as in BLAST's
E-values). It is then corrected for the number of query variants searched (Sidak) and the
number of channels (Bonferroni). A segment's p-value combines its pairs' p-values by
Fisher's method, after thinning the pairs to one per `decorrelation_s` seconds because
neighbouring frames are not independent. Expected false matches = p-value x the number of
(query frame, reference video) trials the scan made. All of it is stated in each evidence
record, so a reader can check or redo it.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

import numpy as np

from reference_index import ReferenceIndex

from .channels import Channel, Embeddings
from .errors import InputError, UsageError
from .ingest import open_channels
from .pipeline import embed_file

FORMAT = "auditor.calibration/1"
EXCLUDE_MARGIN = 64  # extra neighbours fetched so that leaving a work out still leaves some
TAIL_MIN = 10  # fewer null values this extreme: use the fitted Gumbel tail
EULER_GAMMA = 0.5772156649015329


def _worst(ch: Channel) -> float:
    return float(ch.dim) if not ch.raw_higher_is_better else (0.0 if ch.per_frame == "many" else -1.0)


def _best_raw(ch: Channel, emb: Embeddings, search, k: int = 1) -> list[float]:
    rows, ranked = ch.candidates(emb, search, k)
    return [cands[0][1] if cands else _worst(ch) for cands in ranked]


def _excluding(index: ReferenceIndex, name: str, exclude: np.ndarray):
    """A search function that never returns the excluded frames."""

    def search(vectors: np.ndarray, k: int):
        scores, ids = index.search(name, vectors, k + EXCLUDE_MARGIN)
        ok = (ids >= 0) & ~np.isin(ids, exclude)
        out_s = np.zeros((len(ids), k), dtype=scores.dtype)
        out_i = np.full((len(ids), k), -1, dtype=np.int64)
        for r in range(len(ids)):
            sel = np.nonzero(ok[r])[0][:k]
            out_s[r, : len(sel)] = scores[r, sel]
            out_i[r, : len(sel)] = ids[r, sel]
        return out_s, out_i

    return search


def _stored_embeddings(index: ReferenceIndex, name: str, ch: Channel, frame_ids: np.ndarray) -> Embeddings:
    rows, vectors = index.frame_vectors(name, frame_ids)
    n = len(frame_ids)
    keep = np.zeros(n, dtype=bool)
    keep[rows] = True
    if ch.per_frame == "many":
        return Embeddings(vectors, keep, None, None, rows)
    full = np.zeros((n, vectors.shape[1] if len(vectors) else ch.vector_width), dtype=ch.vector_dtype)
    full[rows] = vectors
    return Embeddings(full, keep)


def calibrate(
    index_path: str | Path,
    config: dict,
    background: list[str | Path] | None = None,
    frames_per_work: int = 400,
    seed: int = 0,
    progress: Callable[[str], None] | None = None,
) -> dict:
    """Build null distributions and store them in the index. Returns what was stored."""
    index = ReferenceIndex.open(index_path)
    try:
        channels = open_channels(list(index.channels), config)
        for name, ch in channels.items():
            index.check_fingerprint(name, ch.fingerprint())
        samples: dict[str, list[float]] = {name: [] for name in channels}
        sources = []
        if background:
            fps = float(config["sampling"]["query"]["fps"])
            for path in background:
                try:
                    emb = embed_file(path, fps, channels, config, query=True)
                except InputError as exc:
                    if progress:
                        progress(f"skipped {exc}")
                    continue
                for name, ch in channels.items():
                    samples[name] += _best_raw(ch, emb.embeddings[name], lambda v, k, n=name: index.search(n, v, k))
                sources.append({"path": str(path), "sha256": emb.info.sha256, "frames": emb.n_frames})
                if progress:
                    progress(f"background {path}: {emb.n_frames} frames")
            if not sources:
                raise UsageError("no background clip could be read")
            method, variants_in_null = "background", True
        else:
            works = index.work_frame_ids()
            if len(works) < 2:
                raise UsageError(
                    f"{index_path}: leave-one-work-out needs at least two works in the index; give --background footage"
                )
            rng = np.random.default_rng(seed)
            for work, fids in sorted(works.items()):
                take = np.sort(rng.choice(fids, min(len(fids), frames_per_work), replace=False))
                for name, ch in channels.items():
                    emb = _stored_embeddings(index, name, ch, take)
                    samples[name] += _best_raw(ch, emb, _excluding(index, name, fids))
                sources.append({"work": work, "frames": int(len(take))})
                if progress:
                    progress(f"left out {work}: {len(take)} frames")
            method, variants_in_null = "leave-one-work-out", False
        data = {
            "format": FORMAT,
            "method": method,
            "created_utc": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "seed": seed,
            "sources": sources,
            "channels": {
                name: {
                    "fingerprint_id": ch.fingerprint()["id"],
                    "higher_is_better": ch.raw_higher_is_better,
                    # the query's variants (flips, rotations) were searched for the null too
                    "variants_in_null": variants_in_null,
                    "samples": sorted(float(x) for x in samples[name]),
                }
                for name, ch in channels.items()
            },
        }
    finally:
        index.close()
    with ReferenceIndex.open(index_path).writer() as w:
        w.set_calibration(data)
    return data


def _log_chi2_sf_even(x: float, dof: int) -> float:
    """log P(X >= x) for X ~ chi-square with an even number of degrees of freedom (closed form)."""
    m = dof // 2
    half = x / 2.0
    terms = [i * math.log(half) - math.lgamma(i + 1) if half > 0 else (0.0 if i == 0 else -math.inf) for i in range(m)]
    top = max(terms)
    return -half + top + math.log(sum(math.exp(t - top) for t in terms))


class NullModel:
    """p-values from a stored calibration."""

    def __init__(self, calibration: dict, channels: dict[str, Channel], config: dict):
        self.method = calibration["method"]
        self.config = config["calibration"]
        self.n_channels = len(channels)
        self.null = {}
        for name, ch in channels.items():
            entry = calibration["channels"].get(name)
            if entry is None:
                continue
            samples = np.asarray(entry["samples"], dtype=np.float64)
            higher = bool(entry["higher_is_better"])
            variants = 1 if entry.get("variants_in_null") else 1 + len(getattr(ch, "query_variant_names", ()))
            # Gumbel (maxima) fitted by moments to x = raw, or -raw when lower is better
            x = samples if higher else -samples
            floor = 0.5 if ch.metric == "hamming" else 0.005  # resolution of the raw score
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
        if at_least >= TAIL_MIN:
            p = (1 + at_least) / (1 + n)
        else:
            z = ((raw if higher else -raw) - mu) / beta
            p = -math.expm1(-math.exp(-z)) if z > -30 else 1.0
            p = max(p, 1e-300)
        if variants > 1:  # the query searched several variants; the null saw one (Sidak)
            p = 1.0 - (1.0 - p) ** variants
        return min(1.0, p * self.n_channels)

    def segment(self, pairs, trials: int) -> dict:
        """p-value and expected false matches of a segment from its frame pairs."""
        step = float(self.config["decorrelation_s"])
        thinned, last = [], -math.inf
        for h in pairs:
            if h.channel in self.null and h.q_t - last >= step - 1e-9:
                thinned.append(h)
                last = h.q_t
        if not thinned:
            return {"p_value": None, "log10_p_value": None, "expected_false_matches": None, "frames_used": 0}
        logs = [math.log(max(self.frame_p(h.channel, h.raw), 1e-300)) for h in thinned]
        log_p = _log_chi2_sf_even(-2.0 * sum(logs), 2 * len(logs))
        floor = math.log(float(self.config["min_p_value"]))
        at_floor = log_p < floor
        log_p = min(0.0, max(log_p, floor))
        log_e = log_p + math.log(max(1, trials))
        return {
            "p_value": float(math.exp(log_p)),
            "p_value_at_floor": at_floor,
            "log10_p_value": round(log_p / math.log(10), 3),
            "expected_false_matches": float(min(math.exp(log_e), float(trials))),
            "frames_used": len(thinned),
        }

    def describe(self) -> str:
        counts = ", ".join(f"{name} {len(s[0])} null frames" for name, s in self.null.items())
        return (
            f"null distributions by {self.method} ({counts}); frame p-values empirical with +1 smoothing, a "
            f"Gumbel tail fit beyond the {TAIL_MIN}th most extreme null value, Sidak for query "
            f"variants, Bonferroni for {self.n_channels} channel(s); Fisher's method over pairs thinned to one per "
            f"{self.config['decorrelation_s']} s; expected false matches = p x (query frames x reference videos); "
            f"p-values below {self.config['min_p_value']:g} are reported as that floor"
        )
