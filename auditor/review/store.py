"""Review decisions: an append-only trail in SQLite (who, what, when, why).

Rows are only ever inserted; triggers refuse any UPDATE or DELETE, so the trail a report prints
is the trail that was recorded. The latest decision for a clip is its review state. Matches the
scan missed (a reviewer's "this clip also shows work X at 12-18 s") and assignments of clips to
reviewers are kept the same way, in tables of their own.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

DECISIONS = ("confirm", "dismiss", "second look")
MAX_NOTE = 4000
MAX_NAME = 200
BUSY_S = 30.0  # seconds a write waits for another writer of the trail before it fails

SCHEMA = """
CREATE TABLE IF NOT EXISTS decisions (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    query_id     TEXT NOT NULL,
    clip_sha256  TEXT NOT NULL,
    decision     TEXT NOT NULL CHECK (decision IN ('confirm', 'dismiss', 'second look')),
    reviewer     TEXT NOT NULL,
    note         TEXT NOT NULL,
    created_utc  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS decisions_clip ON decisions(query_id, id);
CREATE TRIGGER IF NOT EXISTS decisions_no_update BEFORE UPDATE ON decisions
BEGIN SELECT RAISE(ABORT, 'the review trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS decisions_no_delete BEFORE DELETE ON decisions
BEGIN SELECT RAISE(ABORT, 'the review trail is append-only'); END;
CREATE TABLE IF NOT EXISTS missed (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    query_id     TEXT NOT NULL,
    clip_sha256  TEXT NOT NULL,
    work         TEXT NOT NULL,
    query_start  REAL NOT NULL,
    query_end    REAL NOT NULL,
    ref_start    REAL,
    ref_end      REAL,
    ref_id       TEXT NOT NULL DEFAULT '',
    reviewer     TEXT NOT NULL,
    note         TEXT NOT NULL,
    created_utc  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS missed_clip ON missed(query_id, id);
CREATE TRIGGER IF NOT EXISTS missed_no_update BEFORE UPDATE ON missed
BEGIN SELECT RAISE(ABORT, 'the review trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS missed_no_delete BEFORE DELETE ON missed
BEGIN SELECT RAISE(ABORT, 'the review trail is append-only'); END;
CREATE TABLE IF NOT EXISTS assignments (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    query_id     TEXT NOT NULL,
    reviewer     TEXT NOT NULL,
    assigned_by  TEXT NOT NULL,
    created_utc  TEXT NOT NULL
);
CREATE TRIGGER IF NOT EXISTS assignments_no_update BEFORE UPDATE ON assignments
BEGIN SELECT RAISE(ABORT, 'the review trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS assignments_no_delete BEFORE DELETE ON assignments
BEGIN SELECT RAISE(ABORT, 'the review trail is append-only'); END;
CREATE TABLE IF NOT EXISTS reviewers (
    id           INTEGER PRIMARY KEY AUTOINCREMENT,
    name         TEXT NOT NULL,
    password     TEXT NOT NULL,  -- scrypt hash (accounts.py); '' when the account was removed
    created_utc  TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS reviewers_name ON reviewers(name, id);
CREATE TRIGGER IF NOT EXISTS reviewers_no_update BEFORE UPDATE ON reviewers
BEGIN SELECT RAISE(ABORT, 'the review trail is append-only'); END;
CREATE TRIGGER IF NOT EXISTS reviewers_no_delete BEFORE DELETE ON reviewers
BEGIN SELECT RAISE(ABORT, 'the review trail is append-only'); END;
"""


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def _name_and_note(reviewer: str, note: str) -> tuple[str, str]:
    reviewer, note = reviewer.strip(), note.strip()
    if not reviewer:
        raise ValueError("the reviewer's name is required")
    if len(reviewer) > MAX_NAME or len(note) > MAX_NOTE:
        raise ValueError(f"name up to {MAX_NAME} characters, note up to {MAX_NOTE}")
    return reviewer, note


class ReviewStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        # another desk or `auditor reviews` may hold the write lock for a moment: wait for it
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None, timeout=BUSY_S)
        self._conn.execute("PRAGMA journal_mode=WAL")
        # a decision is confirmed (303) once its commit is on disk, not merely in the page cache
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(SCHEMA)
        # trails written before missed matches named a reference and its end: the columns are added
        # (ALTER TABLE ADD COLUMN changes no row; the triggers keep refusing UPDATE and DELETE)
        have = {row[1] for row in self._conn.execute("PRAGMA table_info(missed)")}
        for column, kind in (("ref_end", "REAL"), ("ref_id", "TEXT NOT NULL DEFAULT ''")):
            if column not in have:
                self._conn.execute(f"ALTER TABLE missed ADD COLUMN {column} {kind}")
        # one connection shared by the server's threads, every statement under this lock: a bulk write
        # is one transaction, and no thread's read snapshot is open while another thread writes (a
        # write from a stale snapshot fails at once with "database is locked", whatever the timeout,
        # once another desk has written in between)
        self._lock = threading.RLock()

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def _select(self, sql: str, params: tuple = ()) -> list[tuple]:
        with self._lock:
            return self._conn.execute(sql, params).fetchall()

    def add(self, query_id: str, clip_sha256: str, decision: str, reviewer: str, note: str) -> dict:
        decision = decision.strip().lower()
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of: {', '.join(DECISIONS)}")
        reviewer, note = _name_and_note(reviewer, note)
        when = _now()
        with self._lock:
            cur = self._conn.execute(
                "INSERT INTO decisions(query_id, clip_sha256, decision, reviewer, note, created_utc) VALUES (?, ?, ?, ?, ?, ?)",
                (query_id, clip_sha256, decision, reviewer, note, when),
            )
        return {"id": cur.lastrowid, "query_id": query_id, "clip_sha256": clip_sha256, "decision": decision,
                "reviewer": reviewer, "note": note, "created_utc": when}

    def trail(self, query_id: str) -> list[dict]:
        rows = self._select(
            "SELECT id, query_id, clip_sha256, decision, reviewer, note, created_utc FROM decisions "
            "WHERE query_id = ? ORDER BY id", (query_id,))
        keys = ("id", "query_id", "clip_sha256", "decision", "reviewer", "note", "created_utc")
        return [dict(zip(keys, r)) for r in rows]

    def latest(self) -> dict[str, dict]:
        rows = self._select(
            "SELECT d.query_id, d.decision, d.reviewer, d.created_utc FROM decisions d "
            "JOIN (SELECT query_id, MAX(id) AS id FROM decisions GROUP BY query_id) m USING(id)")
        return {q: {"decision": d, "reviewer": r, "created_utc": t} for q, d, r, t in rows}

    def add_many(self, clips: list[tuple[str, str]], decision: str, reviewer: str, note: str) -> int:
        """One decision for many (query id, clip SHA-256) at once, in one transaction: all or none."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")  # the write lock first, waiting for it (busy timeout)
            try:
                for query_id, sha in clips:
                    self.add(query_id, sha, decision, reviewer, note)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")
        return len(clips)

    def add_missed(self, query_id: str, clip_sha256: str, work: str, query_start: float, query_end: float,
                   ref_start: float | None, reviewer: str, note: str, ref_end: float | None = None,
                   ref_id: str = "") -> None:
        """A match the scan missed: the work (and the reference file, when named), its times in the
        clip and, optionally, in the reference."""
        work, ref_id = work.strip(), ref_id.strip()
        reviewer, note = _name_and_note(reviewer, note)
        if not work or len(work) > MAX_NAME or len(ref_id) > MAX_NAME:
            raise ValueError(f"the work is required (up to {MAX_NAME} characters)")
        if not (0 <= query_start <= query_end < 1e7):
            raise ValueError("times are seconds from 0, the end not before the start")
        if any(t is not None and not 0 <= t < 1e7 for t in (ref_start, ref_end)) or (
                ref_end is not None and (ref_start is None or ref_end < ref_start)):
            raise ValueError("reference times are seconds from 0, the end not before the start")
        with self._lock:
            self._conn.execute(
                "INSERT INTO missed(query_id, clip_sha256, work, query_start, query_end, ref_start, ref_end, ref_id, "
                "reviewer, note, created_utc) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (query_id, clip_sha256, work, query_start, query_end, ref_start, ref_end, ref_id, reviewer, note, _now()))

    def missed(self, query_id: str | None = None) -> list[dict]:
        keys = ("id", "query_id", "clip_sha256", "work", "ref_id", "query_start", "query_end", "ref_start", "ref_end",
                "reviewer", "note", "created_utc")
        sql = f"SELECT {', '.join(keys)} FROM missed"
        rows = (self._select(sql + " WHERE query_id = ? ORDER BY id", (query_id,)) if query_id is not None
                else self._select(sql + " ORDER BY id"))
        return [dict(zip(keys, r)) for r in rows]

    def all_decisions(self) -> list[dict]:
        keys = ("id", "query_id", "clip_sha256", "decision", "reviewer", "note", "created_utc")
        rows = self._select(f"SELECT {', '.join(keys)} FROM decisions ORDER BY id")
        return [dict(zip(keys, r)) for r in rows]

    def assign(self, query_ids: list[str], reviewer: str, assigned_by: str) -> None:
        reviewer, _ = _name_and_note(reviewer, "")
        assigned_by, _ = _name_and_note(assigned_by, "")
        when = _now()
        with self._lock:
            self._conn.executemany("INSERT INTO assignments(query_id, reviewer, assigned_by, created_utc) VALUES (?, ?, ?, ?)",
                                   [(q, reviewer, assigned_by, when) for q in query_ids])

    def add_account(self, name: str, password_hash: str) -> None:
        """A reviewer's account, a new password for it, or its removal (an empty hash)."""
        with self._lock:
            self._conn.execute("INSERT INTO reviewers(name, password, created_utc) VALUES (?, ?, ?)",
                               (name, password_hash, _now()))

    def account(self, name: str) -> tuple[int, str] | None:
        """(row id, password hash) of a name's latest account row; None if it never had one."""
        rows = self._select("SELECT id, password FROM reviewers WHERE name = ? ORDER BY id DESC LIMIT 1", (name,))
        return (rows[0][0], rows[0][1]) if rows else None

    def accounts(self) -> list[dict]:
        """Every name with an account, and when it was last set (removed ones left out)."""
        rows = self._select("SELECT r.name, r.password, r.created_utc FROM reviewers r "
                            "JOIN (SELECT name, MAX(id) AS id FROM reviewers GROUP BY name) m USING(id) ORDER BY r.name")
        return [{"name": n, "set_utc": t} for n, pw, t in rows if pw]

    def assigned(self) -> dict[str, str]:
        rows = self._select(
            "SELECT a.query_id, a.reviewer FROM assignments a "
            "JOIN (SELECT query_id, MAX(id) AS id FROM assignments GROUP BY query_id) m USING(id)")
        return dict(rows)


def report_trail(store: ReviewStore, query_id: str) -> list[dict]:
    """What a report prints of one clip's review: its decisions and the matches reviewers added
    (decision "missed match", with the work, reference and times), in the order they were made."""
    rows = [(d["created_utc"], 0, d["id"], d) for d in store.trail(query_id)]
    for m in store.missed(query_id):
        entry = {"decision": "missed match", "reviewer": m["reviewer"], "note": m["note"], "created_utc": m["created_utc"],
                 "query_id": m["query_id"], "clip_sha256": m["clip_sha256"], "work": m["work"], "ref_id": m["ref_id"],
                 "query_start": m["query_start"], "query_end": m["query_end"], "ref_start": m["ref_start"],
                 "ref_end": m["ref_end"]}
        rows.append((m["created_utc"], 1, m["id"], entry))
    return [r[3] for r in sorted(rows, key=lambda r: r[:3])]


def trail_for_report(path: str | Path, query_id: str) -> list[dict]:
    """The trail of one clip from a review database (for `auditor report --reviews`)."""
    store = ReviewStore(path)
    try:
        return report_trail(store, query_id)
    finally:
        store.close()
