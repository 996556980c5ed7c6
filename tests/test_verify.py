import cv2
import numpy as np
import pytest

from auditor.config import load_config
from auditor.match.geometry import match_frames
from auditor.media import synth

CFG = load_config().verify


def scene(seed=3, t=1.0):
    return synth.scene_frame(seed, t, 480, 270)


def test_a_cropped_copy_verifies_with_the_crop_as_its_transform():
    ref = scene()
    crop = cv2.resize(ref[30:230, 60:420], (480, 270), interpolation=cv2.INTER_LINEAR)  # 75% crop, upscaled
    check = match_frames(crop, ref, CFG)
    assert check.inliers >= CFG.min_inliers and check.inlier_ratio > 0.5
    a = np.array(check.transform)  # query -> reference: scale 0.75 and the crop's offset
    assert a[0, 0] == pytest.approx(0.75, abs=0.05) and a[1, 1] == pytest.approx(200 / 270, abs=0.05)
    assert a[0, 2] == pytest.approx(60, abs=6) and a[1, 2] == pytest.approx(30, abs=6)
    assert len(check.points) == min(check.inliers, 60) and len(check.points[0]) == 4


def test_a_picture_in_picture_copy_verifies_and_unrelated_frames_do_not():
    ref = scene()
    background = scene(seed=40, t=2.0)
    pip = background.copy()
    pip[20:155, 250:490 - 10] = cv2.resize(ref, (230, 135), interpolation=cv2.INTER_AREA)
    check = match_frames(pip, ref, CFG)
    assert check.inliers >= CFG.min_inliers
    qx = np.array([p[0] for p in check.points])
    assert qx.min() >= 245  # every inlier lies inside the inset
    unrelated = match_frames(scene(seed=77, t=0.5), ref, CFG)
    assert unrelated.inliers < CFG.min_inliers


def test_a_mirrored_match_reports_points_in_the_original_query_frame():
    ref = scene()
    mirrored = np.ascontiguousarray(ref[:, ::-1])
    plain = match_frames(mirrored, ref, CFG)
    turned = match_frames(mirrored, ref, CFG, variant="flip_horizontal")
    assert turned.inliers > 3 * max(plain.inliers, 1)
    for qx, qy, rx, ry in turned.points:
        assert qx == pytest.approx(479 - rx, abs=3) and qy == pytest.approx(ry, abs=3)


def test_a_degenerate_transform_never_verifies_however_many_inliers():
    from auditor.evidence.records import PairCheck
    from auditor.match.geometry import pair_verified, plausible_transform, transform_scales

    # what RANSAC fits to chance matches between unrelated drawings: the query squeezed onto a line
    squeezed = [[0.00853, -0.06027, 63.0], [-0.02118, 0.13736, 239.8]]
    pip_inset = [[2.1, 0.02, -40.0], [0.01, 2.05, -30.0]]  # query inset -> reference, scale ~2
    assert not plausible_transform(squeezed, CFG) and plausible_transform(pip_inset, CFG)
    assert not plausible_transform([[3.0, 0.0, 0.0], [0.0, 0.5, 0.0]], CFG)  # 6x stretched: no copy
    check = PairCheck(query_t=1.0, ref_t=2.0, variant="original", keypoints=(400, 400), matches=40, inliers=30,
                      inlier_ratio=0.75, transform=squeezed, points=[], frame_sizes=[[480, 270], [512, 362]])
    assert not pair_verified(check, CFG)
    assert pair_verified(check.model_copy(update={"transform": pip_inset}), CFG)
    assert transform_scales(pip_inset) == pytest.approx((2.1, 2.05), abs=0.03)


def test_verification_stops_once_its_outcome_is_settled_and_computes_each_frame_once():
    """Two of three pairs verified with many inliers settle a segment (verified, near-identical):
    the third is not checked. A frame in several segments' pairs is described once per clip."""
    from helpers import hits_for

    from auditor.config import load_config
    from auditor.match.geometry import verify_segment
    from auditor.match.segments import build_segments

    cfg = load_config()
    frames = {round(q / 5, 3): scene(seed=11, t=q / 5) for q in range(10)}

    class Source:  # the reference is the clip itself: every pair matches exactly
        def reference_problem(self, video):
            return None

        def reference_frame(self, video, t, box=None):
            return frames.get(round(t, 3))

    hits = hits_for("ep1", [(q / 5, q / 5) for q in range(10)])
    seg = build_segments(hits, cfg, 0.2, 2, {"ep1": 9})[0]
    cache: dict = {}
    v = verify_segment(seg, frames, Source(), {"ref_id": "ep1"}, cfg.verify, cache)
    assert v.status == "verified" and v.pairs_checked == 2 == v.pairs_verified
    assert v.median_inliers >= cfg.verify.near_identical_min_inliers
    described = len(cache)
    assert described == 4  # two query frames, two reference frames
    again = verify_segment(seg, frames, Source(), {"ref_id": "ep1"}, cfg.verify, cache)
    assert again == v and len(cache) == described  # the same frames: nothing described again


def test_a_transform_ransac_fits_with_infinite_values_is_no_match_and_the_evidence_stays_json(monkeypatch):
    """Degenerate matches can make RANSAC return a model with inf or NaN (seen on a cropped
    negative of the evaluation set): that pair matched nothing, and nothing non-finite reaches
    the evidence, which is written without NaN or infinity."""
    from auditor.match import geometry

    ref = scene(seed=11, t=1.0)
    inf_model = np.array([[np.inf, 0.0, 0.0], [0.0, 1.0, 0.0]])
    monkeypatch.setattr(geometry.cv2, "estimateAffine2D",
                        lambda src, dst, **kw: (inf_model, np.ones((len(src), 1), np.uint8)))
    check = geometry.match_frames(ref, ref, CFG)
    assert not check.verified and check.transform is None and check.inliers == 0
