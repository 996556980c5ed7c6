"""Errors of the reference index. Typed, so callers can tell a user's mistake from damage."""

from __future__ import annotations


class ReferenceIndexError(Exception):
    """Base of every error this package raises on purpose."""


class IndexNotFound(ReferenceIndexError):
    """The folder holds no index (no manifest.json)."""


class IndexCorrupt(ReferenceIndexError):
    """Files of the index are missing, truncated or do not match their checksums."""


class FingerprintMismatch(ReferenceIndexError):
    """A channel's vectors were made differently from the index's (model, weights, preprocessing)."""


class ChannelMismatch(ReferenceIndexError):
    """The channels asked for are not the channels the index holds."""


class CatalogueConflict(ReferenceIndexError):
    """An entry contradicts one already in the catalogue (same ref_id, another owner, ...)."""


class IndexWriteFailed(ReferenceIndexError):
    """A new generation could not be written (a full disk, an I/O error); nothing was committed and
    what was written of it is removed: the index is as it was."""


class IndexLocked(ReferenceIndexError):
    """Another process is writing to this index."""


class IndexIsSharded(ReferenceIndexError):
    """A sharded index was given to something that changes an index (sharded indexes are read-only)."""


class ShardRefused(ReferenceIndexError):
    """A request to shard an index that cannot be met (too few or too many shards, a folder in the way)."""
