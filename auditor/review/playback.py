"""Video a browser can play, and a picture per clip for the queue.

Browsers play H.264, VP8, VP9 and AV1; a clip in another codec (MPEG-4 Part 2 `mp4v`, say)
would show a dead player. For such a clip the desk writes a playable copy once, VP8 in WebM with
OpenCV's bundled FFmpeg (no sound), under `proxies/` in the results folder, named by the
original's SHA-256, and says on the page that the copy is shown. The evidence stays the
original: its path and hash are untouched.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Callable
from pathlib import Path

from ..media.video import open_capture, open_writer

PLAYABLE = {"avc1", "h264", "x264", "vp80", "vp90", "vp08", "vp09", "av01"}
PROXIES = "proxies"
THUMBS = "thumbs"
NAMES = {"fmp4": "MPEG-4 Part 2 (mp4v)", "mp4v": "MPEG-4 Part 2 (mp4v)", "xvid": "MPEG-4 Part 2 (Xvid)",
         "divx": "MPEG-4 Part 2 (DivX)", "mjpg": "Motion JPEG", "hevc": "H.265/HEVC", "hvc1": "H.265/HEVC",
         "hev1": "H.265/HEVC"}  # OpenCV names MPEG-4 Part 2 by its decoder, FMP4
MAX_PROXY_SIDE = 960  # pixels: a copy to look at, not evidence

_locks: dict[str, threading.Lock] = {}
_locks_guard = threading.Lock()


def _lock(key: str) -> threading.Lock:
    with _locks_guard:
        return _locks.setdefault(key, threading.Lock())


def codec(path: Path) -> str:
    """The video codec's four-character code as OpenCV reports it, lower case ('' if unknown)."""
    import cv2

    cap = open_capture(path)
    try:
        if not cap.isOpened():
            return ""
        code = int(cap.get(cv2.CAP_PROP_FOURCC))
    finally:
        cap.release()
    return "".join(chr((code >> 8 * i) & 0xFF) for i in range(4)).strip("\0 ").lower()


def needs_proxy(path: Path) -> str | None:
    """The clip's codec in words when browsers cannot play it, else None."""
    found = codec(path)
    if found in PLAYABLE:
        return None
    return NAMES.get(found, found or "an unknown codec")


def proxy_path(results: Path, sha256: str) -> Path:
    return results / PROXIES / f"{sha256[:32]}.webm"


def make_proxy(src: Path, results: Path, sha256: str, progress: Callable[[int], None] | None = None) -> Path:
    """The playable copy of `src` (made once, atomically, one maker at a time); `progress(frames
    written)` is told as it goes."""
    import cv2

    out = proxy_path(results, sha256)
    with _lock(str(out)):
        if out.is_file():
            return out
        out.parent.mkdir(exist_ok=True)
        cap = open_capture(src)
        fps = cap.get(cv2.CAP_PROP_FPS) or 25.0
        fps = fps if 1 <= fps <= 120 else 25.0
        tmp = out.parent / f".{out.stem}.{os.getpid()}.{threading.get_ident()}.webm"  # hidden: never served half written
        writer = None
        written = 0
        try:
            while True:
                ok, frame = cap.read()
                if not ok:
                    break
                h, w = frame.shape[:2]
                scale = min(1.0, MAX_PROXY_SIDE / max(w, h))
                size = (max(2, int(w * scale) // 2 * 2), max(2, int(h * scale) // 2 * 2))
                if writer is None:
                    writer = open_writer(tmp, "VP80", fps, size)
                    if not writer.isOpened():
                        raise RuntimeError("OpenCV could not open a VP8 WebM writer")
                if (w, h) != size:
                    frame = cv2.resize(frame, size, interpolation=cv2.INTER_AREA)
                writer.write(frame)
                written += 1
                if progress is not None and written % 10 == 0:
                    progress(written)
            if writer is None:
                raise RuntimeError("no frame could be decoded")
            writer.release()
            writer = None
            os.replace(tmp, out)
        finally:
            cap.release()
            if writer is not None:
                writer.release()
            tmp.unlink(missing_ok=True)
    return out


def thumbnail(src: Path, results: Path, sha256: str, at: float) -> Path | None:
    """A small JPEG of the clip at `at` seconds (made once), for a clip without exhibit pictures."""
    import cv2

    out = results / THUMBS / f"{sha256[:32]}.jpg"
    with _lock(str(out)):
        if out.is_file():
            return out
        cap = open_capture(src)
        try:
            cap.set(cv2.CAP_PROP_POS_MSEC, max(0.0, at) * 1000)
            ok, frame = cap.read()
            if not ok:
                cap.set(cv2.CAP_PROP_POS_MSEC, 0)
                ok, frame = cap.read()
        finally:
            cap.release()
        if not ok:
            return None
        h, w = frame.shape[:2]
        scale = 160 / max(w, h)
        frame = cv2.resize(frame, (max(1, int(w * scale)), max(1, int(h * scale))), interpolation=cv2.INTER_AREA)
        ok, data = cv2.imencode(".jpg", frame, [cv2.IMWRITE_JPEG_QUALITY, 80])
        if not ok:
            return None
        out.parent.mkdir(exist_ok=True)
        tmp = out.parent / f".{out.stem}.{os.getpid()}.{threading.get_ident()}.jpg"
        tmp.write_bytes(data.tobytes())
        os.replace(tmp, out)
    return out

