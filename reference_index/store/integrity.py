"""Integrity before use: a generation's files against the manifest, its counts against the files.

Opening an index (a reader) and beginning a change (a writer) both call `verify_files`: every
file of the generation must be present with the manifest's size and SHA-256 (hashes are
remembered by file identity, see verified.py, so a large index is read in full once, not at
every open), or the index is refused naming the file. Counts the manifest states (works,
videos, frames; vectors per channel) must be those of the catalogue and the channel files:
they feed the number of trials in evidence. `problems` is the full check `index info
--verify` runs: every file read again, every problem listed rather than the first refused.
"""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path

from ..errors import IndexCorrupt
from . import catalogue
from .manifest import committed_files
from .verified import ChangedWhileHashing, Verifier, identity

VECTOR_SUFFIXES = (".faiss", ".faissbin")


def _file_problem(gen: Path, entry: dict, verifier: Verifier) -> tuple[str | None, tuple | None]:
    """(what is wrong with one file, or None; its identity when it matched)."""
    f = gen / entry["file"]
    try:
        st = os.stat(f)
    except FileNotFoundError:
        return f"{f}: file of the index is missing", None
    except OSError as exc:
        return f"{f}: cannot be read ({exc.strerror or exc})", None
    if not os.path.isfile(f):
        return f"{f}: not a regular file", None
    if st.st_size != entry["bytes"]:
        return f"{f}: {st.st_size} bytes, the manifest says {entry['bytes']} (damaged or replaced)", None
    try:
        digest, ident = verifier.sha256(f)
    except ChangedWhileHashing:
        return f"{f}: changed while it was being verified", None
    except OSError as exc:
        return f"{f}: cannot be read ({exc.strerror or exc})", None
    if digest != entry["sha256"]:
        return f"{f}: its SHA-256 differs from the manifest's (damaged, altered or replaced since it was committed)", None
    return None, ident


def unnamed_vector_files(gen: Path, manifest: dict) -> list[str]:
    """A generation's channel files (`*.faiss`, `*.faissbin`) that its manifest does not name: a
    channel removed from the manifest by hand leaves its file behind, and the index must not pass
    for one that never had that channel."""
    named = {entry["file"] for entry in committed_files(manifest)}
    try:
        names = sorted(f.name for f in gen.iterdir() if f.suffix in VECTOR_SUFFIXES)
    except OSError:
        return []
    return [f"{gen / n}: a channel file the manifest does not name (a channel removed from manifest.json?)"
            for n in names if n not in named]


def verify_files(path: Path, gen: Path, manifest: dict) -> dict[str, tuple]:
    """Every file of the generation checked against the manifest; {file name: identity
    verified}. Raises IndexCorrupt naming the first file that fails."""
    orphans = unnamed_vector_files(gen, manifest)
    if orphans:
        raise IndexCorrupt(f"{orphans[0]}; the index at {path} is refused")
    verifier = Verifier()
    verified = {}
    try:
        for entry in committed_files(manifest):
            problem, ident = _file_problem(gen, entry, verifier)
            if problem:
                raise IndexCorrupt(f"{problem}; the index at {path} is refused")
            assert ident is not None  # a file without a problem has its identity
            verified[entry["file"]] = ident
    finally:
        verifier.save()
    return verified


def still_verified(f: Path, verified: dict[str, tuple]) -> None:
    """Refuse a file whose identity changed since it was verified (replaced while open)."""
    try:
        now = identity(os.stat(f))
    except OSError:
        now = None
    if now != verified.get(f.name):
        raise IndexCorrupt(f"{f}: changed since the index was opened and verified; open it again")


def catalogue_counts(conn: sqlite3.Connection, f: Path) -> dict:
    try:
        return catalogue.counts(conn)
    except sqlite3.Error as exc:
        raise IndexCorrupt(f"{f}: not a readable catalogue ({exc})") from None


def check_catalogue_counts(manifest: dict, conn: sqlite3.Connection, f: Path) -> None:
    """The manifest's counts of works, videos and frames are the catalogue's."""
    stated = manifest["catalogue"]["counts"]
    actual = catalogue_counts(conn, f)
    for key, n in actual.items():
        if stated.get(key) != n:
            raise IndexCorrupt(f"{f.parent.parent / 'manifest.json'}: catalogue.counts.{key} is {stated.get(key)}, the catalogue "
                               f"{f} holds {n} (manifest edited or damaged)")


def check_channel_count(name: str, spec: dict, vectors, f: Path) -> None:
    """A channel file holds the number of vectors, and the kind of structure, the manifest says."""
    if vectors.ntotal != spec["count"]:
        raise IndexCorrupt(f"{f.parent.parent / 'manifest.json'}: channels.{name}.count is {spec['count']}, the file {f} holds "
                           f"{vectors.ntotal} vectors (manifest edited or damaged)")
    if spec.get("kind") is not None and vectors.structure != spec["kind"]:
        raise IndexCorrupt(f"{f.parent.parent / 'manifest.json'}: channels.{name}.kind is {spec['kind']!r}, the file {f} holds "
                           f"a {vectors.structure!r} structure (manifest edited or damaged)")


def problems(gen: Path, manifest: dict, load_vectors) -> list[str]:
    """Everything wrong with a generation, every file read in full (no cache): files against
    their sizes and SHA-256, then the counts of the files that matched. `load_vectors(name)`
    loads a channel's vectors."""
    verifier = Verifier(use_cache=False)
    found, good = unnamed_vector_files(gen, manifest), set()
    for entry in committed_files(manifest):
        problem, _ = _file_problem(gen, entry, verifier)
        if problem:
            found.append(problem)
        else:
            good.add(entry["file"])
    if manifest["catalogue"]["file"] in good:
        f = gen / manifest["catalogue"]["file"]
        conn = catalogue.connect(f, readonly=True)
        try:
            check_catalogue_counts(manifest, conn, f)
        except IndexCorrupt as exc:
            found.append(str(exc))
        finally:
            conn.close()
    for name, spec in manifest["channels"].items():
        if spec["file"] in good:
            try:
                check_channel_count(name, spec, load_vectors(name), gen / spec["file"])
            except IndexCorrupt as exc:
                found.append(str(exc))
    return found
