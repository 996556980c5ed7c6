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


def test_animated_image_frames_are_sampled_as_a_viewer_sees_them(tmp_path):
    # frames shown from 0.0, 0.1, 0.5, 0.6, 1.4 and 1.5 s, for 100, 400, 100, 800, 100, 100 ms
    gif = _gif(tmp_path / "vfr.gif", [100, 400, 100, 800, 100, 100])
    info, frames = sample(gif, fps=4.0)
    assert [f.t for f in frames] == pytest.approx([0.0, 0.25, 0.5, 0.75, 1.0, 1.25, 1.5], abs=1e-6)
    # each sample is the frame on screen at that instant: a frame held 0.8 s stands for three
    assert [int(f.image[0, 0, 0]) for f in frames] == [10, 30, 50, 70, 70, 70, 110]
    # the file says how long its last frame shows
    assert info.duration_s == pytest.approx(1.6) and info.frames_decoded == 6
    assert info.kind == "video"


@pytest.mark.parametrize("suffix", [".webp", ".png"])
def test_animated_webp_and_apng_are_clips_with_their_own_timing(tmp_path, suffix):
    from PIL import Image

    frames = [Image.fromarray(np.full((90, 160, 3), 40 * i + 20, np.uint8)) for i in range(5)]
    path = tmp_path / f"anim{suffix}"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=[200, 200, 600, 200, 200], loop=0)
    info, got = sample(path, fps=5.0)
    assert info.kind == "video" and info.duration_s == pytest.approx(1.4)
    assert [round(f.t, 3) for f in got] == [0.0, 0.2, 0.4, 0.6, 0.8, 1.0, 1.2]
    assert [int(f.image[0, 0, 0]) for f in got] == pytest.approx([20, 60, 100, 100, 100, 140, 180], abs=3)
    # a one-frame WebP or PNG is still a still
    frames[0].save(tmp_path / f"one{suffix}")
    assert sample(tmp_path / f"one{suffix}")[0].kind == "still"


def test_a_gif_without_delays_plays_at_ten_frames_a_second(tmp_path):
    info, frames = sample(_gif(tmp_path / "fast.gif", [0] * 8), fps=10.0)
    assert info.duration_s == pytest.approx(0.8) and len(frames) == 8


def test_short_suspect_clips_are_sampled_densely_with_their_last_frame_and_cuts(tmp_path):
    from auditor.media.synth import scene_frame, write_clip

    # 3.3 s at 25 fps: one shot, a cut at 1.72 s to another, the last frame at 3.24 s
    clip = write_clip(tmp_path / "short.mp4", lambda t: scene_frame(1 if t < 1.72 else 2, t, 320, 180), 3.3, 25.0)
    cfg = load_config(overrides={"sampling": {"query": {"short_clip_fps": 2.0}}})
    as_ref = list(MediaReader(clip, 1.0, cfg).frames())
    reader = MediaReader(clip, 1.0, cfg, dense_when_short=True)
    dense = list(reader.frames())
    assert reader.fps == 2.0 and len(as_ref) == 4
    # every 0.5 s, the first frame after the cut, and the last frame
    assert [round(f.t, 2) for f in dense] == [0.0, 0.48, 1.0, 1.48, 1.72, 2.0, 2.48, 3.0, 3.24]
    assert len(list(MediaReader(clip, 5.0, load_config(), dense_when_short=True).frames())) == 34  # 10 a second, by default
    # a long clip keeps the ordinary rate
    long_cfg = load_config(overrides={"sampling": {"query": {"short_clip_s": 2.0}}})
    ordinary = list(MediaReader(clip, 5.0, cfg).frames())
    assert len(list(MediaReader(clip, 5.0, long_cfg, dense_when_short=True).frames())) == len(ordinary)


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


def test_transparent_pixels_of_an_animated_image_are_shown_on_white(tmp_path):
    from PIL import Image

    frames = []
    for k in range(3):
        im = Image.new("P", (64, 48), 0)
        im.putpalette([0, 0, 0, 200, 30, 30] + [0] * 762)
        im.paste(1, (8 * k, 8, 8 * k + 20, 30))  # a red box on a transparent ground (index 0)
        frames.append(im)
    path = tmp_path / "clear.gif"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0, transparency=0, disposal=2)
    _, got = sample(path, fps=10.0)
    assert len(got) == 3
    for f in got:
        assert tuple(f.image[45, 60]) == (255, 255, 255)  # the ground, as a browser page shows it
        assert f.image[15, 18].tolist() != [255, 255, 255]  # the box
