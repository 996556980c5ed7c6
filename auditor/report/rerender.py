"""Rendering a report again from what it carries, to show its pages are the evidence's.

A report's pages are made from its evidence alone, and the same evidence, options and renderer
give the same bytes (pdf.py). So `verify` renders the attached evidence again with the attached
exhibit frames and the options the report records, and compares: an unsigned report must be
those bytes exactly, a signed one must begin with them (its signature is an update after them).
Text edited on a page, a title changed in the document information, a page swapped: each makes
the bytes differ, and the first page that differs is named.

A report rendered by another version of auditor or reportlab, or with other font files, cannot be
rendered to the same bytes here; its pages are then not compared, and verify says so.
"""

from __future__ import annotations

import hashlib
import io
import json

from ..errors import AuditorError
from ..evidence.records import Evidence


def _attachments(reader) -> dict[str, bytes]:
    try:
        names = reader.root["/Names"]["/EmbeddedFiles"]["/Names"]
    except (KeyError, TypeError):
        return {}
    out = {}
    for i in range(0, len(names) - 1, 2):
        try:
            out[str(names[i])] = bytes(names[i + 1].get_object()["/EF"]["/F"].get_object().data)
        except Exception:  # a broken stream: the attachment check says so
            continue
    return out


def _pages(data: bytes) -> list[bytes]:
    """Each page's content (decoded), in order."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = PdfFileReader(io.BytesIO(data), strict=False)
    out = []

    def walk(node) -> None:
        node = node.get_object()
        if "/Kids" in node:
            for kid in node["/Kids"]:
                walk(kid)
            return
        contents = node.get("/Contents")
        if contents is None:
            out.append(b"")
            return
        contents = contents.get_object()
        parts = contents if isinstance(contents, list) else [contents]
        out.append(b"".join(bytes(p.get_object().data) for p in parts))

    walk(reader.root["/Pages"])
    return out


def first_difference(actual: bytes, expected: bytes) -> str:
    """Where two reports differ, in words: the first page whose content differs, else what does."""
    try:
        got, want = _pages(actual), _pages(expected)
    except Exception:  # a file pyHanko cannot walk: said, rather than failing here
        return "its structure differs"
    for n, (a, b) in enumerate(zip(got, want), 1):
        if a != b:
            return f"page {n} differs"
    if len(got) != len(want):
        return f"it has {len(got)} pages, the evidence renders {len(want)}"
    return "the pages agree, but its document information or attachments differ"


def compare(data: bytes, reader, evidence: Evidence, raw: bytes, signed: bool) -> tuple[bool, str, bool]:
    """Whether the report's bytes are what its attached evidence renders: (ok, in words, whether
    it is only a note: not compared)."""
    from ..evidence.files import parse_evidence
    from .pdf import FRAME_PREFIX, MAX_TEXT, RENDER_KEY, pictures, render_bytes, renderer

    evidence = parse_evidence(raw, "the attached evidence", max_text=MAX_TEXT)  # as the report read it

    info = reader.trailer_view.get("/Info")
    text = str(info.get_object().get(RENDER_KEY, "")) if info is not None else ""
    try:
        record = json.loads(text) if text else None
        options = {k: record[k] for k in ("lang", "redact_references", "reviews")} if isinstance(record, dict) else None
    except (ValueError, KeyError, TypeError, RecursionError):
        options = None
    if options is None or not isinstance(record, dict):
        return (True, "not compared with the evidence: the report records no way to render it again "
                      "(made before reports recorded it, or the record was removed)", True)
    here = renderer()
    if record.get("renderer") != here:
        return (True, "not compared with the evidence: rendered by "
                      f"{json.dumps(record.get('renderer'), sort_keys=True)}, this machine renders with "
                      f"{json.dumps(here, sort_keys=True)}; verify it where those match", True)
    attached = _attachments(reader)
    images: dict[str, bytes] = {}
    for img in pictures(evidence):
        found = attached.get(FRAME_PREFIX + img.file)
        if found is None or hashlib.sha256(found).hexdigest() != img.sha256:
            return (False, f"exhibit frame {img.file} is not attached with the SHA-256 the evidence "
                           "records: the pages cannot be shown to be the evidence's", False)
        images[img.file] = found
    try:
        expected = render_bytes(evidence, raw, images, options)
    except (AuditorError, ValueError, KeyError, TypeError) as exc:
        return (False, f"the attached evidence cannot be rendered again ({exc})", False)
    same = data[: len(expected)] == expected and (signed or len(data) == len(expected))
    if same:
        return (True, "every page is exactly what the attached evidence renders", False)
    return (False, f"{first_difference(data, expected)} from what the attached evidence renders "
                   "(the report was edited after it was rendered)", False)
