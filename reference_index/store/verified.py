"""Checksums remembered by file identity, so opening a large index does not read it whole.

A file's identity is (device, inode, size, mtime_ns, ctime_ns). An entry only ever says "a file
with this identity had this SHA-256 when it was read"; a file whose identity changed (rewritten,
replaced, touched, renamed over) matches no entry and is read again. ctime cannot be set by a
user, so a file changed after it was hashed cannot keep its identity, with one exception git
also knows ("racily clean"): a change within the same timestamp tick as the hashed state. So a
hash goes into the cache file only when the file's timestamps are older than `RACY_S` before the
hash began; younger files (a generation just committed) are hashed again at the next open.

The cache is one JSON file in the user's cache folder (`$REFERENCE_INDEX_CACHE`, else
`$XDG_CACHE_HOME/reference_index`, else `~/.cache/reference_index`), not in the index folder:
whoever can write an index someone else reads cannot vouch for its files in that reader's
cache. It is written atomically and is only ever advice: unreadable, malformed or unwritable,
it is ignored and files are hashed. Within one process, a writer's own just-written files are
remembered in memory (the next generation it begins checks them without reading them again).
"""

from __future__ import annotations

import json
import os
import re
import time
from pathlib import Path

from .files import atomic_write_json, sha256_file

CACHE_ENV = "REFERENCE_INDEX_CACHE"
CACHE_FILE = "verified-files.json"
FORMAT = "reference_index.verified/1"
MAX_ENTRIES = 4096
RACY_S = 2.0  # timestamps this close to the hash may hide a change in the same tick (1-2 s file systems)
_SHA = re.compile(r"[0-9a-f]{64}")
_written: dict[str, str] = {}  # this process's own writes: identity key -> sha256


def identity(st: os.stat_result) -> tuple[int, int, int, int, int]:
    return (st.st_dev, st.st_ino, st.st_size, st.st_mtime_ns, st.st_ctime_ns)


def _key(ident: tuple) -> str:
    return ":".join(str(v) for v in ident)


def cache_folder() -> Path | None:
    """Where the cache lives; None where the user has no home to keep it in."""
    if os.environ.get(CACHE_ENV):
        return Path(os.environ[CACHE_ENV])
    try:
        base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    except RuntimeError:  # no HOME and no password entry (some containers)
        return None
    return Path(base) / "reference_index"


def _load() -> dict[str, str]:
    folder = cache_folder()
    try:
        data = json.loads((folder / CACHE_FILE).read_text(encoding="utf-8")) if folder else None
    except (OSError, ValueError):
        return {}
    if not isinstance(data, dict) or data.get("format") != FORMAT or not isinstance(data.get("entries"), dict):
        return {}
    return {k: v for k, v in data["entries"].items() if isinstance(k, str) and isinstance(v, str) and _SHA.fullmatch(v)}


def _save(entries: dict[str, str]) -> None:
    keep = dict(list(entries.items())[-MAX_ENTRIES:])  # the most recently verified
    folder = cache_folder()
    if folder is None:
        return
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write_json(folder / CACHE_FILE, {"format": FORMAT, "entries": keep})
    except (OSError, ValueError):
        pass  # a cache that cannot be written costs time, never correctness


class Verifier:
    """Hashes files, or trusts a remembered hash of the same identity. Call `save()` once done."""

    def __init__(self, use_cache: bool = True):
        self.use_cache = use_cache
        self._entries = _load() if use_cache else {}
        self._new: dict[str, str] = {}
        self.hashed = 0  # files read in full (for tests and measurements)

    def sha256(self, path: Path) -> tuple[str, tuple]:
        """(SHA-256 of the file at `path`, its identity). Raises OSError; ChangedWhileHashing."""
        before = identity(os.stat(path))
        key = _key(before)
        if self.use_cache:
            known = _written.get(key) or self._entries.get(key)
            if known:
                return known, before
        started = time.time_ns()
        digest = sha256_file(path)
        self.hashed += 1
        after = identity(os.stat(path))
        if after != before:
            raise ChangedWhileHashing(path)
        newest = max(before[3], before[4])
        if self.use_cache and newest < started - int(RACY_S * 1e9):
            self._new[key] = digest
        return digest, before

    def save(self) -> None:
        if not self._new:
            return
        entries = _load()  # another process may have added some meanwhile
        for key, digest in self._new.items():
            entries.pop(key, None)
            entries[key] = digest
        _save(entries)
        self._new.clear()


class ChangedWhileHashing(OSError):
    """The file changed while it was being read (an index's committed files never change)."""

    def __init__(self, path: Path):
        super().__init__(f"{path}: changed while its checksum was computed")
        self.path = path


def remember_written(path: Path, digest: str, before: tuple) -> None:
    """A file this process wrote and hashed (identity `before` taken before hashing): trusted
    in this process while its identity holds."""
    if identity(os.stat(path)) == before:
        _written[_key(before)] = digest
        if len(_written) > MAX_ENTRIES:
            _written.pop(next(iter(_written)))
