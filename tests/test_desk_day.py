"""The review desk for a day of clips, in a real Chromium (Debian's, driven by Playwright):
thumbnails, nothing pre-selected, a decision moves on, the `d` key decides for the remembered
name, the trail exported as CSV, an mp4v clip that plays through a proxy, Japanese pages, and
screens 390 and 1920 px wide. Plus the new forms' CSRF checks and the CLI export, in-process."""

import csv
import io
import json
import os
import shutil
import sqlite3
from urllib.parse import urlparse

import pytest
from fastapi.testclient import TestClient
from helpers import served
from typer.testing import CliRunner

from auditor.cli import app as cli
from auditor.demo import run_demo
from auditor.review.app import create_app
from auditor.review.playback import needs_proxy, proxy_path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
needs_chromium = pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is installed by ./setup.sh")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    run = run_demo(tmp_path_factory.mktemp("day"))
    # unreadable evidence, listed as such; an index's files dropped in the results folder
    (run.results / "torn.evidence.json").write_text('{"schema": "auditor.evidence/1", "query_id": "torn"')
    (run.results / "catalogue.sqlite").write_bytes(b"SQLite format 3\0")
    (run.results / "manifest.json").write_text("{}")
    return run


def _app(demo):
    db = demo.results / "reviews.sqlite"
    for f in demo.results.glob("reviews.sqlite*"):
        f.unlink()
    assert not db.exists()
    return create_app(demo.index, demo.results, clip_roots=[demo.folder / "suspects"],
                      reference_roots=[demo.folder / "catalogue"])


@pytest.fixture
def client(demo):
    return TestClient(_app(demo), base_url="http://127.0.0.1")


def test_bulk_decisions_assignments_and_missed_matches_need_csrf_and_reach_the_csv(client, demo):
    q = client.get("/")
    assert "torn.evidence.json" in q.text and 'id="unreadable"' in q.text  # listed, not silently dropped
    assert 'id="counts"' in q.text and "/clip/generated_clip_0042/thumb.jpg" in q.text
    assert client.get("/clip/generated_clip_0042/thumb.jpg").status_code == 200
    csrf = client.cookies.get("auditor_csrf")
    form = {"qid": ["generated_clip_0042", "generated_clip_0043"], "action": "decide", "decision": "second look",
            "reviewer": "B. Ito", "note": "bulk", "csrf_token": "forged"}
    assert client.post("/bulk", data=form).status_code == 403
    assert client.post("/bulk", data={**form, "csrf_token": csrf}, headers={"origin": "https://evil.example"}).status_code == 403
    assert client.post("/bulk", data={**form, "csrf_token": csrf}, follow_redirects=False).status_code == 303
    assert client.post("/bulk", data={**form, "csrf_token": csrf, "action": "assign", "assignee": "C. Mori"},
                       follow_redirects=False).status_code == 303
    assert "C. Mori" in client.get("/", params={"reviewer": "C. Mori"}).text
    missed = {"work": "Star Courier", "query_start": "1.5", "query_end": "4", "ref_start": "", "reviewer": "B. Ito",
              "note": "=cmd| the logo scene", "csrf_token": "forged"}
    assert client.post("/clip/generated_clip_0043/missed", data=missed).status_code == 403
    r = client.post("/clip/generated_clip_0043/missed", data={**missed, "csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    bad = client.post("/clip/generated_clip_0043/missed", data={**missed, "csrf_token": csrf, "query_end": "nan"})
    assert "a number of seconds" in bad.text
    assert "Star Courier 1.5–4.0 s" in client.get("/clip/generated_clip_0043").text
    rows = list(csv.DictReader(io.StringIO(client.get("/reviews.csv").text)))
    assert [(r["query_id"], r["decision"], r["reviewer"]) for r in rows] == [
        ("generated_clip_0042", "second look", "B. Ito"), ("generated_clip_0043", "second look", "B. Ito"),
        ("generated_clip_0043", "missed match", "B. Ito")]
    assert rows[0]["work"] == "Star Courier" and rows[2]["note"].startswith("'=")  # no formula for a spreadsheet
    db = sqlite3.connect(demo.results / "reviews.sqlite")
    for table in ("missed", "assignments"):
        with pytest.raises(sqlite3.DatabaseError, match="append-only"):
            db.execute(f"DELETE FROM {table}")
    out = CliRunner().invoke(cli, ["reviews", "--results", str(demo.results)])
    assert out.exit_code == 0 and out.stdout == client.get("/reviews.csv").text


def test_paging_and_p_value_sort(client, demo):
    r = client.get("/", params={"sort": "p_value"})
    assert r.status_code == 200 and r.text.index("generated_clip_0042") < r.text.index("generated_clip_0043")
    assert client.get("/", params={"page_no": 99}).status_code == 200


def test_index_files_and_the_trail_are_not_served_and_foreign_hosts_refused(client, demo):
    video = client.get("/clip/generated_clip_0042/video")
    assert video.status_code == 200 and video.headers["content-type"] == "video/webm" and video.content[:4] == b"\x1aE\xdf\xa3"
    sha = json.loads((demo.results / "generated_clip_0042.evidence.json").read_text())["clip"]["sha256"]
    proxy = proxy_path(demo.results, sha)
    assert proxy.is_file() and client.get(f"/files/proxies/{proxy.name}").status_code == 200  # /files/ serves proxies
    for path in ("/files/catalogue.sqlite", "/files/manifest.json", "/files/reviews.sqlite"):
        assert client.get(path).status_code == 404, path
    assert client.get("/", headers={"host": "evil.example"}).status_code == 400


@pytest.fixture
def server(demo):
    with served(_app(demo)) as url:
        yield url


def _fits(page, width):
    return page.evaluate("document.documentElement.scrollWidth") <= width


@needs_chromium
def test_a_day_at_the_desk_in_a_real_browser(server, demo, tmp_path):
    from playwright.sync_api import sync_playwright

    shots = os.environ.get("AUDITOR_SCREENSHOTS")
    assert needs_proxy(demo.folder / "suspects" / "generated_clip_0042.mp4") == "MPEG-4 Part 2 (mp4v)"
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(server + "/")
        thumbs = page.locator("#queue td.thumb img")
        assert thumbs.count() == 2
        page.wait_for_function("[...document.querySelectorAll('#queue td.thumb img')]"
                               ".every(i => i.complete && i.naturalWidth > 0)")
        # the first clip: nothing chosen for the reviewer, the form in view, the mp4v clip playing through a proxy
        page.click("#queue tbody tr >> nth=0 >> a >> nth=1")
        first = page.url
        assert page.evaluate("document.querySelectorAll('#decision-form input:checked, "
                             "#decision-form [aria-pressed=true]').length") == 0
        assert page.locator("#do-confirm").is_visible() and page.locator("#do-confirm").bounding_box()["y"] < 1080
        page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=60_000)
        assert page.evaluate("document.getElementById('player').error") is None
        assert page.evaluate("document.getElementById('player').videoWidth") > 0
        assert page.locator("#proxy-note").is_visible()
        # the reference beside it, at the matched time
        page.wait_for_function("document.getElementById('ref-player').readyState >= 1", timeout=60_000)
        assert page.evaluate("document.getElementById('ref-player').currentTime") >= 2.9
        if shots:
            page.screenshot(path=os.path.join(shots, "clip-1920-en.png"))
        page.keyboard.press("?")
        assert "j / k" in page.inner_text("#keys-help") and page.locator("#keys-help").is_visible()
        page.keyboard.press("Escape")
        with page.expect_navigation():
            page.keyboard.press("j")
        assert page.url != first
        with page.expect_navigation():
            page.keyboard.press("k")
        assert page.url == first
        page.fill("#reviewer", "A. Sato")
        with page.expect_navigation():
            page.click("#do-confirm")
        second = page.url
        assert second != first and "/clip/" in second and "A. Sato" in page.inner_text("#as-name")
        # the next clip: `d` records a dismissal for the remembered name and moves on
        with page.expect_navigation():
            page.keyboard.press("d")
        assert page.url != second
        csv_text = page.request.get(server + "/reviews.csv").text()
        rows = list(csv.DictReader(io.StringIO(csv_text)))
        assert [(r["decision"], r["reviewer"]) for r in rows] == [("confirm", "A. Sato"), ("dismiss", "A. Sato")]
        assert urlparse(first).path == "/clip/" + rows[0]["query_id"] and urlparse(second).path == "/clip/" + rows[1]["query_id"]
        page.goto(server + "/")
        assert page.locator("a#export").get_attribute("href") == "/reviews.csv"
        if shots:
            page.screenshot(path=os.path.join(shots, "queue-1920-en.png"), full_page=True)
        # Japanese, remembered; a phone's width
        page.goto(server + "/?lang=ja")
        assert page.get_attribute("html", "lang") == "ja"
        page.goto(server + "/")
        assert page.get_attribute("html", "lang") == "ja" and "キュー" in page.inner_text("h1")
        if shots:
            page.screenshot(path=os.path.join(shots, "queue-1920-ja.png"), full_page=True)
        page.set_viewport_size({"width": 390, "height": 844})
        for path in ("/", urlparse(first).path):
            for lang in ("ja", "en"):
                page.goto(f"{server}{path}?lang={lang}")
                assert _fits(page, 390), (path, lang)
                if path != "/":
                    assert page.locator("#do-confirm").bounding_box()["y"] < 844  # the form without scrolling
                if shots:
                    page.screenshot(path=os.path.join(shots, f"{'queue' if path == '/' else 'clip'}-390-{lang}.png"),
                                    full_page=True)
        page.set_viewport_size({"width": 1920, "height": 1080})
        page.goto(first + "?lang=ja")
        if shots:
            page.screenshot(path=os.path.join(shots, "clip-1920-ja.png"))
        browser.close()


def test_the_queue_pages_and_reads_each_evidence_file_once(tmp_path, monkeypatch):
    import re

    from helpers import evidence_json

    import auditor.review.queue as queue

    results = tmp_path / "results"
    results.mkdir()
    for i in range(120):
        (results / f"c{i:03d}.evidence.json").write_text(evidence_json(f"c{i:03d}", flagged=i % 2 == 0))
    reads = []
    real = queue.read_evidence
    monkeypatch.setattr(queue, "read_evidence", lambda p: reads.append(p) or real(p))
    c = TestClient(create_app(tmp_path, results), base_url="http://127.0.0.1")
    first = c.get("/")
    assert len(re.findall(r'name="qid"', first.text)) == 50 and 'id="next-page"' in first.text
    last = c.get("/", params={"page_no": 3})
    assert len(re.findall(r'name="qid"', last.text)) == 20 and 'id="next-page"' not in last.text
    assert len(reads) == 120  # the second page read nothing again
    (results / "c007.evidence.json").write_text(evidence_json("c007", flagged=True) + " ")
    c.get("/")
    assert len(reads) == 121  # a file that changed is read again


def test_every_word_of_the_desk_is_in_both_tables():
    from auditor.review.strings import STRINGS

    assert set(STRINGS["en"]) == set(STRINGS["ja"]) and all(v.strip() for t in STRINGS.values() for v in t.values())
