"""The queue: every clip of a results folder as one short row, filtered, sorted and paged.

A day of scans may leave 10,000 evidence files. Each is read once and remembered by its file
identity (size, mtime); a request only stats the folder, so paging, filters and counts stay fast.
A file that cannot be read is listed as unreadable with the reason, never silently dropped.
"""

from __future__ import annotations

import csv
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import InputError
from ..evidence.files import SUFFIX, evidence_files, read_evidence, unescape_cell
from ..evidence.rules import Level
from .store import DECISIONS

STATES = ("unreviewed",) + DECISIONS
LEVELS = tuple(str(level) for level in Level)
SORTS = ("level", "p_value", "score", "name", "state")
PAGE = 50


@dataclass(frozen=True)
class Row:
    """What the queue shows of one clip's evidence."""

    query_id: str
    level: Level
    score: float
    flagged: bool
    p_value: float | None
    works: tuple[str, ...]
    owners: tuple[str, ...]
    sha256: str
    thumb: str | None  # an exhibit picture of the results folder, relative to it
    duration: float


@dataclass
class Listing:
    rows: list[Row] = field(default_factory=list)
    unreadable: list[dict] = field(default_factory=list)
    failed: list[dict] = field(default_factory=list)


def _row(ev) -> Row:
    thumb = None
    for w in ev.works:
        for s in w.segments:
            for ex in s.exhibits or ():
                thumb = thumb or ex.query_image.file
        if w.resemblance:
            for g in w.resemblance.gallery:
                if g.query_image:
                    thumb = thumb or g.query_image.file
    return Row(ev.query_id, ev.verdict.level, float(ev.verdict.score), bool(ev.verdict.flagged), ev.verdict.p_value,
               tuple(w.work for w in ev.works), tuple(sorted({w.owner for w in ev.works})), ev.clip.sha256, thumb,
               float(ev.clip.duration_s or 0))


class Results:
    """The clips of a results folder: evidence files (read once each), unreadable ones, and the
    failures in summary.csv."""

    def __init__(self, folder: Path, blocks: Callable[[Path], bool] = lambda path: False):
        self.folder = folder
        self.blocks = blocks  # files never to open (the desk's trail under another name: gate.Shield)
        self._seen: dict[str, tuple[tuple[int, int], Row | str]] = {}
        self._lock = threading.Lock()

    def load(self) -> Listing:
        out = Listing()
        with self._lock:
            names = set()
            for name, key in evidence_files(self.folder):
                names.add(name)
                known = self._seen.get(name)
                if known is None or known[0] != key:
                    if self.blocks(self.folder / name):
                        self._seen[name] = (key, "not evidence: the review trail or an index file")
                        continue
                    try:
                        known = (key, _row(read_evidence(self.folder / name)))
                    except (InputError, OSError, ValueError) as exc:
                        known = (key, str(exc) or type(exc).__name__)
                    self._seen[name] = known
            for gone in set(self._seen) - names:
                del self._seen[gone]
            for name in sorted(self._seen):
                item = self._seen[name][1]
                if isinstance(item, Row):
                    out.rows.append(item)
                else:
                    out.unreadable.append({"file": name, "error": item})
        ids = {r.query_id for r in out.rows}
        summary = self.folder / "summary.csv"
        if summary.is_file() and not self.blocks(summary):
            with open(summary, newline="", encoding="utf-8") as fh:
                for rec in csv.DictReader(fh):
                    rec = {k: unescape_cell(v) if isinstance(v, str) else v for k, v in rec.items()}
                    if rec.get("status") == "error" and rec.get("query_id") not in ids:
                        out.failed.append(rec)
        return out

    def row(self, query_id: str) -> Row | None:
        """The row of a clip as last loaded (None if unknown or unreadable)."""
        known = self._seen.get(f"{query_id}{SUFFIX}")
        return known[1] if known and isinstance(known[1], Row) else None

    def works_of(self, query_id: str) -> tuple[str, ...]:
        row = self.row(query_id)
        return row.works if row else ()


def _keys(state_of):
    return {
        "level": lambda r: (r.level.rank, -r.score, r.query_id),
        "p_value": lambda r: (r.p_value is None, r.p_value if r.p_value is not None else 0.0, r.level.rank, r.query_id),
        "score": lambda r: (-r.score, r.query_id),
        "name": lambda r: r.query_id,
        "state": lambda r: (STATES.index(state_of(r)), r.level.rank, r.query_id),
    }


def ordered(rows: list[Row], latest: dict[str, dict], sort: str = "level") -> list[Row]:
    state_of = lambda r: latest[r.query_id]["decision"] if r.query_id in latest else "unreviewed"  # noqa: E731
    keys = _keys(state_of)
    return sorted(rows, key=keys.get(sort, keys["level"]))


def select(rows: list[Row], latest: dict[str, dict], assigned: dict[str, str], *, level: str = "", work: str = "",
           owner: str = "", state: str = "", reviewer: str = "") -> list[Row]:
    def keep(r: Row) -> bool:
        st = latest[r.query_id]["decision"] if r.query_id in latest else "unreviewed"
        return ((not level or r.level == level) and (not work or work in r.works) and (not owner or owner in r.owners)
                and (not state or st == state) and (not reviewer or assigned.get(r.query_id) == reviewer))

    return [r for r in rows if keep(r)]


def counts(rows: list[Row], latest: dict[str, dict]) -> dict[str, dict[str, int]]:
    by_level = {lv: 0 for lv in LEVELS}
    by_state = {s: 0 for s in STATES}
    for r in rows:
        by_level[str(r.level)] += 1
        by_state[latest[r.query_id]["decision"] if r.query_id in latest else "unreviewed"] += 1
    return {"level": by_level, "state": by_state}


def neighbours(order: list[Row], query_id: str, latest: dict[str, dict]) -> tuple[str | None, str | None, str | None]:
    """The clips before and after `query_id` in the queue's order, and the next unreviewed one after
    it (wrapping round; None when every clip has a decision)."""
    ids = [r.query_id for r in order]
    try:
        i = ids.index(query_id)
    except ValueError:
        i = -1
    prev_id = ids[i - 1] if i > 0 else None
    next_id = ids[i + 1] if 0 <= i < len(ids) - 1 else None
    later = ids[i + 1:] + ids[:max(i, 0)]
    todo = next((q for q in later if q not in latest and q != query_id), None)
    return prev_id, next_id, todo
