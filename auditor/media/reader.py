"""Reading clips and stills with OpenCV: frames at a chosen rate, with true timestamps.

Every frame that leaves this module is RGB uint8, downscaled so its longer side is at most
`sampling.max_side`, and carries the time (seconds) at which the source shows it. Rotation
metadata is applied by OpenCV's FFmpeg backend; variable frame rate is handled by reading each
frame's own timestamp instead of assuming a constant rate.

Limits in the `[limits]` config table bound what one hostile input can make us allocate or
decode; an input over a limit raises `LimitExceeded` naming the file and the limit.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from reference_index.store import sha256_file

from ..errors import InputError, LimitExceeded
from ..settings import Configuration
from . import animated
from .checks import MIN_SAMPLED_SIDE, check_file, check_size, not_a_file  # noqa: F401 - not_a_file, MIN_SAMPLED_SIDE re-exported
from .video import open_capture

STILL_SUFFIXES = {".png", ".jpg", ".jpeg", ".webp", ".bmp", ".tif", ".tiff"}


Box = tuple[float, float, float, float]  # (x0, y0, x1, y1) as shares of a still's width and height


@dataclass
class Frame:
    """One sampled frame: its position among the samples, its time, its RGB pixels, and for a
    tile of a still the region of the still it shows."""

    index: int
    t: float
    image: np.ndarray
    box: Box | None = None


def tile_boxes(levels) -> list[Box]:
    """Regions a still is indexed by besides the whole: for each level n, tiles of 1/n of its
    width and height at half-tile steps ((2n-1)^2 of them), so any region of the still down to
    about 1/n^2 of its area lies mostly inside one tile at a similar scale."""
    boxes: list[Box] = []
    for n in levels:
        n = int(n)
        if n < 2:
            continue
        size, steps = 1.0 / n, 2 * n - 1
        for row in range(steps):
            for col in range(steps):
                x0, y0 = col * size / 2, row * size / 2
                boxes.append((round(x0, 6), round(y0, 6), round(x0 + size, 6), round(y0 + size, 6)))
    return boxes


def crop_box(image: np.ndarray, box: Box | None) -> np.ndarray:
    """The region `box` of an image (all of it for None)."""
    if box is None:
        return image
    h, w = image.shape[:2]
    x0, y0, x1, y1 = box
    return image[int(round(y0 * h)) : max(int(round(y0 * h)) + 1, int(round(y1 * h))),
                 int(round(x0 * w)) : max(int(round(x0 * w)) + 1, int(round(x1 * w)))]


@dataclass
class MediaInfo:
    """What we know of one input file. Filled as far as possible before decoding starts."""

    path: str
    kind: str  # "video" or "still"
    sha256: str
    size_bytes: int
    width: int = 0
    height: int = 0
    fps: float = 0.0
    duration_s: float = 0.0
    frames_decoded: int = 0
    frames_sampled: int = 0
    rotation: int = 0
    reported_frame_count: int = 0
    warnings: list[str] = field(default_factory=list)

    def to_dict(self) -> dict:
        return {
            "path": self.path,
            "kind": self.kind,
            "sha256": self.sha256,
            "size_bytes": self.size_bytes,
            "width": self.width,
            "height": self.height,
            "fps": round(self.fps, 6),
            "duration_s": round(self.duration_s, 6),
            "frames_decoded": self.frames_decoded,
            "frames_sampled": self.frames_sampled,
            "rotation": self.rotation,
            "warnings": list(self.warnings),
        }


THUMB = 32  # side of the grey thumbnails held frames and guided comparison look at


def grey_thumbnail(rgb: np.ndarray) -> np.ndarray:
    """A THUMB x THUMB grey thumbnail (uint8, area-averaged) of a sampled RGB frame."""
    return cv2.resize(cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY), (THUMB, THUMB), interpolation=cv2.INTER_AREA)


def _thumb(image: np.ndarray) -> np.ndarray:
    """A 32x32 grey thumbnail (for telling cuts), from a BGR or RGB frame."""
    small = cv2.resize(image, (32, 32), interpolation=cv2.INTER_AREA)
    return small.astype(np.float32).mean(axis=2)


def is_still(path: str | Path) -> bool:
    return Path(path).suffix.lower() in STILL_SUFFIXES


# How frames are brought to `sampling.max_side`; channels name it in their fingerprints.
DOWNSCALE_METHOD = ("INTER_AREA, by the whole factor k = side // max_side first when k >= 2; "
                    "the rest INTER_LINEAR when at most 1.5x")
LINEAR_REST_MAX = 1.5


def frame_input(config: Configuration) -> str:
    """The frames every channel receives, as its fingerprint names them."""
    return f"RGB, longer side <= {config.sampling.max_side} px ({DOWNSCALE_METHOD})"


def downscale(image: np.ndarray, max_side: int) -> np.ndarray:
    """Area-average the image down so that its longer side is at most `max_side`.

    When the image is at least twice too large, k x k blocks are averaged first (k the whole
    factor; OpenCV's fast path, the last h % k rows and w % k columns dropped), then the rest
    of the way, bilinearly when that is at most 1.5x (720p and 1080p: 1.25x; area averaging
    there is OpenCV's slow path, four times the cost of the first step): the same picture as one
    INTER_AREA resize to within a fraction of a grey level (tested), at a quarter of its cost
    for HD frames.
    """
    h, w = image.shape[:2]
    side = max(h, w)
    if side <= max_side:
        return image
    scale = max_side / side
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    k = side // max_side
    if k >= 2 and min(h, w) >= 2 * k:
        image = cv2.resize(image[: h - h % k, : w - w % k], (w // k, h // k), interpolation=cv2.INTER_AREA)
    rest = max(image.shape[:2]) / max(size)
    return cv2.resize(image, size, interpolation=cv2.INTER_LINEAR if rest <= LINEAR_REST_MAX else cv2.INTER_AREA)


class MediaReader:
    """Opens one clip or still and yields its frames at `fps` samples per second.

    `info` is filled on construction (checksum, container properties, limits checked) and
    completed while frames are read (frames decoded, duration actually seen).
    """

    def __init__(self, path: str | Path, fps: float, config: Configuration, still_tiles=(), dense_when_short: bool = False):
        """`still_tiles`: levels of tiles a still also yields (see tile_boxes); none for queries.
        `dense_when_short`: a suspect clip, sampled densely when short (`sampling.query.short_clip_s`): its
        rate raised to `short_clip_fps`, its last frame and the first frame after each cut added."""
        self.path = Path(path)
        self.still_tiles = tuple(still_tiles)
        self.fps = float(fps)
        if self.fps <= 0:
            raise ValueError("sampling fps must be positive")
        self.limits = config.limits
        self.max_side = int(config.sampling.max_side)
        self.decode_threads = int(config.sampling.decode_threads)
        size = check_file(self.path, self.limits)
        try:
            digest = sha256_file(self.path)
        except OSError as exc:
            raise InputError(self.path, f"cannot read: {exc.strerror or exc}") from exc
        # an animated GIF, WebP or PNG is a clip read with its own frame timing (media/animated.py)
        n = animated.frame_count(self.path)
        self.animated = n > 1 or (n == 1 and self.path.suffix.lower() == ".gif")
        kind = "video" if self.animated or not is_still(self.path) else "still"
        self.info = MediaInfo(path=str(self.path), kind=kind, sha256=digest, size_bytes=size)
        if kind == "still":
            self._probe_still()
        elif self.animated:
            self._probe_animated()
        else:
            self._probe_video()
        q = config.sampling.query
        stated = self.info.duration_s or (self.info.reported_frame_count / self.info.fps if self.info.fps else 0.0)
        self.dense = bool(dense_when_short and kind == "video" and 0 < stated < float(q.short_clip_s))
        self.cut_min_diff = float(q.cut_min_diff)
        if self.dense:
            self.fps = max(self.fps, float(q.short_clip_fps))

    # -- stills -------------------------------------------------------------------------
    def _probe_still(self) -> None:
        import warnings

        from PIL import Image, UnidentifiedImageError

        try:
            with warnings.catch_warnings():
                # our own limits, checked below, decide; PIL's bomb warning would only be noise
                warnings.simplefilter("ignore", Image.DecompressionBombWarning)
                with Image.open(self.path) as im:  # reads the header only
                    width, height = im.size
        except Image.DecompressionBombError as exc:
            # PIL refuses headers over twice its own pixel limit before telling us the size
            claimed = re.search(r"\((\d+) pixels\)", str(exc))
            raise LimitExceeded(self.path, f"image header claims {claimed.group(1) if claimed else 'more'} pixels, "
                                           f"over the limit of {self.limits.max_pixels}") from None
        except (UnidentifiedImageError, OSError, ValueError, SyntaxError) as exc:
            raise InputError(self.path, "not a readable image") from exc
        check_size(self.path, width, height, self.limits, "image", self.max_side)
        self.info.width, self.info.height = width, height

    def _still_frames(self) -> Iterator[Frame]:
        # imdecode from bytes rather than imread: works for any path encoding; EXIF
        # orientation is applied by IMREAD_COLOR.
        data = np.frombuffer(self.path.read_bytes(), dtype=np.uint8)
        bgr = cv2.imdecode(data, cv2.IMREAD_COLOR)
        if bgr is None or bgr.size == 0:
            raise InputError(self.path, "image could not be decoded (truncated or corrupt)")
        h, w = bgr.shape[:2]
        check_size(self.path, w, h, self.limits, "image", self.max_side)
        self.info.width, self.info.height = w, h
        self.info.frames_decoded = 1
        boxes = [None] + tile_boxes(self.still_tiles)
        self.info.frames_sampled = len(boxes)
        for i, box in enumerate(boxes):
            rgb = cv2.cvtColor(downscale(crop_box(bgr, box), self.max_side), cv2.COLOR_BGR2RGB)
            yield Frame(index=i, t=0.0, image=rgb, box=box)

    # -- animated images -----------------------------------------------------------------
    def _probe_animated(self) -> None:
        width, height, n, duration, _loop = animated.probe(
            self.path, self.limits, lambda w, h: check_size(self.path, w, h, self.limits, "animated image", self.max_side))
        self.info.width, self.info.height = width, height
        self.info.reported_frame_count = n
        self.info.duration_s = duration
        self.info.fps = n / duration if duration > 0 else 0.0

    def _animated_frames(self) -> Iterator[Frame]:
        step = 1.0 / self.fps
        next_target, decoded, sampled = 0.0, 0, 0
        last_thumb: np.ndarray | None = None
        try:
            frames = animated.frames(self.path)
            for k, (t, shown, rgb) in enumerate(frames):
                decoded += 1
                end = t + shown
                # a frame stands for every sampling instant while it is shown (a held frame is
                # embedded once: sampling.held_frame_max_diff); dense, also after a cut and at the end
                instants = []
                while next_target < end - 1e-9:
                    instants.append(max(next_target, t))
                    next_target += step
                if self.dense:
                    thumb = _thumb(rgb)
                    cut = last_thumb is not None and float(np.abs(thumb - last_thumb).mean()) >= self.cut_min_diff
                    last_thumb = thumb
                    if not instants and (cut or k == self.info.reported_frame_count - 1):
                        instants = [t]
                if not instants:
                    continue
                h, w = rgb.shape[:2]
                check_size(self.path, w, h, self.limits, "decoded frame", self.max_side)
                image = downscale(np.ascontiguousarray(rgb), self.max_side)
                for at in instants:
                    sampled += 1
                    if sampled > self.limits.max_sampled_frames:
                        raise LimitExceeded(self.path, f"more than {self.limits.max_sampled_frames} sampled frames")
                    yield Frame(index=sampled - 1, t=round(at, 6), image=image)
        finally:
            self.info.frames_decoded = decoded
            self.info.frames_sampled = sampled
        if decoded == 0:
            raise InputError(self.path, "no decodable frames (empty, truncated or not an animated image)")

    # -- videos -------------------------------------------------------------------------
    def _open_capture(self) -> cv2.VideoCapture:
        threads = [cv2.CAP_PROP_N_THREADS, self.decode_threads] if self.decode_threads > 0 else []
        cap = open_capture(self.path, cv2.CAP_FFMPEG, threads)
        if not cap.isOpened():
            cap.release()
            raise InputError(
                self.path, "not a readable video (FFmpeg could not open it: corrupt, truncated or not a video)"
            )
        # Apply rotation metadata (phones record portrait video as rotated landscape).
        cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
        return cap

    def _probe_video(self) -> None:
        cap = self._open_capture()
        try:
            width = int(cap.get(cv2.CAP_PROP_FRAME_WIDTH))
            height = int(cap.get(cv2.CAP_PROP_FRAME_HEIGHT))
            fps = float(cap.get(cv2.CAP_PROP_FPS) or 0.0)
            count = int(cap.get(cv2.CAP_PROP_FRAME_COUNT) or 0)
            rotation = int(cap.get(cv2.CAP_PROP_ORIENTATION_META) or 0)
        finally:
            cap.release()
        check_size(self.path, width, height, self.limits, "video", self.max_side)
        if rotation in (90, 270, -90):
            width, height = height, width
        if not (0 < fps < 1000):
            fps = 0.0  # unknown; timestamps from the stream are used instead
        # What the container states is checked before any frame is decoded: a 5-hour clip is
        # refused now, not after minutes of decoding. (A header can lie; decoding checks again.)
        if count > self.limits.max_decoded_frames:
            raise LimitExceeded(self.path, f"the container states {count} frames, over the limit of "
                                           f"{self.limits.max_decoded_frames}")
        if fps > 0 and count > 0 and count / fps > self.limits.max_duration_s:
            raise LimitExceeded(self.path, f"the container states {count / fps:.0f} s, longer than the limit of "
                                           f"{self.limits.max_duration_s:.0f} s")
        self.info.width, self.info.height, self.info.fps = width, height, fps
        self.info.rotation = rotation
        self.info.reported_frame_count = max(count, 0)

    def _video_frames(self) -> Iterator[Frame]:
        limits = self.limits
        cap = self._open_capture()
        step = 1.0 / self.fps
        native = self.info.fps or 25.0
        half_native = 0.5 / native
        next_target = 0.0
        decoded = 0
        sampled = 0
        last_t = -1.0
        last_thumb: np.ndarray | None = None
        pending: tuple[float, np.ndarray] | None = None  # dense: the latest frame decoded and not yielded
        try:
            while True:
                if not cap.grab():
                    break
                decoded += 1
                if decoded > limits.max_decoded_frames:
                    raise LimitExceeded(
                        self.path, f"more than {limits.max_decoded_frames} frames in the stream"
                    )
                t = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000.0
                # Some containers give no usable timestamps: fall back to the nominal rate.
                if not np.isfinite(t) or t <= last_t or t < 0:
                    t = (decoded - 1) / native if last_t < 0 else last_t + 1.0 / native
                last_t = t
                if t > limits.max_duration_s:
                    raise LimitExceeded(
                        self.path, f"longer than the limit of {limits.max_duration_s:.0f} s"
                    )
                due = t + half_native >= next_target
                if not due and not self.dense:
                    continue
                ok, bgr = cap.retrieve()
                if not ok or bgr is None:
                    continue
                if self.dense:  # every frame is looked at: cuts, and the last frame
                    thumb = _thumb(bgr)
                    cut = last_thumb is not None and float(np.abs(thumb - last_thumb).mean()) >= self.cut_min_diff
                    last_thumb = thumb
                    if not due and not cut:
                        pending = (t, bgr)
                        continue
                pending = None
                h, w = bgr.shape[:2]
                check_size(self.path, w, h, limits, "decoded frame", self.max_side)
                sampled += 1
                if sampled > limits.max_sampled_frames:
                    raise LimitExceeded(
                        self.path, f"more than {limits.max_sampled_frames} sampled frames"
                    )
                if sampled == 1 and (w, h) != (self.info.width, self.info.height):
                    self.info.width, self.info.height = w, h
                rgb = cv2.cvtColor(downscale(bgr, self.max_side), cv2.COLOR_BGR2RGB)
                yield Frame(index=sampled - 1, t=round(t, 6), image=rgb)
                while next_target <= t + half_native:
                    next_target += step
            if pending is not None:  # the last frame, which generators fill with the image they were given
                t, bgr = pending
                h, w = bgr.shape[:2]
                check_size(self.path, w, h, limits, "decoded frame", self.max_side)
                sampled += 1
                rgb = cv2.cvtColor(downscale(bgr, self.max_side), cv2.COLOR_BGR2RGB)
                yield Frame(index=sampled - 1, t=round(t, 6), image=rgb)
        finally:
            cap.release()
            self.info.frames_decoded = decoded
            self.info.frames_sampled = sampled
            if last_t >= 0:
                self.info.duration_s = last_t + 1.0 / native
        if decoded == 0:
            raise InputError(self.path, "no decodable frames (empty, truncated or not a video)")
        if self.info.fps == 0.0 and last_t > 0:
            self.info.fps = (decoded - 1) / last_t if decoded > 1 else 0.0
        reported = self.info.reported_frame_count
        if native and reported and decoded < 0.5 * reported and reported - decoded > native:
            # Frame counts in headers are often wrong, so this is a note, not a failure.
            self.info.warnings.append(
                f"decoded {decoded} frames of the {reported} the container reports (truncated stream or wrong header)"
            )

    def frames(self) -> Iterator[Frame]:
        """Sampled frames in time order. Raises InputError/LimitExceeded for bad inputs."""
        if self.info.kind == "still":
            yield from self._still_frames()
        elif self.animated:
            yield from self._animated_frames()
        else:
            try:
                yield from self._video_frames()
            except cv2.error as exc:
                raise InputError(self.path, f"decoding failed: {exc.err or exc}") from exc
