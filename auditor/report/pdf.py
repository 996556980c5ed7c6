"""The evidence PDF: rendered from one evidence JSON (and the exhibit frames it names) alone.

Contents (story.py): a cover (case summary, verdict in one sentence, works and owners); per
work a segments table, a similarity timeline and side-by-side frame pairs with the
local-feature matches drawn; a methods appendix; a chain-of-custody appendix with every hash
and parameter. The evidence JSON itself is attached to the PDF (`evidence.json`), its SHA-256
printed on the cover and stored in the document information, so `auditor verify` can check
that the two agree. The exhibit frames the pages show are attached too (`frames:<name>`), and the
options and renderer in the document information (`/AuditorRender`), so that verify renders the
report again from what it carries and compares the bytes (rerender.py). Optionally signed with a
PKCS#12 key (pyHanko).

Written to a temporary file beside the target and renamed into place: a failure leaves no
half-written PDF. The same evidence (and reviews) gives the same bytes: reportlab's invariant
mode with the scan's time as the document's dates, and pyHanko's update without clock or random
id; a signature is an update of its own after those bytes.

Not PDF/A: reportlab's open-source edition writes no PDF/A. What PDF/A-3b would still take (the
fonts are embedded, the evidence is an associated file with /AFRelationship, MIME type and dates):
an XMP metadata stream identifying PDF/A-3B and agreeing with the document information, an sRGB
output intent (an ICC profile; Pillow's ImageCms can make one), the file kept at PDF 1.7
(pyHanko marks it 2.0 when it writes /AFRelationship), and a validator (veraPDF) in CI to show
that the result conforms rather than claiming it.
"""

from __future__ import annotations

import hashlib
import io
import json
from datetime import UTC
from pathlib import Path

from reference_index.store import atomic_path

from .. import __version__
from ..errors import InputError, UsageError
from ..evidence.consistency import contradictions
from ..evidence.files import parse_evidence, read_exhibit
from ..evidence.records import Evidence, ImageFile
from ..evidence.wording import check_lang
from .fonts import draw_string
from .story import ATTACHMENT_NAME, build_story
from .text import TEXT

INFO_KEY = "/AuditorEvidenceSHA256"
RENDER_KEY = "/AuditorRender"  # how the report was rendered (options, renderer): verify renders it again
MAX_TEXT = 2000  # characters of any one text a report prints (a title, a note); longer ones are cut, saying so
FRAME_PREFIX = "frames:"  # attachments holding the exhibit frames, by their name in the evidence


def pictures(evidence: Evidence) -> list[ImageFile]:
    """Every exhibit picture a report of this evidence shows."""
    found = [img for seg in evidence.segments()
             for img in [seg.still_image] + [i for ex in seg.exhibits for i in (ex.query_image, ex.ref_image)]]
    found += [img for w in evidence.works if w.resemblance for g in w.resemblance.gallery
              for img in (g.query_image, g.ref_image)]
    return [img for img in found if img is not None]


def load_for_report(path: str | Path) -> tuple[Evidence, bytes, dict[str, bytes]]:
    """(evidence, its exact bytes, exhibit images by relative name). Raises InputError."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    evidence = parse_evidence(raw, path, max_text=MAX_TEXT)
    wrong = contradictions(evidence)
    if wrong:  # a report would print a verdict its own pages contradict
        raise InputError(path, f"the evidence contradicts itself: {wrong[0]}")
    images: dict[str, bytes] = {}
    for ref in pictures(evidence):
        try:
            images[ref.file] = read_exhibit(path.parent, ref)
        except InputError as exc:
            raise InputError(path, exc.reason) from None
    return evidence, raw, images


def _attach(pdf_bytes: bytes, evidence_raw: bytes, evidence_sha: str, images: dict[str, bytes], record: dict,
            written: str | None = None) -> bytes:
    """Attach the evidence JSON and its exhibit frames; record the evidence's hash and the render
    record in the document information."""
    from pyhanko.pdf_utils import embed, generic

    writer = _steady_writer(pdf_bytes)
    when = _timestamp(written).datetime if written else None  # the scan's time (PDF/A-3 asks for it)
    params = embed.EmbeddedFileParams(creation_date=when, modification_date=when)
    ef = embed.EmbeddedFileObject.from_file_data(writer, evidence_raw, mime_type="application/json", params=params)
    embed.embed_file(writer, embed.FileSpec(
        file_spec_string=ATTACHMENT_NAME, file_name=ATTACHMENT_NAME, embedded_data=ef,
        description=f"auditor evidence JSON, SHA-256 {evidence_sha}",
        af_relationship=generic.pdf_name("/Source"),
    ))
    for name in sorted(images):  # the frames the pages show, so that verify can render them again
        data = images[name]
        ef = embed.EmbeddedFileObject.from_file_data(writer, data, mime_type="image/jpeg", params=params)
        embed.embed_file(writer, embed.FileSpec(
            file_spec_string=FRAME_PREFIX + name, file_name=FRAME_PREFIX + name, embedded_data=ef,
            description=f"exhibit frame, SHA-256 {hashlib.sha256(data).hexdigest()}",
            af_relationship=generic.pdf_name("/Supplement"),
        ))
    info = writer.trailer["/Info"]
    info[generic.NameObject(INFO_KEY)] = generic.TextStringObject(evidence_sha)
    info[generic.NameObject(RENDER_KEY)] = generic.TextStringObject(
        json.dumps(record, sort_keys=True, ensure_ascii=True, separators=(",", ":")))
    writer.update_container(info)
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _sign(unsigned: bytes, signer_p12: Path, passphrase: bytes | None, evidence_sha: str) -> bytes:
    """Signed in an update of its own: the signed report begins with the unsigned report's exact
    bytes (the same for the same evidence); only the signature's update differs between runs."""
    writer, out = _steady_writer(unsigned), io.BytesIO()
    from pyhanko.sign import signers

    try:
        signer = signers.SimpleSigner.load_pkcs12(str(signer_p12), passphrase=passphrase)
    except Exception as exc:  # pyHanko raises several types for a bad archive or passphrase
        raise UsageError(f"{signer_p12}: cannot load the PKCS#12 key ({exc})") from None
    if signer is None:
        raise UsageError(f"{signer_p12}: cannot load the PKCS#12 key (wrong passphrase or not a PKCS#12 file)")
    meta = signers.PdfSignatureMetadata(field_name="AuditorEvidence", reason=f"auditor evidence {evidence_sha}")
    signers.sign_pdf(writer, meta, signer=signer, output=out)
    return out.getvalue()


def _steady_writer(pdf_bytes: bytes):
    """pyHanko's incremental writer, made deterministic: the update's document id comes from the
    document, not from os.urandom, and no clock time is stamped as the modification date (the
    document's dates are the scan's; a signature carries its own signing time)."""
    from pyhanko.pdf_utils import generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf_bytes))
    writer._document_id = generic.ArrayObject([writer._document_id[0],
                                               generic.ByteStringObject(hashlib.sha256(pdf_bytes).digest()[:16])])
    writer._update_meta = lambda: None
    return writer


def _timestamp(iso: str):
    """reportlab's timestamp of an ISO 8601 time (the evidence's), for the PDF's dates."""
    import time
    from datetime import datetime

    from reportlab.lib.utils import TimeStamp

    ts = TimeStamp(invariant=1)
    try:
        when = datetime.fromisoformat(iso.replace("Z", "+00:00"))
        epoch = (when if when.tzinfo else when.replace(tzinfo=UTC)).timestamp()
    except ValueError:
        return ts
    ts.t, ts.lt = epoch, time.gmtime(epoch)
    ts.YMDhms = tuple(ts.lt)[:6]
    return ts


def default_report_path(evidence_path: str | Path, lang: str = "en") -> Path:
    evidence_path = Path(evidence_path)
    stem = evidence_path.name.removesuffix(".evidence.json").removesuffix(".json")
    return evidence_path.with_name(f"{stem}.report{'' if lang == 'en' else '.' + lang}.pdf")


def render_report(evidence_path: str | Path, out: str | Path | None = None, lang: str = "en",
                  redact_references: bool = False, sign: str | Path | None = None,
                  passphrase: bytes | None = None, reviews: list[dict] | None = None) -> Path:
    """Render the report for one evidence file; returns the PDF's path."""
    check_lang(lang)
    evidence_path = Path(evidence_path)
    evidence, raw, images = load_for_report(evidence_path)
    out = Path(out) if out is not None else default_report_path(evidence_path, lang)
    final = render_bytes(evidence, raw, images, {"lang": lang, "redact_references": bool(redact_references),
                                                 "reviews": list(reviews or [])})
    if sign:
        final = _sign(final, Path(sign), passphrase, hashlib.sha256(raw).hexdigest())
    with atomic_path(out) as tmp:
        tmp.write_bytes(final)
    return out


def renderer() -> dict:
    """What the bytes of a report depend on beside the evidence and the options: this version of
    auditor and of reportlab, and the font files (another version of either renders other bytes)."""
    import reportlab

    from .fonts import font_fingerprints

    return {"auditor": __version__, "reportlab": reportlab.Version, "fonts": font_fingerprints()}


def render_bytes(evidence: Evidence, raw: bytes, images: dict[str, bytes], options: dict) -> bytes:
    """The unsigned report's bytes: the pages, the evidence and its exhibit frames attached, and
    the render record (`RENDER_KEY`: options and renderer) from which `verify` renders it again.
    `options`: lang, redact_references, reviews."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    lang = check_lang(options["lang"])
    sha = hashlib.sha256(raw).hexdigest()
    story, font = build_story(evidence, sha, images, lang, bool(options["redact_references"]),
                              options["reviews"] or None)
    t = TEXT[lang]

    def footer(canvas, doc):
        if doc.page == 1:
            canvas._doc._timeStamp = _timestamp(evidence.created_utc)  # the document's dates: the scan's
        canvas.saveState()
        canvas.setFillGray(0.4)
        draw_string(canvas, 18 * mm, 10 * mm, f"{evidence.query_id} · {t['evidence_sha']} {sha[:16]}…", font, 7)
        draw_string(canvas, A4[0] - 18 * mm, 10 * mm, t["page"].format(n=doc.page), font, 7, right=True)
        canvas.restoreState()

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm, bottomMargin=18 * mm,
        title=f"{t['title']}: {evidence.query_id}", author=f"auditor {__version__}",
        subject=f"evidence {sha}", lang=lang, creator=f"auditor {__version__}",
        initialFontName=font,  # never a base-14 font: every font in the file is embedded
        invariant=1,  # no clock, no random document id: the same evidence gives the same bytes
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    record = {"lang": lang, "redact_references": bool(options["redact_references"]), "reviews": options["reviews"],
              "renderer": renderer()}
    return _attach(buf.getvalue(), raw, sha, images, record, evidence.created_utc)
