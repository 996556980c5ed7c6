"""The review desk facing hostile requests: odd tokens, foreign Host names, oversized or multipart
bodies, and paths to files that are not evidence."""

import pytest
from fastapi.testclient import TestClient
from helpers import evidence_json

from auditor.errors import UsageError
from auditor.review.app import MAX_BODY, create_app

LOCAL = "http://127.0.0.1:8765"


@pytest.fixture
def folders(tmp_path):
    results, index = tmp_path / "results", tmp_path / "index"
    results.mkdir()
    (results / "clip1.evidence.json").write_text(evidence_json("clip1", flagged=True))
    (results / "summary.csv").write_text("query_id,status\nclip1,ok\n")
    (results / ".summary.csv.x.tmp").write_text("half written")
    (index / "gen-000001").mkdir(parents=True)
    (index / "manifest.json").write_text("{}")
    (index / "gen-000001" / "catalogue.sqlite").write_bytes(b"SQLite format 3\0")
    return results, index


def client(folders, **kwargs) -> TestClient:
    results, index = folders
    return TestClient(create_app(index, results, **kwargs), base_url=LOCAL, raise_server_exceptions=False)


def test_tokens_of_any_characters_are_refused_not_a_server_error(folders):
    c = client(folders, token="s3cret-token")
    assert c.get("/?token=%C3%BC%E2%82%AC").status_code == 401
    assert c.get("/", headers={"cookie": "auditor_token=\xfc\xe9".encode("latin-1")}).status_code == 401
    assert c.get("/", headers={"authorization": "Bearer \u00fc".encode("utf-8")}).status_code == 401
    r = c.get("/?token=s3cret-token", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"
    # the redirect is a path on this desk, whatever the request's path looks like
    r = client(folders, token="s3cret-token").get("//evil.example/x?token=s3cret-token&a=1", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/") and not r.headers["location"].startswith("//")
    unicode_token = client(folders, token="秘密のトークン")
    assert unicode_token.get("/?token=%E7%A7%98%E5%AF%86%E3%81%AE%E3%83%88%E3%83%BC%E3%82%AF%E3%83%B3",
                             follow_redirects=False).status_code == 303


def test_requests_for_another_host_are_refused_and_the_redirect_never_names_one(folders):
    c = client(folders)
    assert c.get("/").status_code == 200
    assert c.get("/", headers={"host": "localhost:8765"}).status_code == 200
    assert c.get("/", headers={"host": "[::1]:8765"}).status_code == 200
    r = c.get("/", headers={"host": "rebound.attacker.example:8765"})
    assert r.status_code == 400 and "Host" in r.text
    assert c.get("/files/summary.csv", headers={"host": "evil.example"}).status_code == 400
    public = client(folders, host="192.0.2.10", token="t")
    assert public.get("/?token=t", headers={"host": "192.0.2.10:8765"}, follow_redirects=False).headers["location"] == "/"
    assert public.get("/?token=t", headers={"host": "evil.example"}).status_code == 400


def test_the_app_itself_refuses_a_public_address_without_a_token(folders):
    results, index = folders
    for host in ("0.0.0.0", "192.0.2.10", "::"):
        with pytest.raises(UsageError, match="needs an access token"):
            create_app(index, results, host=host)
    create_app(index, results, token="t", host="0.0.0.0")


def test_bodies_are_capped_and_uploads_refused_before_any_parsing(folders):
    c = client(folders)
    c.get("/clip/clip1")
    csrf = c.cookies.get("auditor_csrf")
    form = {"decision": "confirm", "reviewer": "A. Sato", "csrf_token": csrf}
    r = c.post("/clip/clip1/decision", data={**form, "note": "x" * (MAX_BODY + 10)})
    assert r.status_code == 413
    r = c.post("/clip/clip1/decision", data=form, files={"upload": ("big.bin", b"\0" * 1000, "application/octet-stream")})
    assert r.status_code == 415
    streamed = c.post("/clip/clip1/decision", content=(b"note=" + b"y" * 8192 for _ in range(20)),
                      headers={"content-type": "application/x-www-form-urlencoded"})
    assert streamed.status_code == 413  # no Content-Length: counted as it arrives
    assert "No decision yet." in c.get("/clip/clip1").text
    assert c.post("/clip/clip1/decision", data=form, follow_redirects=False).status_code == 303


def test_files_serves_evidence_but_not_the_index_or_the_review_trail(folders):
    c = client(folders)
    c.get("/clip/clip1")
    c.post("/clip/clip1/decision", data={"decision": "confirm", "reviewer": "A", "csrf_token": c.cookies.get("auditor_csrf")})
    results, _ = folders
    assert (results / "reviews.sqlite").is_file()
    assert c.get("/files/summary.csv").status_code == 200
    assert c.get("/files/clip1.evidence.json").status_code == 200
    for path in ("/files/manifest.json", "/files/gen-000001/catalogue.sqlite", "/files/reviews.sqlite",
                 "/files/.summary.csv.x.tmp", "/files/../index/manifest.json"):
        assert c.get(path).status_code == 404, path


def test_a_report_in_a_language_the_desk_has_not_is_400_not_500(folders):
    c = client(folders)
    r = c.get("/clip/clip1/report.pdf?lang=xx")
    assert r.status_code == 400 and "lang" in r.text
