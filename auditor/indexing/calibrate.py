"""Calibration: building the null distributions p-values are drawn from, and storing them.

A null distribution holds, per channel, the best score a frame known to be unrelated to the
catalogue reaches against it. It comes from a background set the user supplies (footage that
contains none of the catalogue), or, when none is given, from the index itself by leaving one
work out: each work's frames are searched against the other works only. How p-values are
computed from them is auditor/match/calibration.py.

What a p-value rests on is stored with it: every background file by name (never a machine's
path), SHA-256, duration and frames, and the totals (clips, works, minutes, frames); `amount`
says whether those totals reach the documented minimum (`calibration.min_null_frames`,
`calibration.min_background_minutes`). Each source's scores are also kept in time order, so
that the correlation of neighbouring frames (held drawings, long shots) can be measured.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from reference_index import IndexWriter, ReferenceIndex

from ..channels import Channel, Embeddings, open_for_index
from ..errors import InputError, UsageError
from ..match.calibration import FORMAT, amount
from ..scan.pipeline import embed_file, running_count
from ..settings import Configuration


def _best_raw(ch: Channel, emb: Embeddings, search, worst: float, k: int = 1) -> list[float]:
    rows, ranked = ch.candidates(emb, search, k)
    return [cands[0][1] if cands else worst for cands in ranked]


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


def background_scores(index: ReferenceIndex, channels: dict[str, Channel], path: str | Path, config: Configuration,
                      worst: dict[str, float], on_frames: Callable[[int], None] | None = None):
    """(the embedded clip, per channel: each frame's best raw score against the whole index, in
    time order): what one background clip gives the null (and what a held-out one is checked by)."""
    # every background frame at the ordinary rate: a short clip sampled densely would weigh its
    # near-repeated frames more than a long one's
    embedded = embed_file(path, float(config.sampling.query.fps), channels, config, query=True, dense_when_short=False,
                          on_frames=on_frames)
    return embedded, {name: _best_raw(ch, embedded.embeddings[name], index.searcher(name), worst[name])
                      for name, ch in channels.items()}


def calibrate(
    index_path: str | Path,
    config: Configuration,
    background: Sequence[str | Path] | None = None,
    frames_per_work: int | None = None,
    seed: int | None = None,
    progress: Callable[[str], None] | None = None,
    on_frames: Callable[[str, int], None] | None = None,
) -> dict:
    """Build null distributions and store them in the index. Returns what was stored.
    `frames_per_work` and `seed` default to the [calibration] configuration."""
    cal = config.calibration
    frames_per_work = int(cal.frames_per_work if frames_per_work is None else frames_per_work)
    seed = int(cal.seed if seed is None else seed)
    margin = int(cal.exclude_margin)
    index = ReferenceIndex.open(index_path)
    try:
        channels = open_for_index(index, config)
        worst = {name: ch.meaning(config).worst for name, ch in channels.items()}
        samples: dict[str, list[float]] = {name: [] for name in channels}
        series: dict[str, list[list[float]]] = {name: [] for name in channels}
        sources = []
        if background:
            for path in background:
                try:
                    embedded, bests = background_scores(index, channels, path, config, worst,
                                                        on_frames=running_count(on_frames, str(path)))
                except InputError as exc:
                    if progress:
                        progress(f"skipped {exc}")
                    continue
                for name, best in bests.items():
                    samples[name] += best
                    series[name].append(best)
                # the file's name, not where it lay on this machine: evidence quotes sources
                sources.append({"name": Path(path).name, "sha256": embedded.info.sha256,
                                "duration_s": round(float(embedded.info.duration_s or 0.0), 3),
                                "frames": embedded.n_frames})
                if progress:
                    progress(f"background {path}: {embedded.n_frames} frames")
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
                    best = _best_raw(ch, emb, index.searcher(name, exclude=fids, margin=margin), worst[name])
                    samples[name] += best
                    series[name].append(best)
                sources.append({"work": work, "frames": int(len(take))})
                if progress:
                    progress(f"left out {work}: {len(take)} frames")
            method, variants_in_null = "leave-one-work-out", False
        data = {
            "format": FORMAT,
            "method": method,
            "created_utc": datetime.now(UTC).isoformat(timespec="seconds"),
            "seed": seed,
            "sources": sources,
            "sampling_fps": float(config.sampling.query.fps) if background else None,
            "channels": {
                name: {
                    "fingerprint_id": ch.fingerprint()["id"],
                    "higher_is_better": ch.raw_higher_is_better,
                    # the query's variants (flips, rotations) were searched for the null too
                    "variants_in_null": variants_in_null,
                    "samples": sorted(float(x) for x in samples[name]),
                    # each source's best scores in time order (background: at the query rate)
                    "series": [[float(x) for x in run] for run in series[name]],
                }
                for name, ch in channels.items()
            },
        }
    finally:
        index.close()
    data["amount"] = amount(data)
    with IndexWriter(index_path) as w:
        w.set_calibration(data)
    return data
