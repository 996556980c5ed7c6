"""File names as text: any name the operating system gives, written to JSON, CSV and terminals.

On Linux a file name is bytes; Python hands names that are not UTF-8 over as strings holding
lone surrogates (PEP 383), which no UTF-8 writer accepts and which some libraries (OpenCV's
FFmpeg reader) crash on. `printable` gives such a name in its documented escaped form: each
byte that is not part of valid UTF-8 is written `\\xNN` (Python's "backslashreplace"), the rest
unchanged, so `bad_\\xff\\xfe.mp4` names the file whose name holds the bytes FF FE there. A name
that is valid UTF-8 is returned as it is.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path


def is_text(name) -> bool:
    """Whether the name is valid UTF-8 (safe to hand to any library and to write as text)."""
    name = os.fspath(name)
    try:
        name.decode("utf-8") if isinstance(name, bytes) else name.encode("utf-8")
    except UnicodeError:
        return False
    return True


def printable(name) -> str:
    """The name as text: unchanged when it is valid UTF-8, else with `\\xNN` for each bad byte."""
    name = os.fspath(name)
    if isinstance(name, str):
        if is_text(name):
            return name
        raw = name.encode("utf-8", "surrogateescape") if _escaped_only(name) else name.encode("utf-8", "backslashreplace")
    else:
        raw = name
    return raw.decode("utf-8", "backslashreplace")


def _escaped_only(name: str) -> bool:
    """Whether every surrogate in `name` stands for one undecodable byte (PEP 383)."""
    return all(not (0xD800 <= ord(c) <= 0xDFFF) or 0xDC80 <= ord(c) <= 0xDCFF for c in name)


@contextlib.contextmanager
def text_named(path) -> Iterator[Path]:
    """`path` itself when its name is valid UTF-8; otherwise a symbolic link to it with a safe
    name (same suffix when that is text) in a temporary folder, removed afterwards. Libraries that
    cannot take the name (OpenCV, C2PA) read the file through the link."""
    path = Path(path)
    if is_text(path):
        yield path
        return
    suffix = path.suffix if is_text(path.suffix) else ""
    with tempfile.TemporaryDirectory(prefix="auditor-name-") as folder:
        link = Path(folder) / f"input{suffix}"
        os.symlink(os.path.abspath(path), link)
        yield link
