import pytest
from helpers import hits_for

from auditor.channels import meaning
from auditor.config import load_config
from auditor.evidence.wording import rule_text
from auditor.match.decision import Policy, decide
from auditor.match.segments import build_segments


def seg_tuple(s):
    return (s.ref_id, round(s.query_start, 1), round(s.query_end, 1), round(s.ref_start, 1), round(s.ref_end, 1))


CFG = load_config()
POLICY = Policy.from_config(CFG, {name: meaning(name, CFG) for name in ("pdq", "orb", "clip")})


def test_one_offset_one_segment_and_stray_hits_ignored():
    hits = hits_for("ep1", [(q / 5, q / 5 + 10.0) for q in range(5, 16)])  # q 1.0-3.0 -> ref 11-13
    hits += hits_for("ep1", [(0.2, 40.0), (3.8, 2.0)])  # strays at other offsets
    hits += hits_for("ep9", [(1.0, 5.0), (1.2, 5.2)])  # too short for a segment
    segs = build_segments(hits, CFG, 0.2, 10.0, {"ep1": 30.0, "ep9": 30.0})
    assert [seg_tuple(s) for s in segs] == [("ep1", 1.0, 3.2, 11.0, 13.2)]
    assert len(segs[0].pairs) == 11


def test_a_copy_played_backwards_is_one_segment_with_a_negative_speed():
    hits = hits_for("ep1", [(q / 5, 20.0 - q / 5) for q in range(5, 30)])  # q 1.0-5.8 -> ref 19.0 down to 14.2
    segs = build_segments(hits, CFG, 0.2, 8.0, {"ep1": 30.0})
    assert [seg_tuple(s) for s in segs] == [("ep1", 1.0, 6.0, 14.0, 19.0)]
    assert segs[0].speed == pytest.approx(-1.0) and segs[0].ref_at(1.0) == pytest.approx(19.0)
    forwards_only = load_config(overrides={"segments": {"reversed": False}})
    fragments = build_segments(hits, forwards_only, 0.2, 8.0, {"ep1": 30.0})  # forwards, only fragments hold
    assert all(s.query_end - s.query_start <= 1.5 for s in fragments)


def test_a_whole_copy_scores_above_a_fragment_of_it():
    whole = build_segments(hits_for("ep1", [(q / 5, q / 5 + 2.0) for q in range(0, 40)]), CFG, 0.2, 8.0, {"ep1": 30.0})
    part = build_segments(hits_for("ep1", [(q / 5, q / 5 + 2.0) for q in range(0, 4)]), CFG, 0.2, 8.0, {"ep1": 30.0})
    assert whole[0].score > part[0].score  # the same closeness frame by frame


def test_two_works_and_a_gap_split_into_separate_segments():
    a = hits_for("ep1", [(q / 5, q / 5 + 2.0) for q in range(0, 10)], work="A")  # q 0-1.8
    a += hits_for("ep1", [(q / 5, q / 5 + 2.0) for q in range(25, 35)], work="A")  # q 5-6.8, gap of 3.2 s
    b = hits_for("mov", [(q / 5, q / 5 - 1.0) for q in range(12, 22)], work="B")  # q 2.4-4.2
    segs = build_segments(a + b, CFG, 0.2, 8.0, {"ep1": 20.0, "mov": 20.0})
    assert sorted(seg_tuple(s) for s in segs) == [
        ("ep1", 0.0, 2.0, 2.0, 4.0),
        ("ep1", 5.0, 7.0, 7.0, 9.0),
        ("mov", 2.4, 4.4, 1.4, 3.4),
    ]


def test_held_frames_hitting_several_reference_frames_stay_one_segment():
    # animation holds: each query frame also matches the neighbouring reference frames
    hits = []
    for q in range(10):
        t = q / 5
        hits += hits_for("ep1", [(t, t + 4.0)], raw=8.0)
        hits += hits_for("ep1", [(t, t + 4.5), (t, t + 3.5)], raw=20.0)
    segs = build_segments(hits, CFG, 0.2, 2.0, {"ep1": 20.0})
    assert len(segs) == 1
    assert seg_tuple(segs[0]) == ("ep1", 0.0, 2.0, 4.0, 6.0)
    assert all(p.raw == 8.0 for p in segs[0].pairs)  # the best pair per query frame


def segments(hits):
    names = {"pdq": "median_distance", "clip": "median_similarity", "orb": "median_votes"}
    return build_segments(hits, CFG, 0.2, 2, {"ep1": 9}, statistics_by_channel=names, strength=POLICY.channel_rank)


def test_levels_follow_the_configured_rules_and_reach_the_verdict():
    close = decide(segments(hits_for("ep1", [(q / 5, q / 5) for q in range(10)], raw=6.0)), {}, {}, POLICY)
    assert close.segments[0].level == "near-identical copy"
    assert "PDQ median Hamming distance 6 <= 20 bits over 10 frames" in rule_text(close.segments[0].outcomes)
    looser = decide(segments(hits_for("ep1", [(q / 5, q / 5) for q in range(10)], raw=28.0)), {}, {}, POLICY)
    assert looser.segments[0].level == "strong resemblance"
    weak = decide(segments(hits_for("ep1", [(q / 5, q / 5) for q in range(10)], channel="clip", raw=0.91)), {}, {}, POLICY)
    assert weak.segments[0].level == "weak resemblance"
    assert weak.flagged is False and weak.level == "weak resemblance"
    assert close.flagged is True
    nothing = decide([], {}, {}, POLICY)
    assert (nothing.flagged, nothing.level, nothing.best) == (False, "no match", None)


def test_stills_match_over_query_time_alone():
    hits = hits_for("art", [(q / 5, 0.0) for q in range(5, 20)], kind="still")
    segs = build_segments(hits, CFG, 0.2, 5.0, {"art": 0.0})
    assert seg_tuple(segs[0]) == ("art", 1.0, 4.0, 0.0, 0.0)


@pytest.mark.parametrize("speed", [0.5, 0.75, 1.3, 1.5])
def test_speed_changes_are_followed_with_the_reference_interval_scaled(speed):
    # query sampled at 5 fps, reference at 2 fps: ref_t is quantised to the nearest 0.5 s
    pairs = []
    for q in range(2 * 5, 7 * 5):  # query seconds 2.0-7.0
        t = q / 5
        r = 10.0 + speed * (t - 2.0)
        pairs.append((t, round(r * 2) / 2))
    segs = build_segments(hits_for("ep1", pairs), CFG, 0.2, 9.0, {"ep1": 60.0}, {"ep1": 0.5})
    assert len(segs) == 1
    s = segs[0]
    assert (s.query_start, s.query_end) == pytest.approx((2.0, 7.0), abs=0.01)
    assert s.ref_start == pytest.approx(10.0, abs=0.3)
    assert s.ref_end == pytest.approx(10.0 + 5.0 * speed, abs=0.4)
    assert s.speed == pytest.approx(speed, abs=0.08)


def test_a_copy_of_a_sparsely_sampled_reference_is_one_segment_though_it_hits_only_near_reference_frames():
    # reference sampled every 2 s (0.5 frames/s): the copy's frames match only within 0.2 s of a
    # reference frame, so its hits come in bursts 2 s apart, and at 0.75x speed 2.7 s apart
    for speed in (1.0, 0.75):
        pairs = [(round(2.0 + (r - 10.0) / speed + d, 1), r) for r in (10.0, 12.0, 14.0, 16.0) for d in (-0.2, 0.0, 0.2)]
        segs = build_segments(hits_for("ep1", pairs), CFG, 0.2, 12.0, {"ep1": 60.0}, {"ep1": 2.0})
        assert len(segs) == 1, (speed, [seg_tuple(s) for s in segs])
        assert segs[0].query_start == pytest.approx(1.8) and segs[0].ref_start == pytest.approx(10.0, abs=0.5)
    # on a reference sampled every 0.5 s the same bursts are not a steady match: 1.6 s of unmatched
    # frames between them (segments.max_gap_s 1.5) split them, and each is too short to stand alone
    dense = [(round(2.0 + (r - 10.0) + d, 1), r) for r in (10.0, 12.0, 14.0, 16.0) for d in (-0.2, 0.0, 0.2)]
    assert build_segments(hits_for("ep1", dense), CFG, 0.2, 12.0, {"ep1": 60.0}, {"ep1": 0.5}) == []


def test_dropped_frames_inside_a_copy_do_not_split_it():
    pairs = [(q / 5, 20 + q / 5) for q in range(0, 40) if q % 7 not in (3, 4)]  # two of every seven lost
    segs = build_segments(hits_for("ep1", pairs), CFG, 0.2, 8.0, {"ep1": 60.0}, {"ep1": 0.5})
    # the last kept frame is 7.4 s (7.6 and 7.8 are among the lost)
    assert [seg_tuple(s) for s in segs] == [("ep1", 0.0, 7.6, 20.0, 27.6)]


def test_a_long_copy_through_a_fade_is_one_segment_but_other_footage_or_another_offset_splits_it():
    def copy(lo, hi, offset, ref="ep1", work="W"):
        return hits_for(ref, [(q / 5, q / 5 + offset) for q in range(lo, hi)], work=work)

    steps = {"ep1": 0.5, "ep2": 0.5}
    lengths = {"ep1": 60.0, "ep2": 60.0}
    # seconds 0-4 and 7-12 of the clip copy the reference at +5 s; 4-7 s is a fade (no hits)
    faded = copy(0, 20, 5.0) + copy(35, 60, 5.0)
    segs = build_segments(faded, CFG, 0.2, 12.0, lengths, steps)
    assert [seg_tuple(s) for s in segs] == [("ep1", 0.0, 12.0, 5.0, 17.0)]
    assert len(segs[0].pairs) == 45 and len(segs[0].hits) == 45
    # a cut to footage the catalogue holds (another work) between them: two copies, not one
    spliced = faded + copy(22, 33, 20.0, ref="ep2", work="V")
    assert sorted(seg_tuple(s) for s in build_segments(spliced, CFG, 0.2, 12.0, lengths, steps)) == [
        ("ep1", 0.0, 4.0, 5.0, 9.0), ("ep1", 7.0, 12.0, 12.0, 17.0), ("ep2", 4.4, 6.6, 24.4, 26.6)]
    # the second part on another timeline (+9 s): not the same copy
    jumped = copy(0, 20, 5.0) + copy(35, 60, 9.0)
    assert len(build_segments(jumped, CFG, 0.2, 12.0, lengths, steps)) == 2
    # a gap longer than the bridge, or bridging switched off
    assert len(build_segments(copy(0, 20, 5.0) + copy(110, 130, 5.0), CFG, 0.2, 26.0, lengths, steps)) == 2
    off = load_config(overrides={"segments": {"bridge_max_gap_s": 0.0}})
    assert len(build_segments(faded, off, 0.2, 12.0, lengths, steps)) == 2
