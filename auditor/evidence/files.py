"""The files a scan leaves behind, read and written in one place.

- `<query_id>.evidence.json`, schema `auditor.evidence/1` (records.py); every reader of an
  evidence file goes through `read_evidence` / `parse_evidence`;
- `matches.csv` in the matching-track format of Meta's Video Similarity Challenge 2022:
  `query_id,ref_id,query_start,query_end,ref_start,ref_end,score` (seconds; higher = stronger);
- `summary.csv`, one row per input clip, including the ones that failed and why; its `evidence`
  and `report` cells name files relative to the folder the summary is in.
Rows come in one total order that depends on nothing but their content (`matches.csv`: score,
strongest first, then query, reference and times, as printed; `summary.csv`: query id, then
path), so two scans of the same clips give the same bytes whatever the engine, the number of
workers or the order in which clips finish. All are written atomically, with the mode the umask
gives; text cells that a spreadsheet would run as a formula are escaped with a leading single
quote (`escape_cell`).
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import math
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from pydantic import ValidationError

from reference_index.store import atomic_write_json, atomic_write_text

from ..errors import InputError, UsageError
from .records import SCHEMA, Evidence, ImageFile

# VSC 2022's seven columns, then (for people; VSC readers go by column name) the reference's work
# and owner
MATCHES_COLUMNS = ("query_id", "ref_id", "query_start", "query_end", "ref_start", "ref_end", "score", "work", "owner")
SUMMARY_COLUMNS = (
    "query_id", "path", "status", "flagged", "level", "score", "top_work", "segments", "evidence", "error", "report",
    # the strongest match as the catalogue names it (added 2026-11-25; earlier files end at "report")
    "owner", "episode", "ref_id", "query_start", "query_end", "ref_start", "ref_end", "p_value", "first_published",
)
SUFFIX = ".evidence.json"


def evidence_files(folder: str | Path) -> Iterator[tuple[str, tuple[int, int]]]:
    """(file name, (size, modification time in ns)) of each evidence file in a folder, hidden ones
    and those that vanish while listed left out: what a reader that remembers what it read by
    that key needs to tell which files changed."""
    with os.scandir(folder) as it:
        for entry in it:
            if not entry.name.endswith(SUFFIX) or entry.name.startswith("."):
                continue
            try:
                st = entry.stat()
            except OSError:
                continue
            yield entry.name, (st.st_size, st.st_mtime_ns)


def check_writable(folder: str | Path, option: str, why: str = "results are written here") -> None:
    """UsageError, naming the option and the folder, unless a file can be made in `folder` (a
    read-only file system, or permissions: said before any work, not by a temporary file later)."""
    try:
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=".auditor-writable-", suffix=".tmp")
    except OSError as exc:
        raise UsageError(f"{option} {folder}: cannot write in this folder ({exc.strerror or exc}); {why}") from None
    os.close(fd)
    os.unlink(tmp)


def evidence_path(out_dir: str | Path, query_id: str) -> Path:
    return Path(out_dir) / f"{query_id}{SUFFIX}"


def write_evidence(out_dir: str | Path, evidence: Evidence) -> Path:
    """Write the evidence atomically, as standard JSON: a number that is not finite is refused
    (InputError naming the clip and where the number is), never written as NaN or Infinity."""
    path = evidence_path(out_dir, evidence.query_id)
    data = evidence.to_json_dict()
    where = _not_finite(data)
    if where is not None:
        raise InputError(evidence.clip.path, f"evidence not written: '{where}' is not a finite number (JSON has none)")
    atomic_write_json(path, data)
    return path


def _not_finite(obj, where: str = "") -> str | None:
    """The path of the first NaN or infinity in a JSON-like value, or None."""
    if isinstance(obj, float):
        return None if math.isfinite(obj) else (where or "top level")
    items = obj.items() if isinstance(obj, dict) else enumerate(obj) if isinstance(obj, (list, tuple)) else ()
    for key, value in items:
        found = _not_finite(value, f"{where}.{key}" if where else str(key))
        if found is not None:
            return found
    return None


class _NotFinite(ValueError):
    pass


def _no_constant(name: str):
    """json's hook for NaN, Infinity and -Infinity, which auditor never writes: refused."""
    raise _NotFinite(name)


def _capped(obj, limit: int):
    """The JSON value with every text longer than `limit` cut there, saying how much was left out."""
    if isinstance(obj, str):
        return obj if len(obj) <= limit else f"{obj[:limit]}… [{len(obj) - limit:,} more characters in the evidence]"
    if isinstance(obj, dict):
        return {k: _capped(v, limit) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_capped(v, limit) for v in obj]
    return obj


def parse_evidence(raw: bytes, source: str | Path, max_text: int | None = None) -> Evidence:
    """Evidence from the bytes of an evidence file; InputError naming `source` and the problem.
    `max_text`: cut longer texts there, with a note (what a page shows: a 2 MB work title would
    take minutes to lay out and says nothing more)."""
    try:
        data = json.loads(raw.decode("utf-8"), parse_constant=_no_constant)
    except _NotFinite as exc:
        raise InputError(source, f"evidence holds {exc}, which is not a number (nor standard JSON): edited or "
                                 "written by another tool") from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(source, f"not a complete evidence JSON file ({exc})") from None
    except RecursionError:  # '[' * 100000: deeper than any evidence file is
        raise InputError(source, "not an evidence JSON file (nested too deeply to read)") from None
    if not isinstance(data, dict) or data.get("schema") != SCHEMA:
        got = data.get("schema") if isinstance(data, dict) else None
        raise InputError(source, f"evidence schema {got!r}, this version of auditor reads {SCHEMA!r}")
    try:
        if max_text is not None:
            data = _capped(data, max_text)
        return Evidence.model_validate(data)
    except RecursionError:
        raise InputError(source, "not an evidence JSON file (nested too deeply to read)") from None
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "top level"
        raise InputError(source, f"evidence does not follow {SCHEMA} at '{where}': {first['msg']} "
                                 f"(truncated or edited?)") from None


def read_evidence(path: str | Path, max_text: int | None = None) -> Evidence:
    """Read one evidence file (any written so far). InputError names the file and the problem.
    `max_text`: see parse_evidence."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    return parse_evidence(raw, path, max_text)


def read_exhibit(folder: str | Path, picture: ImageFile) -> bytes:
    """The bytes of an exhibit picture the evidence in `folder` names: a file inside that folder
    (after links are followed) with the SHA-256 the evidence records; otherwise InputError naming
    the folder, and the picture with its problem."""
    folder = Path(folder)
    path = folder / picture.file

    def refused(what: str) -> InputError:
        return InputError(folder, f"exhibit frame {picture.file} {what}")

    try:
        inside = path.resolve(strict=True).is_relative_to(folder.resolve(strict=True))
    except (OSError, RuntimeError):
        raise refused("is missing (keep the .frames folder beside the evidence)") from None
    if not inside:
        raise refused("lies outside the results folder: not read")
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise refused(f"cannot be read ({exc.strerror or exc})") from None
    if hashlib.sha256(data).hexdigest() != picture.sha256:
        raise refused("does not match its SHA-256 in the evidence")
    return data


def matches_rows(evidence: Evidence) -> list[dict]:
    """VSC rows for every segment of one clip, strongest first."""
    rows = [
        {
            "query_id": evidence.query_id,
            "ref_id": seg.ref_id,
            "query_start": seg.query_start,
            "query_end": seg.query_end,
            "ref_start": seg.ref_start,
            "ref_end": seg.ref_end,
            "score": seg.score,
            "work": seg.work,
            "owner": evidence.references[seg.ref_id].owner if seg.ref_id in evidence.references else "",
        }
        for seg in evidence.segments()
    ]
    rows.sort(key=_match_order)
    return rows


def _match_order(row: dict) -> tuple:
    """matches.csv's total order, on the values as printed: score (strongest first), then query,
    reference and the four times."""
    times = tuple(round(float(row[k]), 3) for k in ("query_start", "query_end", "ref_start", "ref_end"))
    return (-round(float(row["score"]), 6), str(row["query_id"]), str(row["ref_id"]), *times)


def summary_order(row: dict) -> tuple:
    """summary.csv's total order: query id, then the clip's path."""
    return (str(row["query_id"]), str(row["path"]))


def strongest(evidence: Evidence) -> dict:
    """The clip's strongest match as summary.csv lists it: owner, the catalogue's episode and
    title, the reference, timecodes on both sides, p-value ('' where there is none)."""
    out = dict.fromkeys(SUMMARY_COLUMNS[11:], "")
    if not evidence.works:
        return out
    work = evidence.works[0]
    out["owner"] = work.owner
    seg = work.best_segment
    if seg is not None:
        ref = evidence.references.get(seg.ref_id)
        out.update(ref_id=seg.ref_id, query_start=f"{seg.query_start:.3f}", query_end=f"{seg.query_end:.3f}",
                   ref_start=f"{seg.ref_start:.3f}", ref_end=f"{seg.ref_end:.3f}")
        if ref is not None:
            out["episode"] = " ".join(v for v in (ref.episode, ref.title) if v)
            out["first_published"] = ref.first_published or ""
    p = work.p_value
    out["p_value"] = "" if p is None else f"{p:.3g}"
    return out


# A cell a spreadsheet would run as a formula starts with one of these; OWASP's advice for CSV
# injection: prefix the text with a single quote. Only text cells (ids, paths, work titles,
# reasons) are escaped; numbers stay numbers. `unescape_cell` gives the text back.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")
SUMMARY_TEXT = ("query_id", "path", "top_work", "evidence", "error", "report", "owner", "episode", "ref_id",
                "first_published")
MATCHES_TEXT = ("query_id", "ref_id", "work", "owner")


def escape_cell(value):
    """A text cell as written: with a leading ' when it would start a formula."""
    return f"'{value}" if isinstance(value, str) and value.startswith(FORMULA_STARTS) else value


def unescape_cell(value: str) -> str:
    """A text cell as read back from summary.csv or matches.csv (the inverse of escape_cell)."""
    return value[1:] if value.startswith("'") and value[1:].startswith(FORMULA_STARTS) else value


def _escaped(rows, text_columns) -> list[dict]:
    return [{**r, **{k: escape_cell(r[k]) for k in text_columns if k in r}} for r in rows]


def _csv_text(columns, rows) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=columns, lineterminator="\n", extrasaction="ignore")
    w.writeheader()
    for r in rows:
        w.writerow(r)
    return buf.getvalue()


def write_matches_csv(path: str | Path, rows: list[dict]) -> None:
    formatted = [
        {
            **r,
            **{k: f"{float(r[k]):.3f}" for k in ("query_start", "query_end", "ref_start", "ref_end")},
            "score": f"{float(r['score']):.6f}",
        }
        for r in sorted(rows, key=_match_order)
    ]
    atomic_write_text(path, _csv_text(MATCHES_COLUMNS, _escaped(formatted, MATCHES_TEXT)))


def write_summary_csv(path: str | Path, rows: list[dict]) -> None:
    atomic_write_text(path, _csv_text(SUMMARY_COLUMNS, _escaped(sorted(rows, key=summary_order), SUMMARY_TEXT)))
