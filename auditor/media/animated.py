"""Animated images (GIF, animated WebP, APNG) read as clips, with their own frame timing.

Image-to-video generators are often shared as animated images: short, small, looped. Each frame of
such a file says how long it is shown; the frames are read with Pillow, which composes each frame
as a viewer shows it (GIF disposal, APNG blending), and each is given the time a viewer shows it
at: the sum of the durations before it. A duration of 10 ms or less (or none) is shown as 100 ms,
as web browsers do: such files mean "as fast as possible" and are played at 10 frames a second.
Transparent pixels are shown on white, as a web page and FFmpeg show them.
A looping file is read once through (a loop repeats the same frames).

Limits: the frame count and the total duration the file states are checked before any frame is
decoded, and every frame's size as it is decoded (the same `[limits]` as video).
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np

from ..errors import InputError, LimitExceeded
from ..settings import Limits

ANIMATED_SUFFIXES = {".gif", ".webp", ".png", ".apng"}
MIN_SHOWN_MS = 10  # a frame duration at or below this is shown as DEFAULT_MS (browsers' rule)
DEFAULT_MS = 100


def _open(path: Path):
    from PIL import Image

    with warnings.catch_warnings():
        warnings.simplefilter("ignore", Image.DecompressionBombWarning)  # our own limits decide
        return Image.open(path)


def frame_count(path: Path) -> int:
    """How many frames the file holds (1 for a still image); 0 when Pillow cannot read it."""
    if path.suffix.lower() not in ANIMATED_SUFFIXES:
        return 0
    try:
        with _open(path) as im:
            return int(getattr(im, "n_frames", 1)) if getattr(im, "is_animated", False) else 1
    except Exception:  # any unreadable header: the reader's own checks say what is wrong
        return 0


def shown_ms(duration) -> float:
    """How long a viewer shows a frame of this stated duration (ms)."""
    try:
        d = float(duration)
    except (TypeError, ValueError):
        return float(DEFAULT_MS)
    return float(DEFAULT_MS) if not np.isfinite(d) or d <= MIN_SHOWN_MS else d


def shown_s(im) -> float:
    """How long a viewer shows all of an open animated image's frames (s). WebP states a frame's
    duration only once the frame is decoded; GIF and APNG as soon as it is sought."""
    total = 0.0
    for k in range(int(getattr(im, "n_frames", 1))):
        im.seek(k)
        if im.format == "WEBP":
            im.load()
        total += shown_ms(im.info.get("duration"))
    return total / 1000.0


def probe(path: Path, limits: Limits, check_size: Callable[[int, int], None]) -> tuple[int, int, int, float, int]:
    """(width, height, frames, duration in s, loop count: 0 = forever) of an animated image.
    The frame count and `check_size(width, height)` are checked before any frame is decoded
    (WebP states a frame's duration only once it is decoded)."""
    try:
        with _open(path) as im:
            width, height = im.size
            n = int(getattr(im, "n_frames", 1))
            if n > limits.max_decoded_frames:
                raise LimitExceeded(path, f"the file states {n} frames, over the limit of {limits.max_decoded_frames}")
            check_size(width, height)
            total = shown_s(im)
            loop = int(im.info.get("loop", 1) or 0)
    except (LimitExceeded, InputError):
        raise
    except Exception as exc:
        raise InputError(path, f"not a readable animated image ({type(exc).__name__})") from exc
    if total > limits.max_duration_s:
        raise LimitExceeded(path, f"the file states {total:.0f} s, longer than the limit of {limits.max_duration_s:.0f} s")
    return width, height, n, total, loop


def _on_white(im) -> np.ndarray:
    """The frame as RGB, transparent pixels shown on white (as a web page and FFmpeg show them)."""
    if im.mode in ("RGB", "L") and "transparency" not in im.info:
        return np.asarray(im.convert("RGB"))
    rgba = np.asarray(im.convert("RGBA"), dtype=np.float32)
    alpha = rgba[:, :, 3:4] / 255.0
    return (rgba[:, :, :3] * alpha + 255.0 * (1.0 - alpha) + 0.5).astype(np.uint8)


def frames(path: Path) -> Iterator[tuple[float, float, np.ndarray]]:
    """(time shown in s, duration shown in s, RGB pixels) of each frame, in order."""
    try:
        with _open(path) as im:
            t = 0.0
            for k in range(int(getattr(im, "n_frames", 1))):
                im.seek(k)
                im.load()
                d = shown_ms(im.info.get("duration")) / 1000.0
                rgb = _on_white(im)
                yield t, d, rgb
                t += d
    except (LimitExceeded, InputError):
        raise
    except Exception as exc:
        raise InputError(path, f"animated image could not be decoded (truncated or corrupt: {type(exc).__name__})") from exc
