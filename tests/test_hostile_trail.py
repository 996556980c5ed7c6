"""The review trail under concurrency and links: two desks on one results folder, 8 clients
posting decisions, an outside reader watching, with and without a link to the trail that /files/
could be asked to serve (closing a second descriptor of the trail drops SQLite's POSIX locks)."""

import os
import socket
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import httpx
import pytest
from fastapi.testclient import TestClient
from helpers import evidence_json

from auditor.review.app import create_app

ROOT = Path(__file__).resolve().parents[1]


def _results(tmp_path: Path, clips: int = 8) -> tuple[Path, Path]:
    results, index = tmp_path / "R", tmp_path / "I"
    results.mkdir()
    (index / "gen-000001").mkdir(parents=True)
    (index / "manifest.json").write_text("{}")
    (index / "gen-000001" / "catalogue.sqlite").write_bytes(b"SQLite format 3\0")
    for i in range(clips):
        (results / f"clip{i}.evidence.json").write_text(evidence_json(f"clip{i}", flagged=True))
    (results / "sub").mkdir()
    return results, index


def test_no_link_or_hard_link_to_the_trail_or_an_index_file_is_served(tmp_path):
    results, index = _results(tmp_path, clips=1)
    c = TestClient(create_app(index, results), base_url="http://127.0.0.1:8765", raise_server_exceptions=False)
    assert (results / "reviews.sqlite").is_file()  # the desk made its trail
    os.symlink("../reviews.sqlite", results / "sub" / "trail_alias.db")
    os.link(results / "reviews.sqlite", results / "sub" / "hard_alias.db")
    os.link(index / "manifest.json", results / "sub" / "m.txt")
    os.symlink(results / "reviews.sqlite-wal", results / "wal_alias")
    (results / "reviews.sqlite-wal").touch()
    for name in ("sub/trail_alias.db", "sub/hard_alias.db", "sub/m.txt", "wal_alias"):
        assert c.get(f"/files/{name}").status_code == 404, name
    assert c.get("/files/clip0.evidence.json").status_code == 200


def _port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _desk(index: Path, results: Path) -> tuple[subprocess.Popen, str]:
    port = _port()
    env = dict(os.environ, PYTHONPATH=str(ROOT))
    proc = subprocess.Popen([sys.executable, "-m", "auditor", "serve", "--index", str(index), "--results", str(results),
                             "--port", str(port)], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        try:
            httpx.get(url + "/", timeout=5)
            return proc, url
        except httpx.TransportError:
            time.sleep(0.1)
    proc.kill()
    raise AssertionError("the desk did not start")


def _rows(results: Path) -> int:
    conn = sqlite3.connect(f"file:{results / 'reviews.sqlite'}?mode=ro", uri=True, timeout=10)
    try:
        return conn.execute("SELECT COUNT(*) FROM decisions").fetchone()[0]
    finally:
        conn.close()


@pytest.mark.parametrize("link", [True, False], ids=["link-to-trail", "no-link"])
def test_two_desks_and_an_outside_reader_lose_no_confirmed_decision(tmp_path, link):
    results, index = _results(tmp_path)
    if link:
        os.symlink("../reviews.sqlite", results / "sub" / "trail_alias.db")
    desks = []
    try:
        for _ in range(2):
            desks.append(_desk(index, results))
            if link:  # each desk is asked for the link (refused now; served and closed once, before)
                httpx.get(desks[-1][1] + "/files/sub/trail_alias.db", timeout=10)
        answers: list[int] = []
        behind: list[tuple[int, int]] = []

        def client(n: int) -> None:
            with httpx.Client(base_url=desks[n % 2][1], timeout=30) as c:
                c.get(f"/clip/clip{n}")
                csrf = c.cookies.get("auditor_csrf")
                for j in range(30):
                    try:
                        r = c.post(f"/clip/clip{n}/decision", data={"decision": "confirm", "reviewer": f"R{n}",
                                                                      "note": str(j), "csrf_token": csrf})
                        answers.append(r.status_code)
                    except httpx.TransportError:
                        answers.append(0)
                        continue
                    if r.status_code == 303:
                        # confirmed: an outside reader sees this client's decision now
                        conn = sqlite3.connect(f"file:{results / 'reviews.sqlite'}?mode=ro", uri=True, timeout=10)
                        mine = conn.execute("SELECT COUNT(*) FROM decisions WHERE reviewer = ?", (f"R{n}",)).fetchone()[0]
                        conn.close()
                        if mine < j + 1:
                            behind.append((j + 1, mine))

        threads = [threading.Thread(target=client, args=(n,)) for n in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert answers.count(303) == 240, {a: answers.count(a) for a in set(answers)}
        assert not behind, behind[:3]
        assert _rows(results) == 240  # while the desks run
    finally:
        for proc, _ in desks:
            proc.terminate()
        for proc, _ in desks:
            proc.wait(20)
    assert _rows(results) == 240  # after both stopped


def test_an_exhibit_that_is_the_trail_under_another_name_is_never_opened(tmp_path, monkeypatch):
    """The report route reads exhibit frames: one that is a hard link to the trail is refused
    before anything opens it (opening and closing it would drop the desk's locks)."""
    import json

    results, index = _results(tmp_path, clips=1)
    app = create_app(index, results)
    c = TestClient(app, base_url="http://127.0.0.1:8765", raise_server_exceptions=False)
    path = results / "clip0.evidence.json"
    ev = json.loads(path.read_text())
    seg = next(s for w in ev["works"] for s in w["segments"] if s["exhibits"])
    frames = results / "clip0.frames"
    frames.mkdir()
    os.link(results / "reviews.sqlite", frames / "s01_p1_query.jpg")
    seg["exhibits"][0]["query_image"]["file"] = "clip0.frames/s01_p1_query.jpg"
    path.write_text(json.dumps(ev))
    opened = []
    real_open = open

    def watching(file, *a, **k):
        if os.path.exists(file) and os.stat(file).st_ino == os.stat(results / "reviews.sqlite").st_ino:
            opened.append(file)
        return real_open(file, *a, **k)
    import builtins

    monkeypatch.setattr(builtins, "open", watching)
    assert c.get("/clip/clip0/report.pdf").status_code == 404
    assert c.get("/clip/clip0/pair/0/0.png").status_code == 404
    assert not opened
