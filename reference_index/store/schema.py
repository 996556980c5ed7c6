"""What a manifest.json must look like before anything in it is believed.

The manifest names the files a reader opens and the checksums they are verified against; a
manifest of the wrong shape (a JSON array, no channels, a count below zero, a file name that
climbs out of its generation's folder) is refused here with the key and what is wrong, rather
than failing later as a KeyError or, worse, being used. Keys this version does not know are
ignored (a later minor version may add some); the keys it knows must have the right type.
"""

from __future__ import annotations

import re

from ..errors import IndexCorrupt
from ..search.vectors import METRICS, STRUCTURES

SHA256 = re.compile(r"[0-9a-f]{64}")
# a file of a generation is a plain name inside the generation's folder
FILE_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_.\-]{0,127}")
CHANNEL_NAME = re.compile(r"[A-Za-z0-9_][A-Za-z0-9_\-]{0,63}")
COUNTS = ("works", "videos", "frames")
PER_FRAME = ("one", "many")


class _Refusal(Exception):
    def __init__(self, key: str, problem: str):
        super().__init__(f"{key}: {problem}")


def _whole(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _need(obj: dict, key: str, where: str):
    if key not in obj:
        raise _Refusal(f"{where}{key}", "missing")
    return obj[key]


def _count(obj: dict, key: str, where: str, least: int = 0) -> int:
    value = _need(obj, key, where)
    if not _whole(value) or value < least:
        raise _Refusal(f"{where}{key}", f"{value!r}, must be a whole number >= {least}")
    return value


def _text(obj: dict, key: str, where: str, pattern: re.Pattern | None = None, optional: bool = False):
    if optional and obj.get(key) is None:
        return None
    value = _need(obj, key, where)
    if not isinstance(value, str) or not value or (pattern is not None and not pattern.fullmatch(value)):
        what = f"must match {pattern.pattern}" if pattern is not None else "must be a non-empty string"
        raise _Refusal(f"{where}{key}", f"{str(value)[:80]!r}, {what}")
    return value


def _table(obj: dict, key: str, where: str) -> dict:
    value = _need(obj, key, where)
    if not isinstance(value, dict):
        raise _Refusal(f"{where}{key}", f"a {type(value).__name__}, must be an object")
    return value


def _file_entry(entry: dict, where: str) -> str:
    name = _text(entry, "file", where, FILE_NAME)
    _text(entry, "sha256", where, SHA256)
    _count(entry, "bytes", where)
    return name


def _channel(name: str, spec, where: str) -> None:
    if not CHANNEL_NAME.fullmatch(name):
        raise _Refusal(where.rstrip("."), f"channel name {name[:80]!r} must match {CHANNEL_NAME.pattern}")
    if not isinstance(spec, dict):
        raise _Refusal(where.rstrip("."), f"a {type(spec).__name__}, must be an object")
    metric = _text(spec, "metric", where)
    if metric not in METRICS:
        raise _Refusal(f"{where}metric", f"{metric!r}, known: {', '.join(METRICS)}")
    dim = _count(spec, "dim", where, least=1)
    if metric == "hamming" and dim % 8:
        raise _Refusal(f"{where}dim", f"{dim}, a binary channel's dimension is a multiple of 8")
    if spec.get("per_frame", "one") not in PER_FRAME:
        raise _Refusal(f"{where}per_frame", f"{spec['per_frame']!r}, known: {', '.join(PER_FRAME)}")
    fingerprint = _table(spec, "fingerprint", where)
    _text(fingerprint, "id", f"{where}fingerprint.")
    _count(spec, "count", where)
    if spec.get("nprobe") is not None:
        _count(spec, "nprobe", where, least=1)
    _text(spec, "structure", where, optional=True)
    _text(spec, "factory", where, optional=True)
    kind = _text(spec, "kind", where, optional=True)
    if kind is not None and kind not in STRUCTURES:
        raise _Refusal(f"{where}kind", f"{kind!r}, known structures: {', '.join(STRUCTURES)}")


def _check(manifest) -> None:
    if not isinstance(manifest, dict):
        raise _Refusal("(top level)", f"a JSON {type(manifest).__name__}, must be an object")
    _count(manifest, "generation", "", least=1)
    _text(manifest, "index_id", "")
    files = {}
    cat = _table(manifest, "catalogue", "")
    files["catalogue"] = _file_entry(cat, "catalogue.")
    counts = _table(cat, "counts", "catalogue.")
    for key in COUNTS:
        _count(counts, key, "catalogue.counts.")
    channels = _table(manifest, "channels", "")
    if not channels:
        raise _Refusal("channels", "empty, an index has at least one channel")
    for name, spec in channels.items():
        where = f"channels.{name}."
        _channel(name, spec, where)
        files[where.rstrip(".")] = _file_entry(spec, where)
        if spec.get("per_frame", "one") == "one" and spec["count"] > counts["frames"]:
            raise _Refusal(f"{where}count", f"{spec['count']} vectors, more than the {counts['frames']} frames "
                                            "(one vector a frame at most)")
    if manifest.get("calibration") is not None:
        files["calibration"] = _file_entry(_table(manifest, "calibration", ""), "calibration.")
    seen: dict[str, str] = {}
    for key, name in files.items():
        if name in seen:
            raise _Refusal(f"{key}.file", f"{name!r} is also the file of {seen[name]}")
        seen[name] = key
    if counts["videos"] > 0 and counts["works"] == 0:
        raise _Refusal("catalogue.counts.works", "0 works holding videos")


def validate_manifest(manifest, where: str) -> None:
    """Refuse (IndexCorrupt) a manifest whose shape this tool cannot trust; `where` names it."""
    try:
        _check(manifest)
    except _Refusal as exc:
        raise IndexCorrupt(f"{where}: {exc} (damaged or edited)") from None
