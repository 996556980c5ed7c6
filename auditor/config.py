"""Configuration: the default TOML preset, merged with a user's file and explicit overrides.

The result is a plain nested dict so that it can be copied verbatim into every evidence record.
"""

from __future__ import annotations

import copy
import tomllib
from pathlib import Path
from typing import Any

from .errors import UsageError

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
    """The default configuration, with the keys of `path` and then `overrides` replacing it."""
    with open(DEFAULT_CONFIG_PATH, "rb") as f:
        config = tomllib.load(f)
    if path is not None:
        try:
            with open(path, "rb") as f:
                user = tomllib.load(f)
        except OSError as exc:
            raise UsageError(f"{path}: cannot read config: {exc.strerror or exc}") from exc
        except tomllib.TOMLDecodeError as exc:
            raise UsageError(f"{path}: not valid TOML: {exc}") from exc
        _merge(config, user, "", str(path))
    if overrides:
        _merge(config, copy.deepcopy(overrides), "", "override")
    return config
