"""Issue 37: reviewers who are who they say. On a desk served beyond loopback each reviewer signs
in with an account made by `auditor reviewer add` (a salted scrypt hash in the trail's own table);
the session cookie is HttpOnly, SameSite=Strict and, behind TLS, Secure; a decision without a
session is refused and one with it is recorded under the signed-in name, whatever the form says.
On loopback a name is still enough."""

import csv
import io
import shutil
import sqlite3

import pytest
from fastapi.testclient import TestClient
from helpers import evidence_json, served
from typer.testing import CliRunner

from auditor.cli import app as cli
from auditor.review.app import create_app

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
PASSWORD = "correct horse battery"


@pytest.fixture
def folders(tmp_path):
    results, index = tmp_path / "results", tmp_path / "index"
    results.mkdir()
    index.mkdir()
    for q in ("clip1", "clip2"):
        (results / f"{q}.evidence.json").write_text(evidence_json(q, flagged=True))
    out = CliRunner().invoke(cli, ["reviewer", "add", "A. Sato", "--results", str(results), "--password-stdin"],
                             input=PASSWORD + "\n")
    assert out.exit_code == 0, out.output
    return results, index


def _public(folders, base="http://192.0.2.10:8765"):
    results, index = folders
    c = TestClient(create_app(index, results, token="t0ken", host="0.0.0.0"), base_url=base)
    assert c.get("/?token=t0ken", follow_redirects=False).status_code == 303
    return c


def _decisions(results):
    return [tuple(r) for r in sqlite3.connect(results / "reviews.sqlite").execute("SELECT reviewer, decision FROM decisions")]


def test_accounts_are_salted_scrypt_hashes_made_by_the_cli_and_bad_input_is_one_line(folders):
    results, _ = folders
    rows = sqlite3.connect(results / "reviews.sqlite").execute("SELECT name, password FROM reviewers").fetchall()
    assert rows[0][0] == "A. Sato" and rows[0][1].startswith("scrypt$") and PASSWORD not in rows[0][1]
    runner = CliRunner()
    runner.invoke(cli, ["reviewer", "add", "B. Ito", "--results", str(results), "--password-stdin"], input=PASSWORD + "\n")
    hashes = [r[0] for r in sqlite3.connect(results / "reviews.sqlite").execute("SELECT password FROM reviewers")]
    assert hashes[0] != hashes[1]  # the same password, another salt
    short = runner.invoke(cli, ["reviewer", "add", "C", "--results", str(results), "--password-stdin"], input="short\n")
    assert short.exit_code == 2 and "password of 10" in short.output and "Traceback" not in short.output
    listed = runner.invoke(cli, ["reviewer", "list", "--results", str(results)])
    assert [line.split("\t")[0] for line in listed.stdout.splitlines()] == ["A. Sato", "B. Ito"]
    with pytest.raises(sqlite3.DatabaseError, match="append-only"):
        sqlite3.connect(results / "reviews.sqlite").execute("UPDATE reviewers SET password = ''")


def test_beyond_loopback_a_decision_needs_a_session_and_is_recorded_under_the_signed_in_name(folders):
    results, _ = folders
    c = _public(folders)
    r = c.get("/clip/clip1", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/signin?next=%2Fclip%2Fclip1"
    page = c.get("/signin")
    assert page.status_code == 200 and 'type="password"' in page.text
    csrf = c.cookies.get("auditor_csrf")
    form = {"decision": "confirm", "reviewer": "A. Sato", "note": "", "csrf_token": csrf}
    refused = c.post("/clip/clip1/decision", data=form, follow_redirects=False)
    assert refused.status_code == 401 and "Nothing was recorded" in refused.text and _decisions(results) == []
    wrong = c.post("/signin", data={"name": "A. Sato", "password": "not it at all", "csrf_token": csrf})
    assert wrong.status_code == 401 and "wrong name or password" in wrong.text
    nobody = c.post("/signin", data={"name": "Nobody", "password": PASSWORD, "csrf_token": csrf})
    assert nobody.status_code == 401 and "wrong name or password" in nobody.text  # the same answer
    ok = c.post("/signin", data={"name": "A. Sato", "password": PASSWORD, "next": "//evil.example/x", "csrf_token": csrf},
                follow_redirects=False)
    assert ok.status_code == 303 and ok.headers["location"] == "/"  # never to another site
    cookie = next(h for h in ok.headers.get_list("set-cookie") if h.startswith("auditor_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie.replace("Strict", "strict") and "Secure" not in cookie
    assert "A. Sato" in c.get("/clip/clip1").text
    c.post("/clip/clip1/decision", data={**form, "reviewer": "Mallory"})  # the form's name is not who signed in
    assert _decisions(results) == [("A. Sato", "confirm")]
    # a removed account ends its sessions
    CliRunner().invoke(cli, ["reviewer", "remove", "A. Sato", "--results", str(results)])
    assert c.post("/clip/clip1/decision", data=form, follow_redirects=False).status_code == 401
    assert _decisions(results) == [("A. Sato", "confirm")]


def test_behind_tls_the_session_cookie_is_secure_and_guesses_are_limited(folders):
    c = _public(folders, base="https://192.0.2.10:8765")
    c.get("/signin")
    csrf = c.cookies.get("auditor_csrf")
    ok = c.post("/signin", data={"name": "A. Sato", "password": PASSWORD, "csrf_token": csrf}, follow_redirects=False)
    cookie = next(h for h in ok.headers.get_list("set-cookie") if h.startswith("auditor_session="))
    assert "Secure" in cookie and "HttpOnly" in cookie
    for _ in range(5):
        c.post("/signin", data={"name": "A. Sato", "password": "a wrong guess", "csrf_token": csrf})
    locked = c.post("/signin", data={"name": "A. Sato", "password": PASSWORD, "csrf_token": csrf})
    assert locked.status_code == 401 and "too many failed sign-ins" in locked.text


def test_on_loopback_a_name_is_still_enough(folders):
    results, index = folders
    c = TestClient(create_app(index, results), base_url="http://127.0.0.1")
    c.get("/clip/clip1")
    r = c.post("/clip/clip1/decision", data={"decision": "dismiss", "reviewer": "B. Ito",
                                             "csrf_token": c.cookies.get("auditor_csrf")}, follow_redirects=False)
    assert r.status_code == 303 and _decisions(results) == [("B. Ito", "dismiss")]
    assert "no sign-in is needed" in c.get("/signin").text


@pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is installed by ./setup.sh")
def test_in_chromium_a_reviewer_signs_in_and_the_keyboard_records_under_that_name(folders):
    from playwright.sync_api import sync_playwright

    results, index = folders
    with served(create_app(index, results, token="t0ken", host="0.0.0.0")) as url, sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        page = browser.new_page(viewport={"width": 1920, "height": 1080})
        page.goto(url + "/clip/clip1?token=t0ken")
        assert "/signin" in page.url and page.locator("#signin-password").is_visible()
        csrf = next(c["value"] for c in page.context.cookies() if c["name"] == "auditor_csrf")
        refused = page.request.post(url + "/clip/clip1/decision", form={"decision": "confirm", "reviewer": "Mallory",
                                                                         "csrf_token": csrf}, max_redirects=0)
        assert refused.status == 401 and _decisions(results) == []
        page.fill("#signin-name", "A. Sato")
        page.fill("#signin-password", PASSWORD)
        with page.expect_navigation():
            page.click("#signin-submit")
        assert page.url.endswith("/clip/clip1") and "A. Sato" in page.inner_text("#signed-in")
        session = next(c for c in page.context.cookies() if c["name"] == "auditor_session")
        assert session["httpOnly"] and session["sameSite"] == "Strict"
        assert not page.locator("#name-line").count()  # no name to type: the session says who
        with page.expect_navigation():
            page.keyboard.press("c")
        rows = list(csv.DictReader(io.StringIO(page.request.get(url + "/reviews.csv").text())))
        assert [(r["query_id"], r["decision"], r["reviewer"]) for r in rows] == [("clip1", "confirm", "A. Sato")]
        page.click("#sign-out")
        page.goto(url + "/clip/clip2")
        assert "/signin" in page.url
        browser.close()
