"""Same inputs, same evidence, on every engine; one error policy on every engine.

The same clips, index and configuration give the same evidence in this process, in two worker
processes and on Ray actors, apart from when and how the scan ran (`created_utc`, `runtime`),
and byte-identical matches.csv and summary.csv, whatever order the clips finish in (the clips
include two copies of one file under two names: their scores tie).
An index or configuration failure stops the run with its exit code on every engine; a bad input
costs that input alone on every engine."""

import json
import shutil
from pathlib import Path

import pytest
from helpers import write_copy, write_scene
from typer.testing import CliRunner

from auditor.cli import app
from auditor.config import load_config
from auditor.indexing.ingest import CatalogueItem, add_items
from auditor.scan.batch import run_batch
from auditor.scan.engines import OnRay, WorkerPool

runner = CliRunner()


def build(path, footage, config, channels):
    items = [
        CatalogueItem(footage["refs"]["ep01"], "Star Courier", "Demo Studio", episode="1"),
        CatalogueItem(footage["refs"]["other"], "Moonlit Garden", "Example Pictures"),
    ]
    report = add_items(path, items, config, channels)
    assert not report.failed, report.failed
    return path


def comparable(path) -> dict:
    """An evidence file without the fields that say when and how it ran."""
    ev = json.loads(path.read_text())
    ev.pop("created_utc")
    ev.pop("runtime")
    return ev


def same_outputs(a, b, names):
    """Two results folders of the same clips: the same CSV bytes, evidence and pictures."""
    for csv_name in ("matches.csv", "summary.csv"):
        assert (a / csv_name).read_bytes() == (b / csv_name).read_bytes(), csv_name
    for name in names:
        assert comparable(a / f"{name}.evidence.json") == comparable(b / f"{name}.evidence.json"), name
        pictures_a = sorted((a / f"{name}.frames").glob("*.jpg"))
        pictures_b = sorted((b / f"{name}.frames").glob("*.jpg"))
        assert [p.name for p in pictures_a] == [p.name for p in pictures_b]
        assert all(x.read_bytes() == y.read_bytes() for x, y in zip(pictures_a, pictures_b))


@pytest.fixture(scope="module")
def clips(footage, tmp_path_factory):
    d = tmp_path_factory.mktemp("engine_clips")
    crop = write_copy(d / "crop.mp4", 11, 2.0, 5.0, lead_in=0.5, tail=0.5)
    again = shutil.copy(footage["copy"], d / "copy_again.mp4")  # the same scores as copy.mp4: ties
    short = write_scene(d / "short.mp4", 95, 3.0)  # 7-frame batches: its CLIP vectors once varied with threads
    return [footage["copy"], footage["unrelated"], crop, again, short]


def test_pdq_orb_evidence_is_the_same_with_one_or_two_workers_and_on_ray(footage, clips, tmp_path):
    cfg = load_config()
    idx = build(tmp_path / "idx", footage, cfg, ["pdq", "orb"])
    one = run_batch(clips, idx, tmp_path / "one", cfg)
    two = run_batch(clips, idx, tmp_path / "two", cfg, WorkerPool(2))
    ray_run = run_batch(clips, idx, tmp_path / "ray", cfg, OnRay(2))
    assert not one.failed and not two.failed and not ray_run.failed
    names = [Path(p).stem for p in clips]
    same_outputs(tmp_path / "one", tmp_path / "two", names)
    same_outputs(tmp_path / "one", tmp_path / "ray", names)
    rows = [r.split(",") for r in (tmp_path / "one" / "matches.csv").read_text().splitlines()[1:]]
    tied = [i for i, r in enumerate(rows) if r[0] in ("copy", "copy_again")]
    assert [rows[i][0] for i in tied[:2]] == ["copy", "copy_again"] and tied[1] == tied[0] + 1  # a tie, by query id
    assert rows[tied[0]][1:] == rows[tied[1]][1:]
    first = json.loads((tmp_path / "one" / "copy.evidence.json").read_text())
    assert first["verdict"]["flagged"] and {"pdq", "orb"} <= set(first["tool"]["channels"])
    # how it ran is recorded: threads per library, each channel's device, the structure searched
    runtime = json.loads((tmp_path / "two" / "copy.evidence.json").read_text())["runtime"]
    assert runtime["devices"] == {"pdq": "cpu", "orb": "cpu"} and runtime["threads"]["faiss"] >= 1
    assert first["index"]["channels"]["orb"]["structure"] == "ivf"  # the test footage: more than 5,000 descriptors


def test_tiny_clip_evidence_is_the_same_with_one_or_two_workers(footage, clips, tiny_clip_dir, tmp_path):
    cfg = load_config(overrides={"channels": {"clip": {"model": f"local-dir:{tiny_clip_dir}", "min_similarity": 0.9992,
                                                       "strong_min_median_similarity": 0.99999}}})
    idx = build(tmp_path / "idx", footage, cfg, ["pdq", "clip"])
    run_batch(clips, idx, tmp_path / "one", cfg)
    run_batch(clips, idx, tmp_path / "two", cfg, WorkerPool(2))
    same_outputs(tmp_path / "one", tmp_path / "two", [Path(p).stem for p in clips])
    ev = json.loads((tmp_path / "one" / "copy.evidence.json").read_text())
    assert ev["frames"][0]["top"]["clip"]  # the model channel searched every frame


@pytest.mark.parametrize("engine", ["local", "workers", "ray"])
def test_a_mismatched_index_stops_the_run_with_exit_2_on_every_engine(footage, pdq_index, tmp_path, engine):
    other = tmp_path / "other.toml"
    other.write_text("[channels.pdq]\ntrim_borders = false\n")  # vectors made differently from the index's
    args = ["scan", str(footage["copy"]), str(footage["unrelated"]), "--index", str(pdq_index), "--out",
            str(tmp_path / "out"), "--config", str(other), "--quiet"]
    args += {"local": [], "workers": ["--workers", "2"], "ray": ["--engine", "ray", "--workers", "2"]}[engine]
    r = runner.invoke(app, args)
    assert r.exit_code == 2, r.output
    assert "channel 'pdq' was built with" in r.stderr
    assert not list((tmp_path / "out").glob("*.evidence.json"))  # nothing scanned against the wrong vectors
