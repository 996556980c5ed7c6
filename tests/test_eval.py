
import pytest
from helpers import evidence_json
from typer.testing import CliRunner

from auditor.cli import app
from auditor.evaluate import Interval2D, evaluate, overlap_iou, vsc_matching_ap

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
    # VSC: 9 s of truth on each axis; q1/A exact (R 4/9, P 1), q2/A and q1/B (whose box misses
    # the truth's) add 2 s and 2 s of prediction only, q3/A adds 2.5 s of 2.5: R 6.5/9, P 6.5/10.5
    assert r.vsc_matching_ap == pytest.approx(4 / 9 + (6.5 / 10.5) * (2.5 / 9))


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
    assert "VSC matching AP   0.616" in r.stdout
    bad = tmp_path / "bad.csv"
    bad.write_text("query_id,ref_id\nq1,A\n")
    r = CliRunner().invoke(app, ["eval", "--matches", str(bad), "--truth", str(truth)])
    assert r.exit_code == 2 and "missing column(s)" in r.stderr


def box(q, r, qs, qe, rs, re_, score=1.0):
    return Interval2D(q, r, qs, qe, rs, re_, score=score)


def test_vsc_matching_ap_by_hand():
    truth = [box("q", "r", 0, 10, 0, 10)]
    assert vsc_matching_ap([box("q", "r", 0, 10, 0, 10)], truth) == 1.0
    # half of the truth on each axis, nothing else: recall sqrt(0.5 * 0.5), precision 1
    assert vsc_matching_ap([box("q", "r", 0, 5, 0, 5)], truth) == pytest.approx(0.5)
    # two overlapping predictions are unioned: 0.6 of recall at precision 1, then the rest at 10/12
    two = [box("q", "r", 0, 6, 0, 6, 0.9), box("q", "r", 4, 12, 4, 12, 0.8)]
    assert vsc_matching_ap(two, truth) == pytest.approx(0.6 + 0.4 * 10 / 12)
    # a wrong reference ranked first halves the precision at which the truth is then found
    wrong = box("q", "other", 0, 10, 0, 10, 0.9)
    assert vsc_matching_ap([wrong, box("q", "r", 0, 10, 0, 10, 0.8)], truth) == pytest.approx(0.5)
    assert vsc_matching_ap([wrong, box("q", "r", 0, 10, 0, 10, 0.95)], truth) == pytest.approx(1.0)
    # a box only counts against the truth boxes it shares an area with: here its query interval
    # is the first box's and its reference interval the second's, and it touches neither
    two_truths = truth + [box("q", "r", 20, 30, 50, 60)]
    assert vsc_matching_ap([box("q", "r", 0, 10, 50, 60)], two_truths) == 0.0
    assert vsc_matching_ap([], truth) == 0.0 and vsc_matching_ap([box("q", "r", 0, 10, 0, 10)], []) == 0.0


def test_vsc_matching_ap_of_stills_uses_the_query_axis():
    still = [box("q", "s", 0, 10, 0, 0)]
    assert vsc_matching_ap([box("q", "s", 0, 10, 0, 0)], still) == 1.0
    assert vsc_matching_ap([box("q", "s", 5, 10, 0, 0)], still) == pytest.approx(0.5)
    assert vsc_matching_ap([box("q", "s", 5, 15, 0, 0)], still) == pytest.approx(0.5 * 0.5)
    # beside a video copy of 10 s: the still's 10 s count on both axes
    both = still + [box("q", "r", 20, 30, 40, 50)]
    assert vsc_matching_ap([box("q", "r", 20, 30, 40, 50, 0.9), box("q", "s", 0, 10, 0, 0, 0.8)], both) == 1.0
    assert vsc_matching_ap([box("q", "s", 0, 10, 0, 0)], both) == pytest.approx(0.5)


# Inputs drawn at random (seeds 1-3) and the figure facebookresearch/vsc2022"s own vsc/metrics.py
# (`match_metric`, run unchanged at commit 644d52118297d8eeaf9ef7483b0246fdf4c8292b) gives them.
# Truth rows: query_id, ref_id, query_start, query_end, ref_start, ref_end; predictions add a score.
VSC_REFERENCE_CASES = [
    (
        [
            ("q0", "r2", 16.9, 23.1, 7.7, 20.1),
            ("q1", "r1", 13.0, 19.4, 2.8, 9.2),
            ("q1", "r1", 12.1, 18.4, 20.9, 24.0),
            ("q2", "r0", 11.8, 13.1, 9.5, 10.8),
            ("q0", "r2", 10.8, 18.3, 11.4, 18.9),
            ("q1", "r2", 0.6, 2.8, 13.1, 17.5),
        ],
        [
            ("q2", "r1", 9.8, 10.5, 1.3, 2.7, 0.7),
            ("q0", "r2", 15.8, 22.0, 6.4, 18.8, 0.5),
            ("q1", "r1", 12.7, 21.1, 4.2, 12.6, 0.2),
            ("q0", "r2", 12.7, 18.3, 15.2, 20.8, 0.9),
            ("q2", "r0", 13.8, 14.5, 10.0, 10.7, 0.9),
            ("q1", "r2", -0.3, 4.7, 12.2, 19.4, 0.5),
            ("q2", "r0", 10.0, 17.9, 23.1, 31.0, 0.5),
            ("q2", "r1", 9.6, 15.7, 12.1, 18.2, 0.3),
            ("q1", "r2", 1.7, 7.2, 3.2, 8.7, 0.7),
        ],
        0.42965293636274066,
    ),
    (
        [
            ("q0", "r0", 1.7, 8.5, 22.1, 25.5),
            ("q2", "r2", 4.2, 5.0, 20.4, 22.0),
            ("q3", "r2", 17.2, 21.5, 11.2, 19.8),
            ("q2", "r0", 17.4, 20.6, 28.0, 34.4),
            ("q3", "r2", 3.3, 5.1, 6.9, 8.7),
            ("q2", "r0", 2.7, 7.0, 30.0, 34.3),
            ("q3", "r1", 14.7, 22.0, 22.9, 26.5),
            ("q2", "r1", 3.2, 9.4, 21.5, 33.9),
        ],
        [
            ("q2", "r2", 5.7, 9.9, 9.3, 13.5, 0.3),
            ("q2", "r2", 5.7, 6.6, 21.7, 23.4, 0.9),
            ("q0", "r2", 5.5, 7.7, 26.3, 28.5, 0.3),
            ("q0", "r0", 7.5, 9.0, 28.1, 29.6, 0.3),
            ("q0", "r1", 3.4, 8.9, 2.5, 8.0, 0.7),
            ("q2", "r0", 17.5, 21.2, 28.5, 35.4, 0.8),
            ("q0", "r0", 0.8, 8.5, 21.3, 25.6, 0.6),
            ("q3", "r2", 18.7, 22.0, 13.8, 21.4, 0.4),
            ("q3", "r1", 12.7, 23.3, 22.9, 29.8, 0.9),
            ("q3", "r2", 17.8, 23.3, 13.1, 22.9, 0.6),
            ("q1", "r1", 16.5, 24.1, 1.8, 9.4, 0.5),
            ("q3", "r2", 2.1, 5.1, 7.4, 10.4, 0.9),
            ("q0", "r1", 15.9, 18.3, 29.1, 31.5, 0.3),
            ("q2", "r0", 16.6, 21.8, 28.5, 36.9, 0.5),
        ],
        0.3437342150471478,
    ),
    (
        [
            ("q0", "r0", 7.4, 12.4, 18.8, 23.8),
            ("q0", "r1", 5.2, 7.5, 29.9, 34.5),
            ("q1", "r1", 12.8, 14.4, 19.0, 22.2),
            ("q0", "r0", 3.2, 10.9, 1.3, 9.0),
            ("q1", "r1", 11.9, 19.3, 11.6, 26.4),
        ],
        [
            ("q0", "r0", 5.8, 10.9, 16.1, 21.2, 0.5),
            ("q0", "r0", 4.6, 12.8, 4.3, 12.5, 0.9),
            ("q0", "r1", 8.2, 9.8, 8.8, 12.0, 0.3),
            ("q1", "r1", 14.5, 15.0, 19.8, 20.3, 0.9),
            ("q0", "r1", 2.5, 6.6, 19.2, 27.4, 0.7),
            ("q0", "r1", 6.6, 7.2, 32.6, 35.5, 0.9),
            ("q0", "r0", 8.6, 12.2, 21.7, 25.3, 0.9),
            ("q0", "r1", 4.6, 7.8, 29.6, 35.1, 0.8),
            ("q0", "r0", 7.6, 12.5, 16.5, 19.0, 0.3),
        ],
        0.3729367399449214,
    ),
]


@pytest.mark.parametrize("truth, preds, expected", VSC_REFERENCE_CASES)
def test_vsc_matching_ap_agrees_with_vsc2022(truth, preds, expected):
    got = vsc_matching_ap([box(*p) for p in preds], [box(*t) for t in truth])
    assert got == pytest.approx(expected, rel=1e-9, abs=1e-12)
