"""`auditor verify report.pdf`: check an evidence report as an opposing expert would.

(Geometric verification of frame pairs is match/geometry.py; the index's own integrity check is
`ReferenceIndex.check_integrity`. This module checks reports.)

Checks, each reported on its own line:
1. the PDF carries the evidence JSON attachment, and it can be read (a corrupt stream is a failed
   check with its reason);
2. the attachment's SHA-256 is the one printed in its place on the cover and the one recorded in
   the document information;
3. the clip SHA-256 printed in its place on the cover is the one the attached evidence states;
4. with `--clip FILE`: that file has the stated SHA-256;
5. when the PDF is signed: every signature is intact and cryptographically valid, covers the
   whole file, and (with `--trust CERT`) chains to the given certificate. An unsigned report is
   said to be unsigned, with what that means.
The report passes only when every check that applies holds.

"Printed" means what a reader sees, not any text in the file: a hash counts only where the cover
prints it (the value beside its label, located with poppler's `pdftotext -bbox-layout`), in
legible type (at least `MIN_TEXT_PT` high) and with ink on the page there (the page rendered by
`pdftoppm`). Text elsewhere, tiny or white text, or a second hash laid over the first, does not
make a forged attachment verify.
"""

from __future__ import annotations

import hashlib
import io
import logging
import re
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from reference_index.store import sha256_file

from ..errors import InputError, MissingDependency
from ..evidence.consistency import contradictions
from ..evidence.files import parse_evidence
from .pdf import INFO_KEY
from .story import ATTACHMENT_NAME
from .text import TEXT


@dataclass
class Check:
    name: str
    ok: bool
    detail: str
    note: bool = False  # information the reader must weigh (an unsigned report), not a pass or a failure
    signer: str | None = None  # a signature's signer, as its certificate names them


@dataclass
class ReportCheck:
    path: str
    checks: list[Check] = field(default_factory=list)
    signers: list[str] = field(default_factory=list)  # who signed it (none: unsigned)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str, note: bool = False) -> None:
        self.checks.append(Check(name, ok, detail, note))


MIN_TEXT_PT = 4.0  # a hash in smaller type is not printed for a reader (the cover's is about 8 pt)
MIN_INK = 0.05  # share of a word's box that must be dark on the rendered page for it to be seen
RENDER_DPI = 144
HASH = re.compile(r"[0-9a-f]{64}")


def _poppler(tool: str) -> str:
    exe = shutil.which(tool)
    if exe is None:
        raise MissingDependency(f"auditor verify reads the report's cover with {tool}: run ./setup.sh "
                                "(installs Debian's poppler-utils)")
    return exe


def _run(path: Path, args: list[str]) -> bytes:
    out = subprocess.run(args, capture_output=True)
    if out.returncode != 0:
        raise InputError(path, f"{Path(args[0]).name} cannot read it: {out.stderr.decode(errors='replace').strip()}")
    return out.stdout


@dataclass
class _Line:
    text: str
    box: tuple[float, float, float, float]  # x0, y0, x1, y1 in points, y downwards
    words: list[tuple[str, tuple[float, float, float, float]]]


def _cover_lines(path: Path) -> list[_Line]:
    """The lines of page 1 with their boxes, as poppler lays them out."""
    import xml.etree.ElementTree as ET

    raw = _run(path, [_poppler("pdftotext"), "-f", "1", "-l", "1", "-bbox-layout", str(path), "-"])
    try:
        root = ET.fromstring(raw)
    except ET.ParseError as exc:
        raise InputError(path, f"pdftotext gave no readable layout ({exc})") from None

    def box(el) -> tuple[float, float, float, float]:
        x0, y0, x1, y1 = (float(el.get(k)) for k in ("xMin", "yMin", "xMax", "yMax"))
        return x0, y0, x1, y1

    lines = []
    for line in root.iter("{http://www.w3.org/1999/xhtml}line"):
        words = [(w.text or "", box(w)) for w in line.iter("{http://www.w3.org/1999/xhtml}word")]
        lines.append(_Line(" ".join(t for t, _ in words), box(line), words))
    return lines


def _cover_ink(path: Path):
    """Page 1 rendered in grey levels (a numpy array, RENDER_DPI), to see where ink is."""
    import tempfile

    import cv2

    with tempfile.TemporaryDirectory(prefix="auditor-verify-") as tmp:
        _run(path, [_poppler("pdftoppm"), "-f", "1", "-l", "1", "-r", str(RENDER_DPI), "-gray", str(path),
                    str(Path(tmp) / "cover")])
        found = sorted(Path(tmp).glob("cover*.pgm"))
        if not found:
            raise InputError(path, "pdftoppm rendered no page")
        return cv2.imread(str(found[0]), cv2.IMREAD_UNCHANGED)


def _seen(ink, box) -> bool:
    """Whether the word's box is legible type with ink on the rendered page."""
    x0, y0, x1, y1 = box
    if y1 - y0 < MIN_TEXT_PT:
        return False
    k = RENDER_DPI / 72.0
    crop = ink[max(0, int(y0 * k)) : int(y1 * k) + 1, max(0, int(x0 * k)) : int(x1 * k) + 1]
    return crop.size > 0 and float((crop < 160).mean()) >= MIN_INK


def printed_hashes(path: Path, labels: dict[str, tuple[str, ...]]) -> dict[str, list[str]]:
    """Per label key: the distinct SHA-256 values a reader sees printed beside that label on the
    cover (the same row, to its right). `labels`: the label's text in each language."""
    lines = _cover_lines(path)
    ink = _cover_ink(path)
    out: dict[str, list[str]] = {}
    for key, texts in labels.items():
        wanted = {"".join(t.split()) for t in texts}
        found: list[str] = []
        for label in (ln for ln in lines if "".join(ln.text.split()) in wanted and _seen(ink, ln.box)):
            lx1, ly0, ly1 = label.box[2], label.box[1], label.box[3]
            for ln in lines:
                for word, box in ln.words:
                    same_row = box[1] < ly1 + 4 and box[3] > ly0 - 4
                    if same_row and box[0] > lx1 and HASH.fullmatch(word) and _seen(ink, box) and word not in found:
                        found.append(word)
        out[key] = found
    return out


def _attachment(reader) -> bytes | None:
    """The attached evidence's bytes (None: not attached). Raises ValueError naming why a stream
    that is there cannot be read (corrupt or truncated compression, a broken file spec)."""
    root = reader.root
    try:
        names = root["/Names"]["/EmbeddedFiles"]["/Names"]
    except (KeyError, TypeError):
        return None
    for i in range(0, len(names), 2):
        if str(names[i]) == ATTACHMENT_NAME:
            try:
                spec = names[i + 1].get_object()
                return bytes(spec["/EF"]["/F"].get_object().data)
            except Exception as exc:  # zlib.error, pyHanko's stream errors, a missing key
                raise ValueError(f"{type(exc).__name__}: {' '.join(str(exc).split())}") from None
    return None


def _printed_check(result: ReportCheck, name: str, found: list[str], expected: str, what: str) -> None:
    if found == [expected]:
        result.add(name, True, f"the cover prints the {what} in its place, and it agrees")
    elif not found:
        result.add(name, False, f"the cover prints no {what} in its place that a reader can see")
    elif len(found) > 1:
        result.add(name, False, f"the cover prints {len(found)} different values where the {what} belongs "
                                f"(text laid over text): {', '.join(found)}")
    else:
        result.add(name, False, f"the {what} printed on the cover is {found[0]}, not {expected} "
                                f"(attachment or report altered)")


def check_report(path: str | Path, clip: str | Path | None = None, trust: str | Path | None = None) -> ReportCheck:
    from pyhanko.pdf_utils.misc import PdfReadError
    from pyhanko.pdf_utils.reader import PdfFileReader

    path = Path(path)
    result = ReportCheck(str(path))
    try:
        data = path.read_bytes()
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        info = reader.trailer_view.get("/Info")
        recorded = str(info.get_object().get(INFO_KEY, "")) if info is not None else ""
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    except (PdfReadError, ValueError, KeyError) as exc:
        raise InputError(path, f"not a readable PDF ({exc})") from None
    labels = {key: tuple(TEXT[lang][key] for lang in TEXT) for key in ("evidence_sha", "clip_sha")}
    printed = printed_hashes(path, labels)

    try:
        attached = _attachment(reader)
    except ValueError as exc:
        result.add("attachment", False, f"{ATTACHMENT_NAME} is attached but cannot be read ({exc}): corrupt or altered")
        return result
    if attached is None:
        result.add("attachment", False, f"no {ATTACHMENT_NAME} attached: not an auditor report, or stripped")
        return result
    sha = hashlib.sha256(attached).hexdigest()
    result.add("attachment", True, f"{ATTACHMENT_NAME} attached, SHA-256 {sha}")
    _printed_check(result, "printed hash", printed["evidence_sha"], sha, "attachment's SHA-256")
    result.add("recorded hash", recorded == sha,
               "document information records the same SHA-256" if recorded == sha
               else f"document information records {recorded or 'no hash'}")
    try:
        evidence = parse_evidence(attached, f"{path} ({ATTACHMENT_NAME})")
    except InputError as exc:
        result.add("evidence", False, f"the attachment is not an evidence JSON: {exc.reason}")
        return result
    clip_sha = evidence.clip.sha256
    wrong = contradictions(evidence)
    result.add("consistency", not wrong, "; ".join(f"the attached evidence contradicts itself: {w}" for w in wrong)
               or "the verdict is the one the evidence's own segments and rules give")
    _printed_check(result, "clip hash", printed["clip_sha"], clip_sha, f"clip SHA-256 {clip_sha}")
    if clip is not None:
        actual = sha256_file(clip)
        result.add("clip file", actual == clip_sha,
                   f"{clip} has the stated SHA-256" if actual == clip_sha
                   else f"{clip} has SHA-256 {actual}, the report states {clip_sha}")
    from .rerender import compare

    ok, detail, note = compare(data, reader, evidence, attached, signed=bool(reader.embedded_signatures))
    result.add("pages", ok, detail, note=note)
    _check_signatures(reader, result, trust)
    return result


def _check_signatures(reader, result: ReportCheck, trust: str | Path | None) -> None:
    if not reader.embedded_signatures:
        if trust is not None:
            result.add("signature", False, "--trust was given but the report is not signed")
        else:
            result.add("signature", True, "none: the report is not signed. The checks above show that it agrees "
                                          "with itself, not who made it: anyone able to edit the file could have "
                                          "replaced the evidence and reprinted its hashes alike", note=True)
        return
    for c in signature_checks(reader, trust):
        result.checks.append(c)
        if c.name == "signature" and c.signer:
            result.signers.append(c.signer)


def signature_checks(pdf, trust: str | Path | None = None) -> list[Check]:
    """The checks of every signature of a PDF (a pyHanko reader or a binary stream): intact,
    valid, covering the whole file, and with `trust`, chaining to it. [] when it is unsigned."""
    from pyhanko.pdf_utils.reader import PdfFileReader

    reader = pdf if isinstance(pdf, PdfFileReader) else PdfFileReader(pdf, strict=False)
    sigs = reader.embedded_signatures
    if not sigs:
        return []
    from pyhanko.keys import load_cert_from_pemder
    from pyhanko.sign.validation import validate_pdf_signature
    from pyhanko_certvalidator import ValidationContext

    # Trust only what the user names (never the operating system's list, never the network).
    vc = ValidationContext(trust_roots=[load_cert_from_pemder(str(trust))] if trust else [], allow_fetching=False)
    quiet = logging.getLogger("pyhanko")
    level = quiet.level
    quiet.setLevel(logging.CRITICAL)  # pyHanko logs a traceback for an untrusted chain; we report it below
    try:
        statuses = [validate_pdf_signature(sig, vc) for sig in sigs]
    finally:
        quiet.setLevel(level)
    out = []
    for status in statuses:
        signer = status.signing_cert.subject.human_friendly if status.signing_cert else "unknown signer"
        reported = getattr(status, "signer_reported_dt", None)
        when = f" at {reported.isoformat(timespec='seconds')}" if reported else ""
        whole = status.coverage is not None and status.coverage.name == "ENTIRE_FILE"
        ok = bool(status.intact and status.valid and whole)
        coverage = getattr(status.coverage, "name", None)
        detail = f"signed by {signer}{when}: " + ("intact and valid, covers the whole file" if ok else
                                                   f"intact={status.intact} valid={status.valid} coverage={coverage}")
        if trust is None:  # a certificate can name anyone: only a chain to a known certificate says who
            detail = (f"signed with a certificate that names {signer}{when}: " +
                      ("intact and valid, covers the whole file" if ok else
                       f"intact={status.intact} valid={status.valid} coverage={coverage}") +
                      "; the signer's identity is NOT checked (anyone can make a certificate with any name: "
                      "give --trust CERT to check it)")
            signer = f"a certificate naming {signer} (identity not checked)"
        out.append(Check("signature", ok, detail, signer=signer))
        if trust is not None:
            out.append(Check("trust", bool(status.trusted), "chains to the given certificate" if status.trusted
                             else "does not chain to the given certificate"))
    return out
