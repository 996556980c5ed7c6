"""Batch scans: inputs, resuming, a run killed midway, worker processes and a worker that dies."""

import csv
import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import crashing_scan, write_copy, write_scene
from typer.testing import CliRunner

from auditor.cli import app
from auditor.scan.batch import run_batch
from auditor.scan.engines import OnRay, WorkerPool
from auditor.scan.inputs import expand_inputs

runner = CliRunner()


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def batch(tmp_path_factory, footage):
    """A folder tree of suspects: copies, unrelated clips, a still, and broken files."""
    d = tmp_path_factory.mktemp("batch")
    (d / "a").mkdir()
    (d / "a" / "deep").mkdir()
    write_copy(d / "a" / "copy1.mp4", 11, 3.0, 6.0, lead_in=1.0, tail=0.5)
    write_copy(d / "a" / "deep" / "copy2.mp4", 11, 5.0, 8.0, lead_in=0.5, tail=0.5)
    write_scene(d / "a" / "unrelated1.mp4", 95, 3.0, size=(400, 224), fps=25.0)
    write_scene(d / "unrelated2.mp4", 96, 3.0)
    (d / "a" / "notes.txt").write_text("not media")
    (d / "a" / "broken.mp4").write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    (d / "a" / "empty.webm").write_bytes(b"")
    return d


def test_inputs_from_folders_patterns_and_lists(batch, tmp_path):
    found = expand_inputs([str(batch / "a")])
    names = [p.name for p in found]
    assert names == ["broken.mp4", "copy1.mp4", "copy2.mp4", "empty.webm", "unrelated1.mp4"]  # sorted, recursive, media only
    assert [p.name for p in expand_inputs([str(batch / "**" / "copy*.mp4")])] == ["copy1.mp4", "copy2.mp4"]
    listing = tmp_path / "list.txt"
    listing.write_text(f"# suspects\n{batch / 'unrelated2.mp4'}\n\n{batch / 'a' / 'copy1.mp4'}\n")
    both = expand_inputs([str(batch / "a" / "copy1.mp4")], str(listing))
    assert [p.name for p in both] == ["copy1.mp4", "unrelated2.mp4"]  # each once
    import io

    assert [p.name for p in expand_inputs([], "-", stdin=io.StringIO(f"{batch / 'unrelated2.mp4'}\n"))] == ["unrelated2.mp4"]


def test_a_batch_with_broken_files_rerun_skips_finished_clips(batch, pdq_index, tmp_path):
    out = tmp_path / "out"
    args = ["scan", str(batch), "--index", str(pdq_index), "--out", str(out), "--quiet"]
    r = runner.invoke(app, args)
    assert r.exit_code == 1, r.output  # some inputs failed
    summary = {row["query_id"]: row for row in read_csv(out / "summary.csv")}
    assert summary["broken"]["status"] == "error" and "not a readable video" in summary["broken"]["error"]
    assert summary["empty"]["status"] == "error" and "empty file" in summary["empty"]["error"]
    assert {k for k, v in summary.items() if v["status"] == "ok"} == {"copy1", "copy2", "unrelated1", "unrelated2"}
    assert summary["copy1"]["flagged"] == "true" and summary["unrelated2"]["flagged"] == "false"
    assert "broken.mp4" in r.stderr  # failures are printed even with --quiet
    first = {p.name: p.stat().st_mtime_ns for p in out.glob("*.evidence.json")}
    matches = read_csv(out / "matches.csv")

    r = runner.invoke(app, args)
    assert "0 scanned, 4 already done, 2 failed" in r.output
    assert {p.name: p.stat().st_mtime_ns for p in out.glob("*.evidence.json")} == first  # nothing rewritten
    assert read_csv(out / "matches.csv") == matches
    again = {row["query_id"]: row for row in read_csv(out / "summary.csv")}
    assert again["copy1"]["status"] == "skipped" and again["copy1"]["flagged"] == "true"

    r = runner.invoke(app, args + ["--force"])
    assert "4 scanned, 0 already done" in r.output
    cfg = tmp_path / "other.toml"
    cfg.write_text("[segments]\nmin_frames = 4\n")
    r = runner.invoke(app, args + ["--config", str(cfg)])  # other parameters: the evidence is redone
    assert "4 scanned, 0 already done" in r.output


def test_a_run_killed_midway_resumes_with_nothing_lost_or_duplicated(batch, pdq_index, tmp_path):
    clips = sorted(str(p) for p in batch.rglob("*.mp4") if p.name != "broken.mp4") * 1
    listing = tmp_path / "clips.txt"
    # the same four clips under twelve names: enough work to kill the run in the middle
    names = []
    for i in range(3):
        for c in clips:
            link = tmp_path / "in" / f"{i}_{Path(c).name}"
            link.parent.mkdir(exist_ok=True)
            link.symlink_to(c)
            names.append(str(link))
    listing.write_text("\n".join(names))
    out = tmp_path / "out"
    cmd = [sys.executable, "-m", "auditor", "scan", "--from-list", str(listing), "--index", str(pdq_index),
           "--out", str(out), "--quiet"]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while len(list(out.glob("*.evidence.json"))) < 3 and time.monotonic() < deadline and proc.poll() is None:
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    written = {p.name for p in out.glob("*.evidence.json")}
    assert 3 <= len(written) < len(names), "the run should have been killed midway"
    for p in out.glob("*.evidence.json"):
        json.loads(p.read_text())  # every file there is complete (atomic writes)

    r = subprocess.run(cmd[:-1], capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert f"{len(names) - len(written)} scanned, {len(written)} already done, 0 failed" in r.stdout
    summary = read_csv(out / "summary.csv")
    assert sorted(row["query_id"] for row in summary) == sorted(Path(n).stem for n in names)
    rows = read_csv(out / "matches.csv")
    assert len(rows) == len({tuple(r.values()) for r in rows})  # no duplicates
    assert {r["query_id"] for r in rows} == {Path(n).stem for n in names if "copy" in n}


def test_worker_processes_give_the_same_evidence_and_a_dying_worker_costs_its_clip_alone(batch, pdq_index, pdq_config, tmp_path):
    clips = [batch / "a" / "copy1.mp4", batch / "a" / "deep" / "copy2.mp4", batch / "unrelated2.mp4"]
    crash = tmp_path / "crash_me.mp4"
    crash.write_bytes((batch / "a" / "unrelated1.mp4").read_bytes())
    one = run_batch(clips, pdq_index, tmp_path / "one", pdq_config)
    two = run_batch(clips + [crash], pdq_index, tmp_path / "two", pdq_config, WorkerPool(2, task=crashing_scan))

    def key(report):
        return {o.query_id: (o.status, o.verdict and o.verdict.level, o.segments) for o in report.outcomes}

    got = key(two)
    assert got.pop("crash_me")[0] == "error"
    assert got == key(one)
    assert (tmp_path / "one" / "matches.csv").read_bytes() == (tmp_path / "two" / "matches.csv").read_bytes()
    failed = next(o for o in two.outcomes if o.query_id == "crash_me")
    assert "worker process died" in failed.error


def test_ray_engine_gives_the_same_results_as_the_local_engine(batch, pdq_index, pdq_config, tmp_path):
    clips = [batch / "a" / "copy1.mp4", batch / "unrelated2.mp4", batch / "a" / "broken.mp4"]
    local = run_batch(clips, pdq_index, tmp_path / "local", pdq_config)
    ray_run = run_batch(clips, pdq_index, tmp_path / "ray", pdq_config, OnRay(2))

    def key(report):
        return sorted((o.query_id, o.status, o.verdict and o.verdict.level, o.segments, o.error) for o in report.outcomes)

    assert key(ray_run) == key(local)
    assert read_csv(tmp_path / "ray" / "matches.csv") == read_csv(tmp_path / "local" / "matches.csv")
    a = json.loads((tmp_path / "local" / "copy1.evidence.json").read_text())
    b = json.loads((tmp_path / "ray" / "copy1.evidence.json").read_text())
    assert a["works"] == b["works"] and a["frames"] == b["frames"]


def test_gpu_actors_and_devices_are_chosen_from_the_device_option(monkeypatch):
    from auditor.channels import clip
    from auditor.errors import MissingDependency
    from auditor.scan.engines import ray_actor_options

    assert ray_actor_options("cuda") == {"num_cpus": 1, "num_gpus": 1}
    assert ray_actor_options("cuda:1")["num_gpus"] == 1 and "num_gpus" not in ray_actor_options("cpu")
    import torch

    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert clip.resolve_device("auto") == "cpu"
    with pytest.raises(MissingDependency, match="no CUDA GPU"):
        clip.resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 1)
    assert clip.resolve_device("auto") == "cuda" and clip.resolve_device("cuda:0") == "cuda:0"


def test_faiss_moves_float_channels_to_the_gpu_only_when_asked_and_present(monkeypatch):
    from reference_index.search import faiss, vectors

    vec = vectors.ChannelVectors("ip", 8)
    binary = vectors.ChannelVectors("hamming", 256)
    with monkeypatch.context() as cpu_build:  # faiss-cpu (whatever GPUs the machine has): nothing moves
        cpu_build.delattr(faiss, "StandardGpuResources", raising=False)
        assert vectors.gpu_count() == 0 and not vec.to_gpu()
    moved = []
    monkeypatch.setattr(faiss, "StandardGpuResources", lambda: "resources", raising=False)
    monkeypatch.setattr(faiss, "get_num_gpus", lambda: 1, raising=False)
    monkeypatch.setattr(faiss, "index_cpu_to_gpu", lambda res, dev, index: moved.append(dev) or index, raising=False)
    assert vec.to_gpu(0) and moved == [0]
    assert not binary.to_gpu(0) and not vec.to_gpu(1)  # binary stays; no second GPU


def test_workers_take_the_largest_clips_first(tmp_path):
    from auditor.scan.inputs import longest_first

    sizes = {"short.mp4": 10, "long.mp4": 1000, "mid.mp4": 100}
    todo = []
    for name, n in sizes.items():
        (tmp_path / name).write_bytes(b"x" * n)
        todo.append((tmp_path / name, name))
    todo.append((tmp_path / "gone.mp4", "gone"))  # vanished since listed: last, not an error here
    assert [qid for _, qid in longest_first(todo)] == ["long.mp4", "mid.mp4", "short.mp4", "gone"]
