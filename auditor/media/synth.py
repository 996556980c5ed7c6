"""Deterministic drawn animated footage, for the demo, the tests and benchmarks without a corpus.

Each "work" is a seed. Its footage is a run of shots (a new scene every few seconds), each a
painted background (sky gradient, hills, houses, trees) panning slowly, with a drawn character
walking across and clouds drifting: enough structure for perceptual hashes, made from nothing.
"""

from __future__ import annotations

import zlib
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

import cv2
import numpy as np

from .video import open_writer

FrameFn = Callable[[float], np.ndarray]
DRAWINGS_PER_S = 8.0


def _rng(*key) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(repr(key).encode()))


@lru_cache(maxsize=64)
def _background(seed: int, shot: int, width: int, height: int) -> np.ndarray:
    """A painted backdrop twice as wide as the frame, so the camera can pan across it."""
    rng = _rng("bg", seed, shot)
    w2 = width * 2
    img = np.zeros((height, w2, 3), np.uint8)
    top = rng.integers(40, 200, 3)
    bottom = rng.integers(120, 255, 3)
    ramp = np.linspace(0, 1, height)[:, None]
    img[:] = (top[None, :] * (1 - ramp) + bottom[None, :] * ramp)[:, None, :].astype(np.uint8)
    # hills
    for layer in range(3):
        base = int(height * (0.45 + 0.15 * layer))
        xs = np.arange(0, w2 + 40, 40)
        ys = base + rng.integers(-height // 8, height // 8, len(xs))
        pts = np.concatenate([np.stack([xs, ys], 1), [[w2, height], [0, height]]]).astype(np.int32)
        cv2.fillPoly(img, [pts], tuple(int(c) for c in rng.integers(20, 200, 3)))
    # houses and trees
    for _ in range(int(rng.integers(6, 12))):
        x = int(rng.integers(0, w2 - 30))
        y = int(rng.integers(height // 2, height - 20))
        s = int(rng.integers(12, 40))
        if rng.random() < 0.5:
            colour = tuple(int(c) for c in rng.integers(60, 255, 3))
            cv2.rectangle(img, (x, y - s), (x + s, y), colour, -1)
            roof = np.array([[x - 4, y - s], [x + s + 4, y - s], [x + s // 2, y - s - s // 2]], np.int32)
            cv2.fillPoly(img, [roof], tuple(int(c) for c in rng.integers(0, 160, 3)))
            cv2.rectangle(img, (x + s // 3, y - s // 2), (x + 2 * s // 3, y), (40, 30, 20), -1)
        else:
            cv2.rectangle(img, (x + s // 2 - 3, y - s), (x + s // 2 + 3, y), (90, 60, 30), -1)
            cv2.circle(img, (x + s // 2, y - s), s // 2 + 4, tuple(int(c) for c in rng.integers(20, 160, 3)), -1)
    cv2.GaussianBlur(img, (3, 3), 0, dst=img)
    return img


def scene_frame(seed: int, t: float, width: int = 320, height: int = 180, shot_s: float = 3.0) -> np.ndarray:
    """The RGB frame work `seed` shows at time `t` seconds."""
    shot = int(t // shot_s)
    local = t - shot * shot_s
    # Drawn animation holds each drawing for several frames ("on threes" at 24 fps): the
    # character and clouds change 8 times a second; only the camera pan is continuous.
    drawn = np.floor(local * DRAWINGS_PER_S) / DRAWINGS_PER_S
    rng = _rng("shot", seed, shot)
    bg = _background(seed, shot, width, height)
    pan_speed = float(rng.uniform(-12, 12))
    start = int(rng.integers(0, width // 2))
    x0 = int(np.clip(start + pan_speed * local + width // 4, 0, width))
    frame = bg[:, x0 : x0 + width].copy()
    # clouds
    for c in range(3):
        cx = int((rng.uniform(0, width) + 12 * drawn * (c + 1)) % (width + 60)) - 30
        cy = int(rng.uniform(10, height * 0.3))
        for dx in (-14, 0, 14):
            cv2.circle(frame, (cx + dx, cy), 11, (250, 250, 250), -1)
    # a walking character
    body = tuple(int(v) for v in rng.integers(0, 255, 3))
    hair = tuple(int(v) for v in rng.integers(0, 120, 3))
    speed = float(rng.uniform(20, 50)) * (1 if rng.random() < 0.5 else -1)
    cx = int((rng.uniform(0.2, 0.8) * width + speed * drawn) % width)
    cy = int(height * 0.62 + 4 * np.sin(drawn * 6.0))
    s = max(8, height // 9)
    cv2.ellipse(frame, (cx, cy + s), (s // 2 + 2, s), 0, 0, 360, body, -1)
    cv2.circle(frame, (cx, cy - s // 3), s // 2 + 2, (255, 220, 190), -1)
    cv2.ellipse(frame, (cx, cy - s // 2), (s // 2 + 4, s // 3), 0, 180, 360, hair, -1)
    for ex in (-s // 5, s // 5):
        cv2.circle(frame, (cx + ex, cy - s // 3), max(2, s // 7), (20, 20, 60), -1)
    leg = int(s * 0.5 * np.sin(drawn * 8.0))
    cv2.line(frame, (cx, cy + 2 * s), (cx - leg, cy + 2 * s + s // 2), (30, 30, 30), 3)
    cv2.line(frame, (cx, cy + 2 * s), (cx + leg, cy + 2 * s + s // 2), (30, 30, 30), 3)
    return frame


def write_clip(path: str | Path, frame_at: FrameFn, duration_s: float, fps: float = 24.0) -> Path:
    """Write frames `frame_at(t)` for t in [0, duration) as an MPEG-4 Part 2 (mp4v) file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    first = frame_at(0.0)
    h, w = first.shape[:2]
    writer = open_writer(path, "mp4v", fps, (w, h))
    if not writer.isOpened():
        raise RuntimeError(f"{path}: OpenCV could not open a video writer (mp4v)")
    try:
        n = int(round(duration_s * fps))
        for i in range(n):
            frame = first if i == 0 else frame_at(i / fps)
            writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
    finally:
        writer.release()
    return path


def write_scene(path: str | Path, seed: int, seconds: float, size: tuple[int, int] = (320, 180),
                fps: float = 24.0) -> Path:
    """Write `seconds` of work `seed`'s footage at `size` (width, height) and `fps` to `path`."""
    w, h = size
    return write_clip(path, lambda t: scene_frame(seed, t, w, h), seconds, fps)


def write_copy(path: str | Path, seed: int, ref_start: float, ref_end: float, lead_in: float, tail: float,
               size: tuple[int, int] = (400, 224), fps: float = 25.0, filler_seed: int = 777) -> Path:
    """A clip: `lead_in` s of unrelated footage (work `filler_seed`), then seconds [ref_start,
    ref_end) of work `seed` (as `write_scene` draws it, 320x180) rescaled, colour-shifted and
    watermarked, then `tail` s of unrelated footage."""
    w, h = size
    length = ref_end - ref_start

    def frame(t):
        if lead_in <= t < lead_in + length:
            f = scene_frame(seed, ref_start + t - lead_in, 320, 180)
            return watermark(colour_shift(rescale(f, w, h)))
        return scene_frame(filler_seed, t, w, h)

    return write_clip(path, frame, lead_in + length + tail, fps)


# -- edits a copier might apply ---------------------------------------------------------------
def rescale(image: np.ndarray, width: int, height: int) -> np.ndarray:
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def colour_shift(image: np.ndarray, gain: float = 1.08, bias: float = 10.0) -> np.ndarray:
    return np.clip(image.astype(np.float32) * gain + bias, 0, 255).astype(np.uint8)


def overlay_logo(image: np.ndarray, text: str = "GEN-AI") -> np.ndarray:
    """An opaque boxed logo in the top-right corner (hard for global hashes)."""
    out = image.copy()
    h, w = out.shape[:2]
    bw, bh = max(40, w // 5), max(14, h // 10)
    cv2.rectangle(out, (w - bw - 6, 6), (w - 6, 6 + bh), (255, 255, 255), -1)
    cv2.putText(out, text, (w - bw - 2, 6 + bh - 4), cv2.FONT_HERSHEY_SIMPLEX, bh / 30, (200, 0, 0), 1, cv2.LINE_AA)
    return out


def watermark(image: np.ndarray, text: str = "GEN-AI", alpha: float = 0.45) -> np.ndarray:
    """A translucent text watermark in the bottom-right corner, as video generators stamp."""
    h, w = image.shape[:2]
    layer = image.copy()
    scale = max(0.35, h / 400)
    (tw, th), _ = cv2.getTextSize(text, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
    cv2.putText(layer, text, (w - tw - 8, h - 8), cv2.FONT_HERSHEY_SIMPLEX, scale, (255, 255, 255), 1, cv2.LINE_AA)
    return cv2.addWeighted(layer, alpha, image, 1 - alpha, 0)
