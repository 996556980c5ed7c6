"""`auditor verify report.pdf`: check an evidence report as an opposing expert would.

(Geometric verification of frame pairs is match/geometry.py; the index's own integrity check is
`ReferenceIndex.check_integrity`. This module checks reports.)

Checks, each reported on its own line:
1. the PDF carries the evidence JSON attachment;
2. the attachment's SHA-256 is the one printed in the report (page text, read with poppler's
   pdftotext) and the one recorded in the document information;
3. the clip SHA-256 printed in the report is the one the attached evidence states;
4. with `--clip FILE`: that file has the stated SHA-256;
5. when the PDF is signed: every signature is intact and cryptographically valid, covers the
   whole file, and (with `--trust CERT`) chains to the given certificate.
The report passes only when every check that applies holds.
"""

from __future__ import annotations

import hashlib
import io
import logging
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

from reference_index.files import sha256_file

from ..errors import InputError, MissingDependency
from ..evidence.files import parse_evidence
from .pdf import INFO_KEY
from .story import ATTACHMENT_NAME


@dataclass
class Check:
    name: str
    ok: bool
    detail: str


@dataclass
class ReportCheck:
    path: str
    checks: list[Check] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return bool(self.checks) and all(c.ok for c in self.checks)

    def add(self, name: str, ok: bool, detail: str) -> None:
        self.checks.append(Check(name, ok, detail))


def _page_text(path: Path) -> str:
    exe = shutil.which("pdftotext")
    if exe is None:
        raise MissingDependency("auditor verify reads the report's printed text with pdftotext: run ./setup.sh (installs Debian's poppler-utils)")
    out = subprocess.run([exe, "-layout", str(path), "-"], capture_output=True)
    if out.returncode != 0:
        raise InputError(path, f"pdftotext cannot read it: {out.stderr.decode(errors='replace').strip()}")
    return out.stdout.decode("utf-8", errors="replace")


def _attachment(reader) -> bytes | None:
    root = reader.root
    try:
        names = root["/Names"]["/EmbeddedFiles"]["/Names"]
    except KeyError:
        return None
    for i in range(0, len(names), 2):
        if str(names[i]) == ATTACHMENT_NAME:
            spec = names[i + 1].get_object()
            return spec["/EF"]["/F"].get_object().data
    return None


def check_report(path: str | Path, clip: str | Path | None = None, trust: str | Path | None = None) -> ReportCheck:
    from pyhanko.pdf_utils.misc import PdfReadError
    from pyhanko.pdf_utils.reader import PdfFileReader

    path = Path(path)
    result = ReportCheck(str(path))
    try:
        data = path.read_bytes()
        reader = PdfFileReader(io.BytesIO(data), strict=False)
        attached = _attachment(reader)
        info = reader.trailer_view.get("/Info")
        recorded = str(info.get_object().get(INFO_KEY, "")) if info is not None else ""
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    except (PdfReadError, ValueError, KeyError) as exc:
        raise InputError(path, f"not a readable PDF ({exc})") from None
    text = _page_text(path)
    compact = "".join(text.split())

    if attached is None:
        result.add("attachment", False, f"no {ATTACHMENT_NAME} attached: not an auditor report, or stripped")
        return result
    sha = hashlib.sha256(attached).hexdigest()
    result.add("attachment", True, f"{ATTACHMENT_NAME} attached, SHA-256 {sha}")
    result.add("printed hash", sha in compact,
               "the attachment's SHA-256 is printed in the report" if sha in compact
               else "the attachment's SHA-256 is not the one printed in the report (attachment or report altered)")
    result.add("recorded hash", recorded == sha,
               "document information records the same SHA-256" if recorded == sha
               else f"document information records {recorded or 'no hash'}")
    try:
        clip_sha = parse_evidence(attached, f"{path} ({ATTACHMENT_NAME})").clip.sha256
    except InputError as exc:
        result.add("evidence", False, f"the attachment is not an evidence JSON: {exc.reason}")
        return result
    result.add("clip hash", clip_sha in compact,
               f"clip SHA-256 {clip_sha} printed and attached agree" if clip_sha in compact
               else "the clip SHA-256 in the attachment is not the one printed in the report")
    if clip is not None:
        actual = sha256_file(clip)
        result.add("clip file", actual == clip_sha,
                   f"{clip} has the stated SHA-256" if actual == clip_sha
                   else f"{clip} has SHA-256 {actual}, the report states {clip_sha}")
    _check_signatures(reader, result, trust)
    return result


def _check_signatures(reader, result: ReportCheck, trust: str | Path | None) -> None:
    sigs = reader.embedded_signatures
    if not sigs:
        if trust is not None:
            result.add("signature", False, "--trust was given but the report is not signed")
        return
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
    for status in statuses:
        signer = status.signing_cert.subject.human_friendly if status.signing_cert else "unknown signer"
        whole = status.coverage is not None and status.coverage.name == "ENTIRE_FILE"
        ok = bool(status.intact and status.valid and whole)
        detail = f"signed by {signer}: " + ("intact and valid, covers the whole file" if ok else
                                             f"intact={status.intact} valid={status.valid} coverage={getattr(status.coverage, 'name', None)}")
        result.add("signature", ok, detail)
        if trust is not None:
            result.add("trust", bool(status.trusted), "chains to the given certificate" if status.trusted
                       else "does not chain to the given certificate")
