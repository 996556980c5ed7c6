"""Statistics that survive cross-examination: dependent frames are not independent evidence, a
calibration says what it rests on, and page one words the chance for a reader who is not a
statistician while the appendix keeps the exact figures and the model behind them."""

import json
import re
import shutil
import subprocess

import pytest
from helpers import write_scene
from typer.testing import CliRunner

from auditor.channels import create_channel
from auditor.cli import app
from auditor.config import load_config
from auditor.match.calibration import NullModel
from auditor.match.segments import Hit
from auditor.report.pdf import render_report
from auditor.scan.batch import run_batch


def pdftotext(path, first=None, last=None) -> str:
    pages = (["-f", str(first)] if first else []) + (["-l", str(last)] if last else [])
    return subprocess.run(["pdftotext", "-layout", *pages, str(path), "-"], capture_output=True, check=True).stdout.decode()


def null_model(series=None, fps=1.0):
    cfg = load_config()
    pdq = create_channel("pdq", cfg)
    cal = {"method": "background", "sampling_fps": fps, "channels": {"pdq": {
        "samples": sorted(float(x) for x in range(60, 130)), "higher_is_better": False, "variants_in_null": True,
        "series": series or []}}}
    return NullModel(cal, {"pdq": pdq.meaning(cfg)}, cfg)


def test_a_held_drawing_is_one_picture_not_ten_independent_frames():
    null = null_model()
    # ten seconds of one held drawing: every sampled frame lands on the same reference frame
    held = [Hit(i, float(i), "pdq", 7, "r", "video", "W", "O", 3.0, 40.0, 0.7) for i in range(10)]
    one = null.segment(held[:1], trials=100)
    ten = null.segment(held, trials=100)
    assert ten.frames_used == 1 and ten.p_value == pytest.approx(one.p_value)


def test_neighbouring_frames_that_move_together_count_as_fewer_independent_ones():
    moving = [Hit(i, float(i), "pdq", 100 + i, "r", "video", "W", "O", float(i), 40.0, 0.7) for i in range(10)]
    # background whose neighbouring frames' scores rise and fall together (long shots)
    smooth = [[60.0 + (i // 5) for i in range(200)]]
    independent = [[60.0 + (i * 37) % 70 for i in range(200)]]
    correlated = null_model(smooth).segment(moving, trials=100)
    loose = null_model(independent).segment(moving, trials=100)
    assert correlated.effective_frames < 3 and loose.effective_frames > 8
    assert correlated.p_value > 1e3 * loose.p_value
    # a count of 70 null frames supports nothing below 1/71: the model's figure says it extrapolates
    assert loose.extrapolated and loose.null_frames == 70 and loose.null_closer == 0


@pytest.fixture(scope="module")
def calibrated(pdq_index, footage, tmp_path_factory):
    d = tmp_path_factory.mktemp("calibrated")
    idx = d / "idx"
    shutil.copytree(pdq_index, idx)
    bg = [write_scene(d / "background" / f"street_{i}.mp4", 700 + i, 4.0) for i in range(2)]
    r = CliRunner().invoke(app, ["index", "calibrate", "--index", str(idx), "--background", str(bg[0]),
                                 "--background", str(bg[1])])
    cfg = load_config(overrides={"channels": {"default": ["pdq"]}})
    report = run_batch([footage["copy"]], idx, d / "out", cfg)
    return {"cli": r, "bg": bg, "evidence": report.outcomes[0].evidence_path, "dir": d}


def test_calibrate_says_how_much_background_it_used_and_warns_below_the_minimum(calibrated):
    r = calibrated["cli"]
    assert r.exit_code == 0, r.output
    assert "background: 2 clip(s), 0.13 minutes," in r.stdout
    assert "warning: calibration rests on" in r.stderr and "(minimum 2000)" in r.stderr
    assert "minutes of background (minimum 30)" in r.stderr


def test_evidence_and_report_name_every_background_file(calibrated, tmp_path):
    ev = json.loads(open(calibrated["evidence"]).read())
    null = ev["calibration"]["null"]
    assert null["clips"] == 2 and null["minutes"] == pytest.approx(0.13, abs=0.01) and null["shortfall"]
    names = [s["name"] for s in null["sources"]]
    assert names == ["street_0.mp4", "street_1.mp4"] and all(len(s["sha256"]) == 64 for s in null["sources"])
    assert str(calibrated["dir"]) not in json.dumps(null)  # names, never where they lay on this machine
    for lang, heading in (("en", "Background files"), ("ja", "背景映像ファイル")):
        text = pdftotext(render_report(calibrated["evidence"], tmp_path / f"{lang}.pdf", lang=lang))
        flat = "".join(text.split())
        assert heading in text and "street_0.mp4" in text and "street_1.mp4" in text
        assert all(s["sha256"] in flat for s in null["sources"])


def test_page_one_words_the_chance_and_the_appendix_keeps_the_figures(calibrated, tmp_path):
    ev = json.loads(open(calibrated["evidence"]).read())
    v = ev["verdict"]
    assert v["chance"]["null_closer"] == 0 and v["chance"]["extrapolated"] is True
    n = v["chance"]["null_frames"]
    words = {
        "en": ([f"none of the {n} frames of unrelated footage", "0.13 minutes of background footage in 2 clips",
                "That is an extrapolation beyond the count", "fewer than the documented minimum of 2,000"],
               ["Gumbel", "extrapolated: below 1 in", "Brown's method"]),
        "ja": ([f"{n} フレームのうち、この一致ほど近いものは一つもありませんでした", "背景映像 2 本・計 0.13 分",
                "実測の範囲を超えた外挿", "定めた最低基準（2,000 枚）に届いていません"],
               ["ガンベル分布", "外挿：", "ブラウン法"]),
    }
    for lang, (cover, appendix) in words.items():
        out = render_report(calibrated["evidence"], tmp_path / f"{lang}.pdf", lang=lang)
        page1 = " ".join(pdftotext(out, 1, 1).split())
        rest = " ".join(pdftotext(out, 2).split())
        for phrase in cover:  # (Japanese lines break anywhere: compared without spaces)
            assert "".join(phrase.split()) in "".join(page1.split()), (lang, phrase)
        assert not re.search(r"\de-\d", page1)  # no exponent on the cover
        assert "Score 0." not in page1 and "スコア 0." not in page1  # the score stays with the segments
        for phrase in appendix:
            assert "".join(phrase.split()) in "".join(rest.split()), (lang, phrase)
        assert f"{v['p_value']:.2g}" in rest
