"""Channel registry. Built-ins register through the same entry-point group an outside plugin
would use (`auditor.channels` in pyproject.toml); the built-in table below is the fallback for
a source checkout that was never installed.
"""

from __future__ import annotations

from collections.abc import Iterable
from importlib import import_module
from importlib.metadata import entry_points

from ..errors import UsageError
from ..settings import AnyTable, Configuration, Table
from .base import Channel, Embeddings, Meaning

ENTRY_POINT_GROUP = "auditor.channels"
_BUILTIN = {
    "pdq": "auditor.channels.pdq:PDQChannel",
    "clip": "auditor.channels.clip:ClipChannel",
    "orb": "auditor.channels.orb:ORBChannel",
}


def registered() -> dict[str, str]:
    """Channel name -> 'module:Class', built-ins first, then plugins."""
    table = dict(_BUILTIN)
    for ep in entry_points(group=ENTRY_POINT_GROUP):
        table.setdefault(ep.name, ep.value)
    return table


def channel_class(name: str) -> type[Channel]:
    table = registered()
    if name not in table:
        raise UsageError(f"unknown channel '{name}' (known: {', '.join(sorted(table))})")
    module, _, attr = table[name].partition(":")
    cls = getattr(import_module(module), attr)
    if not (isinstance(cls, type) and issubclass(cls, Channel)):
        raise UsageError(f"channel '{name}' ({table[name]}) is not an auditor Channel")
    return cls


def settings_models() -> dict[str, type[Table]]:
    """Each registered channel's table of the configuration (its `Settings` model). A channel
    whose module cannot be imported here keeps a table that takes any keys: it cannot run, and
    says why when it is used (create_channel), but a configuration naming it still loads."""
    out: dict[str, type[Table]] = {}
    for name in registered():
        try:
            out[name] = channel_class(name).Settings
        except Exception:  # a plugin that does not import on this machine
            out[name] = AnyTable
    return out


def create_channel(name: str, config: Configuration) -> Channel:
    return channel_class(name)(config)


def meaning(name: str, config: Configuration) -> Meaning:
    """What channel `name`'s scores mean under `config`, without loading its model."""
    return channel_class(name).meaning(config)


def open_for_index(index, config: Configuration, names: Iterable[str] | None = None) -> dict[str, Channel]:
    """The channels an index holds (or `names`, which must be among them), created from
    `config` and checked against the fingerprints the index recorded: vectors made by another
    model, weights or preprocessing are refused (reference_index.FingerprintMismatch)."""
    names = list(index.channels) if names is None else list(names)
    channels = {name: create_channel(name, config) for name in names}
    for name, ch in channels.items():
        index.check_fingerprint(name, ch.fingerprint())
    return channels


def requested_devices(names: Iterable[str], config: Configuration) -> dict[str, str]:
    """The device the configuration asks each channel to run on, without loading any model."""
    return {name: channel_class(name).requested_device(config) for name in names}


def parse_channel_list(text: str | list[str] | None, default: list[str]) -> list[str]:
    if text is None:
        names = list(default)
    elif isinstance(text, str):
        names = [n.strip() for n in text.split(",") if n.strip()]
    else:
        names = list(text)
    if not names:
        raise UsageError("no channels given")
    known = registered()
    for n in names:
        if n not in known:
            raise UsageError(f"unknown channel '{n}' (known: {', '.join(sorted(known))})")
    if len(set(names)) != len(names):
        raise UsageError(f"channel listed twice in '{','.join(names)}'")
    return names


__all__ = [
    "Channel", "Embeddings", "Meaning", "channel_class", "create_channel", "meaning", "open_for_index",
    "parse_channel_list", "registered", "requested_devices", "settings_models",
]
