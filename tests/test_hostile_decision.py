"""The decision says what it checked: a level resting on geometric verification needs a pair that
verified, and an input of one frame (a still, a one-frame clip) is matched like a longer one."""

import cv2
from helpers import hits_for

from auditor.channels import meaning
from auditor.config import load_config
from auditor.evidence.records import Verification, VerificationStatus
from auditor.match.calibration import SegmentCalibration
from auditor.match.decision import Policy, decide
from auditor.match.segments import build_segments
from auditor.media import synth

CFG = load_config()
POLICY = Policy.from_config(CFG, {name: meaning(name, CFG) for name in ("pdq", "orb", "clip")})
NAMES = {"pdq": "median_distance", "clip": "median_similarity", "orb": "median_votes"}


def one_segment(channel="pdq", raw=28.0):
    hits = hits_for("ep1", [(q / 5, q / 5) for q in range(10)], channel=channel, raw=raw)
    return build_segments(hits, CFG, 0.2, 2, {"ep1": 9}, statistics_by_channel=NAMES, strength=POLICY.channel_rank)


def test_nothing_that_rests_on_verification_stands_when_no_pair_verified():
    segs = one_segment()
    by_chance = {segs[0].key: SegmentCalibration(0.5, False, -0.3, 5.0, 10)}  # expected 5 false matches
    for checked in (3, 0):  # "verified" over three pairs none of which matched, or over none at all
        hollow = Verification(status=VerificationStatus.VERIFIED, pairs_checked=checked, pairs_verified=0,
                              median_inliers=0.0)
        d = decide(segs, {segs[0].key: hollow}, by_chance, POLICY)
        seg = (d.segments or d.rejected)[0]
        assert seg.level == "weak resemblance", checked  # held by the chance rule, as unverified
        assert "local" not in seg.channels
        assert not any(o.passed for o in seg.outcomes if o.rule.startswith("verification."))
    really = Verification(status=VerificationStatus.VERIFIED, pairs_checked=3, pairs_verified=3, median_inliers=30.0)
    assert decide(segs, {segs[0].key: really}, by_chance, POLICY).segments[0].level == "strong resemblance"
    # votes alone (ORB) are dropped when the "verification" behind them matched no pair
    orb = one_segment("orb", raw=60.0)
    hollow = Verification(status=VerificationStatus.VERIFIED, pairs_checked=3, pairs_verified=0, median_inliers=0.0)
    assert not decide(orb, {orb[0].key: hollow}, {}, POLICY).segments


def test_a_still_or_a_one_frame_clip_identical_to_a_reference_is_matched_and_flagged(footage, pdq_index, tmp_path):
    from auditor.indexing.ingest import CatalogueItem, add_items
    from auditor.scan.scanner import Scanner

    art = tmp_path / "art.png"
    cv2.imwrite(str(art), cv2.cvtColor(synth.scene_frame(33, 1.0, 320, 180), cv2.COLOR_RGB2BGR))
    cfg = load_config()
    idx = tmp_path / "idx"
    assert not add_items(idx, [CatalogueItem(art, "Key Art", "O")], cfg, ["pdq"]).failed
    copy = tmp_path / "copy.png"
    copy.write_bytes(art.read_bytes())
    one = synth.write_clip(tmp_path / "one.mp4", lambda t: synth.scene_frame(11, 0.0, 320, 180), 1 / 25, fps=25.0)
    for index, clip, ref in ((idx, copy, "art"), (pdq_index, one, "ep01")):
        scanner = Scanner(index, cfg)
        try:
            ev = scanner.scan(clip)
        finally:
            scanner.close()
        assert ev.clip.frames_sampled == 1
        assert ev.verdict.flagged and ev.verdict.level == "near-identical copy", (clip, ev.verdict)
        assert ev.works[0].segments[0].ref_id == ref
        assert any("segments.min_frames" in w for w in ev.clip.warnings)


def test_a_run_of_hits_none_of_which_lies_on_its_fitted_timeline_makes_no_segment_and_no_crash():
    """Chance hits can chain into a run whose fitted timeline passes none of them (seen with
    visual words on a colour-shifted copy): no segment, not an IndexError that costs the clip."""
    from auditor.match.segments import _Context, _segment_from

    zigzag = hits_for("ep1", [(q / 5, 3.0 * (q % 2) + q / 5) for q in range(10)])
    ctx = _Context(CFG, 0.2, 2.0, {"ep1": 60.0}, {"ep1": 0.0}, NAMES, lambda stats: 0)
    assert _segment_from(zigzag, ctx) is None
    assert _segment_from([], ctx) is None
