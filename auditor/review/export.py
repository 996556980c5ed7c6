"""The review trail as CSV: every decision and every match a reviewer added, one row each.

Columns: query_id (the clip, as in matches.csv and summary.csv), decision, reviewer, time (UTC),
note, work (for a decision: the works the evidence names; for a missed match: the catalogue's work
the reviewer named), ref_id (the reference file, when named), and a missed match's times in the
clip and in the reference. The desk serves
it at /reviews.csv and `auditor reviews` writes it. Cells that a spreadsheet would run as a
formula are escaped as in the other CSVs.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from pathlib import Path

from ..evidence.files import escape_cell
from .store import ReviewStore

COLUMNS = ("query_id", "decision", "reviewer", "time_utc", "note", "work", "ref_id", "query_start", "query_end",
           "ref_start", "ref_end", "clip_sha256")


def review_rows(store: ReviewStore, works_of: Callable[[str], tuple[str, ...]]) -> list[dict]:
    rows = [{"query_id": d["query_id"], "decision": d["decision"], "reviewer": d["reviewer"], "time_utc": d["created_utc"],
             "note": d["note"], "work": "; ".join(works_of(d["query_id"])), "ref_id": "", "query_start": "",
             "query_end": "", "ref_start": "", "ref_end": "", "clip_sha256": d["clip_sha256"],
             "_order": (d["created_utc"], 0, d["id"])}
            for d in store.all_decisions()]
    rows += [{"query_id": m["query_id"], "decision": "missed match", "reviewer": m["reviewer"], "time_utc": m["created_utc"],
              "note": m["note"], "work": m["work"], "ref_id": m["ref_id"], "query_start": m["query_start"],
              "query_end": m["query_end"], "ref_start": "" if m["ref_start"] is None else m["ref_start"],
              "ref_end": "" if m["ref_end"] is None else m["ref_end"], "clip_sha256": m["clip_sha256"],
              "_order": (m["created_utc"], 1, m["id"])}
             for m in store.missed()]
    rows.sort(key=lambda r: r.pop("_order"))
    return rows


def reviews_csv(store: ReviewStore, works_of: Callable[[str], tuple[str, ...]]) -> str:
    buf = io.StringIO()
    w = csv.DictWriter(buf, fieldnames=COLUMNS, lineterminator="\n")
    w.writeheader()
    for row in review_rows(store, works_of):
        w.writerow({k: escape_cell(v) for k, v in row.items()})
    return buf.getvalue()


def export_reviews(results: str | Path) -> str:
    """The CSV of a results folder's review trail (`auditor reviews`)."""
    from .queue import Results

    results = Path(results)
    db = results / "reviews.sqlite"
    if not db.is_file():
        raise FileNotFoundError(f"{db}: no review trail in this results folder")
    data = Results(results)
    data.load()
    store = ReviewStore(db)
    try:
        return reviews_csv(store, data.works_of)
    finally:
        store.close()
