"""The files a scan leaves behind: evidence JSON per clip, matches.csv and summary.csv.

Formats other tools read:
- `<query_id>.evidence.json`, schema `auditor.evidence/1` (see DESIGN.md);
- `matches.csv` in the matching-track format of Meta's Video Similarity Challenge 2022:
  `query_id,ref_id,query_start,query_end,ref_start,ref_end,score` (seconds; higher = stronger);
- `summary.csv`, one row per input clip, including the ones that failed and why.
All are written atomically.
"""

from __future__ import annotations

import csv
import io
import json
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

from reference_index.files import atomic_write_json, atomic_write_text

from . import __version__

SCHEMA = "auditor.evidence/1"
MATCHES_COLUMNS = ("query_id", "ref_id", "query_start", "query_end", "ref_start", "ref_end", "score")
SUMMARY_COLUMNS = (
    "query_id", "path", "status", "flagged", "level", "score", "top_work", "segments", "evidence", "error", "report",
)


def library_versions() -> dict:
    out = {"python": sys.version.split()[0], "platform": platform.platform()}
    for pkg in ("numpy", "opencv-python-headless", "faiss-cpu", "pdqhash", "open_clip_torch", "torch",
                "reportlab", "matplotlib", "pyHanko"):
        try:
            out[pkg] = version(pkg)
        except PackageNotFoundError:
            pass
    return out


def tool_block(fingerprints: dict, config: dict) -> dict:
    return {
        "name": "auditor",
        "version": __version__,
        "channels": fingerprints,
        "parameters": config,
        "libraries": library_versions(),
    }


def evidence_path(out_dir: str | Path, query_id: str) -> Path:
    return Path(out_dir) / f"{query_id}.evidence.json"


def write_evidence(out_dir: str | Path, evidence: dict) -> Path:
    path = evidence_path(out_dir, evidence["query_id"])
    atomic_write_json(path, evidence)
    return path


def load_evidence(path: str | Path) -> dict:
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    if data.get("schema") != SCHEMA:
        raise ValueError(f"{path}: schema {data.get('schema')!r}, expected {SCHEMA!r}")
    return data


def matches_rows(evidence: dict) -> list[dict]:
    """VSC rows for every segment of one clip, strongest first."""
    rows = []
    for work in evidence["works"]:
        for seg in work["segments"]:
            rows.append(
                {
                    "query_id": evidence["query_id"],
                    "ref_id": seg["ref_id"],
                    "query_start": seg["query_start"],
                    "query_end": seg["query_end"],
                    "ref_start": seg["ref_start"],
                    "ref_end": seg["ref_end"],
                    "score": seg["score"],
                }
            )
    rows.sort(key=lambda r: -r["score"])
    return rows


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
        for r in sorted(rows, key=lambda r: -float(r["score"]))
    ]
    atomic_write_text(path, _csv_text(MATCHES_COLUMNS, formatted))


def write_summary_csv(path: str | Path, rows: list[dict]) -> None:
    atomic_write_text(path, _csv_text(SUMMARY_COLUMNS, rows))
