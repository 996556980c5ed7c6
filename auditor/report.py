"""The evidence PDF: rendered from one evidence JSON (and the exhibit frames it names) alone.

Contents: a cover (case summary, verdict in one sentence, works and owners); per work a
segments table, a similarity timeline and side-by-side frame pairs with the local-feature
matches drawn; a methods appendix; a chain-of-custody appendix with every hash and parameter.
The evidence JSON itself is attached to the PDF (`evidence.json`), its SHA-256 printed on the
cover and stored in the document information, so `auditor verify` can check that the two agree.
Optionally signed with a PKCS#12 key (pyHanko).

Written to a temporary file beside the target and renamed into place: a failure leaves no
half-written PDF.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
import subprocess
from datetime import datetime, timezone
from pathlib import Path

import cv2
import numpy as np

from reference_index.files import atomic_path

from . import __version__
from .errors import InputError, MissingDependency, UsageError
from .evidence import SCHEMA
from .report_text import LANGS, TEXT, verdict_sentence

ATTACHMENT_NAME = "evidence.json"
INFO_KEY = "/AuditorEvidenceSHA256"
FONT_ENV = "AUDITOR_JA_FONT"
# IPAex Gothic (TrueType outlines, which reportlab can embed); installed by ./setup.sh
JA_FONT_PATHS = (
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
)
LEVEL_COLOURS = {
    "near-identical copy": "#b3261e",
    "strong resemblance": "#c2571a",
    "weak resemblance": "#8a6d00",
    "no match": "#2e6b30",
}


# -- input -----------------------------------------------------------------------------------
def load_for_report(path: str | Path) -> tuple[dict, bytes, dict[str, bytes]]:
    """(evidence, its exact bytes, exhibit images by relative name). Raises InputError."""
    path = Path(path)
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise InputError(path, f"cannot read: {exc.strerror or exc}") from None
    try:
        evidence = json.loads(raw.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(path, f"not a complete evidence JSON file ({exc})") from None
    if not isinstance(evidence, dict) or evidence.get("schema") != SCHEMA:
        got = evidence.get("schema") if isinstance(evidence, dict) else None
        raise InputError(path, f"evidence schema {got!r}, this version of auditor reports on {SCHEMA!r}")
    for key in ("query_id", "clip", "index", "tool", "verdict", "works", "frames"):
        if key not in evidence:
            raise InputError(path, f"evidence has no '{key}' block (truncated or edited?)")
    images: dict[str, bytes] = {}
    for work in evidence["works"]:
        for seg in work["segments"]:
            for ex in seg.get("exhibits") or []:
                for side in ("query_image", "ref_image"):
                    ref = ex.get(side)
                    if not ref:
                        continue
                    f = path.parent / ref["file"]
                    if not f.is_file():
                        raise InputError(path, f"exhibit frame {ref['file']} is missing (keep the .frames folder beside the evidence)")
                    data = f.read_bytes()
                    if hashlib.sha256(data).hexdigest() != ref["sha256"]:
                        raise InputError(path, f"exhibit frame {ref['file']} does not match its SHA-256 in the evidence")
                    images[ref["file"]] = data
    return evidence, raw, images


# -- fonts -----------------------------------------------------------------------------------
def japanese_font_path() -> Path:
    env = os.environ.get(FONT_ENV)
    candidates = [env] if env else []
    candidates += list(JA_FONT_PATHS)
    for c in candidates:
        if c and Path(c).is_file():
            return Path(c)
    if shutil.which("fc-match"):
        out = subprocess.run(["fc-match", "-f", "%{file}", "IPAexGothic:lang=ja"], capture_output=True, text=True)
        f = out.stdout.strip()
        if f.endswith(".ttf") and Path(f).is_file() and "ipaex" in f.lower():
            return Path(f)
    raise MissingDependency(
        "Japanese reports need the IPAex Gothic font (TrueType): run ./setup.sh, which installs "
        f"Debian's fonts-ipaexfont-gothic, or set {FONT_ENV}=/path/to/a/japanese.ttf"
    )


def _fonts(lang: str) -> tuple[str, str, str]:
    """(regular, bold, monospace) font names registered with reportlab."""
    if lang == "en":
        return "Helvetica", "Helvetica-Bold", "Courier"
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "IPAexGothic" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("IPAexGothic", str(japanese_font_path())))
    return "IPAexGothic", "IPAexGothic", "Courier"


# -- pictures --------------------------------------------------------------------------------
def _decode(data: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def redact(image: np.ndarray, label: str) -> np.ndarray:
    """Downsample to 96 px wide and back, and stamp a diagonal watermark."""
    h, w = image.shape[:2]
    small = cv2.resize(image, (96, max(1, round(96 * h / w))), interpolation=cv2.INTER_AREA)
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST).copy()
    overlay = out.copy()
    scale = w / 320
    for k in range(-1, 3):
        cv2.putText(overlay, label, (int(w * 0.05), int(h * (0.3 + 0.3 * k))), cv2.FONT_HERSHEY_SIMPLEX,
                    scale, (255, 255, 255), max(1, int(2 * scale)), cv2.LINE_AA)
    return cv2.addWeighted(overlay, 0.6, out, 0.4, 0)


def pair_picture(query: np.ndarray, ref: np.ndarray | None, points: list | None,
                 frame_sizes: list | None) -> np.ndarray:
    """Query on the left, reference on the right, same height, inlier matches drawn as lines."""
    height = 240
    def fit(im):
        h, w = im.shape[:2]
        return cv2.resize(im, (max(1, round(w * height / h)), height), interpolation=cv2.INTER_AREA), height / h
    q, qs = fit(query)
    gap = 12
    if ref is None:
        r = np.full((height, q.shape[1], 3), 235, np.uint8)
        rs = 1.0
    else:
        r, rs = fit(ref)
    canvas = np.full((height, q.shape[1] + gap + r.shape[1], 3), 255, np.uint8)
    canvas[:, : q.shape[1]] = q
    canvas[:, q.shape[1] + gap :] = r
    if points and frame_sizes and ref is not None:
        # points are in the sampled frames' pixels; the exhibit images may be smaller
        (qw, _), (rw, _) = frame_sizes
        fq = qs * query.shape[1] / qw
        fr = rs * ref.shape[1] / rw
        rng = np.random.default_rng(0)
        for qx, qy, rx, ry in points:
            colour = tuple(int(c) for c in rng.integers(40, 220, 3))
            a = (int(qx * fq), int(qy * fq))
            b = (int(rx * fr) + q.shape[1] + gap, int(ry * fr))
            cv2.line(canvas, a, b, colour, 1, cv2.LINE_AA)
            cv2.circle(canvas, a, 3, colour, 1, cv2.LINE_AA)
            cv2.circle(canvas, b, 3, colour, 1, cv2.LINE_AA)
    return canvas


def exhibit_picture(segment: dict, exhibit: dict, read, redacted: bool = False) -> tuple[np.ndarray, dict | None]:
    """The side-by-side picture of one exhibit (`read(relative file name) -> bytes`), and the
    verification record of the pair it shows (its inliers are drawn), if any."""
    checked = (segment.get("verification") or {}).get("pairs") or []
    i = exhibit.get("verification_pair")
    vpair = checked[i] if i is not None and i < len(checked) else None
    q = _decode(read(exhibit["query_image"]["file"]))
    r = _decode(read(exhibit["ref_image"]["file"])) if exhibit.get("ref_image") else None
    if r is not None and redacted:
        r = redact(r, "REDACTED")  # drawn by OpenCV, which has no Japanese glyphs
    pic = pair_picture(q, r, vpair and vpair.get("points"), vpair and vpair.get("frame_sizes"))
    return pic, vpair


def _png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return buf.tobytes()


def timeline_png(evidence: dict, work: dict, lang: str) -> bytes:
    """Best similarity to this work per sampled frame, with the work's segments shaded."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager
    from matplotlib import pyplot as plt

    t = TEXT[lang]
    refs = {rid for rid, r in (evidence.get("references") or {}).items() if r.get("work") == work["work"]}
    refs |= {s["ref_id"] for s in work["segments"]}
    channels = sorted({c for f in evidence["frames"] for c in f["top"]})
    props = None
    if lang == "ja":
        path = str(japanese_font_path())
        font_manager.fontManager.addfont(path)
        props = font_manager.FontProperties(fname=path)
    fig, ax = plt.subplots(figsize=(7.2, 2.0), dpi=150)
    for seg in work["segments"]:
        ax.axvspan(seg["query_start"], seg["query_end"], color=LEVEL_COLOURS.get(seg["level"], "#999999"), alpha=0.18, lw=0)
    times = [f["t"] for f in evidence["frames"]]
    for ch in channels:
        ys = []
        for f in evidence["frames"]:
            sims = [c["similarity"] for c in f["top"].get(ch, []) if c["ref_id"] in refs]
            ys.append(max(sims) if sims else np.nan)
        ax.plot(times, ys, lw=1.2, marker="o", ms=2, label=ch)
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, max(evidence["clip"].get("duration_s") or 0, times[-1] if times else 1))
    ax.set_xlabel(t["timeline_x"], fontproperties=props, fontsize=8)
    ax.set_ylabel(t["timeline_y"], fontproperties=props, fontsize=7)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    if channels:
        ax.legend(fontsize=7, loc="lower right", ncols=len(channels))
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()


# -- layout ----------------------------------------------------------------------------------
def _flatten(d: dict, prefix: str = "") -> list[tuple[str, str]]:
    out = []
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            out += _flatten(v, key)
        else:
            out.append((key, json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v))
    return out


def _fmt_p(seg: dict) -> str:
    p = seg.get("p_value")
    if p is None:
        return "–"
    return ("< " if seg.get("p_value_at_floor") else "") + f"{p:.2g}"


def _provenance_rows(prov: dict, t: dict, P, small, table, mm) -> list:
    cc = prov.get("content_credentials") or {}
    lines = [P(t["cc_status"].get(cc.get("status"), str(cc.get("status"))))]
    for r in cc.get("reasons") or []:
        lines.append(P(f"{r.get('code')}: {r.get('explanation')}" if isinstance(r, dict) else str(r), small))
    m = cc.get("active_manifest")
    if m:
        when = f", {m['signing_time']}" if m.get("signing_time") else ""
        lines.append(P(t["cc_signer"].format(signer=m.get("signer"), issuer=m.get("certificate_issuer"), when=when,
                                             gen=m.get("claim_generator")), small))
        for a in m.get("actions") or []:
            lines.append(P("• " + " ".join(str(v) for v in (a.get("action"), a.get("digital_source_type"), a.get("software_agent")) if v), small))
        lines.append(P(t["cc_ai"].format(v=t["yes"] if m.get("ai_generated") else t["not_stated"]), small))
        if cc.get("status") == "valid" and not cc.get("signer_trusted"):
            lines.append(P(t["cc_untrusted"], small))
    box = prov.get("container") or {}
    box_line = t["container_line"].format(
        codec=box.get("codec"), w=box.get("width"), h=box.get("height"), fps=float(box.get("fps") or 0),
        enc=box.get("encoder") or t["not_recorded"], created=box.get("creation_time") or t["not_recorded"],
    ) if box.get("readable") else "–"
    ctx = prov.get("context")
    ctx_cell = [P(t["no_context"])] if not ctx else [P(f"{k}: {v}", small) for k, v in ctx.get("fields", {}).items()] + [
        P(f"{ctx.get('source')} · SHA-256 {ctx.get('sha256')}", small)]
    rows = [[P(t["cc"], small), lines], [P(t["container"], small), P(box_line, small)], [P(t["context"], small), ctx_cell]]
    return [table(rows, [45 * mm, 125 * mm], header=False)]


def _build_story(evidence: dict, evidence_sha: str, images: dict[str, bytes], lang: str, redact_refs: bool,
                 reviews: list[dict] | None = None):
    from reportlab.lib import colors
    from reportlab.lib.enums import TA_LEFT
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, KeepTogether, PageBreak, Paragraph, Spacer, Table, TableStyle
    from xml.sax.saxutils import escape

    t = TEXT[lang]
    regular, bold, mono = _fonts(lang)
    wrap = "CJK" if lang == "ja" else "LTR"
    body = ParagraphStyle("body", fontName=regular, fontSize=9, leading=13, alignment=TA_LEFT, wordWrap=wrap, spaceAfter=3)
    small = ParagraphStyle("small", parent=body, fontSize=7.5, leading=10, spaceAfter=1)
    monos = ParagraphStyle("mono", parent=body, fontName=mono, fontSize=7, leading=9, wordWrap="LTR")
    h1 = ParagraphStyle("h1", parent=body, fontName=bold, fontSize=17, leading=22, spaceAfter=2)
    h2 = ParagraphStyle("h2", parent=body, fontName=bold, fontSize=12.5, leading=16, spaceBefore=8, spaceAfter=4)
    h3 = ParagraphStyle("h3", parent=body, fontName=bold, fontSize=10, leading=13, spaceBefore=6, spaceAfter=3)

    def P(text, style=body):
        return Paragraph(escape(str(text)), style)

    def table(rows, widths, header=True, style_extra=()):
        tbl = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
        st = [
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#b0b0b0")),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ]
        if header:
            st.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")))
        tbl.setStyle(TableStyle(st + list(style_extra)))
        return tbl

    clip = evidence["clip"]
    idx = evidence["index"]
    tool = evidence["tool"]
    verdict = evidence["verdict"]
    story = [P(t["title"], h1), P(t["subtitle"], small), Spacer(1, 4 * mm)]

    # cover: case summary
    channel_lines = []
    for name, fp in tool["channels"].items():
        extra = fp.get("weights_sha256") or fp.get("source")
        model = fp.get("model") or fp.get("algorithm", "")
        channel_lines.append(f"{name}: {model} (fingerprint {fp.get('id')}" + (f"; weights {extra}" if isinstance(extra, str) else "") + ")")
    rows = [
        [P(t["clip"], small), P(Path(clip["path"]).name)],
        [P(t["clip_sha"], small), P(clip["sha256"], monos)],
        [P(t["duration"], small), P(t["seconds"].format(v=float(clip.get("duration_s") or 0)))],
        [P(t["size"], small), P(t["bytes"].format(v=int(clip.get("size_bytes") or 0)))],
        [P(t["resolution"], small), P(f"{clip.get('width')} x {clip.get('height')}, {clip.get('fps') or 0:g} fps")],
        [P(t["scan_time"], small), P(evidence.get("created_utc", ""))],
        [P(t["tool"], small), P(f"auditor {tool.get('version')}")],
        [P(t["index"], small), P(f"{idx['id']} (generation {idx.get('generation')})", monos)],
        [P(t["manifest"], small), P(idx["manifest_sha256"], monos)],
        [P(t["channels"], small), [P(line, small) for line in channel_lines]],
        [P(t["evidence_sha"], small), P(evidence_sha, monos)],
    ]
    story += [P(t["case"], h2), table(rows, [45 * mm, 125 * mm], header=False)]
    story.append(P(t["evidence_attached"].format(name=ATTACHMENT_NAME), small))

    prov = evidence.get("provenance")
    if prov:
        story += [P(t["provenance"], h2)] + _provenance_rows(prov, t, P, small, table, mm)

    colour = LEVEL_COLOURS.get(verdict["level"], "#000000")
    vstyle = ParagraphStyle("verdict", parent=body, fontName=bold, fontSize=11, leading=15, textColor=colors.HexColor(colour))
    story += [P(t["verdict"], h2), P(verdict_sentence(evidence, lang), vstyle),
              P(t["flagged"] if verdict.get("flagged") else t["not_flagged"], body)]
    if evidence["works"]:
        rows = [[P(t["work"], small), P(t["owner"], small), P(t["level"], small), P(t["matched"], small), P(t["p_value"], small)]]
        for w in evidence["works"]:
            rows.append([P(w["work"]), P(w["owner"]), P(t["levels"][w["level"]]),
                         P(t["seconds"].format(v=w["matched_seconds"])), P(_fmt_p(w["best_segment"]))])
        story += [P(t["works"], h2), table(rows, [52 * mm, 45 * mm, 35 * mm, 20 * mm, 18 * mm])]
    else:
        story.append(P(t["no_segments"]))
    if redact_refs:
        story.append(Spacer(1, 2 * mm))
        story.append(P(t["redacted_note"], small))

    # per work
    for w in evidence["works"]:
        story += [PageBreak(), P(f"{t['work']}: {w['work']} — {w['owner']}", h2)]
        meta = ", ".join(f"{k}: {v}" for k, v in (w.get("metadata") or {}).items() if v)
        if meta:
            story.append(P(meta, small))
        rows = [[P(t["query_time"], small), P(t["reference"], small), P(t["score"], small), P(t["p_value"], small), P(t["level"], small)]]
        for s in w["segments"]:
            ref = s["ref_id"] if s["kind"] == "still" else f"{s['ref_id']} {s['ref_start']:.2f}–{s['ref_end']:.2f}"
            rows.append([P(f"{s['query_start']:.2f}–{s['query_end']:.2f}"), P(ref, small), P(f"{s['score']:.3f}"),
                         P(_fmt_p(s)), P(t["levels"][s["level"]])])
        story += [P(t["segments"], h3), table(rows, [30 * mm, 62 * mm, 18 * mm, 20 * mm, 40 * mm])]
        for s in w["segments"][:3]:
            story.append(P(f"{s['query_start']:.2f}–{s['query_end']:.2f} s · {t['rule']}: {s['rule']}", small))
        story += [P(t["timeline"], h3), Image(io.BytesIO(timeline_png(evidence, w, lang)), width=170 * mm, height=170 * mm * 2.0 / 7.2)]
        shown = [(s, ex) for s in w["segments"] for ex in (s.get("exhibits") or [])]
        if shown:
            story.append(P(t["frame_pairs"], h3))
        for s, ex in shown:
            pic, vpair = exhibit_picture(s, ex, images.__getitem__, redact_refs)
            width = 170 * mm
            height = width * pic.shape[0] / pic.shape[1]
            if height > 60 * mm:
                width, height = width * 60 * mm / height, 60 * mm
            cap = (t["still_caption"] if s["kind"] == "still" else t["pair_caption"]).format(qt=ex["query_t"], ref=s["ref_id"], rt=ex["ref_t"])
            parts = [Image(io.BytesIO(_png(pic)), width=width, height=height), P(cap, small)]
            if vpair:
                parts.append(P(t["inliers"].format(inliers=vpair["inliers"], matches=vpair["matches"]), small))
            if ex.get("ref_image") is None:
                parts.append(P(t["no_ref"].format(why=ex.get("ref_unavailable", "")), small))
            parts.append(Spacer(1, 3 * mm))
            story.append(KeepTogether(parts))

    # review trail
    if reviews is not None:
        story += [PageBreak(), P(t["review"], h2), P(t["review_intro"], small)]
        if reviews:
            rows = [[P(t["review_when"], small), P(t["review_who"], small), P(t["review_what"], small), P(t["review_why"], small)]]
            for r in reviews:
                rows.append([P(r["created_utc"], small), P(r["reviewer"]), P(t["review_decisions"].get(r["decision"], r["decision"])),
                             P(r["note"] or "–", small)])
            story.append(table(rows, [38 * mm, 35 * mm, 27 * mm, 70 * mm]))
        else:
            story.append(P(t["review_none"]))

    # methods
    cfg = tool["parameters"]
    seg = cfg["segments"]
    ver = cfg["verify"]
    story += [PageBreak(), P(t["methods"], h2)]
    story.append(P(t["methods_sampling"].format(q=cfg["sampling"]["query"]["fps"], r=cfg["sampling"]["reference"]["fps"], side=cfg["sampling"]["max_side"])))
    story.append(P(t["methods_channels"]))
    for line in channel_lines:
        story.append(P("• " + line, small))
    story.append(P(t["methods_segments"].format(lo=seg["min_speed"], hi=seg["max_speed"], gap=seg["max_gap_s"], n=seg["min_frames"], d=seg["min_duration_s"])))
    vrule = next((s["verification"]["rule"] for w in evidence["works"] for s in w["segments"] if (s.get("verification") or {}).get("rule")), None)
    story.append(P(t["methods_verify"].format(rule=vrule or f">= {ver['min_inliers']} inliers")))
    story.append(P(t["methods_levels"]))
    cal = evidence.get("calibration") or {}
    if cal.get("calibrated"):
        story.append(P(t["methods_pvalue"].format(method=cal.get("method", ""), trials=cal.get("trials", ""))))
    else:
        story.append(P(t["methods_uncalibrated"]))
    story.append(P(t["thresholds"], h3))
    rows = [[P(k, monos), P(v, monos)] for k, v in _flatten({"verdict": cfg["verdict"], "verify": cfg["verify"], "calibration": cfg.get("calibration", {})})]
    story.append(table(rows, [70 * mm, 100 * mm], header=False))

    # chain of custody
    story += [PageBreak(), P(t["custody"], h2), P(t["custody_intro"])]
    rows = [[P(t["file"], small), P(t["hash"], small)],
            [P(f"{t['clip']}: {clip['path']}", small), P(clip["sha256"], monos)],
            [P(f"{ATTACHMENT_NAME} ({evidence['query_id']}.evidence.json)", small), P(evidence_sha, monos)],
            [P(f"{t['manifest']}: {idx.get('path', '')}", small), P(idx["manifest_sha256"], monos)]]
    ctx = (evidence.get("provenance") or {}).get("context")
    if ctx:
        rows.append([P(f"{t['context']}: {ctx.get('source')}", small), P(ctx.get("sha256", ""), monos)])
    for rid, r in sorted((evidence.get("references") or {}).items()):
        rows.append([P(f"{t['reference']}: {rid} — {r.get('path')}", small), P(r.get("sha256") or "", monos)])
    for name in sorted(images):
        rows.append([P(f"{t['exhibit_from']}: {name}", small), P(hashlib.sha256(images[name]).hexdigest(), monos)])
    story.append(table(rows, [64 * mm, 110 * mm]))
    story.append(P(t["parameters"], h3))
    rows = [[P(k, monos), P(v, monos)] for k, v in _flatten(cfg)]
    story.append(table(rows, [70 * mm, 100 * mm], header=False))
    story.append(P(t["versions"], h3))
    rows = [[P(k, monos), P(str(v), monos)] for k, v in (tool.get("libraries") or {}).items()]
    story.append(table(rows, [50 * mm, 120 * mm], header=False))
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    story += [Spacer(1, 4 * mm), P(t["generated"].format(when=when, version=__version__), small)]
    return story, regular


def _attach_and_sign(pdf_bytes: bytes, evidence_raw: bytes, evidence_sha: str, signer_p12: Path | None,
                     passphrase: bytes | None) -> bytes:
    """Attach the evidence JSON and record its hash in the document info; sign if asked."""
    from pyhanko.pdf_utils import embed, generic
    from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter

    writer = IncrementalPdfFileWriter(io.BytesIO(pdf_bytes))
    ef = embed.EmbeddedFileObject.from_file_data(writer, evidence_raw, mime_type="application/json")
    embed.embed_file(writer, embed.FileSpec(
        file_spec_string=ATTACHMENT_NAME, file_name=ATTACHMENT_NAME, embedded_data=ef,
        description=f"auditor evidence JSON, SHA-256 {evidence_sha}",
        af_relationship=generic.pdf_name("/Source"),
    ))
    info = writer.trailer["/Info"]
    info[generic.NameObject(INFO_KEY)] = generic.TextStringObject(evidence_sha)
    writer.update_container(info)
    out = io.BytesIO()
    if signer_p12 is None:
        writer.write(out)
        return out.getvalue()
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


def default_report_path(evidence_path: str | Path, lang: str = "en") -> Path:
    evidence_path = Path(evidence_path)
    stem = evidence_path.name.removesuffix(".evidence.json").removesuffix(".json")
    return evidence_path.with_name(f"{stem}.report{'' if lang == 'en' else '.' + lang}.pdf")


def render_report(evidence_path: str | Path, out: str | Path | None = None, lang: str = "en",
                  redact_references: bool = False, sign: str | Path | None = None,
                  passphrase: bytes | None = None, reviews: list[dict] | None = None) -> Path:
    """Render the report for one evidence file; returns the PDF's path."""
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import mm
    from reportlab.platypus import SimpleDocTemplate

    if lang not in LANGS:
        raise UsageError(f"--lang {lang!r}: choose one of {', '.join(LANGS)}")
    evidence_path = Path(evidence_path)
    evidence, raw, images = load_for_report(evidence_path)
    sha = hashlib.sha256(raw).hexdigest()
    out = Path(out) if out is not None else default_report_path(evidence_path, lang)
    story, font = _build_story(evidence, sha, images, lang, redact_references, reviews)
    t = TEXT[lang]

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFont(font, 7)
        canvas.setFillGray(0.4)
        canvas.drawString(18 * mm, 10 * mm, f"{evidence['query_id']} · {t['evidence_sha']} {sha[:16]}…")
        canvas.drawRightString(A4[0] - 18 * mm, 10 * mm, t["page"].format(n=doc.page))
        canvas.restoreState()

    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=A4, leftMargin=18 * mm, rightMargin=18 * mm, topMargin=16 * mm, bottomMargin=18 * mm,
        title=f"{t['title']}: {evidence['query_id']}", author=f"auditor {__version__}",
        subject=f"evidence {sha}", lang=lang,
    )
    doc.build(story, onFirstPage=footer, onLaterPages=footer)
    final = _attach_and_sign(buf.getvalue(), raw, sha, Path(sign) if sign else None, passphrase)
    with atomic_path(out) as tmp:
        tmp.write_bytes(final)
    return out
