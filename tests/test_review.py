"""The review desk: API in-process, safety (token, path traversal, CSRF, escaping), and a real
headless Chromium that opens the queue, opens a clip, records a decision and sees it after a reload."""

import shutil
import sqlite3

import pytest
from fastapi.testclient import TestClient as _TestClient
from helpers import served
from typer.testing import CliRunner

from auditor.cli import app as cli
from auditor.demo import run_demo
from auditor.review.app import create_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")



def TestClient(app):
    """A client addressing the desk as a browser on this machine does (the desk refuses other Host names)."""
    return _TestClient(app, base_url="http://127.0.0.1")

@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    run = run_demo(tmp_path_factory.mktemp("desk"))
    # the flagged clip again as VP9 WebM, which a stock Chromium plays (it has no MPEG-4 Part 2)
    import cv2

    from auditor.config import load_config
    from auditor.scan.batch import run_batch

    src = cv2.VideoCapture(str(run.folder / "suspects" / "generated_clip_0042.mp4"))
    web = run.folder / "suspects" / "web_0042.webm"
    out = cv2.VideoWriter(str(web), cv2.VideoWriter_fourcc(*"VP90"), 25.0, (400, 224))
    while True:
        ok, frame = src.read()
        if not ok:
            break
        out.write(frame)
    src.release()
    out.release()
    run_batch([web], run.index, run.results, load_config())
    # a failed clip in the batch summary, shown on the queue too
    summary = run.results / "summary.csv"
    summary.write_text(summary.read_text() + "broken,/x/broken.mp4,error,,,,,,,not a readable video,\n")
    return run


@pytest.fixture
def client(demo):
    results = demo.results
    db = results / "reviews.sqlite"
    if db.exists():
        db.unlink()
    return TestClient(create_app(demo.index, results, clip_roots=[demo.folder / "suspects"]))


def test_queue_lists_clips_levels_and_failures_and_filters(client):
    r = client.get("/")
    assert r.status_code == 200
    assert "generated_clip_0042" in r.text and "near-identical copy" in r.text and "Star Courier" in r.text
    assert "broken" in r.text and "not a readable video" in r.text
    r = client.get("/", params={"level": "no match"})
    assert "generated_clip_0043" in r.text and 'href="/clip/generated_clip_0042?' not in r.text
    r = client.get("/", params={"owner": "Demo Studio", "state": "unreviewed"})
    assert 'href="/clip/generated_clip_0042?' in r.text and 'href="/clip/generated_clip_0043?' not in r.text


def test_a_decision_is_appended_escaped_and_shown_on_the_queue(client, demo):
    page = client.get("/clip/generated_clip_0042")
    assert page.status_code == 200 and "/clip/generated_clip_0042/video" in page.text
    # the catalogue's words for the reference: episode, title, first published
    assert "The Long Delivery" in page.text and "2024-04-07" in page.text
    csrf = client.cookies.get("auditor_csrf")
    form = {"decision": "confirm", "reviewer": "<b>A. Sato</b>", "note": "<script>alert(1)</script> same shot",
            "csrf_token": csrf}
    r = client.post("/clip/generated_clip_0042/decision", data=form, follow_redirects=False)
    assert r.status_code == 303
    page = client.get("/clip/generated_clip_0042").text
    assert "&lt;script&gt;alert(1)&lt;/script&gt; same shot" in page and "<script>alert(1)" not in page
    assert "&lt;b&gt;A. Sato&lt;/b&gt;" in page
    client.post("/clip/generated_clip_0042/decision", data={**form, "decision": "second look", "note": "check ep02"})
    queue = client.get("/", params={"state": "second look"}).text
    assert 'href="/clip/generated_clip_0042?state=second+look"' in queue
    db = sqlite3.connect(demo.results / "reviews.sqlite")
    assert [r[0] for r in db.execute("SELECT decision FROM decisions ORDER BY id")] == ["confirm", "second look"]
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("UPDATE decisions SET decision = 'dismiss'")
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        db.execute("DELETE FROM decisions")
    pdf = client.get("/clip/generated_clip_0042/report.pdf")
    assert pdf.status_code == 200 and pdf.headers["content-type"] == "application/pdf"


def test_forms_need_their_csrf_token_and_a_same_origin(client):
    client.get("/clip/generated_clip_0042")
    form = {"decision": "dismiss", "reviewer": "Mallory", "note": "", "csrf_token": "forged"}
    assert client.post("/clip/generated_clip_0042/decision", data=form).status_code == 403
    form["csrf_token"] = client.cookies.get("auditor_csrf")
    r = client.post("/clip/generated_clip_0042/decision", data=form, headers={"origin": "https://evil.example"})
    assert r.status_code == 403
    assert "Mallory" not in client.get("/clip/generated_clip_0042").text


def test_only_files_under_the_served_folders_and_unknown_clips_are_404(client, demo):
    assert client.get("/files/summary.csv").status_code == 200
    assert client.get("/files/generated_clip_0042.frames/s01_p1_query.jpg").status_code == 200
    for bad in ("/files/../catalogue.csv", "/files/%2e%2e/catalogue.csv", "/files/..%2f..%2fetc%2fpasswd",
                "/files//etc/passwd", "/clip/..%2f..%2fetc/video", "/clip/nope", "/clip/generated_clip_0042/pair/9/0.png"):
        assert client.get(bad).status_code == 404, bad
    link = demo.results / "escape.txt"
    link.symlink_to(demo.folder / "catalogue" / "catalogue.csv")  # a symlink out of the folder
    try:
        assert client.get("/files/escape.txt").status_code == 404
    finally:
        link.unlink()


def test_the_desk_refuses_bad_decisions_and_what_it_may_not_serve(client, demo, tmp_path):
    client.get("/clip/generated_clip_0042")
    csrf = client.cookies.get("auditor_csrf")
    good = {"decision": "confirm", "reviewer": "A. Sato", "note": "", "csrf_token": csrf}
    for bad, why in (({"decision": "approve"}, "decision must be one of"), ({"reviewer": "  "}, "name is required"),
                     ({"note": "x" * 4001}, "note up to 4000")):
        r = client.post("/clip/generated_clip_0042/decision", data={**good, **bad})
        assert r.status_code == 200 and why in r.text  # shown on the page, not recorded
    assert "No decision yet." in client.get("/clip/generated_clip_0042").text
    # a clip whose file lies outside the served folders is not played, and unknown clips are 404
    outside = TestClient(create_app(demo.index, demo.results))  # no --clips folder
    assert outside.get("/clip/generated_clip_0042/video").status_code == 404
    assert "outside the folders this desk serves" in outside.get("/clip/generated_clip_0042").text
    for bad in ("/clip/nope/evidence.json", "/clip/nope/report.pdf", "/clip/nope/video", "/clip/..%2fsummary/evidence.json",
                "/clip/generated_clip_0042/pair/0/9.png"):
        assert client.get(bad).status_code == 404, bad
    # unreadable evidence is not offered as a clip
    (demo.results / "torn.evidence.json").write_text('{"schema": "auditor.evidence/1", "query_id": "torn"')
    try:
        assert client.get("/clip/torn").status_code == 404 and 'href="/clip/torn"' not in client.get("/").text
    finally:
        (demo.results / "torn.evidence.json").unlink()
    r = CliRunner().invoke(cli, ["serve", "--index", str(demo.index), "--results", str(tmp_path / "none")])
    assert r.exit_code == 2 and "no such folder" in r.stderr


def test_an_access_token_guards_every_page_when_set(demo):
    c = TestClient(create_app(demo.index, demo.results, token="s3cret-token"))
    assert c.get("/").status_code == 401
    assert c.get("/files/summary.csv").status_code == 401
    assert c.get("/", headers={"authorization": "Bearer s3cret-token"}).status_code == 200
    r = c.get("/?token=s3cret-token", follow_redirects=False)
    assert r.status_code == 303 and "token" not in r.headers["location"]
    assert c.get("/").status_code == 200  # the cookie carries it now
    assert TestClient(create_app(demo.index, demo.results, token="s3cret-token")).get("/?token=wrong").status_code == 401


def test_serve_refuses_a_public_address_without_a_token(demo, monkeypatch):
    monkeypatch.delenv("AUDITOR_TOKEN", raising=False)
    r = CliRunner().invoke(cli, ["serve", "--index", str(demo.index), "--results", str(demo.results), "--host", "0.0.0.0"])
    assert r.exit_code == 2 and "needs an access token" in r.stderr


@pytest.fixture
def server(demo):
    db = demo.results / "reviews.sqlite"
    if db.exists():
        db.unlink()
    with served(create_app(demo.index, demo.results, clip_roots=[demo.folder / "suspects"])) as url:
        yield url


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is installed by ./setup.sh")
def test_in_a_real_browser_a_reviewer_records_a_decision_that_survives_a_reload(server, tmp_path):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1200, "height": 900})
        page.goto(server + "/")
        assert page.locator("#queue tbody tr").count() == 3
        page.screenshot(path=str(tmp_path / "queue.png"), full_page=True)
        page.click("text=web_0042")
        page.wait_for_selector("#verdict")
        assert "near-identical copy" in page.inner_text("#verdict")
        # the timeline seeks the player
        page.wait_for_function("document.getElementById('player').readyState >= 1", timeout=60_000)
        page.locator(".timeline .seg").first.click()
        assert page.evaluate("document.getElementById('player').currentTime") > 1.0
        assert page.locator(".pair img").first.evaluate("img => img.complete && img.naturalWidth > 0")
        clip_url = page.url
        page.fill("#reviewer", "A. Sato")
        page.fill("#note", "Same layout and timing as episode 1, 3.0-7.0 s")
        with page.expect_navigation():  # the form posts, then the server moves on to the next unreviewed clip
            page.click("#do-confirm")
        assert page.url != clip_url
        page.goto(clip_url)
        assert "A. Sato" in page.inner_text("#trail") and "confirm" in page.inner_text("#trail")
        page.screenshot(path=str(tmp_path / "clip.png"), full_page=True)
        page.goto(server + "/")
        assert "confirm" in page.inner_text("#queue")
        browser.close()
    shots = tmp_path / "queue.png", tmp_path / "clip.png"
    assert all(s.stat().st_size > 10_000 for s in shots)
    import os

    if os.environ.get("AUDITOR_SCREENSHOTS"):  # keep them to look at
        for s in shots:
            shutil.copy(s, os.environ["AUDITOR_SCREENSHOTS"])
