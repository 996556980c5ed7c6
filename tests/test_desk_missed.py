"""Issue 37: a missed match names any work of the catalogue (found by title, episode, work or
reference id, in either language), with times in both clips, on a clip where the scan found
nothing; it reaches the trail, reviews.csv, `auditor reviews` and the PDF with the review trail."""

import csv
import io
import shutil
import sqlite3
import subprocess

import pytest
from fastapi.testclient import TestClient
from helpers import JA_WORK, evidence_json, japanese_case, served
from typer.testing import CliRunner

from auditor.cli import app as cli
from auditor.review.app import create_app
from auditor.review.store import ReviewStore, trail_for_report

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")


def _pdf_text(data: bytes) -> str:
    return subprocess.run(["pdftotext", "-layout", "-", "-"], input=data, capture_output=True, check=True).stdout.decode()


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    """The demo's footage with Star Courier catalogued in Japanese (星の配達人), scanned."""
    folder, index, results = japanese_case(tmp_path_factory.mktemp("missed"))
    return folder, index, results


def _client(case):
    folder, index, results = case
    for f in results.glob("reviews.sqlite*"):
        f.unlink()
    return TestClient(create_app(index, results, clip_roots=[folder / "suspects"]), base_url="http://127.0.0.1")


def test_the_catalogue_is_searched_by_title_episode_work_or_id_and_a_missed_match_must_name_one_of_its_works(case):
    c = _client(case)
    assert c.get("/clip/generated_clip_0043").status_code == 200
    found = c.get("/catalogue", params={"q": "night market"}).json()["results"]  # a title, any case
    assert [r["ref_id"] for r in found] == ["star_courier_ep02"] and found[0]["work"] == JA_WORK
    assert [r["ref_id"] for r in c.get("/catalogue", params={"q": "長い配達"}).json()["results"]] == ["star_courier_ep01"]
    assert {r["ref_id"] for r in c.get("/catalogue", params={"q": "ＭＯＯＮＬＩＴ"}).json()["results"]} == {"moonlit_garden_ep01"}
    assert {r["work"] for r in c.get("/catalogue", params={"q": "keyart"}).json()["results"]} == {JA_WORK}
    csrf = c.cookies.get("auditor_csrf")
    form = {"work": "Some Other Show", "query_start": "0", "query_end": "2", "reviewer": "A. Sato", "csrf_token": csrf}
    r = c.post("/clip/generated_clip_0043/missed", data=form)
    assert "catalogue" in r.text and "Some Other Show" not in c.get("/reviews.csv").text  # one line; nothing kept
    r = c.post("/clip/generated_clip_0043/missed", data={**form, "work": "", "ref_id": "nope"})
    assert "not in the catalogue" in r.text
    r = c.post("/clip/generated_clip_0043/missed", data={**form, "work": "moonlit garden", "ref_start": "3", "ref_end": "1"})
    assert "end not before the start" in r.text
    ok = c.post("/clip/generated_clip_0043/missed", data={**form, "work": "moonlit garden"}, follow_redirects=False)
    assert ok.status_code == 303  # a work named as catalogued, case aside
    assert list(csv.DictReader(io.StringIO(c.get("/reviews.csv").text)))[-1]["work"] == "Moonlit Garden"


def test_a_trail_kept_before_references_were_named_opens_and_takes_the_new_columns(tmp_path):
    db = tmp_path / "reviews.sqlite"
    old = sqlite3.connect(db)
    old.executescript("CREATE TABLE missed (id INTEGER PRIMARY KEY AUTOINCREMENT, query_id TEXT NOT NULL, clip_sha256 TEXT "
                      "NOT NULL, work TEXT NOT NULL, query_start REAL NOT NULL, query_end REAL NOT NULL, ref_start REAL, "
                      "reviewer TEXT NOT NULL, note TEXT NOT NULL, created_utc TEXT NOT NULL);"
                      "INSERT INTO missed VALUES (1, 'c', 'ab', 'W', 1, 2, NULL, 'A', '', '2026-01-01T00:00:00+00:00');")
    old.commit()
    old.close()
    store = ReviewStore(db)
    store.add_missed("c", "ab", "W", 3, 4, 10, "B", "", ref_end=11, ref_id="w_ep01")
    assert [(m["ref_id"], m["ref_end"]) for m in store.missed("c")] == [("", None), ("w_ep01", 11.0)]
    store.close()
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        sqlite3.connect(db).execute("UPDATE missed SET ref_id = 'x'")


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is installed by ./setup.sh")
def test_a_missed_match_on_a_clip_with_no_match_reaches_the_csv_and_the_reviewed_pdf(case):
    from playwright.sync_api import sync_playwright

    folder, index, results = case
    for f in results.glob("reviews.sqlite*"):
        f.unlink()
    app = create_app(index, results, clip_roots=[folder / "suspects"])
    with served(app) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(url + "/clip/generated_clip_0043?lang=ja")
        assert "一致なし" in page.inner_text("h1")  # the scan found nothing here
        page.fill("#reviewer", "佐藤 A.")
        page.locator("#missed-work").press_sequentially("night")
        page.wait_for_selector("#missed-results li[data-ref='star_courier_ep02']")
        page.click("#missed-results li[data-ref='star_courier_ep02']")
        assert page.input_value("#missed-work") == JA_WORK and page.input_value("#missed-ref") == "star_courier_ep02"
        page.fill("#missed-start", "0.5")
        page.fill("#missed-end", "3")
        page.fill("#missed-ref-start", "2")
        page.fill("#missed-ref-end", "4.5")
        page.fill("#missed-note", "夜市の場面")
        with page.expect_navigation():
            page.click("#missed-add")
        assert "star_courier_ep02" in page.inner_text("#trail") and "2.0–4.5" in page.inner_text("#trail")
        rows = list(csv.DictReader(io.StringIO(page.request.get(url + "/reviews.csv").text())))
        assert [(r["query_id"], r["decision"], r["work"], r["ref_id"], r["query_start"], r["query_end"], r["ref_start"],
                 r["ref_end"], r["reviewer"]) for r in rows] == [
            ("generated_clip_0043", "missed match", JA_WORK, "star_courier_ep02", "0.5", "3.0", "2.0", "4.5", "佐藤 A.")]
        for lang, word in (("en", "missed match"), ("ja", "見落とし")):
            pdf = page.request.get(f"{url}/clip/generated_clip_0043/report.pdf?lang={lang}")
            text = _pdf_text(pdf.body())
            assert word in text and "star_courier_ep02" in text and "0.5–3.0" in text and "2.0–4.5" in text, text[-3000:]
        browser.close()
    out = CliRunner().invoke(cli, ["reviews", "--results", str(results)])
    assert out.exit_code == 0 and "star_courier_ep02" in out.stdout
    assert trail_for_report(results / "reviews.sqlite", "generated_clip_0043")[0]["ref_end"] == 4.5  # auditor report --reviews
    # the case bundle carries it: in its reviews.csv and in the clip's report with its review trail
    import zipfile

    from auditor.report.bundle import build_bundle

    bundle, _ = build_bundle(results, folder / "case.zip")
    with zipfile.ZipFile(bundle) as z:
        rows = list(csv.DictReader(io.StringIO(z.read("reviews.csv").decode("utf-8"))))
        assert [(r["query_id"], r["decision"], r["ref_id"], r["ref_end"]) for r in rows] == [
            ("generated_clip_0043", "missed match", "star_courier_ep02", "4.5")]
        reviewed = [n for n in z.namelist() if n.startswith("reviewed/") and "generated_clip_0043" in n]
        assert reviewed and "star_courier_ep02" in _pdf_text(z.read(reviewed[0]))


def test_without_a_readable_catalogue_the_form_names_the_works_the_evidence_holds(tmp_path):
    results, index = tmp_path / "results", tmp_path / "index"
    results.mkdir()
    index.mkdir()
    (index / "manifest.json").write_text("{}")
    (results / "clip1.evidence.json").write_text(evidence_json("clip1", flagged=True))
    c = TestClient(create_app(index, results), base_url="http://127.0.0.1")
    body = c.get("/catalogue", params={"q": ""}).json()
    assert body["unreadable"] and body["results"] and all(r["ref_id"] == "" for r in body["results"])
