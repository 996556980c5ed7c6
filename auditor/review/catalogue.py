"""The catalogue as the desk's "add a missed match" form searches it: every work and reference file
of the index the results were scanned against, by title in any language, episode, work, owner or
reference id.

A missed match is most needed where the scan found nothing, so the works the clip's evidence
names are not enough. The index is opened read-only through its reader (which checks it, as any
reader does), its catalogue's rows copied into memory and the index closed again at once; a new
manifest (an index changed since) makes the desk read it afresh. Nothing of the index is served:
a search answers with at most `LIMIT` rows of names, never a file.
"""

from __future__ import annotations

import os
import threading
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

LIMIT = 20


def fold(text: str) -> str:
    """Text as a search compares it: NFKC (full-width letters and half-width kana alike), case
    folded, spaces collapsed."""
    return " ".join(unicodedata.normalize("NFKC", text).casefold().split())


@dataclass(frozen=True)
class Entry:
    """One reference file of the catalogue (or, without one, a work the evidence names)."""

    ref_id: str
    work: str
    owner: str
    kind: str
    episode: str
    title: str
    duration_s: float | None
    words: str  # every searchable text, folded

    def as_dict(self) -> dict:
        return {"ref_id": self.ref_id, "work": self.work, "owner": self.owner, "kind": self.kind,
                "episode": self.episode, "title": self.title, "duration_s": self.duration_s}


def _entries(index: Path) -> list[Entry]:
    from reference_index.store import open_reader

    view = open_reader(index)
    try:
        videos = view.videos()
        works = {w["work"]: w for w in view.works()}
    finally:
        view.close()
    out = []
    for v in videos:
        meta = works.get(v["work"], {}).get("metadata") or {}
        extra = [str(x) for x in meta.values() if isinstance(x, str | int | float)]  # e.g. a title in another language
        texts = [v["ref_id"], v["work"], v["owner"], v.get("episode") or "", v.get("title") or "", v.get("notes") or "", *extra]
        out.append(Entry(v["ref_id"], v["work"], v["owner"], v["kind"], v.get("episode") or "", v.get("title") or "",
                         v.get("duration_s"), fold(" \n".join(texts))))
    return out


class Catalogue:
    """The index's catalogue, read once per manifest; `fallback()` gives (work, owner) pairs the
    evidence names, for an index the desk cannot open."""

    def __init__(self, index: Path, fallback: Callable[[], list[tuple[str, str]]]):
        self.index, self.fallback = index, fallback
        self._key: tuple | None = None
        self._entries: list[Entry] = []
        self.unreadable: str | None = None  # why the index's catalogue could not be read
        self._lock = threading.Lock()

    def entries(self) -> list[Entry]:
        try:
            st = os.stat(self.index / "manifest.json")
            key: tuple | None = (st.st_ino, st.st_mtime_ns, st.st_size)
        except OSError:
            key = None
        with self._lock:
            if key is None or key != self._key:
                try:
                    self._entries, self.unreadable = (_entries(self.index) if key else []), None
                except Exception as exc:  # a damaged index must not break the review form: it says why
                    self._entries, self.unreadable = [], str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                self._key = key
            found = list(self._entries)
        if not found:
            found = [Entry("", w, o, "", "", "", None, fold(f"{w} \n{o}")) for w, o in self.fallback()]
        return found

    def search(self, query: str, limit: int = LIMIT) -> list[dict]:
        """Reference files whose id, work, owner, episode, title or notes hold every word of `query`
        (any order); exact ids and work names first."""
        words = fold(query).split()
        found = [e for e in self.entries() if all(w in e.words for w in words)]
        q = fold(query)
        found.sort(key=lambda e: (fold(e.ref_id) != q and fold(e.work) != q, e.work, e.episode, e.ref_id))
        return [e.as_dict() for e in found[:limit]]

    def resolve(self, ref_id: str, work: str) -> tuple[str, str]:
        """(ref_id, work) of a missed match, checked against the catalogue: a reference id names
        its work; a work must be one the catalogue holds. ValueError otherwise."""
        ref_id, work = ref_id.strip(), work.strip()
        entries = self.entries()
        if ref_id:
            match = next((e for e in entries if e.ref_id == ref_id), None)
            if match is None:
                raise ValueError(f"reference {ref_id!r} is not in the catalogue")
            return match.ref_id, match.work
        exact = [e for e in entries if e.work == work or fold(e.work) == fold(work)]
        if not exact:
            raise ValueError("the work must be one of the catalogue's: search by title, episode or reference id")
        return "", exact[0].work
