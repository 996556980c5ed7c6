"""Review decisions: an append-only trail in SQLite (who, what, when, why).

Rows are only ever inserted; triggers refuse any UPDATE or DELETE, so the trail a report prints
is the trail that was recorded. The latest decision for a clip is its review state.
"""

from __future__ import annotations

import sqlite3
from datetime import datetime, timezone
from pathlib import Path

DECISIONS = ("confirm", "dismiss", "second look")
MAX_NOTE = 4000
MAX_NAME = 200

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
"""


class ReviewStore:
    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._conn = sqlite3.connect(self.path, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.executescript(SCHEMA)

    def close(self) -> None:
        self._conn.close()

    def add(self, query_id: str, clip_sha256: str, decision: str, reviewer: str, note: str) -> dict:
        decision = decision.strip().lower()
        reviewer, note = reviewer.strip(), note.strip()
        if decision not in DECISIONS:
            raise ValueError(f"decision must be one of: {', '.join(DECISIONS)}")
        if not reviewer:
            raise ValueError("the reviewer's name is required")
        if len(reviewer) > MAX_NAME or len(note) > MAX_NOTE:
            raise ValueError(f"name up to {MAX_NAME} characters, note up to {MAX_NOTE}")
        when = datetime.now(timezone.utc).isoformat(timespec="seconds")
        cur = self._conn.execute(
            "INSERT INTO decisions(query_id, clip_sha256, decision, reviewer, note, created_utc) VALUES (?, ?, ?, ?, ?, ?)",
            (query_id, clip_sha256, decision, reviewer, note, when),
        )
        return {"id": cur.lastrowid, "query_id": query_id, "clip_sha256": clip_sha256, "decision": decision,
                "reviewer": reviewer, "note": note, "created_utc": when}

    def trail(self, query_id: str) -> list[dict]:
        rows = self._conn.execute(
            "SELECT id, query_id, clip_sha256, decision, reviewer, note, created_utc FROM decisions "
            "WHERE query_id = ? ORDER BY id", (query_id,)).fetchall()
        keys = ("id", "query_id", "clip_sha256", "decision", "reviewer", "note", "created_utc")
        return [dict(zip(keys, r)) for r in rows]

    def latest(self) -> dict[str, dict]:
        rows = self._conn.execute(
            "SELECT d.query_id, d.decision, d.reviewer, d.created_utc FROM decisions d "
            "JOIN (SELECT query_id, MAX(id) AS id FROM decisions GROUP BY query_id) m USING(id)").fetchall()
        return {q: {"decision": d, "reviewer": r, "created_utc": t} for q, d, r, t in rows}


def trail_for_report(path: str | Path, query_id: str) -> list[dict]:
    """The trail of one clip from a review database (for `auditor report --reviews`)."""
    store = ReviewStore(path)
    try:
        return store.trail(query_id)
    finally:
        store.close()
