"""Exit codes a script can rely on: 2 the user's mistake (or an index that fails verification), 3
something missing on this machine, 1 a locked index (or some inputs failed), 130 Ctrl-C with
everything finished kept."""

import csv
import json
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

import reference_index as ri
from auditor.cli import app

runner = CliRunner()


def scan_args(clip, index, out):
    return ["scan", str(clip), "--index", str(index), "--out", str(out), "--quiet"]


def test_exit_2_for_the_users_mistakes(footage, pdq_index, tmp_path):
    a_file = tmp_path / "a_file.txt"
    a_file.write_text("not a folder")
    r = runner.invoke(app, scan_args(footage["copy"], pdq_index, a_file))
    assert r.exit_code == 2 and f"--out {a_file}: is a file" in r.stderr
    r = runner.invoke(app, ["index", "add", str(footage["copy"]), "--index", str(a_file), "--work", "W", "--owner", "O"])
    assert r.exit_code == 2 and "is a file, not an index folder" in r.stderr
    moved = tmp_path / "moved.toml"
    moved.write_text("[verdict]\nnear_identical_max_median_pdq_distance = 20\n")
    r = runner.invoke(app, scan_args(footage["copy"], pdq_index, tmp_path / "o") + ["--config", str(moved)])
    assert r.exit_code == 2 and "is now 'channels.pdq.near_identical_max_median_distance'" in r.stderr
    r = runner.invoke(app, scan_args(footage["copy"], pdq_index, tmp_path / "o") + ["--engine", "spark"])
    assert r.exit_code == 2 and "choose local or ray" in r.stderr
    assert runner.invoke(app, ["scan", "--index", str(pdq_index), "--out", str(tmp_path / "o")]).exit_code == 2
    assert not list((tmp_path / "o").glob("*.evidence.json"))


def test_exit_3_for_what_this_machine_lacks(footage, pdq_index, tmp_path, monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == "ray" else real(name, *a))
    r = runner.invoke(app, scan_args(footage["unrelated"], pdq_index, tmp_path) + ["--engine", "ray"])
    assert r.exit_code == 3 and "pip install 'auditor[ray]'" in r.stderr
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    r = runner.invoke(app, ["index", "add", str(footage["refs"]["ep01"]), "--index", str(tmp_path / "idx"),
                            "--work", "W", "--owner", "O", "--channels", "pdq,clip"])
    assert r.exit_code == 3 and "are not on this machine" in r.stderr


def test_a_locked_index_is_exit_1_and_left_as_it_was(footage, pdq_index, tmp_path):
    idx = shutil.copytree(pdq_index, tmp_path / "idx")
    before = (idx / "manifest.json").read_bytes()
    with ri.IndexWriter(idx):  # another writer holds the index
        for args in (["index", "add", str(footage["unrelated"]), "--index", str(idx), "--work", "W", "--owner", "O"],
                     ["index", "remove", "--index", str(idx), "--work", "Moonlit Garden"],
                     ["index", "calibrate", "--index", str(idx)]):
            r = runner.invoke(app, args)
            assert r.exit_code == 1 and "another process is writing to this index" in r.stderr, args
        assert (idx / "manifest.json").read_bytes() == before
        # readers are not locked out: a scan works meanwhile
        assert runner.invoke(app, scan_args(footage["copy"], idx, tmp_path / "out")).exit_code == 0


def test_a_damaged_index_is_exit_2_with_the_file_named(footage, pdq_index, tmp_path):
    idx = shutil.copytree(pdq_index, tmp_path / "idx")
    manifest = json.loads((idx / "manifest.json").read_text())
    vectors = idx / f"gen-{manifest['generation']:06d}" / manifest["channels"]["pdq"]["file"]
    vectors.write_bytes(vectors.read_bytes()[:-100])  # truncated
    r = runner.invoke(app, scan_args(footage["copy"], idx, tmp_path / "out"))
    assert r.exit_code == 2 and f"{vectors}" in r.stderr and "damaged" in r.stderr
    assert not list((tmp_path / "out").glob("*.evidence.json"))
    (idx / "manifest.json").write_text("{not json")
    r = runner.invoke(app, ["index", "info", "--index", str(idx)])
    assert r.exit_code == 2 and "manifest.json: not valid JSON" in r.stderr


def test_ctrl_c_is_exit_130_and_keeps_every_clip_finished(batch_of_twelve, pdq_index, tmp_path):
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "auditor", "scan", "--from-list", str(batch_of_twelve), "--index", str(pdq_index),
           "--out", str(out), "--quiet"]
    # as from a terminal: a shell runs background jobs with SIGINT ignored, and Python keeps an
    # ignored SIGINT ignored (this test then failed when the suite ran in the background)
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    deadline = time.monotonic() + 120
    while len(list(out.glob("*.evidence.json"))) < 2 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130, err
    assert "interrupted; everything finished before the interruption is kept" in err
    done = {p.name.removesuffix(".evidence.json") for p in out.glob("*.evidence.json")}
    assert 2 <= len(done) < 12
    with open(out / "summary.csv", newline="") as f:
        listed = {row["query_id"] for row in csv.DictReader(f)}
    assert listed == done  # the summary lists every clip finished, and only those


@pytest.fixture
def batch_of_twelve(footage, tmp_path):
    names = []
    for i in range(6):
        for clip in (footage["copy"], footage["unrelated"]):
            link = tmp_path / "in" / f"{i}_{Path(clip).name}"
            link.parent.mkdir(exist_ok=True)
            link.symlink_to(clip)
            names.append(str(link))
    listing = tmp_path / "clips.txt"
    listing.write_text("\n".join(names))
    return listing


@pytest.mark.parametrize("extra, module, args", [
    ("clip", "open_clip", ["index", "add", "CLIP", "--index", "IDX", "--work", "W", "--owner", "O", "--channels", "pdq,clip"]),
    ("desk", "fastapi", ["serve", "--index", "IDX", "--results", "OUT"]),
    ("ray", "ray", ["scan", "CLIP", "--index", "IDX", "--out", "OUT", "--engine", "ray"]),
])
def test_a_missing_extra_is_one_line_naming_it_and_exit_3(footage, pdq_index, tmp_path, monkeypatch, extra, module, args):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name == module else real(name, *a))
    (tmp_path / "out").mkdir()
    given = {"CLIP": str(footage["copy"]), "IDX": str(pdq_index if extra != "clip" else tmp_path / "idx"),
             "OUT": str(tmp_path / "out")}
    r = runner.invoke(app, [given.get(a, a) for a in args])
    assert r.exit_code == 3, r.output
    assert r.stderr.strip().splitlines() == [f"auditor: error: {r.stderr.split('error: ', 1)[1].strip()}"]
    assert f"'{extra}' extra ({module} not installed here): pip install 'auditor[{extra}]'" in r.stderr


def test_a_scan_on_a_terminal_shows_a_bar_and_prints_failures_above_it(monkeypatch):
    """On a terminal the batch's progress is a live bar (clips done, frames a second); a failed
    clip is still one plain line; once done the bar is gone."""
    import io

    from auditor.cli.progress import ScanProgress
    from auditor.evidence.rules import Level
    from auditor.scan.batch import ClipOutcome, ClipStatus

    class Verdict:
        flagged, level, score = True, Level.NEAR_IDENTICAL, 0.9

    err = io.StringIO()
    monkeypatch.setattr(sys, "stderr", err)
    with ScanProgress(2, live=True) as progress:
        progress(ClipOutcome("a.mp4", "a", ClipStatus.OK, verdict=Verdict(), frames=50))
        assert "1/2" in err.getvalue() and "frames/s" in err.getvalue()
        progress(ClipOutcome("b.mp4", "b", ClipStatus.ERROR, error="not a readable video"))
    shown = err.getvalue()
    assert "auditor: [2/2] error: b.mp4: not a readable video" in shown
