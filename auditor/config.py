"""Configuration: the default TOML preset, merged with a user's file and explicit overrides, and
checked by typed models.

- `configs/default.toml` is the annotated preset: every number that can change a verdict, with why.
- Each table is a pydantic model here (`Sampling`, `Segments`, `Verify`, ...): unknown keys are
  refused, types are strict (a whole number may stand for a float, nothing else converts),
  ranges are field constraints and settings that must agree are checked by validators.
- Each channel declares its own table as a `Settings` model with defaults (channels/base.py);
  the `[channels]` table is composed from the registered channels, so a plugin's channel ships
  its defaults and their checks. The preset's tables of the built-in channels equal their models'
  defaults (tested).
- `load_config` returns a `Config`; `config.model_dump()` is the resolved configuration that every
  evidence record carries (`tool.parameters`), so a scan can be reproduced from its evidence.

A bad value is a UsageError naming the source, the setting and what it may be, in one line.
"""

from __future__ import annotations

import copy
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any

from pydantic import BaseModel, Field, ValidationError, create_model
from pydantic_core import ErrorDetails

from .channels import registered, settings_models
from .errors import UsageError
from .settings import ChannelsBase, Configuration, Refused

DEFAULT_CONFIG_PATH = Path(__file__).resolve().parent / "configs" / "default.toml"
# Settings that moved: a file naming the old key is told the new one.
MOVED = {
    "verdict.near_identical_max_median_pdq_distance": "channels.pdq.near_identical_max_median_distance",
    "verdict.strong_min_median_clip_similarity": "channels.clip.strong_min_median_similarity",
}


def channels_model() -> type[ChannelsBase]:
    """`[channels]` as the registered channels make it: each channel's table is its `Settings`
    model, with that model's defaults where a file gives none."""
    fields: dict[str, Any] = {name: (model, Field(default_factory=model)) for name, model in settings_models().items()}
    return create_model("Channels", __base__=ChannelsBase, **fields)


class Config(Configuration):
    """The whole configuration, as `load_config` resolves it."""

    def __reduce__(self):
        # a Config goes to worker processes and Ray actors as its plain values, checked again
        # there (its [channels] model is composed at run time and cannot be pickled by name)
        return (resolve, (self.model_dump(),))


@lru_cache(maxsize=4)
def _config_model(channels: tuple) -> type[Config]:
    """Config with `[channels]` composed for the registered channels (`channels`: the registry's
    entries, the cache key)."""
    return create_model("Config", __base__=Config, channels=(channels_model(), ...))


# -- loading -------------------------------------------------------------------------------------
def _merge(base: dict, override: dict, where: str, source: str) -> None:
    """Replace the keys `override` names; a table must stay a table, a moved key is told where
    it went. Everything else (unknown keys, types, ranges) the models check."""
    for key, value in override.items():
        name = f"{where}.{key}" if where else key
        if name in MOVED:
            raise UsageError(f"{source}: '{name}' is now '{MOVED[name]}'")
        if isinstance(base.get(key), dict):
            if not isinstance(value, dict):
                raise UsageError(f"{source}: '{name}' must be a table")
            _merge(base[key], value, name, source)
        else:
            base[key] = copy.deepcopy(value)


def resolve(data: dict, source: str = "configuration") -> Config:
    """A Config from plain values (a merged TOML document, or `Config.model_dump()`);
    UsageError naming `source`, the setting and what it may be."""
    model = _config_model(tuple(registered().items()))
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        raise UsageError(f"{source}: {_explain(exc.errors()[0], model, data)}") from None


def load_config(path: str | Path | None = None, overrides: dict | None = None) -> Config:
    """The default configuration, with the keys of `path` and then `overrides` replacing it,
    checked: a bad value is a UsageError naming the key and what is allowed."""
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
        _merge(config, overrides, "", "override")
    return resolve(config, source)


# -- one line for the first problem ---------------------------------------------------------------
TYPE_NAMES = {"int_type": "int", "float_type": "float", "bool_type": "bool", "string_type": "str",
              "list_type": "list", "dict_type": "a table", "model_type": "a table", "model_attributes_type": "a table"}


def _explain(error: ErrorDetails, model: type[BaseModel], data: dict) -> str:
    loc = [str(p) for p in error["loc"]]
    kind, ctx = error["type"], error.get("ctx") or {}
    refused = ctx.get("error")
    if isinstance(refused, Refused):  # a table's own rule: the setting it names
        loc = [*loc, refused.key]
    field, owner, depth = _field(model, loc)
    name = ".".join(loc[:depth]) if field is not None else ".".join(loc)
    value = _value(data, loc[:depth] if field is not None else loc)
    if kind == "extra_forbidden":
        return f"unknown setting '{'.'.join(loc)}'"
    if kind == "missing":
        return f"'{name}' is missing"
    if isinstance(refused, Refused):
        return f"'{name}' = {value!r} is not allowed: {refused.allowed}"
    extra = (field.json_schema_extra or {}) if field is not None else {}
    if isinstance(extra, dict) and "allowed" in extra:  # a list: what it may hold, in words
        return f"'{name}' = {value!r} is not allowed: {extra['allowed']}"
    if kind == "finite_number":
        return f"'{name}' = {value!r} is not allowed: numbers must be finite (no nan or inf)"
    if kind in TYPE_NAMES and depth == len(loc):
        expected = TYPE_NAMES[kind]
        if expected == "a table":
            return f"'{name}' must be a table"
        return f"'{name}' must be {expected}, got {type(value).__name__}"
    if kind == "value_error":
        return f"'{name}' = {value!r} is not allowed: {refused}"
    return f"'{name}' = {value!r} is not allowed: {_range(field) if field is not None else error['msg']}"


def _field(model: type[BaseModel], loc: list[str]):
    """The model field a location falls in: (field, the model that has it, its depth in loc)."""
    found, owner, depth = None, model, 0
    current: Any = model
    for i, part in enumerate(loc):
        fields = getattr(current, "model_fields", None)
        if not fields or part not in fields:
            break
        found, owner, depth = fields[part], current, i + 1
        current = found.annotation
    return found, owner, depth


def _value(data: Any, loc: list[str]):
    for part in loc:
        if isinstance(data, dict) and part in data:
            data = data[part]
        elif isinstance(data, list) and part.isdigit() and int(part) < len(data):
            data = data[int(part)]
        else:
            return None
    return data


def _range(field) -> str:
    lo = hi = None
    lo_excluded = False
    for m in field.metadata:
        if getattr(m, "ge", None) is not None:
            lo = m.ge
        if getattr(m, "gt", None) is not None:
            lo, lo_excluded = m.gt, True
        if getattr(m, "le", None) is not None:
            hi = m.le
    low = f"{'>' if lo_excluded else '>='} {lo:g}" if lo is not None else ""
    high = f"<= {hi:g}" if hi is not None else ""
    return "must be " + " and ".join(x for x in (low, high) if x)

