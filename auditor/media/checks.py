"""Checks on an input before and while it is decoded: a regular readable file, within the
`[limits]` on size, and large enough to compare. Each failure is an InputError or LimitExceeded
naming the file and the problem in one line."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from ..errors import InputError, LimitExceeded
from ..names import is_text
from ..settings import Limits

# The shorter side of a sampled frame (after downscaling to sampling.max_side) must be at least
# this many pixels: below it no channel sees anything (ORB's pyramid and PDQ's 64x64 grid need
# more), so a 1x1 clip or an 8000x16 banner is refused rather than reported as "no match".
MIN_SAMPLED_SIDE = 16

_NOT_REGULAR = ((stat.S_ISFIFO, "a FIFO (named pipe)"), (stat.S_ISSOCK, "a socket"), (stat.S_ISCHR, "a character device"),
                (stat.S_ISBLK, "a block device"))


def not_a_file(path: Path) -> str | None:
    """Why `path` is not a regular file that can be read (missing, a folder, a FIFO...), or None.
    Never opens it: opening a FIFO would wait for a writer."""
    try:
        st = path.stat()
    except FileNotFoundError:
        return "no such file"
    except OSError as exc:
        return f"cannot read: {exc.strerror or exc}"
    if stat.S_ISDIR(st.st_mode):
        return "is a directory, not a file"
    if not stat.S_ISREG(st.st_mode):
        what = next((name for test, name in _NOT_REGULAR if test(st.st_mode)), "a special file")
        return f"is {what}, not a regular file"
    return None


def check_file(path: Path, limits: Limits) -> int:
    if not is_text(path):
        # OpenCV's FFmpeg reader crashes the process on such a name; the scanner opens the file
        # under a safe name instead (scan/scanner.py)
        raise InputError(path, "the file name is not valid UTF-8 (shown with \\x escapes): rename the file")
    problem = not_a_file(path)
    if problem:
        raise InputError(path, problem)
    size = path.stat().st_size
    if size == 0:
        raise InputError(path, "empty file")
    if size > limits.max_file_bytes:
        raise LimitExceeded(path, f"file is {size} bytes, over the limit of {limits.max_file_bytes}")
    if not os.access(path, os.R_OK):
        raise InputError(path, "not readable (permission denied)")
    return size


def check_size(path: Path, width: int, height: int, limits: Limits, what: str, max_side: int | None = None) -> None:
    if width > limits.max_width or height > limits.max_height:
        raise LimitExceeded(
            path,
            f"{what} is {width}x{height}, over the limit of "
            f"{limits.max_width}x{limits.max_height}",
        )
    if width * height > limits.max_pixels:
        raise LimitExceeded(
            path, f"{what} has {width * height} pixels, over the limit of {limits.max_pixels}"
        )
    if max_side is not None and width > 0 and height > 0:
        short = min(width, height) * min(1.0, max_side / max(width, height))
        if short < MIN_SAMPLED_SIDE:
            raise InputError(
                path, f"{what} is {width}x{height}: too small or too narrow to compare (downscaled to "
                      f"{max_side} px its shorter side would be {short:.1f} px; at least {MIN_SAMPLED_SIDE} are needed)"
            )
