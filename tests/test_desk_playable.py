"""Issue 37: playable copies made ahead. A clip browsers cannot play (the demo's mp4v clips) is
copied by `scan --playable`, or by the desk in the background from its start, newest first; a page
asking for one before it is made says what is being prepared and then plays it; a clip over the
stated limits is not copied, and the page and the CLI say why."""

import json
import os
import shutil
import time

import pytest
from fastapi.testclient import TestClient
from helpers import served
from typer.testing import CliRunner

import auditor.review.prepare as prepare
from auditor.cli import app as cli
from auditor.demo import run_demo
from auditor.review.app import create_app
from auditor.review.playback import proxy_path

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CLIPS = ("generated_clip_0042", "generated_clip_0043")


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    return run_demo(tmp_path_factory.mktemp("playable"))


@pytest.fixture
def fresh(demo):
    """The demo's results without any playable copy or review."""
    shutil.rmtree(demo.results / "proxies", ignore_errors=True)
    for f in demo.results.glob("reviews.sqlite*"):
        f.unlink()
    return demo


def _sha(demo, qid):
    return json.loads((demo.results / f"{qid}.evidence.json").read_text())["clip"]["sha256"]


def test_scan_playable_makes_the_copies_and_says_when_a_clip_is_over_the_limit(fresh, tmp_path, monkeypatch):
    suspects = [str(fresh.folder / "suspects" / f"{q}.mp4") for q in CLIPS]
    out = tmp_path / "results"
    r = CliRunner().invoke(cli, ["scan", *suspects, "--index", str(fresh.index), "--out", str(out), "--playable", "-q"])
    assert r.exit_code == 0, r.output
    assert all(proxy_path(out, _sha(fresh, q)).is_file() for q in CLIPS)
    monkeypatch.setattr(prepare, "MAX_SECONDS", 2)
    out2 = tmp_path / "results2"
    r = CliRunner().invoke(cli, ["scan", suspects[0], "--index", str(fresh.index), "--out", str(out2), "--playable", "-q"])
    assert r.exit_code == 0 and "no playable copy: over" in r.output and "Traceback" not in r.output
    assert not (out2 / "proxies").exists()


def test_serve_prepares_copies_in_the_background_newest_first(fresh):
    os.utime(fresh.results / "generated_clip_0042.evidence.json", (time.time() - 60, time.time() - 60))
    app = create_app(fresh.index, fresh.results, clip_roots=[fresh.folder / "suspects"],
                     reference_roots=[fresh.folder / "catalogue"], prepare_ahead=True)
    deadline = time.monotonic() + 60
    shas = [_sha(fresh, q) for q in CLIPS]
    while time.monotonic() < deadline and not all(proxy_path(fresh.results, s).is_file() for s in shas):
        time.sleep(0.2)
    assert all(proxy_path(fresh.results, s).is_file() for s in shas)
    preparer = app.state.desk.preparer
    assert preparer.made.index(shas[1]) < preparer.made.index(shas[0])  # 0043's evidence is the newer
    c = TestClient(app, base_url="http://127.0.0.1")
    assert c.get("/clip/generated_clip_0042/playable").json()["state"] == "ready"


def test_a_clip_over_the_limit_is_said_so_not_spun(fresh, monkeypatch):
    monkeypatch.setattr(prepare, "MAX_SECONDS", 2)
    c = TestClient(create_app(fresh.index, fresh.results, clip_roots=[fresh.folder / "suspects"]), base_url="http://127.0.0.1")
    assert 'id="preparing"' in c.get("/clip/generated_clip_0042").text
    deadline = time.monotonic() + 30
    state = lambda: c.get("/clip/generated_clip_0042/playable").json()["state"]  # noqa: E731
    while state() not in ("too long", "ready") and time.monotonic() < deadline:
        time.sleep(0.1)
    status = c.get("/clip/generated_clip_0042/playable").json()
    assert status["state"] == "too long" and status["limit_s"] == 2
    r = c.get("/clip/generated_clip_0042/video")
    assert r.status_code == 415 and "no playable copy" in r.text


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is installed by ./setup.sh")
def test_the_page_says_a_playable_copy_is_being_made_and_then_plays_it(fresh):
    from playwright.sync_api import sync_playwright

    app = create_app(fresh.index, fresh.results, clip_roots=[fresh.folder / "suspects"])
    with served(app) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        for lang, words in (("ja", "再生用コピー"),):  # English: the in-process tests above read it
            shutil.rmtree(fresh.results / "proxies", ignore_errors=True)
            app.state.desk.preparer._jobs.clear()
            page.goto(f"{url}/clip/generated_clip_0042?lang={lang}")
            note = page.locator("#preparing")
            assert note.is_visible() and words in note.inner_text() and "MPEG-4 Part 2" in note.inner_text()
            page.wait_for_function("document.getElementById('player').readyState >= 2", timeout=60_000)
            assert not note.is_visible() and page.evaluate("document.getElementById('player').videoWidth") > 0
            t0 = page.evaluate("document.getElementById('player').currentTime")
            page.click("#sync-play")
            page.wait_for_timeout(800)
            assert page.evaluate("document.getElementById('player').currentTime") > t0 + 0.3  # it plays
            page.click("#sync-play")
        browser.close()


def test_a_reference_being_made_playable_says_so_and_then_plays_in_step(fresh):
    from playwright.sync_api import sync_playwright

    app = create_app(fresh.index, fresh.results, clip_roots=[fresh.folder / "suspects"],
                     reference_roots=[fresh.folder / "catalogue"])
    with served(app) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        for lang, words in (("ja", "参照"), ("en", "playable copy of the reference")):
            shutil.rmtree(fresh.results / "proxies", ignore_errors=True)
            app.state.desk.preparer._jobs.clear()
            page.goto(f"{url}/clip/generated_clip_0042?lang={lang}")
            note = page.locator("#ref-preparing")
            note.wait_for(state="visible", timeout=10_000)
            assert words in note.inner_text() and "MPEG-4 Part 2" in note.inner_text()
            page.wait_for_function("document.getElementById('ref-player').readyState >= 2", timeout=90_000)
            assert not note.is_visible() and page.evaluate("document.getElementById('ref-player').videoWidth") > 0
        browser.close()
