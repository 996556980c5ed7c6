"""`auditor verify` checks what a reader sees: a forged attachment whose hash is hidden in the page
(tiny or white text, or text laid over the printed hash) does not verify; a corrupt attachment is a
failed check with its reason; an unsigned report says so."""

import hashlib
import json

import pikepdf
import pytest
from typer.testing import CliRunner

from auditor.cli import app
from auditor.demo import run_demo
from auditor.report.check import _cover_lines
from auditor.report.pdf import INFO_KEY, render_report
from auditor.report.story import ATTACHMENT_NAME

runner = CliRunner()


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    run = run_demo(tmp_path_factory.mktemp("verify"))
    evidence = run.results / "generated_clip_0042.evidence.json"
    return {"evidence": evidence, "en": render_report(evidence, run.results / "en.pdf"),
            "ja": render_report(evidence, run.results / "ja.pdf", lang="ja")}


def forge(src, dst, text_ops) -> str:
    """Replace the attachment with a softened verdict, record its hash in the document
    information, and add `text_ops(hash, font)` to page 1. Returns the forged attachment's hash."""
    with pikepdf.open(src) as pdf:
        ev = json.loads(pdf.attachments[ATTACHMENT_NAME].get_file().read_bytes())
        ev["verdict"]["level"], ev["verdict"]["flagged"] = "no match", False
        raw = json.dumps(ev).encode()
        sha = hashlib.sha256(raw).hexdigest()
        pdf.attachments[ATTACHMENT_NAME] = pikepdf.AttachedFileSpec(pdf, raw, mime_type="application/json")
        pdf.docinfo[INFO_KEY] = sha
        page = pdf.pages[0]
        font = next(iter(page.Resources.Font.keys()))
        page.contents_add(pikepdf.Stream(pdf, text_ops(sha, font).encode()), prepend=False)
        pdf.save(dst)
    return sha


def verify(path):
    return runner.invoke(app, ["verify", str(path)])


def test_genuine_reports_verify_in_both_languages_and_say_they_are_unsigned(report):
    for lang in ("en", "ja"):
        r = verify(report[lang])
        assert r.exit_code == 0, r.output
        assert "ok    printed hash" in r.output and "ok    clip hash" in r.output
        assert "note  signature: none: the report is not signed" in r.output and "anyone able to edit" in r.output


def test_a_hash_in_invisible_text_does_not_make_a_forged_attachment_verify(report, tmp_path):
    tiny_white = tmp_path / "tiny.pdf"
    forge(report["en"], tiny_white, lambda sha, font: f"q BT {font} 1 Tf 1 1 1 rg 60 40 Td ({sha}) Tj ET Q")
    r = verify(tiny_white)
    assert r.exit_code == 1 and "FAIL  printed hash" in r.output and "does NOT verify" in r.stderr
    assert "ok    recorded hash" in r.output  # the forger updated the metadata too: not enough
    # legible size, in white, elsewhere on the cover: not seen either
    white = tmp_path / "white.pdf"
    forge(report["en"], white, lambda sha, font: f"q BT {font} 8 Tf 1 1 1 rg 60 60 Td ({sha}) Tj ET Q")
    assert "FAIL  printed hash" in verify(white).output


def test_a_hash_laid_over_the_printed_one_is_caught(report, tmp_path):
    with pikepdf.open(report["en"]) as pdf:
        page_height = float(pdf.pages[0].MediaBox[3])
    genuine = hashlib.sha256(report["evidence"].read_bytes()).hexdigest()
    box = next(b for line in _cover_lines(report["en"]) for w, b in line.words if w == genuine)
    x, y = box[0], page_height - box[3] + 1.5
    over = tmp_path / "over.pdf"
    forge(report["en"], over, lambda sha, font: f"q BT {font} 7 Tf 1 1 1 rg {x:.2f} {y:.2f} Td ({sha}) Tj ET Q")
    r = verify(over)
    assert r.exit_code == 1 and "FAIL  printed hash" in r.output
    assert "different values where the attachment's SHA-256 belongs" in r.output


def test_a_corrupt_attachment_is_a_failed_check_not_a_traceback(report, tmp_path):
    broken = tmp_path / "broken.pdf"
    with pikepdf.open(report["en"]) as pdf:
        stream = pdf.attachments[ATTACHMENT_NAME].obj.EF.F
        stream.write(b"\x78\x9c this is not deflate data", filter=pikepdf.Name.FlateDecode)
        pdf.save(broken)
    r = verify(broken)
    assert r.exit_code == 1 and "Traceback" not in r.output
    assert "FAIL  attachment: evidence.json is attached but cannot be read" in r.output


def test_reports_are_byte_identical_and_carry_what_renders_them_again(report, tmp_path):
    again = render_report(report["evidence"], tmp_path / "again.pdf")
    assert again.read_bytes() == report["en"].read_bytes()
    r = verify(report["en"])
    assert "ok    pages: every page is exactly what the attached evidence renders" in r.output


@pytest.mark.parametrize("edit, where", [
    ("title", "document information"),
    ("cover", "page 1 differs"),
    ("last", "differs"),
], ids=["title", "cover-text", "last-page"])
def test_an_edited_page_or_title_does_not_verify_and_the_page_is_named(report, tmp_path, edit, where):
    edited = tmp_path / f"{edit}.pdf"
    with pikepdf.open(report["en"]) as pdf:
        if edit == "title":
            pdf.docinfo["/Title"] = "Evidence report: nothing to see"
        else:
            page = pdf.pages[0 if edit == "cover" else -1]
            # a white box over the verdict's words, and new words on it
            font = next(iter(page.Resources.Font.keys()))
            page.contents_add(pikepdf.Stream(pdf, f"q 1 1 1 rg 40 600 500 120 re f Q BT {font} 12 Tf 60 650 Td "
                                                  "(no match.) Tj ET".encode()), prepend=False)
        pdf.save(edited)
    r = verify(edited)
    assert r.exit_code == 1 and "FAIL  pages" in r.output and where in r.output, r.output
    if edit == "last":
        pages = len(pikepdf.open(report["en"]).pages)
        assert f"page {pages} differs" in r.output


def test_verify_prints_no_library_warning(report):
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    r = subprocess.run([sys.executable, "-m", "auditor", "verify", str(report["en"])], capture_output=True, text=True,
                       env=dict(os.environ, PYTHONPATH=str(root)), timeout=120)
    assert r.returncode == 0, r.stderr
    assert "Warning" not in r.stderr and r.stdout.startswith("ok    attachment"), r.stderr
