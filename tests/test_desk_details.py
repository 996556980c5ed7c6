"""Issue 37, the smaller points: j/k and "next unreviewed" walk the queue as filtered and sorted;
provenance is said in the page's language; the Japanese decision buttons read naturally; the
startup line names the address the desk is bound to."""

import pytest
from fastapi.testclient import TestClient
from helpers import evidence_json
from typer.testing import CliRunner

from auditor.cli import app as cli
from auditor.review.app import create_app


@pytest.fixture
def folders(tmp_path):
    results, index = tmp_path / "results", tmp_path / "index"
    results.mkdir()
    index.mkdir()
    for q in ("c1", "c2", "c3"):
        (results / f"{q}.evidence.json").write_text(evidence_json(q, flagged=True))
    return results, index


def test_j_and_k_and_the_next_unreviewed_clip_follow_the_queues_filters(folders):
    results, index = folders
    c = TestClient(create_app(index, results), base_url="http://127.0.0.1")
    c.get("/clip/c2")
    c.post("/clip/c2/decision", data={"decision": "dismiss", "reviewer": "A", "csrf_token": c.cookies.get("auditor_csrf")})
    queue = c.get("/", params={"state": "unreviewed"}).text
    assert 'href="/clip/c1?state=unreviewed"' in queue  # the queue's rows open the clip with its filters
    page = c.get("/clip/c1", params={"state": "unreviewed"}).text
    assert 'href="/clip/c3?state=unreviewed" id="next"' in page  # c2 is decided: not in this queue
    assert 'href="/?state=unreviewed" id="back"' in page
    r = c.post("/clip/c1/decision?state=unreviewed", data={"decision": "confirm", "reviewer": "A",
                                                          "csrf_token": c.cookies.get("auditor_csrf")}, follow_redirects=False)
    assert r.headers["location"].startswith("/clip/c3?state=unreviewed&done=c1")
    # unfiltered, the clips follow each other as before
    assert 'href="/clip/c2" id="next"' in c.get("/clip/c1").text


def test_provenance_and_decision_buttons_in_japanese(folders):
    results, index = folders
    c = TestClient(create_app(index, results), base_url="http://127.0.0.1")
    ja = c.get("/clip/c1", params={"lang": "ja"}).text
    assert "来歴: コンテンツ認証情報なし" in ja.replace("：", ": ")
    assert "No Content Credentials" not in ja and "no Content Credentials" not in ja
    assert ">一致を確認 <kbd>c</kbd>" in ja and "確認（一致） <kbd>" not in ja
    en = c.get("/clip/c1", params={"lang": "en"}).text
    assert ">confirm <kbd>c</kbd>" in en


@pytest.mark.parametrize(("host", "shown"), [("127.0.0.1", "http://127.0.0.1:8765/"), ("::1", "http://[::1]:8765/")])
def test_the_startup_line_names_the_address_the_desk_is_bound_to(folders, monkeypatch, host, shown):
    import uvicorn

    results, index = folders
    ran = {}
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: ran.update(kw))
    out = CliRunner().invoke(cli, ["serve", "--index", str(index), "--results", str(results), "--host", host])
    assert out.exit_code == 0, out.output
    assert shown in out.output and "localhost" not in out.output and ran["host"] == host
