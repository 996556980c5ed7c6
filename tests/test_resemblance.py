"""Resemblance without a shared timeline: the statistic, its calibration, the level it may reach
(never uncalibrated), and, with a tiny open_clip model, drawn works that each have their own look."""

import numpy as np
import pytest
from helpers import assert_valid_evidence

from auditor.channels import meaning
from auditor.config import load_config
from auditor.match.decision import Policy, decide
from auditor.match.resemblance import NullDraws, statistic, thin, work_resemblance

CFG = load_config()
POLICY = Policy.from_config(CFG, {name: meaning(name, CFG) for name in ("pdq", "clip")})
NULL = np.random.default_rng(0).normal(0.55, 0.06, 2000)  # unrelated frames' best similarity


def clip_scores(level: float, seconds: int = 20, fps: int = 5, seed: int = 1) -> tuple[np.ndarray, np.ndarray]:
    times = np.arange(seconds * fps) / fps
    return times, np.random.default_rng(seed).normal(level, 0.04, len(times))


def test_moments_are_thinned_and_the_top_share_averaged():
    times = np.array([0.0, 0.2, 0.4, 1.0, 1.2, 2.5, 3.1])
    scores = np.array([0.1, 0.9, 0.2, 0.3, 0.4, 0.8, 0.6])
    assert thin(times, scores, 1.0).tolist() == [0.9, 0.4, 0.8, 0.6]  # the best of each second
    value, m = statistic(np.array([0.9, 0.4, 0.8, 0.6]), 0.25, 3)
    assert m == 3 and value == pytest.approx((0.9 + 0.8 + 0.6) / 3)


def test_p_values_fall_as_the_clip_comes_closer_and_more_of_it_does():
    draws = NullDraws(NULL, CFG)
    ps = [draws.p_value(v, 20, 4)[0] for v in (0.55, 0.65, 0.72, 0.8)]
    assert ps == sorted(ps, reverse=True) and ps[0] > 0.5 and ps[-1] < 1e-6
    assert draws.p_value(0.72, 40, 4)[0] <= draws.p_value(0.72, 10, 4)[0]
    assert draws.p_value(0.72, 20, 1)[0] < draws.p_value(0.72, 20, 4)[0]  # crops searched: more chances by chance
    p, at_floor = draws.p_value(5.0, 20, 1)
    assert p == CFG.calibration.min_p_value and at_floor


def test_a_close_calibrated_work_reaches_the_level_and_flags_an_uncalibrated_one_never():
    times, close = clip_scores(0.8)
    _, far = clip_scores(0.56, seed=2)
    draws = NullDraws(NULL, CFG)
    a = work_resemblance("A", "Studio A", "clip", times, close, 4, CFG, draws, works_compared=12)
    b = work_resemblance("B", "Studio B", "clip", times, far, 4, CFG, draws, works_compared=12)
    assert a.expected_false_matches == pytest.approx(a.p_value * 12) and a.expected_false_matches < 0.01
    assert b.expected_false_matches > 0.01
    decision = decide([], {}, {}, POLICY, [b, a])
    assert decision.level == "resemblance without a shared timeline" and decision.flagged
    assert [d.resemblance.work for d in decision.resemblances] == ["A", "B"]  # strongest first
    assert decision.best.resemblance.work == "A"
    assert [o.rule for o in decision.verdict_outcomes] == ["resemblance.chance", "verdict.flag"]
    uncalibrated = work_resemblance("A", "Studio A", "clip", times, close, 4, CFG, None, works_compared=12)
    assert uncalibrated.p_value is None
    decision = decide([], {}, {}, POLICY, [uncalibrated])
    assert decision.level == "no match" and not decision.flagged


def test_a_copy_segment_outranks_a_resemblance():
    from helpers import hits_for

    from auditor.match.segments import build_segments

    times, close = clip_scores(0.8)
    a = work_resemblance("A", "Studio A", "clip", times, close, 4, CFG, NullDraws(NULL, CFG), works_compared=2)
    segs = build_segments(hits_for("ep1", [(q / 5, q / 5) for q in range(10)], raw=6.0), CFG, 0.2, 2, {"ep1": 9},
                          statistics_by_channel={"pdq": "median_distance"}, strength=POLICY.channel_rank)
    decision = decide(segs, {}, {}, POLICY, [a])
    assert decision.level == "near-identical copy" and decision.best is decision.segments[0]


LOOKS = {  # each work's own look: a colour grade over drawn footage
    "Crimson Harbour": (1.35, 0.85, 0.6),
    "Blue Lantern": (0.6, 0.9, 1.4),
    "Green Hollow": (0.7, 1.3, 0.7),
}


def graded(seed: int, look, t: float):
    from auditor.media import synth

    frame = synth.scene_frame(seed, t, 320, 180).astype(np.float32) * np.asarray(look, np.float32)
    return np.clip(frame, 0, 255).astype(np.uint8)


@pytest.fixture(scope="module")
def looks_index(tmp_path_factory, tiny_clip_dir):
    """Three drawn works, each in its own look, indexed with pdq and a tiny CLIP, calibrated on
    background footage in other looks (ungraded, and a fourth grade no work has)."""
    from auditor.indexing.calibrate import calibrate
    from auditor.indexing.ingest import CatalogueItem, add_items
    from auditor.media import synth

    d = tmp_path_factory.mktemp("looks")
    cfg = load_config(overrides={"channels": {"clip": {"model": f"local-dir:{tiny_clip_dir}", "min_similarity": 0.9995,
                                                       "strong_min_median_similarity": 0.99999}}})
    items = []
    for k, (work, look) in enumerate(LOOKS.items()):
        for j in range(2):
            seed = 100 * (k + 1) + j
            path = synth.write_clip(d / "ref" / f"w{k}_{j}.mp4", lambda t, s=seed, lk=look: graded(s, lk, t), 4.0, fps=12.0)
            items.append(CatalogueItem(path, work, f"Studio {k}"))
    assert not add_items(d / "idx", items, cfg, ["pdq", "clip"]).failed
    background = [synth.write_clip(d / "bg" / f"bg{i}.mp4", lambda t, s=500 + i, lk=look: graded(s, lk, t), 4.0, fps=12.0)
                  for i, look in enumerate([(1.0, 1.0, 1.0), (1.0, 1.0, 1.0), (1.2, 0.8, 1.3)])]
    calibrate(d / "idx", cfg, background=background)
    return d, cfg


def test_new_shots_in_one_works_look_resemble_it_without_a_shared_timeline(looks_index, tmp_path):
    from auditor.evidence.files import read_evidence
    from auditor.media import synth
    from auditor.scan.batch import run_batch

    d, cfg = looks_index
    redrawn = synth.write_clip(tmp_path / "redrawn.mp4", lambda t: graded(777, LOOKS["Blue Lantern"], t), 6.0, fps=12.0)
    other = synth.write_clip(tmp_path / "other.mp4", lambda t: graded(888, (1.0, 1.0, 1.0), t), 6.0, fps=12.0)
    run_batch([redrawn, other], d / "idx", tmp_path / "out", cfg)
    ev = read_evidence(tmp_path / "out" / "redrawn.evidence.json")
    assert_valid_evidence(tmp_path / "out" / "redrawn.evidence.json")
    assert not ev.segments()  # no shared timeline with any reference
    assert ev.verdict.level == "resemblance without a shared timeline" and ev.verdict.flagged
    work = ev.works[0]
    assert work.work == "Blue Lantern" and work.resemblance.expected_false_matches <= 0.01
    assert work.resemblance.gallery and all(g.ref_id.startswith("w1_") for g in work.resemblance.gallery)
    assert all((tmp_path / "out" / g.query_image.file).is_file() for g in work.resemblance.gallery)
    assert ev.resemblance.calibrated and ev.resemblance.closest[0].work == "Blue Lantern"
    assert "resemble Blue Lantern" in ev.verdict.summary
    plain = read_evidence(tmp_path / "out" / "other.evidence.json")
    assert not plain.verdict.flagged and plain.resemblance.closest  # compared, resembling none
