
import pytest
from helpers import evidence_json
from typer.testing import CliRunner

from auditor.cli import app
from auditor.evaluate import Interval2D, evaluate, overlap_iou

TRUTH = """query_id,ref_id,query_start,query_end,ref_start,ref_end,transform
q1,A,0,4,10,14,crop
q1,B,6,8,0,2,crop
q2,,0,0,0,0,negative
q3,A,2,5,20,23,flip
"""
MATCHES = """query_id,ref_id,query_start,query_end,ref_start,ref_end,score
q1,A,0,4,10,14,0.9
q2,A,1,3,1,3,0.8
q1,B,6,8,5,7,0.7
q3,A,2.5,5,20.5,23,0.6
"""


def files(tmp_path):
    (tmp_path / "truth.csv").write_text(TRUTH)
    (tmp_path / "matches.csv").write_text(MATCHES)
    return tmp_path / "matches.csv", tmp_path / "truth.csv"


def test_iou_of_boxes_and_of_stills():
    a = Interval2D("q", "r", 0, 4, 10, 14)
    assert overlap_iou(a, a) == 1.0
    assert overlap_iou(Interval2D("q", "r", 2.5, 5, 20.5, 23), Interval2D("q", "r", 2, 5, 20, 23)) == pytest.approx(6.25 / 9)
    assert overlap_iou(Interval2D("q", "r", 1, 3, 0, 0), Interval2D("q", "r", 0, 4, 0, 0)) == 0.5


def test_known_answer(tmp_path):
    matches, truth = files(tmp_path)
    r = evaluate(matches, truth)
    # ranks: TP (1/1), FP, FP, TP (2/4) over 3 truth segments
    assert r.segment_ap == pytest.approx((1 + 0.5) / 3)
    assert (r.positives, r.negatives, r.segments_found) == (2, 1, 2)
    assert r.clip_recall == 1.0 and r.clip_fpr == 1.0 and r.false_positives == ["q2"]
    assert r.per_transform["crop"] == {"clips": 1, "clip_recall": 1.0, "segment_recall": 0.5}
    assert r.per_transform["flip"]["segment_recall"] == 1.0
    assert evaluate(matches, truth, iou=0.7).segment_ap == pytest.approx(1 / 3)


def test_decisions_from_evidence_verdicts(tmp_path):
    matches, truth = files(tmp_path)
    ev = tmp_path / "ev"
    ev.mkdir()
    for qid, flagged in (("q1", True), ("q2", False), ("q3", False)):
        (ev / f"{qid}.evidence.json").write_text(evidence_json(qid, flagged))
    r = evaluate(matches, truth, ev)
    assert r.clip_recall == 0.5 and r.clip_fpr == 0.0 and r.missed == ["q3"]


def test_cli_prints_the_figures_and_rejects_bad_files(tmp_path):
    matches, truth = files(tmp_path)
    r = CliRunner().invoke(app, ["eval", "--matches", str(matches), "--truth", str(truth)])
    assert r.exit_code == 0, r.output
    assert "segment AP        0.500" in r.stdout and "crop" in r.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("query_id,ref_id\nq1,A\n")
    r = CliRunner().invoke(app, ["eval", "--matches", str(bad), "--truth", str(truth)])
    assert r.exit_code == 2 and "missing column(s)" in r.stderr
