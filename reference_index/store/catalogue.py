"""The SQLite catalogue: works (with owner and rights metadata), videos and frames.

Frame ids are SQLite row ids and are the ids every FAISS channel index stores, so a search
result maps straight back to a video and a timestamp.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np

from ..errors import CatalogueConflict

SCHEMA = """
CREATE TABLE IF NOT EXISTS works (
    work_id   INTEGER PRIMARY KEY,
    name      TEXT NOT NULL UNIQUE,
    owner     TEXT NOT NULL,
    metadata  TEXT NOT NULL DEFAULT '{}'
);
CREATE TABLE IF NOT EXISTS videos (
    video_id        INTEGER PRIMARY KEY,
    ref_id          TEXT NOT NULL UNIQUE,
    work_id         INTEGER NOT NULL REFERENCES works(work_id),
    path            TEXT NOT NULL,
    sha256          TEXT NOT NULL,
    kind            TEXT NOT NULL CHECK (kind IN ('video', 'still')),
    duration_s      REAL NOT NULL,
    fps             REAL NOT NULL,
    width           INTEGER NOT NULL,
    height          INTEGER NOT NULL,
    sampling_fps    REAL,
    episode         TEXT,
    title           TEXT,
    first_published TEXT,
    notes           TEXT,
    added_utc       TEXT NOT NULL
);
CREATE INDEX IF NOT EXISTS videos_sha256 ON videos(sha256);
CREATE INDEX IF NOT EXISTS videos_work ON videos(work_id);
CREATE TABLE IF NOT EXISTS frames (
    frame_id  INTEGER PRIMARY KEY,
    video_id  INTEGER NOT NULL REFERENCES videos(video_id),
    t         REAL NOT NULL,
    box       TEXT
);
CREATE INDEX IF NOT EXISTS frames_video ON frames(video_id, t);
"""

VIDEO_FIELDS = ("episode", "title", "first_published", "notes")
# frames.box: for a tile of a still, the region it shows as "x0 y0 x1 y1" (shares of the still's
# width and height); NULL for a whole frame. Catalogues written before tiles lack the column:
# readers see NULL, and the next writer adds it.


def has_boxes(conn: sqlite3.Connection) -> bool:
    return any(row[1] == "box" for row in conn.execute("PRAGMA table_info(frames)"))


def ensure_current(conn: sqlite3.Connection) -> None:
    """Bring a catalogue written by an earlier version up to this schema (in a writer's copy)."""
    if not has_boxes(conn):
        conn.execute("ALTER TABLE frames ADD COLUMN box TEXT")


def _box_text(box) -> str | None:
    return None if box is None else " ".join(f"{float(v):.6g}" for v in box)


def _box(text: str | None) -> tuple[float, float, float, float] | None:
    if not text:
        return None
    x0, y0, x1, y1 = (float(v) for v in text.split())  # written by _box_text from a box
    return x0, y0, x1, y1


def _inserted_id(cur: sqlite3.Cursor) -> int:
    """The row id the INSERT on `cur` gave (sqlite3 types lastrowid as optional: set after an insert)."""
    assert cur.lastrowid is not None
    return int(cur.lastrowid)


@dataclass(frozen=True)
class FrameRef:
    """Where one indexed frame comes from."""

    frame_id: int
    t: float
    video_id: int
    ref_id: str
    kind: str
    work: str
    owner: str  # the work's rights holder
    box: tuple[float, float, float, float] | None = None  # the region of a still a tile shows


def connect(path, readonly: bool = False) -> sqlite3.Connection:
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    else:
        conn = sqlite3.connect(path)
        conn.execute("PRAGMA journal_mode=DELETE")
    conn.execute("PRAGMA foreign_keys=ON")
    return conn


def init(conn: sqlite3.Connection) -> None:
    conn.executescript(SCHEMA)


def upsert_work(conn: sqlite3.Connection, name: str, owner: str, metadata: dict | None = None) -> int:
    name, owner = name.strip(), owner.strip()
    if not name:
        raise CatalogueConflict("a work needs a name")
    if not owner:
        raise CatalogueConflict(f"work '{name}' needs an owner")
    row = conn.execute("SELECT work_id, owner FROM works WHERE name = ?", (name,)).fetchone()
    if row:
        if row[1] != owner:
            raise CatalogueConflict(f"work '{name}' is already owned by '{row[1]}' in this index, not '{owner}'")
        return int(row[0])
    cur = conn.execute(
        "INSERT INTO works(name, owner, metadata) VALUES (?, ?, ?)",
        (name, owner, json.dumps(metadata or {}, sort_keys=True)),
    )
    return _inserted_id(cur)


def video_by_sha256(conn: sqlite3.Connection, sha256: str) -> tuple[str, str] | None:
    """(ref_id, work name) of a video with these bytes, if the catalogue has one."""
    row = conn.execute(
        "SELECT v.ref_id, w.name FROM videos v JOIN works w USING(work_id) WHERE v.sha256 = ?", (sha256,)
    ).fetchone()
    return (row[0], row[1]) if row else None


def add_video(conn: sqlite3.Connection, work_id: int, ref_id: str, info: dict, metadata: dict | None = None) -> int:
    metadata = metadata or {}
    existing = conn.execute("SELECT path FROM videos WHERE ref_id = ?", (ref_id,)).fetchone()
    if existing:
        raise CatalogueConflict(
            f"ref_id '{ref_id}' is already used by {existing[0]}; give this file another ref_id"
        )
    cur = conn.execute(
        "INSERT INTO videos(ref_id, work_id, path, sha256, kind, duration_s, fps, width, height, sampling_fps,"
        " episode, title, first_published, notes, added_utc) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
        (
            ref_id,
            work_id,
            info["path"],
            info["sha256"],
            info["kind"],
            float(info.get("duration_s", 0.0)),
            float(info.get("fps", 0.0)),
            int(info.get("width", 0)),
            int(info.get("height", 0)),
            info.get("sampling_fps"),
            *(metadata.get(k) or None for k in VIDEO_FIELDS),
            datetime.now(UTC).isoformat(timespec="seconds"),
        ),
    )
    return _inserted_id(cur)


def add_frames(conn: sqlite3.Connection, video_id: int, times: Sequence[float] | np.ndarray,
               boxes: Sequence | None = None) -> np.ndarray:
    """Insert frames (with the region of a still each tile shows); returns their ids in order."""
    start = conn.execute("SELECT COALESCE(MAX(frame_id), 0) FROM frames").fetchone()[0] + 1
    ids = np.arange(start, start + len(times), dtype=np.int64)
    boxes = boxes if boxes is not None else [None] * len(times)
    conn.executemany(
        "INSERT INTO frames(frame_id, video_id, t, box) VALUES (?, ?, ?, ?)",
        [(int(i), video_id, float(t), _box_text(b)) for i, t, b in zip(ids, times, boxes)],
    )
    return ids


def frame_refs(conn: sqlite3.Connection, frame_ids: Iterable[int]) -> dict[int, FrameRef]:
    ids = sorted({int(i) for i in frame_ids if int(i) >= 0})
    out: dict[int, FrameRef] = {}
    for start in range(0, len(ids), 900):  # stay under SQLite's bound-parameter limit
        chunk = ids[start : start + 900]
        marks = ",".join("?" * len(chunk))
        box = "f.box" if has_boxes(conn) else "NULL"
        for row in conn.execute(
            f"SELECT f.frame_id, f.t, v.video_id, v.ref_id, v.kind, w.name, w.owner, {box} FROM frames f"
            f" JOIN videos v USING(video_id) JOIN works w USING(work_id) WHERE f.frame_id IN ({marks})",
            chunk,
        ):
            frame_id, t, video_id, ref_id, kind, work, owner, box_text = row
            out[frame_id] = FrameRef(frame_id, t, video_id, ref_id, kind, work, owner, box=_box(box_text))
    return out


def works(conn: sqlite3.Connection) -> list[dict]:
    rows = conn.execute(
        "SELECT w.work_id, w.name, w.owner, w.metadata, COUNT(DISTINCT v.video_id),"
        " (SELECT COUNT(*) FROM frames f JOIN videos v2 USING(video_id) WHERE v2.work_id = w.work_id)"
        " FROM works w LEFT JOIN videos v USING(work_id) GROUP BY w.work_id ORDER BY w.name"
    ).fetchall()
    return [
        {"work": r[1], "owner": r[2], "metadata": json.loads(r[3]), "videos": r[4], "frames": r[5]} for r in rows
    ]


def work_metadata(conn: sqlite3.Connection, name: str) -> dict:
    row = conn.execute("SELECT metadata FROM works WHERE name = ?", (name,)).fetchone()
    return json.loads(row[0]) if row else {}


_VIDEO_COLUMNS = (
    "ref_id", "work", "owner", "path", "sha256", "kind", "duration_s", "fps", "width", "height",
    "sampling_fps", "episode", "title", "first_published", "notes", "frames",
)


def videos(conn: sqlite3.Connection, where: str = "1", params: tuple = ()) -> list[dict]:
    """Videos with their work, owner and frame count; `where` filters on `v.` columns."""
    rows = conn.execute(
        "SELECT v.ref_id, w.name, w.owner, v.path, v.sha256, v.kind, v.duration_s, v.fps, v.width, v.height,"
        " v.sampling_fps, v.episode, v.title, v.first_published, v.notes,"
        " (SELECT COUNT(*) FROM frames f WHERE f.video_id = v.video_id)"
        f" FROM videos v JOIN works w USING(work_id) WHERE {where} ORDER BY v.video_id",
        params,
    ).fetchall()
    return [dict(zip(_VIDEO_COLUMNS, r)) for r in rows]


def video(conn: sqlite3.Connection, ref_id: str) -> dict | None:
    found = videos(conn, "v.ref_id = ?", (ref_id,))
    return found[0] if found else None


def video_frames(conn: sqlite3.Connection, ref_id: str) -> tuple[np.ndarray, np.ndarray]:
    """(frame ids, times) of one reference's frames, in time order (empty for an unknown id)."""
    rows = conn.execute("SELECT f.frame_id, f.t FROM frames f JOIN videos v USING(video_id) WHERE v.ref_id = ?"
                        " ORDER BY f.t, f.frame_id", (ref_id,)).fetchall()
    return (np.array([r[0] for r in rows], dtype=np.int64), np.array([r[1] for r in rows], dtype=np.float64))


def counts(conn: sqlite3.Connection) -> dict:
    return {
        table: conn.execute(f"SELECT COUNT(*) FROM {table}").fetchone()[0]
        for table in ("works", "videos", "frames")
    }


def work_frame_spans(conn: sqlite3.Connection, name: str) -> list[tuple[int, int]] | None:
    """Frame id ranges [lo, hi) of each video of a work (a video's frames are added together,
    so their ids are consecutive); None when there is no such work."""
    row = conn.execute("SELECT work_id FROM works WHERE name = ?", (name,)).fetchone()
    if row is None:
        return None
    spans = conn.execute(
        "SELECT MIN(f.frame_id), MAX(f.frame_id) + 1, COUNT(*) FROM videos v JOIN frames f USING(video_id) "
        "WHERE v.work_id = ? GROUP BY v.video_id",
        (row[0],),
    ).fetchall()
    for lo, hi, n in spans:
        if hi - lo != n:
            raise CatalogueConflict(f"work {name!r}: a video's frame ids are not consecutive (damaged catalogue)")
    videos_without_frames = conn.execute(
        "SELECT COUNT(*) FROM videos v WHERE v.work_id = ? AND NOT EXISTS (SELECT 1 FROM frames f WHERE f.video_id = v.video_id)",
        (row[0],),
    ).fetchone()[0]
    return [(int(lo), int(hi)) for lo, hi, _ in spans] + [(0, 0)] * videos_without_frames


def delete_work(conn: sqlite3.Connection, name: str) -> None:
    """Delete a work with its videos and frames (one transaction with the caller's commit)."""
    (work_id,) = conn.execute("SELECT work_id FROM works WHERE name = ?", (name,)).fetchone()
    conn.execute("DELETE FROM frames WHERE video_id IN (SELECT video_id FROM videos WHERE work_id = ?)", (work_id,))
    conn.execute("DELETE FROM videos WHERE work_id = ?", (work_id,))
    conn.execute("DELETE FROM works WHERE work_id = ?", (work_id,))
