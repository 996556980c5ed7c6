"""Every benchmark, and the evaluation set, run in this process at a tiny size: each prints its
figures and records one JSON line (benchmark, command, date, commit, machine, figures) where
`--results` says; `python -m benchmarks.docs` renders those lines. Sizes are chosen for speed,
so the figures are only checked to be there, numbers, and plausible where that is cheap."""

import json
import re
import subprocess
import sys

import pytest

from auditor.media.synth import write_scene
from benchmarks import common

KEYS = {"benchmark", "command", "date", "commit", "machine", "figures"}


@pytest.fixture(scope="module")
def clip_folder(tmp_path_factory):
    """A folder holding one 4-s generated clip: the benchmarks' footage instead of the corpus."""
    folder = tmp_path_factory.mktemp("bench-footage")
    write_scene(folder / "clip.mp4", 11, 4.0)
    return folder


def run(name: str, args: list[str], tmp_path) -> dict:
    """Run benchmarks.<name> with `args` in this process; the figures of the one line it recorded."""
    import importlib

    results = tmp_path / f"{name}.jsonl"
    argv = [*map(str, args), "--results", str(results)]
    importlib.import_module(f"benchmarks.{name}").main(argv)
    lines = results.read_text(encoding="utf-8").splitlines()
    assert len(lines) == 1
    line = json.loads(lines[0])
    assert set(line) == KEYS
    assert line["benchmark"] == name
    assert line["command"] == common.command(name, argv) and line["command"].startswith(f"python -m benchmarks.{name} ")
    assert "--results" not in line["command"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", line["date"])
    assert re.fullmatch(r"[0-9a-f]{40}(\+dirty)?|unknown", line["commit"])
    assert set(line["machine"]) == {"platform", "python", "cpu", "cpus", "memory_gib"}
    assert line["machine"]["cpus"] >= 1 and line["machine"]["python"].startswith("3.")
    return line["figures"]


def number(x) -> bool:
    return isinstance(x, (int, float)) and not isinstance(x, bool)


def test_index_float_and_pdq(tmp_path, capsys):
    f = run("index", ["--float", 2000, "--shots", 2000, "--pdq", 2000, "--queries", 50,
                      "--nprobe-float", 8, "--nprobe-pdq", 16], tmp_path)
    assert "float build:" in capsys.readouterr().out
    assert f["float"]["vectors"] == 2000 and f["pdq"]["vectors"] == 2000
    assert f["float_nprobe_8"]["queries_per_s"] > 0 and 0.9 <= f["float_nprobe_8"]["recall_at_10"] <= 1
    assert f["pdq_nprobe_16"]["lookups_per_s"] > 0 and 0.9 <= f["pdq_nprobe_16"]["recall_within_31"] <= 1
    assert 0 < f["float_nprobe_8"]["search_peak_rss_gb"] < 64 and number(f["pdq"]["build_peak_rss_gb"])


def test_local_orb_exhaustive(tmp_path, clip_folder):
    f = run("local", ["--orb", 200, "--orb-queries", 8, "--orb-structures", "flat", "--footage", clip_folder], tmp_path)
    assert f["orb"]["frames"] == 200 and f["orb"]["descriptors"] > 0 and f["orb"]["query_frames"] > 0
    flat = f["orb_flat"]
    assert flat["query_frames_per_s"] > 0 and flat["descriptor_pairs_compared_per_query_frame"] > 0
    assert 0 <= flat["recall_top1_with_min_votes"] <= flat["recall_top10"] <= 1 and flat["recall_top10"] >= 0.5


def test_words_votes(tmp_path, clip_folder):
    f = run("words_votes", ["--orb", 200, "--queries", 8, "--work", tmp_path / "w", "--footage", clip_folder,
                            "--clip", clip_folder / "clip.mp4"], tmp_path)
    assert f["build"]["words"] > 0 and f["index"]["frames"] == 200 and f["index"]["competition_kept"] > 0
    for rule in ("list 30", "list 300", "list 300, competition"):
        assert 0 <= f[rule]["source_first_share"] <= f[rule]["source_in_top10_share"] <= 1 and f[rule]["ms_per_query_frame"] >= 0
    assert f["clip"]["query_frames"] > 0
    searches = [v for k, v in f.items() if k.startswith("clip search")]
    assert searches and all(s["cpu_s"] >= 0 and number(s["step_2_cpu_s"]) for s in searches)


def test_index_open(tmp_path):
    f = run("index_open", ["--out", tmp_path / "open", "--mb", 1, "--repeat", 1], tmp_path)
    assert f["frames"] > 0 and 0.5 < f["index_mb"] < 5
    for key in ("open_not_verified_ms", "open_verified_cold_cache_ms", "open_verified_warm_cache_ms",
                "open_and_load_verified_warm_cache_ms", "open_and_load_not_verified_ms"):
        assert 0 < f[key]["min"] <= f[key]["median"] <= f[key]["max"] < 60_000


def test_index_size_with_a_tiny_clip_model(tmp_path, clip_folder, tiny_clip_dir):
    f = run("index_size", ["--clips", 1, "--footage", clip_folder, "--stills", 1, "--clip",
                           "--clip-model", f"local-dir:{tiny_clip_dir}"], tmp_path)
    assert f["reference"]["files"] == 1 and f["reference"]["frames"] == 8  # 4 s at 2 frames/s
    assert set(f["mib_per_reference_hour"]) == {"pdq", "orb", "clip", "catalogue"}
    assert f["bytes_per_frame"]["pdq"] >= 32 and f["bytes_per_frame"]["orb"] > f["bytes_per_frame"]["pdq"]
    if common.CORPUS_IMAGES.is_dir():
        assert f["stills"] == 1 and f["kib_per_still"]["orb"] > 0


def test_scan_with_a_tiny_clip_model(tmp_path, clip_folder, tiny_clip_dir):
    f = run("scan", ["--footage", clip_folder, "--clips", 1, "--clip-model", f"local-dir:{tiny_clip_dir}",
                     "--workers", 1, "--batch-size", 8, "--fps", 2], tmp_path)
    assert f["clips"] == 1 and f["frames_sampled"] == 8 and f["frames_decoded"] == 96  # 4 s at 24 frames/s
    for key in ("decode_frames_per_s", "pdq_frames_per_s", "clip_raw_images_per_s", "clip_pipeline_images_per_s",
                "held_frames_per_s", "end_to_end_frames_per_s", "encoder_images_per_s_in_scan"):
        assert f[key] > 0, key
    assert 0 <= f["encoder_calls_cut_percent"] <= 100 and f["pdq_frames_encoded_per_clip"] == {"clip.mp4": 8}


def test_scan_local(tmp_path, clip_folder):
    copy = ["--source", clip_folder / "clip.mp4", "--seconds", 2, "--repeat", 1]
    f = run("scan_local", [*copy, "--footage", clip_folder, "--edits", "caption", "--structures", "ivf"], tmp_path)
    assert f["ivf"]["videos"] == 1 and f["ivf"]["reference_frames"] == 60  # 4 s at 15 frames/s
    row = f["ivf caption"]
    assert row["right_reference"] is True and row["decode_s"] > 0 and row["scan_over_decode"] > 0
    assert row["cpu_s"] > 0 and number(row["cpu_orb_search_s"])
    (tmp_path / "small").mkdir()
    f = run("scan_local", [*copy, "--small-catalogues", 1, "--edits", "mirror"], tmp_path / "small")
    assert f["1 frames/s"]["reference_frames"] == 4 and 0.9 <= f["1 frames/s"]["neighbours_lists_share"] <= 1
    row = f["1 frames/s mirror"]
    assert row["exhaustive_scan_s"] > 0 and row["inverted_lists_scan_s"] > 0 and row["inverted_lists_level"]


def test_resemblance_on_the_corpus(tmp_path, corpus, tiny_clip_dir):
    f = run("resemblance", ["--clip-model", f"local-dir:{tiny_clip_dir}", "--seconds", 1, "--stills", 1], tmp_path)
    assert f["references"] == 5 and f["queries"] >= 7 and 0 <= f["queries_resembling_the_expected_work"] <= f["queries"]
    rows = [v for k, v in f.items() if k.startswith("query ")]
    assert len(rows) == f["queries"] and all(r["level"] for r in rows)
    assert all(-1 <= r["statistic"] <= 1.0001 for r in rows if "statistic" in r)


def test_shards_on_local_ray(tmp_path):
    f = run("shards", ["--frames", 0, "--shards", 2, "--query-frames", 2, "--work", tmp_path / "w"], tmp_path)
    assert f["index"]["frames"] > 0 and f["flagged"] is True
    shards = [v for k, v in f.items() if k.startswith("shard-")]
    assert len(shards) == 2 and all(s["frames"] > 0 and s["bytes_per_frame"] > 0 and s["actor_resident_mb"] > 0 for s in shards)
    assert all(v > 0 for v in f["search_ms_per_query_frame"].values())
    assert set(f["scan_s_6s_clip"]) == {"unsharded", "sharded_in_process", "sharded_on_ray_with_start", "sharded_on_ray_scan"}


def test_results_go_where_asked_and_docs_show_the_newest_of_each_command(tmp_path, monkeypatch):
    results = tmp_path / "results"
    common.record("demo", {"queries_per_s": 10.0}, ["--n", "1", "--results", str(results / "x.jsonl")],
                  str(results / "demo.jsonl"))
    common.record("demo", {"queries_per_s": 12.5, "t": {"a_s": 1}}, ["--n", "1"], str(results / "demo.jsonl"))
    common.record("demo", {"queries_per_s": 99.0}, ["--n", "2"], str(results / "demo.jsonl"))
    assert common.record("demo", {"x": 1}, [], "-") is None
    lines = [json.loads(x) for x in (results / "demo.jsonl").read_text().splitlines()]
    assert [x["command"] for x in lines] == ["python -m benchmarks.demo --n 1"] * 2 + ["python -m benchmarks.demo --n 2"]
    monkeypatch.setattr(common, "RESULTS", tmp_path / "default")
    common.record("demo", {"x": 1}, [])
    assert (tmp_path / "default" / "demo.jsonl").is_file()
    with pytest.raises(ValueError):
        common.record("demo", {"a": {"b": {"c": 1}}}, [], str(results / "deep.jsonl"))

    from benchmarks import docs

    page = tmp_path / "benchmarks.md"
    docs.main(["--results", str(results), "--out", str(page)])
    text = page.read_text()
    assert "generated by `python -m benchmarks.docs`" in text and "## demo" in text
    assert "| queries_per_s | 12.5 |" in text and "| t.a_s | 1 |" in text and "| queries_per_s | 99 |" in text
    assert "| queries_per_s | 10 |" not in text  # an older line of the same command
    assert text.count("`python -m benchmarks.demo --n 1`") == 1


def test_commit_is_unknown_outside_git(tmp_path, monkeypatch):
    monkeypatch.setattr(common, "ROOT", tmp_path)
    assert common.commit() == "unknown"


def test_the_random_clip_model_is_chosen_through_overrides(tmp_path, monkeypatch, tiny_clip_dir):
    """Without real weights, clip_channel saves a randomly initialised model (here a tiny one)
    and returns overrides naming it, so indexes and scans built from them use it too."""
    import open_clip

    from auditor import channels
    from auditor.errors import ModelWeightsMissing

    tiny = json.loads((tiny_clip_dir / "open_clip_config.json").read_text())["model_cfg"]
    monkeypatch.setattr(open_clip, "get_model_config", lambda name: tiny)
    monkeypatch.setattr(open_clip, "create_model", lambda name, pretrained=None: open_clip.CLIP(**tiny))
    create = channels.create_channel

    def no_weights(name, config):
        if not str(config.channels.of("clip").model).startswith("local-dir:"):
            raise ModelWeightsMissing("no weights here")
        return create(name, config)

    monkeypatch.setattr(channels, "create_channel", no_weights)
    channel, weights, real, chosen = common.clip_channel(tmp_path, batch_size=4)
    assert not real and "random init" in weights and channel.batch_size == 4
    assert chosen["channels"]["clip"]["model"] == f"local-dir:{tmp_path / 'vit-b-32-random'}"
    from auditor.config import load_config

    assert load_config(overrides=chosen).channels.of("clip").batch_size == 4


def test_every_entry_point_answers_help_without_torch():
    """`--help` of every benchmark and evaluation module, and importing them, needs no torch,
    open_clip or Ray (they are imported only where they are measured)."""
    names = ["benchmarks." + n for n in ("index", "index_open", "index_size", "local", "resemblance", "scan",
                                         "scan_local", "shards", "words_votes", "docs")]
    names += ["evaluation.make_set", "evaluation.run"]
    code = f"""
import contextlib, importlib, io, sys
for name in {names!r}:
    with contextlib.redirect_stdout(io.StringIO()) as out:
        try:
            importlib.import_module(name).main(["--help"])
        except SystemExit as exc:
            assert exc.code == 0, name
    assert "usage:" in out.getvalue(), name
heavy = [m for m in ("torch", "open_clip", "ray") if m in sys.modules]
assert not heavy, heavy
"""
    done = subprocess.run([sys.executable, "-c", code], cwd=common.ROOT, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr[-2000:]


def test_a_small_evaluation_set_is_built_and_run(tmp_path, corpus, capsys):
    from evaluation import make_set
    from evaluation import run as run_eval

    out = tmp_path / "set"
    make_set.main(["--out", str(out), "--seconds", "2", "--stills", "2", "--transforms", "reencode",
                   "--per-transform", "2", "--negatives", "2", "--look-negatives", "1", "--long-copies", "0",
                   "--hard-copies", "1"])
    truth = (out / "truth.csv").read_text().splitlines()
    assert truth[0] == "query_id,ref_id,query_start,query_end,ref_start,ref_end,transform,split"
    # the hard copies come after every other case, each a copy of a reference
    rows = [row.split(",") for row in truth[1:]]
    hard = ("other_master", "reversed", "degraded_middle")
    assert [r[6] for r in rows[-3:]] == list(hard) and not any(r[6] in hard for r in rows[:-3])
    for qid, ref_id, qs, qe, rs, re_, kind, _ in rows[-3:]:
        q, r = float(qe) - float(qs), float(re_) - float(rs)
        assert ref_id and q > 0 and 0 <= float(rs) < float(re_), (kind, rs, re_)  # backwards too: start < end
        if kind == "reversed":  # |speed| 0.5-1.5: the reference seconds shown are |speed| x the clip's
            assert 0.5 * q - 0.05 <= r <= 1.5 * q + 0.05, (q, r)
        else:  # speed 1; a degraded middle is still one copy: one row over the whole of it
            assert abs(q - r) < 0.05, (kind, q, r)
            assert sum(row[0] == qid for row in rows) == 1
    assert {row.rsplit(",", 1)[1] for row in truth[1:]} == {"tune", "report"}
    assert len(list((out / "queries").glob("*.mp4"))) == len({row.split(",")[0] for row in truth[1:]})
    capsys.readouterr()
    run_eval.main([str(out), "--results", str(tmp_path / "evaluation.jsonl")])
    printed = capsys.readouterr().out
    line = json.loads((tmp_path / "evaluation.jsonl").read_text())
    assert line["command"].startswith("python -m evaluation.run ") and "--results" not in line["command"]
    assert {"tune", "report"} <= set(line["figures"]) and 0 <= line["figures"]["report"]["segment_ap"] <= 1
    assert "== TUNING HALF" in printed and "== REPORTING HALF" in printed
    assert re.search(r"scan \d+ clips in [\d.]+ s \(0 failed\)", printed)
    assert len(re.findall(r"^clip recall ", printed, re.MULTILINE)) == 2
    assert len(re.findall(r"^segment AP ", printed, re.MULTILINE)) == 2
