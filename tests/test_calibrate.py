import json
import math

import numpy as np
import pytest
from helpers import write_scene
from typer.testing import CliRunner

import reference_index as ri
from auditor.channels import create_channel
from auditor.cli import app
from auditor.config import load_config
from auditor.errors import UsageError
from auditor.indexing.calibrate import calibrate
from auditor.match.calibration import NullModel, _log_chi2_sf_even
from auditor.match.segments import Hit
from auditor.scan.batch import run_batch


def copy_index(src, dst):
    import shutil

    shutil.copytree(src, dst)
    return dst


def test_chi_square_tail_matches_known_values():
    # dof 2: P(X >= x) = exp(-x/2); dof 4: exp(-x/2) (1 + x/2)
    assert math.exp(_log_chi2_sf_even(3.0, 2)) == pytest.approx(math.exp(-1.5))
    assert math.exp(_log_chi2_sf_even(5.0, 4)) == pytest.approx(math.exp(-2.5) * 3.5)
    assert _log_chi2_sf_even(0.0, 6) == pytest.approx(0.0)


def test_p_values_are_monotone_bounded_and_corrected():
    cfg = load_config()
    pdq = create_channel("pdq", cfg)
    cal = {"method": "test", "channels": {"pdq": {"samples": list(range(60, 130)), "higher_is_better": False,
                                                   "variants_in_null": True}}}
    null = NullModel(cal, {"pdq": pdq.meaning(cfg)}, cfg)
    ps = [null.frame_p("pdq", d) for d in (0, 30, 60, 80, 100, 128, 256)]
    assert all(0 < p <= 1 for p in ps) and ps == sorted(ps)
    assert ps[0] < 1 / 71  # beyond the null: the fitted tail goes below the empirical floor 1/(n+1)
    assert ps[3] == pytest.approx((1 + 21) / 71)  # inside the null: the empirical share
    # a null without the query's 8 variants gives larger (more careful) p-values
    cal["channels"]["pdq"]["variants_in_null"] = False
    assert NullModel(cal, {"pdq": pdq.meaning(cfg)}, cfg).frame_p("pdq", 60) > null.frame_p("pdq", 60)

    def hits(n, raw):
        return [Hit(i, i * 0.2, "pdq", i, "r", "video", "W", "O", i * 0.2, raw, 1 - raw / 128) for i in range(n)]

    long_close = null.segment(hits(25, 10.0), trials=1000)
    short_close = null.segment(hits(6, 10.0), trials=1000)
    long_far = null.segment(hits(25, 90.0), trials=1000)
    assert long_close.p_value < short_close.p_value < long_far.p_value <= 1
    assert long_close.frames_used == 5  # thinned to one pair per second
    assert short_close.expected_false_matches == pytest.approx(short_close.p_value * 1000)


def test_leave_one_work_out_is_reproducible_and_gives_p_values(pdq_index, footage, pdq_config, tmp_path):
    idx = copy_index(pdq_index, tmp_path / "idx")
    a = calibrate(idx, pdq_config, seed=7)
    b = calibrate(idx, pdq_config, seed=7)
    assert a["channels"] == b["channels"] and a["method"] == "leave-one-work-out"
    assert len(a["channels"]["pdq"]["samples"]) > 20
    assert min(a["channels"]["pdq"]["samples"]) > 31  # unrelated works do not reach the hit threshold
    assert ri.ReferenceIndex.open(idx).info()["calibrated"] is True
    report = run_batch([footage["copy"], footage["unrelated"]], idx, tmp_path / "out", pdq_config)
    ev = json.loads(open(report.outcomes[0].evidence_path).read())
    v = ev["verdict"]
    assert v["flagged"] and 0 < v["p_value"] < 1e-6 and v["expected_false_matches"] < 1e-3
    # the sentence states the plain count; the model's figure stays in the record
    assert "None of the" in v["summary"] and "frames of unrelated footage" in v["summary"]
    assert ev["calibration"]["calibrated"] and v["chance"]["null_closer"] == 0
    seg = ev["works"][0]["segments"][0]
    assert seg["p_value"] == v["p_value"] and seg["log10_p_value"] < -6
    assert v["p_value"] >= 1e-12  # never claimed beyond the configured floor
    assert "1e-12" not in v["summary"]
    # adding to the index drops the calibration, which no longer describes it
    with ri.ReferenceIndex.open(idx).writer() as w:
        w.add_video(work="New", owner="N", ref_id="new", info={"path": "n.mp4", "sha256": "x", "kind": "video",
                    "duration_s": 1, "fps": 1, "width": 1, "height": 1}, times=np.zeros(1),
                    vectors={"pdq": (np.zeros(1, int), np.zeros((1, 32), np.uint8))})
    assert ri.ReferenceIndex.open(idx).info()["calibrated"] is False


def test_background_calibration_and_the_expected_false_match_limit(pdq_index, footage, tmp_path):
    idx = copy_index(pdq_index, tmp_path / "idx")
    bg = [write_scene(tmp_path / f"bg{i}.mp4", 500 + i, 4.0) for i in range(3)]
    r = CliRunner().invoke(app, ["index", "calibrate", "--index", str(idx), *sum([["--background", str(p)] for p in bg], [])])
    assert r.exit_code == 0, r.output
    assert "null frames by background" in r.stdout
    # a limit no segment can meet holds every segment at weak resemblance
    strict = load_config(overrides={"channels": {"default": ["pdq"]}, "calibration": {
        "max_expected_false_matches": 1e-300, "hold_verified_segments": True}})
    report = run_batch([footage["copy"]], idx, tmp_path / "out", strict)
    ev = json.loads(open(report.outcomes[0].evidence_path).read())
    assert ev["verdict"]["flagged"] is False and ev["verdict"]["level"] == "weak resemblance"
    assert "expected false matches" in ev["verdict"]["rule"]
    # by default a segment geometry confirmed keeps its level, its p-value stated beside it
    lenient = load_config(overrides={"calibration": {"max_expected_false_matches": 1e-300}})
    report = run_batch([footage["copy"]], idx, tmp_path / "out2", lenient)
    ev = json.loads(open(report.outcomes[0].evidence_path).read())
    seg = ev["works"][0]["segments"][0]
    assert ev["verdict"]["flagged"] and seg["verification"]["status"] == "verified" and seg["p_value"] is not None


def test_leave_one_work_out_needs_two_works(tmp_path, pdq_config, footage):
    from auditor.indexing.ingest import CatalogueItem, add_items

    add_items(tmp_path / "idx", [CatalogueItem(footage["refs"]["ep01"], "Only", "O")], pdq_config, ["pdq"])
    with pytest.raises(UsageError, match="at least two works"):
        calibrate(tmp_path / "idx", pdq_config)


def test_orb_and_clip_channels_are_calibrated_and_their_segments_get_p_values(orb_index, cropped_copy, footage,
                                                                             tiny_clip_dir, tmp_path):
    from auditor.evidence.files import read_evidence

    # orb: votes, higher is better; the cropped copy is carried by orb alone
    idx = copy_index(orb_index, tmp_path / "orb")
    cfg = load_config()
    data = calibrate(idx, cfg, seed=3)
    orb = data["channels"]["orb"]
    assert orb["higher_is_better"] is True and len(orb["samples"]) > 20 and min(orb["samples"]) >= 0
    run_batch([cropped_copy], idx, tmp_path / "out_orb", cfg)
    ev = read_evidence(tmp_path / "out_orb" / "crop.evidence.json")
    seg = ev.works[0].segments[0]
    assert ev.calibration.calibrated and "orb" in ev.calibration.method
    # 5 frames a second apart, combined as about 2 independent ones (leave-one-work-out assumes
    # neighbouring frames correlate by 0.5): about 1e-2, not the 1e-3 Fisher's method claimed
    assert set(seg.channel_stats) == {"orb"} and seg.p_value is not None and 0 < seg.p_value < 5e-2

    # clip: cosine similarity; a tiny model so nothing is downloaded
    clip_cfg = load_config(overrides={"channels": {"clip": {"model": f"local-dir:{tiny_clip_dir}", "min_similarity": 0.9992,
                                                            "strong_min_median_similarity": 0.99999}}})
    from auditor.indexing.ingest import CatalogueItem, add_items

    cidx = tmp_path / "clip"
    add_items(cidx, [CatalogueItem(footage["refs"]["ep01"], "Star Courier", "Demo Studio"),
                     CatalogueItem(footage["refs"]["other"], "Moonlit Garden", "Example Pictures")], clip_cfg, ["pdq", "clip"])
    background = [write_scene(tmp_path / f"bg{i}.mp4", 600 + i, 3.0) for i in range(2)]
    data = calibrate(cidx, clip_cfg, background=background)
    samples = data["channels"]["clip"]["samples"]
    assert data["method"] == "background" and all(-1.0 <= x <= 1.0 for x in samples) and len(samples) == 2 * 15
    run_batch([footage["copy"]], cidx, tmp_path / "out_clip", clip_cfg)
    ev = read_evidence(tmp_path / "out_clip" / "copy.evidence.json")
    assert ev.calibration.calibrated and "clip" in ev.calibration.method and ev.verdict.p_value is not None
    assert "clip" in ev.works[0].segments[0].channel_stats  # the model channel's hits are in the calibrated segment
