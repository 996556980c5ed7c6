"""Hostile inputs cost themselves alone: one input, one outcome, one line naming the file and its
problem; the rest of the batch is scanned (or indexed) and kept."""

import csv
import json
import os
import struct
import zlib
from pathlib import Path

import cv2
import numpy as np
import pytest
from helpers import write_scene
from typer.testing import CliRunner

from auditor.cli import app
from auditor.config import load_config
from auditor.errors import InputError, LimitExceeded
from auditor.media.reader import MediaReader

runner = CliRunner()


def png_bomb(path: Path, width: int = 100_000, height: int = 100_000) -> Path:
    """A few dozen bytes of PNG whose header claims width x height pixels."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    path.write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
                     + chunk(b"IDAT", zlib.compress(b"\0" * 16)) + chunk(b"IEND", b""))
    return path


def noise_video(path: Path, width: int, height: int, frames: int = 10, fps: float = 10.0, fourcc: str = "MJPG") -> Path:
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*fourcc), fps, (width, height))
    assert writer.isOpened()
    rng = np.random.default_rng(0)
    for _ in range(frames):
        writer.write(rng.integers(0, 255, (height, width, 3), dtype=np.uint8))
    writer.release()
    return path


def rows(csv_path: Path) -> dict[str, dict]:
    with open(csv_path, newline="", encoding="utf-8") as f:
        return {r["query_id"]: r for r in csv.DictReader(f)}


def test_bombs_slivers_and_pipes_are_each_one_line_and_the_batch_goes_on(footage, orb_index, tmp_path):
    bomb = png_bomb(tmp_path / "bomb.png")
    assert bomb.stat().st_size < 100
    dot = noise_video(tmp_path / "dot.avi", 1, 1)
    banner = noise_video(tmp_path / "banner.mp4", 8000, 16, fourcc="mp4v")
    pipe = tmp_path / "pipe.mp4"
    os.mkfifo(pipe)
    good = write_scene(tmp_path / "good.mp4", 11, 1.5)  # the first 1.5 s of ep01: a copy
    out = tmp_path / "out"
    r = runner.invoke(app, ["scan", str(bomb), str(dot), str(banner), str(pipe), str(good),
                            "--index", str(orb_index), "--out", str(out), "--quiet"])
    assert r.exit_code == 1, r.output
    errors = [ln for ln in r.stderr.splitlines() if "error:" in ln]
    assert len(errors) == 4 and not any("unexpected" in ln or "Traceback" in ln for ln in errors), r.stderr
    said = {name: next(ln for ln in errors if name in ln) for name in ("bomb.png", "dot.avi", "banner.mp4", "pipe.mp4")}
    assert "10000000000 pixels, over the limit" in said["bomb.png"]
    assert "1x1: too small" in said["dot.avi"] and "8000x16: too small or too narrow" in said["banner.mp4"]
    assert "FIFO" in said["pipe.mp4"] and "empty" not in said["pipe.mp4"]
    summary = rows(out / "summary.csv")
    assert summary["good"]["status"] == "ok" and summary["good"]["flagged"] == "true"
    assert {summary[k]["status"] for k in ("bomb", "dot", "banner", "pipe")} == {"error"}


def test_every_channel_takes_frames_a_pixel_thin(config):
    from auditor.channels import create_channel

    for name in ("pdq", "orb"):
        ch = create_channel(name, config)
        for shape in ((1, 1, 3), (1, 512, 3), (512, 1, 3), (30, 30, 3)):
            emb = ch.embed([np.full(shape, 90, np.uint8)], query=True)
            assert not emb.keep.any()  # unused by the channel, not a crash


def test_a_clip_the_container_says_is_too_long_is_refused_before_decoding(tmp_path):
    clip = noise_video(tmp_path / "long.avi", 32, 32, frames=120, fps=1.0)  # the container states 120 s
    cfg = load_config(overrides={"limits": {"max_duration_s": 60.0}})
    with pytest.raises(LimitExceeded, match="states 120 s, longer than the limit of 60 s"):
        MediaReader(clip, 5.0, cfg)  # opening it, before any frame is decoded


def test_an_unexpected_failure_costs_one_file_and_index_add_keeps_what_it_said_it_added(footage, monkeypatch, tmp_path):
    import auditor.indexing.ingest as ingest

    real = ingest.embed_file

    def embed(path, *args, **kwargs):
        if "boom" in str(path):
            raise ZeroDivisionError("a library divided by zero\non two lines")
        return real(path, *args, **kwargs)

    monkeypatch.setattr(ingest, "embed_file", embed)
    boom = tmp_path / "boom.mp4"
    boom.write_bytes(footage["refs"]["ep02"].read_bytes())
    idx = tmp_path / "idx"
    r = runner.invoke(app, ["index", "add", str(footage["refs"]["ep01"]), str(boom), "--index", str(idx),
                            "--work", "W", "--owner", "O", "--channels", "pdq"])
    assert r.exit_code == 1
    assert "added ep01" in r.stderr
    line = next(ln for ln in r.stderr.splitlines() if "boom.mp4" in ln)
    assert "unexpected ZeroDivisionError: a library divided by zero on two lines" in line
    info = runner.invoke(app, ["index", "info", "--index", str(idx), "--json"])
    assert json.loads(info.stdout)["counts"]["videos"] == 1


@pytest.mark.parametrize("workers", ["1", "2"])  # in this process, and in a pool of worker processes
def test_file_names_that_are_not_utf8_are_scanned_and_written_escaped(footage, pdq_index, tmp_path, workers):
    folder = os.fsencode(tmp_path)
    bad = os.fsdecode(folder + b"/bad_\xff\xfe.mp4")
    os.link(footage["copy"], bad)
    out = tmp_path / "out"
    r = runner.invoke(app, ["scan", bad, str(footage["unrelated"]), "--index", str(pdq_index), "--out", str(out), "--quiet",
                            "--workers", workers])
    assert r.exit_code == 0, r.output
    summary = rows(out / "summary.csv")
    row = summary["bad_\\xff\\xfe"]
    assert row["status"] == "ok" and row["flagged"] == "true" and row["path"].endswith("bad_\\xff\\xfe.mp4")
    evidence = json.loads((out / row["evidence"]).read_text(encoding="utf-8"))  # named relative to the summary
    assert evidence["clip"]["path"].endswith("bad_\\xff\\xfe.mp4") and evidence["query_id"] == "bad_\\xff\\xfe"
    assert summary["unrelated"]["status"] == "ok"
    with open(out / "matches.csv", encoding="utf-8") as f:
        assert "bad_\\xff\\xfe," in f.read()
    # the index keeps a path it must read again: such a name is refused there, in one line
    r = runner.invoke(app, ["index", "add", bad, "--index", str(tmp_path / "idx"), "--work", "W", "--owner", "O",
                            "--channels", "pdq"])
    assert r.exit_code == 1 and "bad_\\xff\\xfe.mp4: the file name is not valid UTF-8" in r.stderr
    with pytest.raises(InputError, match="not valid UTF-8"):
        MediaReader(bad, 5.0, load_config())  # never handed to OpenCV, which crashes on it


def test_a_report_that_fails_unexpectedly_costs_its_clip_alone(footage, pdq_index, pdq_config, monkeypatch, tmp_path):
    import auditor.report.pdf as pdf_module
    from auditor.scan.batch import run_batch

    def broken(*args, **kwargs):
        raise KeyError("a font table")

    monkeypatch.setattr(pdf_module, "render_report", broken)
    report = run_batch([footage["copy"], footage["unrelated"]], pdq_index, tmp_path / "out", pdq_config,
                       pdf={"lang": "en"})
    by_id = {o.query_id: o for o in report.outcomes}
    assert by_id["copy"].status == "error" and "report failed: unexpected KeyError" in by_id["copy"].error
    assert Path(by_id["copy"].evidence_path).is_file()  # the evidence stays
    assert by_id["unrelated"].status == "ok"
