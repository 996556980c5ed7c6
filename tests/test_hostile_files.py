"""Files a scan leaves are ordinary files: their mode follows the umask (still written atomically),
and text cells of the CSVs cannot run as spreadsheet formulas."""

import csv
import os
import stat

import pytest

from auditor.evidence.files import escape_cell, unescape_cell, write_matches_csv, write_summary_csv
from auditor.scan.batch import run_batch


@pytest.fixture
def umask_022():
    old = os.umask(0o022)
    yield
    os.umask(old)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_evidence_csvs_exhibits_and_pdf_follow_the_umask(footage, pdq_index, pdq_config, tmp_path, umask_022):
    out = tmp_path / "out"
    report = run_batch([footage["copy"]], pdq_index, out, pdq_config, pdf={"lang": "en"})
    outcome = report.outcomes[0]
    assert outcome.report_path, outcome
    written = [outcome.evidence_path, out / "summary.csv", out / "matches.csv", outcome.report_path,
               *(out / "copy.frames").iterdir()]
    assert {str(p): oct(mode(p)) for p in written} == {str(p): oct(0o644) for p in written}
    manifest = next(pdq_index.glob("manifest.json"))
    assert mode(manifest) & 0o044 == 0o044  # the index's manifest too (written by the index writer)
    os.umask(0o077)
    write_summary_csv(out / "private.csv", [])
    assert mode(out / "private.csv") == 0o600
    assert not [p for p in out.iterdir() if p.name.startswith(".") and p.name.endswith(".tmp")]


def test_text_cells_that_would_start_a_formula_are_escaped_and_numbers_are_not(tmp_path):
    row = {"query_id": "=HYPERLINK(\"http://x\")", "path": "+1.mp4", "status": "error", "flagged": "", "level": "",
           "score": "-0.5", "top_work": "@work", "segments": "", "evidence": "", "error": "\tbad", "report": ""}
    write_summary_csv(tmp_path / "summary.csv", [row])
    write_matches_csv(tmp_path / "matches.csv", [{"query_id": "-clip", "ref_id": "=ref", "query_start": 0.0,
                                                   "query_end": 1.0, "ref_start": -0.0, "ref_end": 1.0, "score": 0.9}])
    with open(tmp_path / "summary.csv", newline="", encoding="utf-8") as f:
        got = next(csv.DictReader(f))
    assert got["query_id"] == "'=HYPERLINK(\"http://x\")" and got["path"] == "'+1.mp4"
    assert got["top_work"] == "'@work" and got["error"] == "'\tbad" and got["score"] == "-0.5"
    with open(tmp_path / "matches.csv", newline="", encoding="utf-8") as f:
        m = next(csv.DictReader(f))
    assert (m["query_id"], m["ref_id"], m["ref_start"]) == ("'-clip", "'=ref", "-0.000")
    assert unescape_cell(got["query_id"]) == row["query_id"] and unescape_cell("'quoted") == "'quoted"
    assert escape_cell("plain") == "plain" and escape_cell(3) == 3
