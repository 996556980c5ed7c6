"""Building blocks of the evaluation set: footage read for random access, frame edits, and a
clip writer. Used by evaluation.make_set (and benchmarks.resemblance)."""

from __future__ import annotations

from pathlib import Path

import cv2
import numpy as np

from auditor.config import load_config
from auditor.media import synth
from auditor.media.reader import MediaReader

OUT_FPS = 25.0
OUT_W = 480


class Footage:
    """Every frame of a clip (downscaled), with timestamps, for random access by time."""

    _cache: dict[Path, Footage] = {}

    def __init__(self, path: Path):
        cfg = load_config(overrides={"sampling": {"max_side": 640}})
        reader = MediaReader(path, 1000.0, cfg)
        frames = list(reader.frames())
        self.path = path
        self.times = np.array([f.t for f in frames])
        self.images = [f.image for f in frames]
        self.duration = reader.info.duration_s

    @classmethod
    def of(cls, path: Path) -> Footage:
        if path not in cls._cache:
            cls._cache[path] = cls(path)
        return cls._cache[path]

    def at(self, t: float) -> np.ndarray:
        i = int(np.searchsorted(self.times, t, side="right")) - 1
        return self.images[max(0, min(i, len(self.images) - 1))]


def fit(image: np.ndarray, w: int, h: int) -> np.ndarray:
    """Resize to cover w x h and centre-crop (so unrelated footage fills the frame)."""
    ih, iw = image.shape[:2]
    s = max(w / iw, h / ih)
    r = cv2.resize(image, (max(w, round(iw * s)), max(h, round(ih * s))), interpolation=cv2.INTER_AREA)
    y, x = (r.shape[0] - h) // 2, (r.shape[1] - w) // 2
    return r[y : y + h, x : x + w]


def out_size(image: np.ndarray) -> tuple[int, int]:
    h, w = image.shape[:2]
    return OUT_W, int(round(OUT_W * h / w / 2)) * 2


# -- edits ------------------------------------------------------------------------------------
def make_edit(name: str, rng: np.random.Generator, background: Footage | None = None):
    """A frame edit `f(image, t) -> image` with its parameters drawn once per clip."""
    if name in ("reencode", "speed", "splice"):
        return lambda im, t: im
    if name == "scale":
        s = rng.uniform(0.3, 0.5)
        return lambda im, t: cv2.resize(cv2.resize(im, None, fx=s, fy=s, interpolation=cv2.INTER_AREA),
                                        (im.shape[1], im.shape[0]), interpolation=cv2.INTER_LINEAR)
    if name == "crop":
        kw, kh = rng.uniform(0.7, 0.85), rng.uniform(0.7, 0.85)
        ox, oy = rng.uniform(0, 1 - kw), rng.uniform(0, 1 - kh)

        def crop(im, t):
            h, w = im.shape[:2]
            x, y, cw, ch = int(ox * w), int(oy * h), int(kw * w), int(kh * h)
            return cv2.resize(im[y : y + ch, x : x + cw], (w, h), interpolation=cv2.INTER_LINEAR)

        return crop
    if name == "flip":
        return lambda im, t: np.ascontiguousarray(im[:, ::-1])
    if name == "colour":
        hue, sat, val = int(rng.integers(8, 20)) * rng.choice([-1, 1]), rng.uniform(1.2, 1.5), rng.uniform(15, 35)

        def colour(im, t):
            hsv = cv2.cvtColor(im, cv2.COLOR_RGB2HSV).astype(np.int16)
            hsv[..., 0] = (hsv[..., 0] + hue) % 180
            hsv[..., 1] = np.clip(hsv[..., 1] * sat, 0, 255)
            hsv[..., 2] = np.clip(hsv[..., 2] + val, 0, 255)
            return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)

        return colour
    if name == "blur_jpeg":
        sigma, q = rng.uniform(1.5, 2.5), int(rng.integers(15, 30))

        def blur_jpeg(im, t):
            b = cv2.GaussianBlur(im, (0, 0), sigma)
            return cv2.imdecode(cv2.imencode(".jpg", b, [cv2.IMWRITE_JPEG_QUALITY, q])[1], cv2.IMREAD_UNCHANGED)

        return blur_jpeg
    if name == "caption_logo":
        words = ["AI generated", "Episode preview", "Subscribe for more", "Fan edit 2026"]
        text = str(rng.choice(words))

        def caption(im, t):
            out = synth.overlay_logo(im)
            h, w = out.shape[:2]
            bar = out[int(h * 0.8) :].astype(np.float32) * 0.35
            out[int(h * 0.8) :] = bar.astype(np.uint8)
            cv2.putText(out, text, (int(w * 0.05), int(h * 0.93)), cv2.FONT_HERSHEY_SIMPLEX, h / 300, (255, 255, 255), 2,
                        cv2.LINE_AA)
            return out

        return caption
    if name == "letterbox":
        frac = rng.uniform(0.1, 0.18)
        side = rng.random() < 0.3

        def letterbox(im, t):
            h, w = im.shape[:2]
            out = np.zeros_like(im)
            if side:  # pillarbox
                nw = int(w * (1 - 2 * frac))
                out[:, (w - nw) // 2 : (w - nw) // 2 + nw] = cv2.resize(im, (nw, h), interpolation=cv2.INTER_AREA)
            else:
                nh = int(h * (1 - 2 * frac))
                out[(h - nh) // 2 : (h - nh) // 2 + nh] = cv2.resize(im, (w, nh), interpolation=cv2.INTER_AREA)
            return out

        return letterbox
    if name == "grayscale":
        return lambda im, t: cv2.cvtColor(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    if name == "pip":
        scale = rng.uniform(0.4, 0.6)
        px, py = rng.uniform(0.03, 0.97 - scale), rng.uniform(0.03, 0.97 - scale)
        bg_start = rng.uniform(0, max(0.0, background.duration - 8)) if background else 0.0

        def pip(im, t):
            h, w = im.shape[:2]
            out = fit(background.at(bg_start + t), w, h).copy() if background else np.zeros_like(im)
            iw, ih = int(w * scale), int(h * scale)
            x, y = int(px * w), int(py * h)
            out[y : y + ih, x : x + iw] = cv2.resize(im, (iw, ih), interpolation=cv2.INTER_AREA)
            cv2.rectangle(out, (x - 1, y - 1), (x + iw, y + ih), (255, 255, 255), 2)
            return out

        return pip
    raise ValueError(name)


# -- clip assembly ----------------------------------------------------------------------------
class Writer:
    def __init__(self, path: Path, size: tuple[int, int]):
        self.size = size
        self.w = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), OUT_FPS, size)
        if not self.w.isOpened():
            raise RuntimeError(f"{path}: cannot open a video writer")
        self.t = 0.0

    def put(self, image: np.ndarray) -> None:
        if (image.shape[1], image.shape[0]) != self.size:
            image = fit(image, *self.size)
        self.w.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        self.t += 1.0 / OUT_FPS

    def filler(self, source: Footage, start: float, seconds: float) -> None:
        n = int(round(seconds * OUT_FPS))
        for i in range(n):
            self.put(source.at(start + i / OUT_FPS))

    def close(self):
        self.w.release()


def render_segment(wr: Writer, ref: Footage, r0: float, seconds: float, speed: float, edit) -> tuple[float, float, float, float]:
    """Write `seconds` of output showing ref from r0 at `speed`; returns (qs, qe, rs, re).

    A negative speed plays the reference backwards from r0 (then rs > re, and r0 must be at
    least |speed| x seconds into the reference). The reference picture is fitted inside the
    output frame (bars where the aspect differs), never cropped: the only edits are the ones
    the transform names."""
    qs = wr.t
    n = int(round(seconds * OUT_FPS))
    for i in range(n):
        t = i / OUT_FPS
        wr.put(edit(pad(ref.at(r0 + speed * t), wr.size, fill=0), t))
    qe = wr.t
    return qs, qe, r0, r0 + speed * n / OUT_FPS


def pad(image: np.ndarray, size: tuple[int, int], fill: int = 16) -> np.ndarray:
    """Fit an image inside a frame of `size`, with dark bars where the aspect differs."""
    w, h = size
    s = min(w / image.shape[1], h / image.shape[0])
    r = cv2.resize(image, (max(1, round(image.shape[1] * s)), max(1, round(image.shape[0] * s))), interpolation=cv2.INTER_AREA)
    out = np.full((h, w, 3), fill, np.uint8)
    y, x = (h - r.shape[0]) // 2, (w - r.shape[1]) // 2
    out[y : y + r.shape[0], x : x + r.shape[1]] = r
    return out


# -- cases added for image-to-video, long copies and looks --------------------------------------
def camera_over_still(still: np.ndarray, size: tuple[int, int], rng: np.random.Generator, frames: int,
                      close: bool = False):
    """Frames of a virtual camera moving over a still (image-to-video over key art): a box of
    the output's aspect that zooms between two areas (down to a tenth of the still's area) and
    pans between two centres, eased in and out; `close`: it never shows more than a fifth of the
    still. Returns the frames."""
    h, w = still.shape[:2]
    aspect = size[0] / size[1]
    largest = min(1.0, h * aspect / w) if w / h >= aspect else min(1.0, w / (aspect * h))  # largest box, as area share
    near = rng.uniform(0.08, 0.16)
    far = rng.uniform(0.14, 0.2) * min(1.0, largest / 0.2) if close else rng.uniform(0.3, 0.7) * largest
    a0, a1 = (far, near) if rng.random() < 0.6 else (near, far)  # mostly zooming in
    c0, c1 = rng.uniform(0.25, 0.75, 2), rng.uniform(0.25, 0.75, 2)
    out = []
    for i in range(frames):
        u = 0.5 - 0.5 * np.cos(np.pi * i / max(1, frames - 1))
        area = max(a0 + (a1 - a0) * u, 1e-3)
        bw = min(w, np.sqrt(area * w * h * aspect))
        bh = bw / aspect
        cx = np.clip((c0[0] + (c1[0] - c0[0]) * u) * w, bw / 2, w - bw / 2)
        cy = np.clip((c0[1] + (c1[1] - c0[1]) * u) * h, bh / 2, h - bh / 2)
        s = size[0] / bw
        m = np.array([[s, 0, size[0] / 2 - s * cx], [0, s, size[1] / 2 - s * cy]], np.float32)  # sub-pixel: smooth motion
        out.append(cv2.warpAffine(still, m, size, flags=cv2.INTER_AREA if s < 1 else cv2.INTER_LINEAR,
                                  borderMode=cv2.BORDER_REPLICATE))
    return out


def fade_plan(seconds: float, rng: np.random.Generator) -> list[tuple[float, float, str]]:
    """(start, length, kind) of two fades through black, a featureless flash and two cuts to
    other footage inside a copy, spread over its length."""
    kinds = ["fade", "cut", "flash", "fade", "cut"]
    plan = []
    for k, kind in enumerate(kinds):
        start = seconds * (0.12 + 0.17 * k) + rng.uniform(-0.8, 0.8)
        length = {"fade": rng.uniform(2.5, 3.5), "flash": 0.8, "cut": rng.uniform(2.0, 3.0)}[kind]
        plan.append((start, float(length), kind))
    return plan


def fade_edit(plan, inserts=()):
    """Darken through black (fades), show flat grey (flashes) or other footage (cuts, from
    `inserts`: (Footage, start) pairs) where the plan says; the copy's timeline runs on
    underneath, so the time offset is the same on both sides."""

    def edit(im, t):
        cuts = 0
        for start, length, kind in plan:
            if kind == "cut" and start <= t < start + length and inserts:
                footage, s0 = inserts[cuts % len(inserts)]
                return fit(footage.at(s0 + t - start), im.shape[1], im.shape[0])
            cuts += kind == "cut"
            if start <= t < start + length:
                if kind == "flash":
                    return np.full_like(im, 200)
                u = (t - start) / length
                gain = max(0.0, abs(2 * u - 1) * 1.5 - 0.5)  # 1 -> 0 (held) -> 1
                return (im.astype(np.float32) * gain).astype(np.uint8)
        return im

    return edit


def generator_look(rng: np.random.Generator):
    """What an image-to-video generator does to the picture besides moving the camera: a colour
    grade, softness and grain that breathe a little over time."""
    gain = rng.uniform(0.9, 1.12, 3)
    lift = rng.uniform(-12, 12, 3)
    sigma = rng.uniform(0.6, 1.4)
    grain = rng.uniform(2.0, 5.0)
    noise = np.random.default_rng(int(rng.integers(1 << 30)))

    def edit(im, t):
        out = cv2.GaussianBlur(im, (0, 0), sigma).astype(np.float32)
        out = out * gain * (1 + 0.04 * np.sin(2.3 * t)) + lift
        out += noise.normal(0, grain, out.shape)
        return np.clip(out, 0, 255).astype(np.uint8)

    return edit


def mirrored(edit):
    return lambda im, t: edit(np.ascontiguousarray(im[:, ::-1]), t)


def palette_edit(target: np.ndarray):
    """Give footage the palette of `target` (Reinhard's colour transfer in Lab): a work's look,
    none of its content."""
    lab_t = cv2.cvtColor(target, cv2.COLOR_RGB2LAB).reshape(-1, 3).astype(np.float32)
    mt, st = lab_t.mean(0), lab_t.std(0) + 1e-3

    def edit(im, t):
        lab = cv2.cvtColor(im, cv2.COLOR_RGB2LAB).astype(np.float32)
        flat = lab.reshape(-1, 3)
        m, s = flat.mean(0), flat.std(0) + 1e-3
        out = (lab - m) / s * st + mt
        return cv2.cvtColor(np.clip(out, 0, 255).astype(np.uint8), cv2.COLOR_LAB2RGB)

    return edit


def drawn_edit(levels: int = 6):
    """Make real footage look drawn: flattened colours, quantised, with dark outlines."""

    def edit(im, t):
        flat = im
        for _ in range(2):
            flat = cv2.bilateralFilter(flat, 7, 60, 7)
        step = 256 // levels
        flat = (flat // step) * step + step // 2
        gray = cv2.medianBlur(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), 5)
        edges = cv2.adaptiveThreshold(gray, 255, cv2.ADAPTIVE_THRESH_MEAN_C, cv2.THRESH_BINARY, 9, 4)
        return cv2.bitwise_and(flat.astype(np.uint8), cv2.cvtColor(edges, cv2.COLOR_GRAY2RGB))

    return edit


# -- hard copies: another master, a degraded stretch ----------------------------------------------
def master_edit(rng: np.random.Generator):
    """A copy made from another master of the same film (a DVD transfer, say): its own colour
    grade (a gamma and S-curve tone curve per channel, lifted blacks, a tint, more or less
    saturation), 4-10 % cropped off each side, the picture brought down to a low resolution
    (40-60 % of the frame's lines), softened and JPEG-compressed hard there, then scaled back
    up. The same parameters on every frame."""
    gamma = rng.uniform(0.6, 0.8) if rng.random() < 0.5 else rng.uniform(1.25, 1.6)
    contrast = rng.uniform(-0.6, 0.8)  # S-curve strength; negative flattens
    black = rng.uniform(0.0, 24.0)
    tint = rng.uniform(0.88, 1.12, 3)
    sat = rng.uniform(0.5, 0.8) if rng.random() < 0.5 else rng.uniform(1.25, 1.5)
    left, right, top, bottom = rng.uniform(0.04, 0.10, 4)
    lines = rng.uniform(0.4, 0.6)
    sigma = rng.uniform(0.4, 1.0)
    q = int(rng.integers(10, 21))
    x = np.arange(256, dtype=np.float32) / 255
    y = x**gamma
    y = y + contrast * (y * y * (3 - 2 * y) - y)
    lut = np.clip(black + (255 - black) * y[:, None] * tint[None, :], 0, 255).astype(np.uint8).reshape(256, 1, 3)
    luma = np.array([0.299, 0.587, 0.114], np.float32)

    def edit(im, t):
        h, w = im.shape[:2]
        out = cv2.LUT(np.ascontiguousarray(im), lut).astype(np.float32)
        grey = (out @ luma)[..., None]
        out = np.clip(grey + sat * (out - grey), 0, 255).astype(np.uint8)
        out = out[int(top * h) : h - int(bottom * h), int(left * w) : w - int(right * w)]
        low = (max(8, round(w * lines)), max(8, round(h * lines)))
        out = cv2.GaussianBlur(cv2.resize(out, low, interpolation=cv2.INTER_AREA), (0, 0), sigma)
        out = cv2.imdecode(cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, q])[1], cv2.IMREAD_UNCHANGED)
        return cv2.resize(out, (w, h), interpolation=cv2.INTER_LINEAR)

    return edit


def heavy_edit(kind: str, rng: np.random.Generator, background: Footage | None = None):
    """A degradation under which per-frame matching is expected to fail. `smear`: a strong
    blur, heavy noise and JPEG quality 5-10; `graded_overlay`: a heavy grade (crushed or
    blown tones, colour nearly gone, a strong tint) with a panel of other footage covering
    55-75 % of the frame."""
    noise = np.random.default_rng(int(rng.integers(1 << 30)))
    if kind == "smear":
        sigma, sd, q = rng.uniform(4.0, 7.0), rng.uniform(18.0, 30.0), int(rng.integers(5, 11))

        def smear(im, t):
            out = cv2.GaussianBlur(im, (0, 0), sigma).astype(np.float32) + noise.normal(0, sd, im.shape)
            out = np.clip(out, 0, 255).astype(np.uint8)
            return cv2.imdecode(cv2.imencode(".jpg", out, [cv2.IMWRITE_JPEG_QUALITY, q])[1], cv2.IMREAD_UNCHANGED)

        return smear
    if kind == "graded_overlay":
        gamma = rng.uniform(0.35, 0.5) if rng.random() < 0.5 else rng.uniform(2.0, 2.8)
        tint = rng.uniform(0.6, 1.3, 3)
        sat = rng.uniform(0.0, 0.25)
        area = rng.uniform(0.55, 0.75)
        aspect = rng.uniform(0.8, 1.25)  # the panel's shape relative to the frame's
        px, py = rng.uniform(0, 1, 2)
        bg_start = rng.uniform(0, max(0.0, background.duration - 12)) if background else 0.0
        lut = np.clip(255 * (np.arange(256, dtype=np.float32)[:, None] / 255) ** gamma * tint[None, :], 0, 255)
        lut3 = lut.astype(np.uint8).reshape(256, 1, 3)

        def graded_overlay(im, t):
            h, w = im.shape[:2]
            out = cv2.LUT(np.ascontiguousarray(im), lut3).astype(np.float32)
            grey = out.mean(axis=2, keepdims=True)
            out = np.clip(grey + sat * (out - grey), 0, 255).astype(np.uint8)
            pw = min(w, int(w * np.sqrt(area * aspect)))
            ph = min(h, int(h * area / (pw / w)))
            x, y = int(px * (w - pw)), int(py * (h - ph))
            panel = fit(background.at(bg_start + t), pw, ph) if background else np.full((ph, pw, 3), 40, np.uint8)
            out[y : y + ph, x : x + pw] = panel
            cv2.rectangle(out, (x, y), (x + pw - 1, y + ph - 1), (255, 255, 255), 2)
            return out

        return graded_overlay
    raise ValueError(kind)


def during(edit, start: float, seconds: float, inside):
    """`edit` on every frame, and `inside` on top of it from `start` for `seconds`."""
    return lambda im, t: inside(edit(im, t), t) if start <= t < start + seconds else edit(im, t)
