"""Issue 34: a copy is reported as it runs. A copy played backwards is one span with a negative
speed, named "played backwards" in words; a copy whose middle is too degraded for retrieval is
one span, its middle resting on comparisons along the timeline, recorded as such; the span
stops where the copy does."""

import csv
import json

import cv2
import numpy as np
import pytest

from auditor.config import load_config
from auditor.evaluate import Interval2D, overlap_iou
from auditor.evidence.records import SegmentSummary
from auditor.evidence.wording import verdict_sentence
from auditor.indexing.ingest import CatalogueItem, add_items
from auditor.media import synth
from auditor.scan.batch import run_batch

# the reversed copy: suspect 2-10 s shows ep01 from 22 s down to 14 s
REVERSED = Interval2D("reversed", "ep01", 2.0, 10.0, 14.0, 22.0)
# the degraded copy: suspect 1-21 s shows ep01 4-24 s, suspect 7-15 s under heavy degradation
DEGRADED = Interval2D("degraded", "ep01", 1.0, 21.0, 4.0, 24.0)


def _heavy(image: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Blur, a lifted grade, noise, an opaque panel over a quarter of the frame, JPEG at quality 6."""
    img = cv2.GaussianBlur(image, (0, 0), 2.0)
    img = np.clip(img.astype(np.float32) * 0.6 + 60 + rng.normal(0, 30, img.shape), 0, 255).astype(np.uint8)
    h, w = img.shape[:2]
    img[: h // 2, : w // 2] = (200, 40, 40)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 6])
    return cv2.imdecode(buf, cv2.IMREAD_UNCHANGED)


def _unrelated(t: float) -> np.ndarray:
    """Footage the catalogue does not hold: smooth colour noise, a new picture every half second."""
    rng = np.random.default_rng(int(t * 2))
    return cv2.resize(rng.integers(0, 255, (14, 25, 3), dtype=np.uint8), (400, 224), interpolation=cv2.INTER_CUBIC)


@pytest.fixture(scope="module")
def case(tmp_path_factory):
    d = tmp_path_factory.mktemp("guided")
    refs = [synth.write_scene(d / f"{name}.mp4", seed, 26.0) for name, seed in (("ep01", 11), ("ep02", 12))]
    rng = np.random.default_rng(0)

    def reversed_copy(t):
        if REVERSED.qs <= t < REVERSED.qe:
            return synth.rescale(synth.scene_frame(11, REVERSED.re - (t - REVERSED.qs), 320, 180), 400, 224)
        return _unrelated(t)

    def degraded_copy(t):
        if DEGRADED.qs <= t < DEGRADED.qe:
            f = synth.rescale(synth.scene_frame(11, DEGRADED.rs + (t - DEGRADED.qs), 320, 180), 400, 224)
            return _heavy(f, rng) if 7.0 <= t < 15.0 else f
        return _unrelated(t)

    clips = [synth.write_clip(d / "reversed.mp4", reversed_copy, 11.0, 25.0),
             synth.write_clip(d / "degraded.mp4", degraded_copy, 22.0, 25.0)]
    index = d / "index"
    report = add_items(index, [CatalogueItem(p, "Star Courier", "Demo Studio") for p in refs], load_config(), ["pdq", "orb"])
    assert not report.failed
    run_batch(clips, index, d / "guided", load_config())
    return {"guided": d / "guided"}


def _segments(out, query_id):
    ev = json.loads((out / f"{query_id}.evidence.json").read_text(encoding="utf-8"))
    return ev, [s for w in ev["works"] for s in w["segments"]]


def _iou(s, truth: Interval2D) -> float:
    return overlap_iou(Interval2D(truth.query_id, s["ref_id"], s["query_start"], s["query_end"], s["ref_start"], s["ref_end"]),
                       truth)


def test_a_copy_played_backwards_is_one_span_with_a_negative_speed_said_in_words(case):
    _, segs = _segments(case["guided"], "reversed")
    assert len(segs) == 1, [(s["query_start"], s["query_end"], s["speed"]) for s in segs]
    s = segs[0]
    assert s["ref_id"] == "ep01" and -1.2 < s["speed"] < -0.8
    assert _iou(s, REVERSED) >= 0.8
    assert s["ref_start"] < s["ref_end"]  # the interval earliest first; the speed says which way it runs
    best = SegmentSummary.model_validate({k: v for k, v in s.items() if k in SegmentSummary.model_fields})
    for lang, words in (("en", "played backwards"), ("ja", "逆再生")):
        assert words in verdict_sentence("reversed.mp4", best, "Star Courier", "Demo Studio", 1, None, None, None, lang)
    rows = [r for r in csv.DictReader(open(case["guided"] / "matches.csv", encoding="utf-8")) if r["query_id"] == "reversed"]
    assert len(rows) == 1 and float(rows[0]["ref_start"]) < float(rows[0]["ref_end"])


def test_a_degraded_middle_is_carried_by_comparison_along_the_timeline_and_recorded(case):
    _, segs = _segments(case["guided"], "degraded")
    assert len(segs) == 1
    s = segs[0]
    assert _iou(s, DEGRADED) >= 0.8
    guided = [p for p in s["parts"] if p["basis"] == "guided"]
    assert s["guided_frames"] == sum(p["frames"] for p in guided) == len(s["guided_pairs"]) > 0
    middle = [p for p in guided if p["query_start"] >= 7.0 and p["query_end"] <= 15.2]
    assert sum(p["frames"] for p in middle) >= 5  # the degraded stretch rests on guided comparison
    for p in s["guided_pairs"]:
        if p["channel"] == "pdq":  # closer on the timeline than anywhere off it, by the channel's margin
            assert p["raw"] <= p["control_raw"] - 20
        else:
            assert p["raw"] >= 1.5 * p["control_raw"]
    covered = sorted((p["query_start"], p["query_end"]) for p in s["parts"])
    assert covered[0][0] == s["query_start"] and covered[-1][1] == pytest.approx(s["query_end"], abs=1e-3)
    assert all(a[1] == pytest.approx(b[0], abs=1e-3) for a, b in zip(covered, covered[1:]))  # the parts tile the span


def test_the_span_stops_where_the_copy_does(case):
    _, segs = _segments(case["guided"], "degraded")
    s = segs[0]
    assert s["query_start"] >= DEGRADED.qs - 0.5 and s["query_end"] <= DEGRADED.qe + 0.5  # unrelated lead-in and tail left out


def test_a_frame_no_channel_tells_apart_is_supported_by_its_picture_only_above_the_control():
    from auditor.match import guided
    from auditor.match.segments import Hit, Segment
    from auditor.settings import Segments

    rng = np.random.default_rng(3)
    pictures = [cv2.resize(rng.integers(0, 255, (6, 8), dtype=np.uint8), (32, 32), interpolation=cv2.INTER_CUBIC)
                for _ in range(40)]  # reference frame k, a picture of its own, at k / 2 s
    ref_times = np.arange(40) / 2.0
    worn = [np.clip(p.astype(np.float32) * 0.6 + 50 + rng.normal(0, 12, p.shape), 0, 255).astype(np.uint8)
            for p in pictures]  # the same pictures, re-graded and noisy
    clip = np.stack([worn[k + 4] for k in range(20)] + [np.full((32, 32), 90, np.uint8)])  # query k shows ref k + 4
    clip[19] = pictures[30]  # query frame 19 shows a picture far off the timeline
    hit = Hit(q_index=0, q_t=0.0, channel="pdq", frame_id=8, ref_id="ep", kind="video", work="W", owner="O", ref_t=2.0,
              raw=10.0, sim=0.9)
    seg = Segment(key=0, ref_id="ep", work="W", owner="O", kind="video", query_start=0.0, query_end=1.0, ref_start=2.0,
                  ref_end=3.0, score=0.5, channels=("pdq",), stats={}, speed=1.0, pairs=(hit,), offset=2.0)
    guide = guided.Guide(channels={}, embeddings={}, times=np.arange(21) / 2.0, query_step=0.5, clip_duration=10.5,
                         ref_durations={"ep": 20.0}, ref_steps={"ep": 0.5}, frames=lambda r: (np.arange(40), ref_times),
                         vectors=lambda n, ids: (np.zeros(0, np.int64), np.zeros((0, 32), np.uint8)), higher_is_better={},
                         thumbs=clip, ref_thumbs=lambda r, ts: {round(float(t), 3): pictures[int(round(t * 2))] for t in ts})
    cfg = load_config().segments
    assert isinstance(cfg, Segments) and cfg.guided_picture
    ref = guided._Reference(np.arange(40), ref_times, {})
    pool = np.arange(0, 40, 3)

    def compare(i):
        r = seg.ref_at(i / 2.0)
        near = np.nonzero(np.abs(ref_times - r) <= 0.5)[0]
        far = pool[np.abs(ref_times[pool] - r) >= cfg.guided_control_min_s]
        return guided._compare_pictures(i, seg, ref, near, far, guide, cfg)

    supported = compare(6)
    assert supported is not None and supported.channel == guided.PICTURE and supported.ref_t == 5.0
    assert supported.raw >= cfg.guided_picture_min_correlation and supported.raw >= supported.control + cfg.guided_picture_margin
    assert compare(19) is None  # its picture belongs elsewhere in the reference: the control is as close
    assert compare(20) is None  # a flat frame has no picture to compare
    off = load_config(overrides={"segments": {"guided_picture": False}}).segments
    assert guided._compare_pictures(6, seg, ref, np.array([7, 8]), pool[:6], guide, off) is None

