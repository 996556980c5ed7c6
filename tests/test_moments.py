"""A moment is evidence: a clip whose first frame is a catalogue still, and whose picture then
drifts away (what an image-to-video generator makes of key art), is flagged at "a frame of the
work reproduced" with the frame pair; a featureless frame near a featureless still is not."""

import subprocess

import cv2
import numpy as np
import pytest
from helpers import assert_valid_evidence

from auditor.config import load_config
from auditor.evidence.files import read_evidence
from auditor.indexing.calibrate import calibrate
from auditor.indexing.ingest import CatalogueItem, add_items
from auditor.media import synth
from auditor.media.video import open_writer
from auditor.report.pdf import render_report
from auditor.scan.batch import run_batch

SIZE = (480, 270)


def _still(path, seed):
    art = synth.scene_frame(seed, 0.5, 640, 360)
    cv2.imwrite(str(path), cv2.cvtColor(art, cv2.COLOR_RGB2BGR))
    return art


def _write(path, frame_at, seconds=3.0, fps=24.0):
    writer = open_writer(path, "mp4v", fps, SIZE)
    for k in range(int(round(seconds * fps))):
        writer.write(cv2.cvtColor(frame_at(k / fps), cv2.COLOR_RGB2BGR))
    writer.release()
    return path


@pytest.fixture(scope="module")
def stills_index(tmp_path_factory):
    root = tmp_path_factory.mktemp("moments")
    cfg = load_config()
    art = _still(root / "key_art.png", 41)
    _still(root / "other_art.png", 57)
    end = _still(root / "key_art_end.png", 63)
    flat = np.full((360, 640, 3), 128, np.uint8)
    flat[:, :, 0] = np.linspace(120, 136, 640).astype(np.uint8)  # a featureless still: a faint gradient
    cv2.imwrite(str(root / "flat.png"), flat)
    items = [CatalogueItem(root / "key_art.png", "Key Art", "Studio A"),
             CatalogueItem(root / "key_art_end.png", "Key Art", "Studio A"),
             CatalogueItem(root / "other_art.png", "Other Art", "Studio B"),
             CatalogueItem(root / "flat.png", "Flat Poster", "Studio C"),
             CatalogueItem(synth.write_scene(root / "episode.mp4", 3, 6.0), "Episode", "Studio D")]
    index = root / "index"
    add_items(index, items, cfg, ["pdq", "orb"])
    background = [synth.write_scene(root / f"bg{i}.mp4", 700 + i, 4.0) for i in range(4)]
    calibrate(index, cfg, background=background)
    return root, index, art, flat, end


def _drifting(art):
    """The key art for the first frame, then a picture that drifts away from it within 0.3 s."""
    start = cv2.resize(art, SIZE, interpolation=cv2.INTER_AREA)

    def frame(t):
        other = synth.scene_frame(90, t, *SIZE)
        w = max(0.0, 1.0 - t / 0.15)
        return (w * start + (1 - w) * other).astype(np.uint8)
    return frame


def test_a_clip_whose_first_frame_is_the_key_art_is_a_moment_with_its_frame_pair(stills_index, tmp_path):
    root, index, art, *_ = stills_index
    clip = _write(tmp_path / "i2v.mp4", _drifting(art))
    out = tmp_path / "out"
    run_batch([clip], index, out, load_config())
    assert_valid_evidence(out / "i2v.evidence.json")
    ev = read_evidence(out / "i2v.evidence.json")
    assert ev.verdict.flagged and ev.verdict.level == "a frame of the work reproduced"
    (work,) = [w for w in ev.works if w.segments]
    assert work.work == "Key Art"
    moment = work.segments[0]
    assert moment.level == "a frame of the work reproduced" and moment.kind == "still"
    assert moment.query_start == 0.0 and moment.frames <= 3  # the moment's time in the clip, a frame or so
    assert moment.p_value is not None and moment.expected_false_matches <= 0.01
    assert moment.exhibits, "the frame pair is shown"
    assert "frame(s) of i2v.mp4 at 0.0" in ev.verdict.summary and "reproduce the still" in ev.verdict.summary
    # the rule that granted it is stated: PDQ distance of the closest frame within the limit
    assert any(o.rule == "pdq.moment" and o.passed and o.decisive for o in moment.rules)
    # page 1 names it in words, in both languages
    for lang, words in (("en", "a frame of the work reproduced"), ("ja", "作品のフレームの再現")):
        pdf = render_report(out / "i2v.evidence.json", tmp_path / f"r.{lang}.pdf", lang=lang)
        page1 = subprocess.run(["pdftotext", "-f", "1", "-l", "1", str(pdf), "-"], capture_output=True, text=True,
                               check=True).stdout
        assert words in page1.replace("\n", "")


def test_without_calibration_a_moment_is_not_granted(stills_index, tmp_path):
    root, _, art, *_ = stills_index
    index = tmp_path / "uncalibrated"
    add_items(index, [CatalogueItem(root / "key_art.png", "Key Art", "Studio A")], load_config(), ["pdq"])
    clip = _write(tmp_path / "i2v.mp4", _drifting(art))
    run_batch([clip], index, tmp_path / "out", load_config())
    ev = read_evidence(tmp_path / "out" / "i2v.evidence.json")
    assert not ev.verdict.flagged


def test_one_featureless_frame_near_a_featureless_still_is_not_a_moment(stills_index, tmp_path):
    _, index, _, flat, _ = stills_index
    grey = cv2.resize(flat, SIZE, interpolation=cv2.INTER_AREA)

    def frame(t):
        return grey if 1.0 <= t < 1.05 else synth.scene_frame(200 + int(t), t, *SIZE)
    clip = _write(tmp_path / "flat.mp4", frame)
    out = tmp_path / "out"
    run_batch([clip], index, out, load_config())
    ev = read_evidence(out / "flat.evidence.json")
    assert not ev.verdict.flagged and ev.verdict.level == "no match"


def test_an_interpolation_between_two_stills_names_both_as_one_match_of_the_work(stills_index, tmp_path):
    _, index, art, _, end = stills_index
    a, b = (cv2.resize(x, SIZE, interpolation=cv2.INTER_AREA) for x in (art, end))

    def frame(t):  # the first keyframe, a drawn in-between, the last keyframe for the last 0.1 s
        if t < 0.05:
            return a
        if t >= 2.9:
            return b
        return synth.scene_frame(91, t, *SIZE)
    clip = _write(tmp_path / "between.mp4", frame)
    run_batch([clip], index, tmp_path / "out", load_config())
    ev = read_evidence(tmp_path / "out" / "between.evidence.json")
    assert ev.verdict.flagged
    (work,) = [w for w in ev.works if w.segments]
    assert work.work == "Key Art"
    assert {s.ref_id for s in work.segments} == {"key_art", "key_art_end"}
    first, last = sorted(work.segments, key=lambda s: s.query_start)
    assert first.query_start == 0.0 and last.query_start >= 2.9


def test_an_animated_gif_suspect_is_read_with_its_own_timing_and_its_moment_found(stills_index, tmp_path):
    from PIL import Image

    _, index, art, *_ = stills_index
    drift = _drifting(art)
    frames = [Image.fromarray(drift(k * 0.1)) for k in range(30)]  # 10 frames a second (GIF counts in 1/100 s), 3 s
    gif = tmp_path / "looped.gif"
    frames[0].save(gif, save_all=True, append_images=frames[1:], duration=100, loop=0)
    run_batch([gif], index, tmp_path / "out", load_config())
    ev = read_evidence(tmp_path / "out" / "looped.evidence.json")
    assert ev.clip.duration_s == pytest.approx(3.0) and ev.clip.frames_sampled == 30
    assert ev.verdict.flagged and ev.verdict.level == "a frame of the work reproduced"
    assert [w.work for w in ev.works if w.segments] == ["Key Art"]
