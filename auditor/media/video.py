"""OpenCV's video reader and writer, opened in one place so that OpenCV and FFmpeg stay quiet.

OpenCV's own log lines ("[ WARN:0@0.215] global cap.cpp ...") and FFmpeg's ("moov atom not
found") go straight to stderr from C++, between auditor's one-line messages; every failure they
describe already reaches the user as that input's one line with its reason. OpenCV's level is
set through its API; FFmpeg's is read by OpenCV from the environment when it first starts FFmpeg,
so it is set before the first clip is opened (worker processes inherit it). A user's own
OPENCV_LOG_LEVEL or OPENCV_FFMPEG_LOGLEVEL wins.
"""

from __future__ import annotations

import os
from functools import cache

import cv2


@cache
def quiet() -> None:
    """Keep OpenCV's and FFmpeg's log lines off stderr (once a process)."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    if "OPENCV_LOG_LEVEL" not in os.environ:
        cv2.utils.logging.setLogLevel(cv2.utils.logging.LOG_LEVEL_ERROR)


def open_capture(path, *args) -> cv2.VideoCapture:
    """`cv2.VideoCapture(str(path), *args)`, quietly."""
    quiet()
    return cv2.VideoCapture(str(path), *args)


def open_writer(path, fourcc: str, fps: float, size: tuple[int, int]) -> cv2.VideoWriter:
    """`cv2.VideoWriter` for `path` with a four-character codec code, quietly."""
    quiet()
    return cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*fourcc), fps, size)
