"""Configuration: the default TOML preset, merged with a user's file and explicit overrides.

The result is a plain nested dict so that it can be copied verbatim into every evidence record.
"""

from __future__ import annotations

import copy
import math
import tomllib
from pathlib import Path
from typing import Any

from .errors import UsageError
from .evidence.rules import Level

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent / "configs" / "default.toml"
# Settings that moved: a file naming the old key is told the new one.
MOVED = {
    "verdict.near_identical_max_median_pdq_distance": "channels.pdq.near_identical_max_median_distance",
    "verdict.strong_min_median_clip_similarity": "channels.clip.strong_min_median_similarity",
}


def _merge(base: dict, override: dict, where: str, source: str) -> None:
    for key, value in override.items():
        name = f"{where}.{key}" if where else key
        if key not in base and where == "channels" and isinstance(value, dict):
            base[key] = copy.deepcopy(value)  # the table of a channel the defaults do not know (a plugin's)
            continue
        if key not in base:
            if name in MOVED:
                raise UsageError(f"{source}: '{name}' is now '{MOVED[name]}'")
            raise UsageError(f"{source}: unknown setting '{name}'")
        if isinstance(base[key], dict):
            if not isinstance(value, dict):
                raise UsageError(f"{source}: '{name}' must be a table")
            _merge(base[key], value, name, source)
        else:
            expected = type(base[key])
            ok = isinstance(value, expected) or (expected is float and isinstance(value, int))
            if isinstance(value, bool) != isinstance(base[key], bool):
                ok = False
            if not ok:
                raise UsageError(
                    f"{source}: '{name}' must be {expected.__name__}, got {type(value).__name__}"
                )
            base[key] = float(value) if expected is float else value


def load_config(path: str | Path | None = None, overrides: dict | None = None) -> dict[str, Any]:
    """The default configuration, with the keys of `path` and then `overrides` replacing it,
    checked (see `validate`): a bad value is a UsageError naming the key and what is allowed."""
    with open(DEFAULT_CONFIG_PATH, "rb") as f:
        config = tomllib.load(f)
    source = "override"
    if path is not None:
        source = str(path)
        try:
            with open(path, "rb") as f:
                raw = f.read()
        except OSError as exc:
            raise UsageError(f"{path}: cannot read config: {exc.strerror or exc}") from exc
        try:
            user = tomllib.loads(raw.decode("utf-8"))
        except UnicodeDecodeError as exc:
            raise UsageError(f"{path}: the config file is not UTF-8 text (byte {exc.start})") from None
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{path}: not valid TOML: {exc}") from exc
        _merge(config, user, "", str(path))
    if overrides:
        _merge(config, copy.deepcopy(overrides), "", "override")
    validate(config, source)
    return config


# -- what each setting allows --------------------------------------------------------------------
# (lowest, highest, lowest excluded): numbers outside are refused at load. Every limit is > 0.
def _ge(x: float) -> tuple:
    return (x, None, False)


def _gt(x: float) -> tuple:
    return (x, None, True)


def _in(lo: float, hi: float, lo_excluded: bool = False) -> tuple:
    return (lo, hi, lo_excluded)


HASH_BITS = 256  # PDQ hashes and ORB descriptors
RANGES = {
    "sampling.max_side": _ge(16), "sampling.held_frame_max_diff": _in(0, 255), "sampling.decode_threads": _in(0, 64),
    "sampling.reference.fps": _in(0, 1000, True), "sampling.query.fps": _in(0, 1000, True),
    "channels.pdq.min_quality": _in(0, 100), "channels.pdq.max_distance": _in(0, HASH_BITS),
    "channels.pdq.near_identical_max_median_distance": _in(0, HASH_BITS),
    "channels.clip.batch_size": _ge(1), "channels.clip.min_similarity": _in(-1, 1),
    "channels.clip.strong_min_median_similarity": _in(-1, 1),
    "channels.orb.features_reference": _ge(1), "channels.orb.features_query": _ge(1), "channels.orb.query_grid": _ge(1),
    "channels.orb.query_per_cell": _ge(0), "channels.orb.mirror_min_ratio": _gt(0),
    "channels.orb.max_descriptor_distance": _in(0, HASH_BITS), "channels.orb.neighbours": _ge(1),
    "channels.orb.min_votes": _ge(1), "channels.orb.votes_at_half_similarity": _gt(0),
    "index.exact_max_float": _ge(0), "index.exact_max_binary": _ge(0), "index.exact_max_local": _ge(0),
    "index.nprobe_float": _ge(1),
    "index.nprobe_binary": _ge(1),
    "search.top_k": _in(1, 10_000), "search.shards_per_relay": _ge(0),
    "segments.offset_tolerance_s": _ge(0), "segments.min_speed": _gt(0), "segments.max_speed": _gt(0),
    "segments.max_gap_s": _gt(0), "segments.min_frames": _ge(1), "segments.min_duration_s": _ge(0),
    "segments.hits_per_query_frame": _ge(1), "segments.fit_min_baseline_share": _in(0, 1),
    "segments.overlap_max_share": _in(0, 1), "segments.bridge_max_gap_s": _ge(0),
    "verify.pairs_per_segment": _ge(1), "verify.extra_pairs_when_inconclusive": _ge(0), "verify.max_segments": _ge(0),
    "verify.keep_query_frames_mb": _ge(0), "verify.sift_features": _ge(1), "verify.ratio": _in(0, 1, True),
    "verify.ransac_threshold_px": _gt(0), "verify.ransac_max_iterations": _ge(1), "verify.min_inliers": _ge(3),
    "verify.min_inliers_small": _ge(3), "verify.min_inlier_ratio_small": _in(0, 1, True),
    "verify.min_verified_share": _in(0, 1, True), "verify.min_scale": _gt(0), "verify.max_scale": _gt(0),
    "verify.max_anisotropy": _ge(1), "verify.near_identical_min_inliers": _ge(3), "verify.points_kept_per_pair": _ge(0),
    "exhibits.max_segments": _ge(0), "exhibits.pairs_per_segment": _ge(0), "exhibits.max_side": _ge(16),
    "calibration.decorrelation_s": _ge(0), "calibration.max_expected_false_matches": _ge(0),
    "calibration.min_p_value": _in(0, 1, True), "calibration.tail_min_null_values": _ge(1),
    "calibration.frames_per_work": _ge(1), "calibration.seed": _ge(0), "calibration.exclude_margin": _ge(0),
    "resemblance.top_share": _in(0, 1, True), "resemblance.min_frames": _ge(1), "resemblance.crop_every_s": _gt(0),
    "resemblance.neighbours": _ge(1), "resemblance.draws": _ge(1), "resemblance.seed": _ge(0),
    "resemblance.max_expected_false_matches": _ge(0), "resemblance.gallery_size": _ge(0),
    "resemblance.gallery_spacing_s": _ge(0),
    "evidence.top_matches_per_frame": _ge(0),
}
ORDERED = (("segments.min_speed", "segments.max_speed"), ("verify.min_scale", "verify.max_scale"))
LEVELS = tuple(str(level) for level in Level)


def _allowed(lo, hi, lo_excluded: bool) -> str:
    low = f"{'>' if lo_excluded else '>='} {lo:g}"
    return low if hi is None else f"{low} and <= {hi:g}"


def _flat(config: dict, where: str = ""):
    for key, value in config.items():
        name = f"{where}.{key}" if where else key
        if isinstance(value, dict):
            yield from _flat(value, name)
        else:
            yield name, value


def validate(config: dict, source: str = "configuration") -> None:
    """Types were checked while merging; here every number must be finite and within its range,
    related settings must agree, and lists must hold what they may. UsageError names the key."""
    def bad(name: str, value, allowed: str):
        raise UsageError(f"{source}: '{name}' = {value!r} is not allowed: {allowed}")

    values = dict(_flat(config))
    for name, value in values.items():
        numbers = value if isinstance(value, list) else [value]
        for v in numbers:
            if isinstance(v, float) and not math.isfinite(v):
                bad(name, value, "numbers must be finite (no nan or inf)")
        if name in RANGES and not isinstance(value, bool):
            lo, hi, lo_excluded = RANGES[name]
            if value < lo or (lo_excluded and value == lo) or (hi is not None and value > hi):
                bad(name, value, f"must be {_allowed(lo, hi, lo_excluded)}")
        elif name.startswith("limits.") and not value > 0:
            bad(name, value, "every limit must be > 0")
    if values["search.shards_per_relay"] == 1:
        bad("search.shards_per_relay", 1, "0 (no relays) or at least 2 (a relay asks that many)")
    for lo, hi in ORDERED:
        if not values[lo] < values[hi]:
            bad(lo, values[lo], f"must be below '{hi}' ({values[hi]!r})")
    tiles = values["sampling.reference.still_tiles"]
    if not isinstance(tiles, list) or not all(isinstance(n, int) and not isinstance(n, bool) and 2 <= n <= 8 for n in tiles):
        bad("sampling.reference.still_tiles", tiles, "a list of whole numbers from 2 to 8")
    levels = values["verdict.flag_levels"]
    if not isinstance(levels, list) or not all(isinstance(x, str) and x in LEVELS for x in levels):
        bad("verdict.flag_levels", levels, "a list of levels among " + ", ".join(repr(x) for x in LEVELS))
    default = values["channels.default"]
    if not isinstance(default, list) or not default or not all(isinstance(x, str) and x for x in default):
        bad("channels.default", default, "a non-empty list of channel names")
    crops = values["resemblance.crops"]
    if not isinstance(crops, list) or not all(
            isinstance(c, list) and len(c) == 4 and all(isinstance(x, (int, float)) and not isinstance(x, bool)
                                                         and 0 <= x <= 1 for x in c) and c[0] < c[2] and c[1] < c[3]
            for c in crops):
        bad("resemblance.crops", crops, "a list of [x0, y0, x1, y1] shares of the frame, 0 <= x0 < x1 <= 1, 0 <= y0 < y1 <= 1")
