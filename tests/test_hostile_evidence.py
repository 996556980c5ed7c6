"""Evidence and exhibits that cannot be trusted cost their own clip only: JSON nested past any
parser's depth, exhibits named outside the results folder, truncated pictures."""

import base64
import hashlib
import json
import shutil
import zipfile

import pytest
from fastapi.testclient import TestClient
from helpers import noise_image
from typer.testing import CliRunner

from auditor.cli import app
from auditor.review.app import create_app
from auditor.scan.batch import run_batch

runner = CliRunner()
DEEP = "[" * 100000


@pytest.fixture(scope="module")
def scanned(footage, pdq_index, tmp_path_factory):
    from auditor.config import load_config

    out = tmp_path_factory.mktemp("scanned") / "results"
    run_batch([footage["copy"]], pdq_index, out, load_config(overrides={"channels": {"default": ["pdq"]}}))
    return out


@pytest.fixture
def results(scanned, tmp_path):
    out = tmp_path / "results"
    shutil.copytree(scanned, out)
    return out


def one_line_error(result, name: str) -> None:
    text = result.stdout + result.stderr
    assert "Traceback" not in text and not isinstance(result.exception, (RecursionError, MemoryError))
    assert name in result.stderr, result.stderr


def test_evidence_nested_too_deeply_is_one_line_in_report_summary_and_bundle(results, tmp_path):
    (results / "deep.evidence.json").write_text(DEEP)
    r = runner.invoke(app, ["report", str(results / "deep.evidence.json")])
    assert r.exit_code in (1, 2)
    one_line_error(r, "deep.evidence.json")
    r = runner.invoke(app, ["summary", str(results)])
    assert r.exit_code == 0, r.stdout + r.stderr
    one_line_error(r, "deep.evidence.json")
    assert "copy" in (results / "summary.html").read_text(encoding="utf-8")
    r = runner.invoke(app, ["bundle", str(results), "--out", str(tmp_path / "case.zip")])
    assert r.exit_code == 0, r.stdout + r.stderr
    one_line_error(r, "deep.evidence.json")
    with zipfile.ZipFile(tmp_path / "case.zip") as zf:
        assert "copy.evidence.json" in zf.namelist() and "deep.evidence.json" not in zf.namelist()


def test_a_bundle_whose_manifest_is_nested_too_deeply_does_not_verify(tmp_path):
    with zipfile.ZipFile(tmp_path / "case.zip", "w") as zf:
        zf.writestr("manifest.json", DEEP)
    r = runner.invoke(app, ["verify", str(tmp_path / "case.zip")])
    assert r.exit_code == 1 and "FAIL" in r.stdout and "Traceback" not in r.stdout + r.stderr


def test_a_resuming_scan_keeps_going_past_evidence_nested_too_deeply(footage, pdq_index, pdq_config, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "copy.evidence.json").write_text(DEEP)
    report = run_batch([footage["copy"], footage["unrelated"]], pdq_index, out, pdq_config)
    assert [o.status for o in report.outcomes] == ["ok", "ok"]
    assert (out / "copy.evidence.json").read_text() == DEEP  # not ours to replace
    assert any(r.startswith("copy") for r in (out / "summary.csv").read_text().splitlines()[1:])


def test_the_desk_lists_evidence_nested_too_deeply_as_unreadable(results):
    (results / "deep.evidence.json").write_text(DEEP)
    c = TestClient(create_app(results.parent, results), base_url="http://127.0.0.1:8765",
                   raise_server_exceptions=False)
    page = c.get("/")
    assert page.status_code == 200 and "deep.evidence.json" in page.text
    assert c.get("/clip/deep").status_code == 404
    assert c.get("/clip/copy").status_code == 200


def _point_exhibit_at(results, name: str, data: bytes) -> None:
    """Make copy's first exhibit picture name `name` (relative to the folder) with data's SHA-256."""
    path = results / "copy.evidence.json"
    ev = json.loads(path.read_text())
    seg = next(s for w in ev["works"] for s in w["segments"] if s["exhibits"])
    seg["exhibits"][0]["query_image"].update(file=name, sha256=hashlib.sha256(data).hexdigest())
    path.write_text(json.dumps(ev))


def test_an_exhibit_outside_the_results_folder_is_never_embedded(results, tmp_path):
    secret = noise_image(tmp_path / "private_outside.png", seed=3)
    data = secret.read_bytes()
    _point_exhibit_at(results, "../private_outside.png", data)
    r = runner.invoke(app, ["summary", str(results)])
    assert r.exit_code == 0, r.stdout + r.stderr
    one_line_error(r, "copy")
    assert base64.b64encode(data)[:200].decode() not in (results / "summary.html").read_text(encoding="utf-8")
    (tmp_path / "private_outside.png").write_bytes(b"not a picture at all")
    _point_exhibit_at(results, "../private_outside.png", b"not a picture at all")
    r = runner.invoke(app, ["bundle", str(results), "--out", str(tmp_path / "case.zip")])
    assert r.exit_code == 0, r.stdout + r.stderr
    one_line_error(r, "copy")
    r = runner.invoke(app, ["report", str(results / "copy.evidence.json"), "--out", str(tmp_path / "r.pdf")])
    assert r.exit_code in (1, 2) and "outside" in r.stderr and "Traceback" not in r.stdout + r.stderr


def test_a_truncated_exhibit_costs_its_clip_not_the_summary_or_bundle(results, tmp_path):
    ev = json.loads((results / "copy.evidence.json").read_text())
    first = next(s for w in ev["works"] for s in w["segments"] if s["exhibits"])["exhibits"][0]["query_image"]["file"]
    jpeg = results / first
    jpeg.write_bytes(jpeg.read_bytes()[:300])
    r = runner.invoke(app, ["summary", str(results)])
    assert r.exit_code == 0, r.stdout + r.stderr
    one_line_error(r, "copy")
    _point_exhibit_at(results, first, jpeg.read_bytes())  # its SHA-256 now agrees: the picture is still broken
    r = runner.invoke(app, ["bundle", str(results), "--out", str(tmp_path / "case.zip")])
    assert r.exit_code == 0, r.stdout + r.stderr
    one_line_error(r, "copy")


def _forged_verdict(results) -> None:
    """unrelated's evidence (no match, no segment) edited to say 'flagged, near-identical copy'."""
    path = results / "unrelated.evidence.json"
    ev = json.loads(path.read_text())
    assert not any(w["segments"] for w in ev["works"])
    ev["verdict"].update(flagged=True, level="near-identical copy", score=0.97)
    path.write_text(json.dumps(ev))


@pytest.fixture(scope="module")
def two_clips(footage, pdq_index, tmp_path_factory):
    from auditor.config import load_config

    out = tmp_path_factory.mktemp("two") / "results"
    run_batch([footage["copy"], footage["unrelated"]], pdq_index, out,
              load_config(overrides={"channels": {"default": ["pdq"]}}))
    return out


def test_a_forged_verdict_is_refused_by_report_summary_and_verify(two_clips, tmp_path, monkeypatch):
    results = tmp_path / "results"
    shutil.copytree(two_clips, results)
    _forged_verdict(results)
    r = runner.invoke(app, ["report", str(results / "unrelated.evidence.json"), "--out", str(tmp_path / "f.pdf")])
    assert r.exit_code in (1, 2) and "contradicts itself" in r.stderr and not (tmp_path / "f.pdf").exists()
    r = runner.invoke(app, ["summary", str(results)])
    assert r.exit_code == 0, r.stdout + r.stderr
    one_line_error(r, "unrelated")
    # a forger's own renderer (the check taken out) makes a report whose hashes all agree: it does not verify
    import auditor.report.pdf as pdf

    monkeypatch.setattr(pdf, "contradictions", lambda ev: [])
    forged = pdf.render_report(results / "unrelated.evidence.json", tmp_path / "forged.pdf")
    r = runner.invoke(app, ["verify", str(forged)])
    assert r.exit_code == 1 and "FAIL  consistency" in r.stdout, r.stdout


@pytest.mark.parametrize("constant", ["NaN", "Infinity", "-Infinity"])
def test_a_score_that_is_not_a_number_is_refused_not_printed(results, tmp_path, constant):
    path = results / "copy.evidence.json"
    path.write_text(path.read_text().replace('"score": ', f'"score": {constant}, "was": ', 1))
    r = runner.invoke(app, ["report", str(path), "--out", str(tmp_path / "r.pdf")])
    assert r.exit_code == 1 and constant.lstrip("-") in r.stderr and not (tmp_path / "r.pdf").exists()
    one_line_error(r, "copy.evidence.json")
    r = runner.invoke(app, ["summary", str(results)])
    assert r.exit_code == 0 and "score nan" not in (results / "summary.html").read_text(encoding="utf-8").lower()
    one_line_error(r, "copy.evidence.json")


def test_a_two_megabyte_work_title_is_cut_with_a_note_and_renders_in_seconds(results, tmp_path):
    import os
    import subprocess
    import sys
    from pathlib import Path

    path = results / "copy.evidence.json"
    ev = json.loads(path.read_text())
    title = "Star Courier " * 160_000  # about 2 MB
    for w in ev["works"]:
        w["work"] = title
        for s in w["segments"]:
            s["work"] = title
    path.write_text(json.dumps(ev))
    root = Path(__file__).resolve().parents[1]
    env = dict(os.environ, PYTHONPATH=str(root))
    r = subprocess.run([sys.executable, "-m", "auditor", "report", str(path), "--out", str(tmp_path / "r.pdf")],
                       capture_output=True, text=True, timeout=90, env=env)
    assert r.returncode == 0, r.stderr
    r = subprocess.run([sys.executable, "-m", "auditor", "verify", str(tmp_path / "r.pdf")], capture_output=True,
                       text=True, timeout=90, env=env)
    assert r.returncode == 0 and "ok    pages" in r.stdout, r.stdout + r.stderr
    r = subprocess.run(["pdftotext", str(tmp_path / "r.pdf"), "-"], capture_output=True, text=True, timeout=60)
    assert "more characters in the evidence" in r.stdout.replace("\n", " ")
