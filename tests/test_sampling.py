import cv2
import numpy as np
import pytest
from helpers import noise_image, rotate_mp4_90, write_scene

from auditor.config import load_config
from auditor.errors import InputError, LimitExceeded
from auditor.media.reader import MediaReader


def sample(path, fps=2.0, config=None):
    reader = MediaReader(path, fps, config or load_config())
    frames = list(reader.frames())
    return reader.info, frames


def test_frames_come_at_the_asked_rate_with_true_timestamps(tmp_path):
    clip = write_scene(tmp_path / "a.mp4", 1, 4.0, fps=24.0)
    info, frames = sample(clip, fps=2.0)
    assert [f.t for f in frames] == pytest.approx([0.0, 0.5, 1.0, 1.5, 2.0, 2.5, 3.0, 3.5], abs=1 / 24)
    assert info.frames_decoded == 96
    assert info.duration_s == pytest.approx(4.0, abs=0.05)
    assert info.fps == pytest.approx(24.0)
    assert frames[0].image.dtype == np.uint8 and frames[0].image.shape == (180, 320, 3)


def test_rate_higher_than_the_source_gives_every_frame_once(tmp_path):
    clip = write_scene(tmp_path / "a.mp4", 1, 1.0, fps=10.0)
    _, frames = sample(clip, fps=30.0)
    assert len(frames) == 10
    assert len({f.t for f in frames}) == 10


def test_decoding_threads_change_no_frame(tmp_path):
    clip = write_scene(tmp_path / "a.mp4", 3, 3.0, fps=25.0, size=(640, 360))
    frames = {}
    for threads in (0, 1, 2):
        cfg = load_config(overrides={"sampling": {"decode_threads": threads}})
        frames[threads] = sample(clip, fps=5.0, config=cfg)[1]
    assert len(frames[1]) == 15
    for threads in (0, 2):
        assert [f.t for f in frames[threads]] == [f.t for f in frames[1]]
        assert all(np.array_equal(a.image, b.image) for a, b in zip(frames[threads], frames[1]))


@pytest.mark.parametrize("size", [(1280, 720), (1920, 1080), (3840, 2160), (1000, 560), (2560, 1440)])
def test_downscaling_gives_one_area_resize_to_within_a_grey_level(size):
    from auditor.media import synth
    from auditor.media.reader import downscale

    w, h = size
    image = cv2.resize(synth.scene_frame(7, 2.0, 1920, 1080), size, interpolation=cv2.INTER_CUBIC)
    small = downscale(image, 512)
    assert max(small.shape[:2]) == 512
    one = cv2.resize(image, (small.shape[1], small.shape[0]), interpolation=cv2.INTER_AREA)
    assert np.abs(small.astype(np.int16) - one).mean() < 1.5


def _gif(path, durations_ms, size=(317, 179)):
    from PIL import Image

    frames = [Image.fromarray(np.full((size[1], size[0], 3), 20 * i + 10, np.uint8)) for i in range(len(durations_ms))]
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=durations_ms, loop=0)
    return path


def test_odd_sizes_and_downscaling(tmp_path):
    # OpenCV's writers round to even sizes, so the odd-sized clip is an animated GIF from Pillow.
    gif = _gif(tmp_path / "odd.gif", [100] * 10)
    info, frames = sample(gif, fps=5.0)
    assert (info.width, info.height) == (317, 179)
    assert frames[0].image.shape == (179, 317, 3)
    assert [f.t for f in frames] == pytest.approx([0.0, 0.2, 0.4, 0.6, 0.8], abs=0.01)
    cfg = load_config(overrides={"sampling": {"max_side": 100}})
    _, small = sample(gif, config=cfg)
    assert small[0].image.shape[:2] == (56, 100)


def test_variable_frame_rate_keeps_each_frames_own_time(tmp_path):
    # frames start at 0.0, 0.1, 0.5, 0.6, 1.4, 1.5 s
    gif = _gif(tmp_path / "vfr.gif", [100, 400, 100, 800, 100, 100])
    info, frames = sample(gif, fps=4.0)
    times = [f.t for f in frames]
    assert set(times) <= {0.0, 0.1, 0.5, 0.6, 1.4, 1.5}
    assert times == pytest.approx([0.0, 0.5, 1.4], abs=1e-6)
    # each sample is the frame that starts there: its pixels are that frame's
    assert [int(f.image[0, 0, 0]) for f in frames] == [10, 50, 90]
    # OpenCV does not say how long the last frame shows: duration = its start + one nominal period
    assert 1.5 < info.duration_s < 1.9


def test_rotation_metadata_is_applied(tmp_path):
    clip = write_scene(tmp_path / "rot.mp4", 3, 1.0, size=(160, 96), fps=12.0)
    _, upright = sample(clip)
    rotate_mp4_90(clip)
    info, frames = sample(clip)
    assert info.rotation in (90, 270)
    assert frames[0].image.shape == (160, 96, 3)  # portrait now
    # the pixels are the upright frame turned a quarter
    turned = [np.rot90(upright[0].image, k) for k in (1, 3)]
    assert min(np.abs(frames[0].image.astype(int) - t.astype(int)).mean() for t in turned) < 8


def test_stills_are_one_frame_references(tmp_path):
    for ext in ("png", "jpg", "webp"):
        path = noise_image(tmp_path / f"art.{ext}")
        info, frames = sample(path)
        assert info.kind == "still" and len(frames) == 1 and frames[0].t == 0.0
        assert frames[0].image.shape == (120, 200, 3)


@pytest.mark.parametrize(
    "make, reason",
    [
        (lambda p: p.write_bytes(b""), "empty file"),
        (lambda p: p.write_text("this is not a video\n" * 50), "not a readable video"),
        (lambda p: None, "no such file"),
    ],
)
def test_bad_video_inputs_give_one_line_errors(tmp_path, make, reason):
    path = tmp_path / "bad.mp4"
    make(path)
    with pytest.raises(InputError) as e:
        sample(path)
    assert reason in str(e.value) and str(path) in str(e.value) and "\n" not in str(e.value)


def test_truncated_video_is_an_error(tmp_path):
    clip = write_scene(tmp_path / "whole.mp4", 4, 2.0)
    cut = tmp_path / "cut.mp4"
    cut.write_bytes(clip.read_bytes()[: clip.stat().st_size // 2])  # mp4v puts its index at the end
    with pytest.raises(InputError, match="cut.mp4"):
        sample(cut)


def test_corrupt_still_and_directory(tmp_path):
    bad = tmp_path / "broken.png"
    good = noise_image(tmp_path / "good.png")
    bad.write_bytes(good.read_bytes()[:40])
    with pytest.raises(InputError, match="broken.png"):
        sample(bad)
    with pytest.raises(InputError, match="is a directory"):
        sample(tmp_path)


def test_limits_refuse_oversized_inputs(tmp_path):
    clip = write_scene(tmp_path / "a.mp4", 5, 3.0, size=(320, 180))
    with pytest.raises(LimitExceeded, match="over the limit"):
        sample(clip, config=load_config(overrides={"limits": {"max_pixels": 10_000}}))
    with pytest.raises(LimitExceeded, match="longer than the limit"):
        sample(clip, config=load_config(overrides={"limits": {"max_duration_s": 1.0}}))
    with pytest.raises(LimitExceeded, match="sampled frames"):
        sample(clip, config=load_config(overrides={"limits": {"max_sampled_frames": 3}}))
    with pytest.raises(LimitExceeded, match="bytes"):
        sample(clip, config=load_config(overrides={"limits": {"max_file_bytes": 1000}}))
    big = tmp_path / "big.png"
    cv2.imwrite(str(big), np.zeros((300, 5000, 3), np.uint8))
    with pytest.raises(LimitExceeded, match="5000x300"):
        sample(big, config=load_config(overrides={"limits": {"max_width": 4096}}))


@pytest.mark.corpus
def test_corpus_clips_decode_with_their_real_durations(corpus):
    expected = {  # seconds, from the corpus README (decoded frames / fps)
        "bbb_180p_10s.webm": 10.0,
        "sintel_110p_10s.mp4": 10.0,
        "pigs_in_a_polka_3s.gif": 3.0,
        "his_girl_friday_480p_6s.mp4": 6.2,
        "tmk_doorknob_720p_4s.mp4": 4.0,
    }
    for name, seconds in expected.items():
        info, frames = sample(corpus / "videos" / name, fps=1.0)
        assert info.duration_s == pytest.approx(seconds, abs=0.1), name
        assert len(frames) == pytest.approx(seconds, abs=1), name
        assert max(frames[0].image.shape[:2]) <= 512
