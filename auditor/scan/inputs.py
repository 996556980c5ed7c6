"""The clips a batch scans: files, folders, glob patterns and lists of paths, each once."""

from __future__ import annotations

import glob
import os
import sys
from collections import Counter
from collections.abc import Callable, Iterable
from pathlib import Path

from ..errors import UsageError
from ..media.reader import STILL_SUFFIXES
from ..names import printable

VIDEO_SUFFIXES = {".mp4", ".mov", ".m4v", ".mkv", ".webm", ".avi", ".gif", ".mpg", ".mpeg", ".ts", ".flv", ".wmv", ".3gp"}
MEDIA_SUFFIXES = VIDEO_SUFFIXES | STILL_SUFFIXES


def expand_inputs(args: Iterable[str | Path], from_list: str | None = None, stdin=None) -> list[Path]:
    """Paths to scan, in the order given, each once. Folders are searched recursively for media
    files; patterns with * ? [ are expanded; a path that does not exist is kept (it becomes an
    error row naming it) unless it is a pattern that matches nothing (a usage error)."""
    items: list[str] = [str(a) for a in args]
    if from_list is not None:
        if from_list == "-":
            lines = (stdin or sys.stdin).read().splitlines()
        else:
            try:
                lines = Path(from_list).read_text(encoding="utf-8").splitlines()
            except OSError as exc:
                raise UsageError(f"--from-list {from_list}: cannot read ({exc.strerror or exc})") from None
        items += [ln.strip() for ln in lines if ln.strip() and not ln.lstrip().startswith("#")]
    out: list[Path] = []
    seen: set[str] = set()

    def add(p: Path) -> None:
        key = os.path.abspath(p)
        if key not in seen:
            seen.add(key)
            out.append(p)

    for item in items:
        p = Path(item)
        if p.is_dir():
            for f in sorted(p.rglob("*")):
                if (f.is_file() and f.suffix.lower() in MEDIA_SUFFIXES
                        and not any(part.startswith(".") for part in f.relative_to(p).parts)):
                    add(f)
        elif not p.exists() and any(c in item for c in "*?["):
            matches = sorted(glob.glob(item, recursive=True))
            if not matches:
                raise UsageError(f"{item}: the pattern matches no file")
            for m in matches:
                if Path(m).is_file():
                    add(Path(m))
        else:
            add(p)
    return out


def query_ids(paths: list[Path], taken: Callable[[str, int], bool] = lambda qid, i: False) -> list[str]:
    """File stems, made unique where two inputs share a stem (`stem-1`, `stem-2`, ... skipping any id
    another input's stem is, or that `taken(id, input's place)` says belongs to another clip); a
    stem that is not UTF-8 in its escaped form (names.py)."""
    stems = [printable(p.stem) for p in paths]
    counts = Counter(stems)
    used = {s for s in stems if counts[s] == 1}  # a stem of its own is never given to another input
    out = []
    for i, stem in enumerate(stems):
        own = stem if counts[stem] == 1 else None
        qid, n = (stem, 0) if own else (f"{stem}-1", 1)
        while (qid != own and qid in used) or taken(qid, i):
            n += 1
            qid = f"{stem}-{n}"
        used.add(qid)
        out.append(qid)
    return out


def longest_first(todo: list[tuple[Path, str]]) -> list[tuple[Path, str]]:
    """Larger files first (a clip's size stands in for its length, without opening it here):
    workers then finish together rather than one scanning a long clip alone at the end."""

    def size(item: tuple[Path, str]) -> int:
        try:
            return item[0].stat().st_size
        except OSError:
            return 0

    return sorted(todo, key=size, reverse=True)
