"""Issue 16: evidence a lawyer can send. A catalogue in Japanese (work, owner, episode, title,
first publication) and a collector writing in other scripts: the English report prints them
unchanged in embedded fonts, page one names the clip and the work and shows the frame pair, the
evidence carries the catalogue's words, renders are byte-identical, `summary` writes its three
files, and `bundle` + `verify` catch an edited file."""

import json
import re
import subprocess
import zipfile

import pikepdf
import pytest
from helpers import JA_EPISODE, JA_OWNER, JA_PUBLISHED, JA_TITLE, JA_WORK, japanese_case
from typer.testing import CliRunner

from auditor.cli import app
from auditor.report.pdf import render_report

runner = CliRunner()
CLIP = "generated_clip_0042"


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    folder, index, results = japanese_case(tmp_path_factory.mktemp("ja-case"))
    evidence = results / f"{CLIP}.evidence.json"
    report = render_report(evidence)  # beside the evidence, as scan --pdf leaves it
    return {"results": results, "evidence": evidence, "report": report, "index": index}


def pdftotext(path, *pages) -> str:
    args = ["pdftotext", "-layout"] + (["-f", str(pages[0]), "-l", str(pages[-1])] if pages else []) + [str(path), "-"]
    return subprocess.run(args, capture_output=True, check=True).stdout.decode()


def test_english_report_prints_every_script_unchanged_in_embedded_fonts(case):
    text = pdftotext(case["report"])
    for s in (JA_WORK, JA_OWNER, JA_EPISODE, JA_TITLE, "José Müller", "별빛 배달부가", "星空下的快递员"):
        assert s in text, s
    fonts = subprocess.run(["pdffonts", str(case["report"])], capture_output=True, text=True, check=True).stdout
    rows = fonts.splitlines()[2:]
    assert rows and all(line.split()[-5] == "yes" for line in rows), fonts  # the "emb" column
    assert "Helvetica" not in fonts and "Courier" not in fonts


def test_page_one_names_the_clip_and_the_work_and_shows_the_frame_pair(case):
    page1 = pdftotext(case["report"], 1)
    assert f"{CLIP}.mp4" in page1 and JA_WORK in page1 and JA_TITLE in page1
    # the chance in words on page one; the score and the exact p-value stay with the segments and appendix
    assert "near-identical copy" in page1 and "Chance:" in page1 and "Score" not in page1
    assert "Collected by" in page1 and "https://generator.example/share/abc123" in page1
    with pikepdf.open(case["report"]) as pdf:
        assert len(pdf.pages[0].get_images()) >= 1  # the strongest frame pair
    ja = render_report(case["evidence"], case["results"] / "ja.pdf", lang="ja")
    page1 = pdftotext(ja, 1)
    assert "数値の意味" in page1 and "収集者" in page1 and "偶然の可能性" in page1 and JA_WORK in page1
    text = pdftotext(ja)
    for s in ("José Müller", "별빛 배달부가", "星空下的快递员", JA_TITLE):  # every script in the Japanese report too
        assert s in text, s


def test_the_evidence_carries_the_catalogues_words(case):
    ev = json.loads(case["evidence"].read_text(encoding="utf-8"))
    ref = ev["references"]["star_courier_ep01"]
    assert (ref["episode"], ref["title"], ref["first_published"], ref["owner"]) == (JA_EPISODE, JA_TITLE, JA_PUBLISHED, JA_OWNER)
    work = ev["works"][0]
    assert work["work"] == JA_WORK and work["metadata"]["first_published"] == JA_PUBLISHED
    assert work["metadata"]["references"]["star_courier_ep01"]["title"] == JA_TITLE
    summary = (case["results"] / "summary.csv").read_text(encoding="utf-8")
    assert JA_OWNER in summary and JA_TITLE in summary and "star_courier_ep01" in summary
    assert JA_WORK in (case["results"] / "matches.csv").read_text(encoding="utf-8")


def test_two_renders_of_the_same_evidence_are_byte_identical(case, tmp_path):
    a = render_report(case["evidence"], tmp_path / "a.pdf")
    b = render_report(case["evidence"], tmp_path / "b.pdf")
    assert a.read_bytes() == b.read_bytes() == case["report"].read_bytes()


def test_summary_writes_a_pdf_a_self_contained_html_and_a_spreadsheet(case):
    from openpyxl import load_workbook

    from auditor.review.store import ReviewStore

    store = ReviewStore(case["results"] / "reviews.sqlite")
    store.add(CLIP, "x" * 64, "confirm", "佐藤 A.", "same shot")
    store.close()
    r = runner.invoke(app, ["summary", str(case["results"])])
    assert r.exit_code == 0, r.output
    pdf, html, xlsx = (case["results"] / n for n in ("summary.pdf", "summary.html", "summary.xlsx"))
    assert JA_WORK in pdftotext(pdf) and JA_OWNER in pdftotext(pdf)
    page = html.read_text(encoding="utf-8")
    assert "data:image/jpeg;base64," in page and f"{CLIP}.report.pdf" in page and JA_TITLE in page
    wb = load_workbook(xlsx)
    works, clips, failures = wb.worksheets
    assert [c.value for c in works[2]][:4] == [JA_WORK, JA_OWNER, 1, 1]
    row = {h.value: c for h, c in zip(clips[1], clips[2])}
    assert row["Work"].value == JA_WORK and JA_TITLE in row["Episode"].value
    assert row["Report"].hyperlink.target == f"{CLIP}.report.pdf" and row["p-value"].value
    assert row["Review"].value == "confirmed (佐藤 A.)"
    assert failures.max_row == 1  # the header: nothing failed
    # dated by the newest scan, not by the clock of writing: the same folder gives the same bytes
    scanned = max(json.loads(p.read_text(encoding="utf-8"))["created_utc"] for p in case["results"].glob("*.evidence.json"))
    assert wb.properties.created.isoformat() == wb.properties.modified.isoformat() == scanned[:19]
    y, mo, d, h, mi, sec = (int(x) for x in re.split(r"[-T:]", scanned[:19]))
    with zipfile.ZipFile(xlsx) as zf:  # zip entries keep time in two-second steps
        assert {i.date_time for i in zf.infolist()} == {(y, mo, d, h, mi, sec - sec % 2)}


def test_bundle_verifies_untouched_and_names_the_file_an_edit_changed(case, tmp_path):
    out = tmp_path / "case.zip"
    r = runner.invoke(app, ["bundle", str(case["results"]), "--out", str(out)])
    assert r.exit_code == 0, r.output
    with zipfile.ZipFile(out) as zf:
        names = zf.namelist()
    for n in (f"{CLIP}.evidence.json", f"{CLIP}.report.pdf", f"{CLIP}.frames/s01_p1_query.jpg", "summary.xlsx",
              "summary.html", "summary.pdf", "manifest.json", "SHA256SUMS"):
        assert n in names, n
    r = runner.invoke(app, ["verify", str(out)])
    assert r.exit_code == 0 and "bundle verifies" in r.output, r.output

    edited = tmp_path / "edited.zip"
    with zipfile.ZipFile(out) as src, zipfile.ZipFile(edited, "w") as dst:
        for info in src.infolist():
            data = src.read(info)
            if info.filename == f"{CLIP}.evidence.json":
                data = data.replace(b'"near-identical copy"', b'"no match"', 1)
            dst.writestr(info, data)
    r = runner.invoke(app, ["verify", str(edited)])
    assert r.exit_code == 1
    assert f"FAIL  file: {CLIP}.evidence.json: differs from the manifest" in r.output
    assert "does NOT verify" in r.stderr
    fails = [line for line in r.output.splitlines() if line.startswith("FAIL")]
    assert fails and all(f"{CLIP}.evidence.json:" in line for line in fails)  # only the edited file is named

    r = runner.invoke(app, ["bundle", str(case["results"]), "--out", str(case["results"] / "case.zip")])
    assert r.exit_code == 2 and "outside the results folder" in r.output  # it would pack itself

    flagged = tmp_path / "flagged.zip"
    assert runner.invoke(app, ["bundle", str(case["results"]), "--out", str(flagged), "--only-flagged"]).exit_code == 0
    with zipfile.ZipFile(flagged) as zf:
        assert not any(n.startswith("generated_clip_0043") for n in zf.namelist())


def test_a_context_file_with_an_unknown_key_is_refused_naming_the_known_ones(tmp_path):
    from auditor.errors import InputError
    from auditor.media.provenance import read_context

    f = tmp_path / "clip.context.toml"
    f.write_text('generator = "X"\nwho = "A. Sato"\nversion = "2"\n', encoding="utf-8")
    with pytest.raises(InputError) as exc:
        read_context(f)
    assert "unknown context key(s) 'who', 'version'" in str(exc.value)
    for key in ("generated_by", "generator_version", "collected_by", "organisation", "source_url", "collected_at"):
        assert key in str(exc.value)


def test_cli_prints_its_version_lists_choices_and_keeps_bracketed_help_text():
    r = runner.invoke(app, ["--version"])
    assert r.exit_code == 0 and r.output.startswith("auditor ")
    r = runner.invoke(app, ["scan", "--help"], terminal_width=200)
    assert "auditor[ray]" in r.output and "en|ja" in r.output


def test_progress_inside_a_long_file_is_shown_for_index_add(tmp_path):
    """Inside one file, index add reports frames as they are embedded (a live line on a terminal)."""
    import io
    import sys

    from helpers import write_scene

    from auditor.cli.progress import FileProgress
    from auditor.config import load_config
    from auditor.indexing.ingest import CatalogueItem, add_items

    clip = write_scene(tmp_path / "long.mp4", 3, 6.0)
    seen = []
    add_items(tmp_path / "idx", [CatalogueItem(clip, "W", "O")], load_config(overrides={"channels": {"default": ["pdq"]}}),
              ["pdq"], on_frames=lambda f, n: seen.append((f, n)))
    assert seen and seen[-1][0].endswith("long.mp4") and seen[-1][1] >= 10 and seen == sorted(seen, key=lambda x: x[1])
    err, sys.stderr = sys.stderr, io.StringIO()
    try:
        live = FileProgress(live=True)
        live.on_frames("long.mp4", 12)
        live.print("[1/1] long.mp4: added")
        live.close()
        shown = sys.stderr.getvalue()
    finally:
        sys.stderr = err
    assert "long.mp4: 12 frames" in shown and "[1/1] long.mp4: added" in shown
    assert shown.rstrip().endswith("[1/1] long.mp4: added") or "\x1b[2K" in shown.split("[1/1]")[-1]  # the live line is gone


def test_ffmpeg_and_opencv_log_lines_do_not_leak_into_the_output(case, tmp_path):
    import os
    import sys
    from pathlib import Path

    broken = tmp_path / "broken.mp4"
    broken.write_bytes((case["results"].parent / "suspects" / f"{CLIP}.mp4").read_bytes()[:3000])
    env = {k: v for k, v in os.environ.items() if not k.startswith("OPENCV_")}
    auditor = Path(sys.executable).with_name("auditor")
    r = subprocess.run([str(auditor), "scan", str(broken), "--index", str(case["index"]), "--out", str(tmp_path / "out")],
                       capture_output=True, text=True, env=env)
    assert r.returncode == 1
    lines = [ln for ln in r.stderr.splitlines() if ln.strip()]
    assert lines == [f"auditor: [1/1] error: {broken}: not a readable video (FFmpeg could not open it: corrupt, "
                     "truncated or not a video)"], r.stderr


def test_page_one_keeps_the_hashes_verify_reads_however_many_works(case, tmp_path):
    import shutil

    ev = json.loads(case["evidence"].read_text(encoding="utf-8"))
    work = ev["works"][0]
    ev["works"] = [work] + [{**work, "work": f"{JA_WORK} 外伝 {i} — a spin-off with a long title"} for i in range(7)]
    ev["provenance"]["context"]["fields"]["source_url"] = "https://generator.example/share/" + "x" * 150
    shutil.copytree(case["results"] / f"{CLIP}.frames", tmp_path / f"{CLIP}.frames")
    evidence = tmp_path / f"{CLIP}.evidence.json"
    evidence.write_text(json.dumps(ev, ensure_ascii=False), encoding="utf-8")
    out = render_report(evidence, tmp_path / "many.pdf")
    assert "3 further work(s)" in pdftotext(out, 1) or "4 further work(s)" in pdftotext(out, 1)
    r = runner.invoke(app, ["verify", str(out)])
    assert r.exit_code == 0, r.output


def test_bundle_verify_checks_the_signature_of_a_signed_report(case, tmp_path):
    import shutil

    from test_report import _throwaway_key

    results = tmp_path / "results"
    shutil.copytree(case["results"], results)
    key, passfile, cert = _throwaway_key(tmp_path)
    r = runner.invoke(app, ["report", str(results / f"{CLIP}.evidence.json"), "--sign", str(key),
                            "--passphrase-file", str(passfile)])
    assert r.exit_code == 0, r.output
    out = tmp_path / "case.zip"
    assert runner.invoke(app, ["bundle", str(results), "--out", str(out), "--only-flagged"]).exit_code == 0
    r = runner.invoke(app, ["verify", str(out), "--trust", str(cert)])
    assert r.exit_code == 0, r.output
    assert f"ok    signature {CLIP}.report.pdf: signed by Common Name: Rights Team Test Signer" in r.output
    assert f"ok    trust {CLIP}.report.pdf: chains to the given certificate" in r.output
