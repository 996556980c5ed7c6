"""The evidence PDF's contents, as reportlab flowables: cover, works, review, methods, custody.

Everything is read from one `Evidence` record and the exhibit pictures it names; every word the
report itself says comes from text.py (and the sentences of rules and verdicts from
evidence/wording.py), in the report's language.
"""

from __future__ import annotations

import hashlib
import io
import json
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from xml.sax.saxutils import escape

from .. import __version__
from ..evidence.records import Evidence, Provenance
from ..evidence.rules import Level
from ..evidence.wording import channel_description, level_name, rule_text, verdict_sentence
from .fonts import report_fonts
from .pictures import LEVEL_COLOURS, exhibit_picture, png, region_picture, side_by_side, timeline_png
from .text import TEXT

ATTACHMENT_NAME = "evidence.json"


@dataclass
class Kit:
    """Styles and builders shared by the sections."""

    t: dict
    lang: str
    body: object
    small: object
    monos: object
    h1: object
    h2: object
    h3: object
    bold: str

    def P(self, text, style=None):
        from reportlab.platypus import Paragraph

        return Paragraph(escape(str(text)), style or self.body)

    def table(self, rows, widths, header=True, style_extra=()):
        from reportlab.lib import colors
        from reportlab.platypus import Table, TableStyle

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


def _kit(lang: str) -> Kit:
    from reportlab.lib.enums import TA_LEFT
    from reportlab.lib.styles import ParagraphStyle

    regular, bold, mono = report_fonts(lang)
    wrap = "CJK" if lang == "ja" else "LTR"
    body = ParagraphStyle("body", fontName=regular, fontSize=9, leading=13, alignment=TA_LEFT, wordWrap=wrap, spaceAfter=3)
    return Kit(
        t=TEXT[lang], lang=lang, body=body, bold=bold,
        small=ParagraphStyle("small", parent=body, fontSize=7.5, leading=10, spaceAfter=1),
        monos=ParagraphStyle("mono", parent=body, fontName=mono, fontSize=7, leading=9, wordWrap="LTR"),
        h1=ParagraphStyle("h1", parent=body, fontName=bold, fontSize=17, leading=22, spaceAfter=2),
        h2=ParagraphStyle("h2", parent=body, fontName=bold, fontSize=12.5, leading=16, spaceBefore=8, spaceAfter=4),
        h3=ParagraphStyle("h3", parent=body, fontName=bold, fontSize=10, leading=13, spaceBefore=6, spaceAfter=3),
    )


def _flatten(d: dict, prefix: str = "") -> list[tuple[str, str]]:
    out = []
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            out += _flatten(v, key)
        else:
            out.append((key, json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v))
    return out


def _fmt_p(p: float | None, at_floor: bool | None) -> str:
    if p is None:
        return "–"
    return ("< " if at_floor else "") + f"{p:.2g}"


def _rule(segment, k: Kit) -> tuple[str, str]:
    """(label, text) of a segment's rule: rendered from its outcomes, or (files written before
    rules were data) the evidence's own English words, marked as such."""
    if segment.rules:
        return k.t["rule"], rule_text(segment.rules, k.lang)
    return k.t["rule_quoted"], segment.rule


def _channel_lines(ev: Evidence) -> list[str]:
    lines = []
    for name, fp in ev.tool.channels.items():
        extra = fp.get("weights_sha256") or fp.get("source")
        model = fp.get("model") or fp.get("algorithm", "")
        lines.append(f"{name}: {model} (fingerprint {fp.get('id')}" + (f"; weights {extra}" if isinstance(extra, str) else "") + ")")
    return lines


def _provenance(prov: Provenance, k: Kit) -> list:
    from reportlab.lib.units import mm

    t, P, small = k.t, k.P, k.small
    cc = prov.content_credentials
    lines = [P(t["cc_status"].get(cc.status, str(cc.status)))]
    for r in cc.reasons:
        lines.append(P(f"{r.get('code')}: {r.get('explanation')}" if isinstance(r, dict) else str(r), small))
    m = cc.active_manifest
    if m:
        when = f", {m.signing_time}" if m.signing_time else ""
        lines.append(P(t["cc_signer"].format(signer=m.signer, issuer=m.certificate_issuer, when=when,
                                             gen=m.claim_generator), small))
        for a in m.actions:
            lines.append(P("• " + " ".join(str(v) for v in (a.get("action"), a.get("digital_source_type"), a.get("software_agent")) if v), small))
        lines.append(P(t["cc_ai"].format(v=t["yes"] if m.ai_generated else t["not_stated"]), small))
        if cc.status == "valid" and not cc.signer_trusted:
            lines.append(P(t["cc_untrusted"], small))
    box = prov.container
    box_line = t["container_line"].format(
        codec=box.codec, w=box.width, h=box.height, fps=float(box.fps or 0),
        enc=box.encoder or t["not_recorded"], created=box.creation_time or t["not_recorded"],
    ) if box.readable else "–"
    ctx = prov.context
    ctx_cell = [P(t["no_context"])] if not ctx else [P(f"{key}: {v}", small) for key, v in ctx.fields.items()] + [
        P(f"{ctx.source} · SHA-256 {ctx.sha256}", small)]
    rows = [[P(t["cc"], small), lines], [P(t["container"], small), P(box_line, small)], [P(t["context"], small), ctx_cell]]
    return [k.table(rows, [45 * mm, 125 * mm], header=False)]


def _cover(ev: Evidence, evidence_sha: str, k: Kit, redact_refs: bool) -> list:
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import Spacer

    t, P, small, monos = k.t, k.P, k.small, k.monos
    clip, idx, verdict = ev.clip, ev.index, ev.verdict
    story = [P(t["title"], k.h1), P(t["subtitle"], small), Spacer(1, 4 * mm)]
    rows = [
        [P(t["suspect_clip"], small), P(Path(clip.path).name)],
        [P(t["clip_sha"], small), P(clip.sha256, monos)],
        [P(t["duration"], small), P(t["seconds"].format(v=float(clip.duration_s or 0)))],
        [P(t["size"], small), P(t["bytes"].format(v=int(clip.size_bytes or 0)))],
        [P(t["resolution"], small), P(f"{clip.width} x {clip.height}, {clip.fps or 0:g} fps")],
        [P(t["scan_time"], small), P(ev.created_utc)],
        [P(t["tool"], small), P(f"auditor {ev.tool.version}")],
        [P(t["index"], small), P(f"{idx.id} (generation {idx.generation})", monos)],
        [P(t["manifest"], small), P(idx.manifest_sha256, monos)],
        [P(t["channels"], small), [P(line, small) for line in _channel_lines(ev)]],
        [P(t["evidence_sha"], small), P(evidence_sha, monos)],
    ]
    story += [P(t["case"], k.h2), k.table(rows, [45 * mm, 125 * mm], header=False)]
    story.append(P(t["evidence_attached"].format(name=ATTACHMENT_NAME), small))
    if ev.provenance:
        story += [P(t["provenance"], k.h2)] + _provenance(ev.provenance, k)
    colour = LEVEL_COLOURS.get(str(verdict.level), "#000000")
    vstyle = ParagraphStyle("verdict", parent=k.body, fontName=k.bold, fontSize=11, leading=15,
                            textColor=colors.HexColor(colour))
    best_work = ev.works[0] if ev.works else None
    best = None
    if best_work is not None:  # what the verdict rests on: a segment, or the work's resemblance
        best = best_work.best_segment
        if best_work.resemblance is not None and (best is None or verdict.level == Level.RESEMBLANCE):
            best = best_work.resemblance
    sentence = verdict_sentence(
        ev.query_id, best, best_work and best_work.work, best_work and best_work.owner, len(ev.segments()),
        verdict.p_value, verdict.p_value_at_floor, verdict.expected_false_matches, k.lang,
    )
    story += [P(t["verdict"], k.h2), P(sentence, vstyle), P(t["flagged"] if verdict.flagged else t["not_flagged"])]
    if ev.works:
        rows = [[P(t["work"], small), P(t["owner"], small), P(t["level"], small), P(t["matched"], small), P(t["p_value"], small)]]
        for w in ev.works:
            p_of = w.best_segment or w.resemblance
            matched = t["seconds"].format(v=w.matched_seconds) if w.segments else "–"  # no shared timeline
            rows.append([P(w.work), P(w.owner), P(level_name(w.level, k.lang)), P(matched),
                         P(_fmt_p(p_of.p_value, p_of.p_value_at_floor))])
        story += [P(t["works"], k.h2), k.table(rows, [52 * mm, 45 * mm, 35 * mm, 20 * mm, 18 * mm])]
    else:
        story.append(P(t["no_segments"]))
    if redact_refs:
        story += [Spacer(1, 2 * mm), P(t["redacted_note"], small)]
    return story


def _works(ev: Evidence, images: dict[str, bytes], k: Kit, redact_refs: bool) -> list:
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, KeepTogether, PageBreak, Spacer

    t, P, small = k.t, k.P, k.small
    story = []
    for w in ev.works:
        story += [PageBreak(), P(f"{t['work']}: {w.work} — {w.owner}", k.h2)]
        meta = ", ".join(f"{key}: {v}" for key, v in w.metadata.items() if v)
        if meta:
            story.append(P(meta, small))
        story += _resemblance(w, images, k, redact_refs)
        if not w.segments:
            continue
        rows = [[P(t["query_time"], small), P(t["reference"], small), P(t["score"], small), P(t["p_value"], small), P(t["level"], small)]]
        for s in w.segments:
            ref = s.ref_id if s.kind == "still" else f"{s.ref_id} {s.ref_start:.2f}–{s.ref_end:.2f}"
            rows.append([P(f"{s.query_start:.2f}–{s.query_end:.2f}"), P(ref, small), P(f"{s.score:.3f}"),
                         P(_fmt_p(s.p_value, s.p_value_at_floor)), P(level_name(s.level, k.lang))])
        story += [P(t["segments"], k.h3), k.table(rows, [30 * mm, 62 * mm, 18 * mm, 20 * mm, 40 * mm])]
        for s in w.segments[:3]:
            label, text = _rule(s, k)
            story.append(P(f"{s.query_start:.2f}–{s.query_end:.2f} s · {label}: {text}", small))
        story += [P(t["timeline"], k.h3), Image(io.BytesIO(timeline_png(ev, w, k.lang)), width=170 * mm, height=170 * mm * 2.0 / 7.2)]
        shown = [(s, ex) for s in w.segments for ex in s.exhibits]
        if shown:
            story.append(P(t["frame_pairs"], k.h3))
        for s, ex in shown:
            pic, vpair = exhibit_picture(s, ex, images.__getitem__, redact_refs)
            width = 170 * mm
            height = width * pic.shape[0] / pic.shape[1]
            if height > 60 * mm:
                width, height = width * 60 * mm / height, 60 * mm
            cap = (t["still_caption"] if s.kind == "still" else t["pair_caption"]).format(qt=ex.query_t, ref=s.ref_id, rt=ex.ref_t)
            parts = [Image(io.BytesIO(png(pic)), width=width, height=height), P(cap, small)]
            if vpair:
                parts.append(P(t["inliers"].format(inliers=vpair.inliers, matches=vpair.matches), small))
            if ex.ref_image is None:
                parts.append(P(t["no_ref"].format(why=ex.ref_unavailable or ""), small))
            parts.append(Spacer(1, 3 * mm))
            story.append(KeepTogether(parts))
        for s in w.segments:
            pic = region_picture(s, images.__getitem__, redact_refs)
            if pic is None:
                continue
            width = 80 * mm * pic.shape[1] / max(pic.shape)
            height = 80 * mm * pic.shape[0] / max(pic.shape)
            x0, y0, x1, y1 = s.ref_region or (0, 0, 1, 1)
            cap = t["region_caption"].format(ref=s.ref_id, qs=s.query_start, qe=s.query_end, x0=x0 * 100, y0=y0 * 100,
                                             x1=x1 * 100, y1=y1 * 100, share=(x1 - x0) * (y1 - y0) * 100)
            story.append(KeepTogether([P(t["region"], k.h3), Image(io.BytesIO(png(pic)), width=width, height=height),
                                       P(cap, small), Spacer(1, 3 * mm)]))
    return story


def _resemblance(w, images: dict[str, bytes], k: Kit, redact_refs: bool) -> list:
    """A work's resemblance without a shared timeline: the statistic, its p-value and rule, and
    the gallery of the clip's closest moments beside the work's nearest frames."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, KeepTogether, Spacer

    r = w.resemblance
    if r is None:
        return []
    t, P, small = k.t, k.P, k.small
    story = [P(t["resemblance"], k.h3),
             P(t["resemblance_line"].format(value=r.value, m=r.top_frames, n=r.frames, channel=r.channel,
                                            p=_fmt_p(r.p_value, r.p_value_at_floor),
                                            level=level_name(r.level, k.lang)), small)]
    if r.rules:
        story.append(P(f"{t['rule']}: {rule_text(r.rules, k.lang)}", small))
    elif r.p_value is None:
        story.append(P(t["resemblance_uncalibrated"], small))
    for g in r.gallery:
        if g.query_image is None:
            continue
        q = images[g.query_image.file]
        ref = images[g.ref_image.file] if g.ref_image else None
        pic = side_by_side(q, ref, redact_refs)
        width = 120 * mm
        height = width * pic.shape[0] / pic.shape[1]
        where = g.ref_id if g.ref_t == 0 and g.ref_box is not None else f"{g.ref_id} {g.ref_t:.2f} s"
        cap = t["gallery_caption"].format(qt=g.query_t, crop=t["crop"] if g.crop else "", ref=where, sim=g.similarity)
        story.append(KeepTogether([Image(io.BytesIO(png(pic)), width=width, height=height), P(cap, small),
                                   Spacer(1, 2 * mm)]))
    return story


def _review(reviews: list[dict], k: Kit) -> list:
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak

    t, P, small = k.t, k.P, k.small
    story = [PageBreak(), P(t["review"], k.h2), P(t["review_intro"], small)]
    if not reviews:
        return story + [P(t["review_none"])]
    rows = [[P(t["review_when"], small), P(t["review_who"], small), P(t["review_what"], small), P(t["review_why"], small)]]
    for r in reviews:
        rows.append([P(r["created_utc"], small), P(r["reviewer"]), P(t["review_decisions"].get(r["decision"], r["decision"])),
                     P(r["note"] or "–", small)])
    return story + [k.table(rows, [38 * mm, 35 * mm, 27 * mm, 70 * mm])]


def _methods(ev: Evidence, k: Kit) -> list:
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak

    t, P, small = k.t, k.P, k.small
    cfg = ev.tool.parameters
    seg, ver = cfg["segments"], cfg["verify"]
    story = [PageBreak(), P(t["methods"], k.h2)]
    story.append(P(t["methods_sampling"].format(q=cfg["sampling"]["query"]["fps"], r=cfg["sampling"]["reference"]["fps"],
                                                 side=cfg["sampling"]["max_side"])))
    story.append(P(t["methods_channels"]))
    for name, line in zip(ev.tool.channels, _channel_lines(ev)):
        story.append(P("• " + line, small))
        described = channel_description(name, k.lang)
        if described:
            story.append(P("  " + described, small))
    story.append(P(t["methods_segments"].format(lo=seg["min_speed"], hi=seg["max_speed"], gap=seg["max_gap_s"],
                                                n=seg["min_frames"], d=seg["min_duration_s"])))
    rule = t["verify_rule"].format(lo=ver["min_scale"], hi=ver["max_scale"], aniso=ver["max_anisotropy"],
                                   n=ver["min_inliers"], n_small=ver["min_inliers_small"],
                                   ratio=ver["min_inlier_ratio_small"], share=float(ver.get("min_verified_share", 0.5)))
    story.append(P(t["methods_verify"].format(rule=rule)))
    story.append(P(t["methods_levels"]))
    cal = ev.calibration
    if cal and cal.calibrated:
        story.append(P(t["methods_pvalue"].format(method=cal.method, trials=cal.trials)))
    else:
        story.append(P(t["methods_uncalibrated"]))
    story.append(P(t["thresholds"], k.h3))
    channels = {name: cfg["channels"][name] for name in ev.tool.channels if isinstance(cfg["channels"].get(name), dict)}
    chosen = {"channels": channels, "verdict": cfg["verdict"], "verify": cfg["verify"], "calibration": cfg.get("calibration", {})}
    rows = [[P(key, k.monos), P(v, k.monos)] for key, v in _flatten(chosen)]
    story.append(k.table(rows, [70 * mm, 100 * mm], header=False))
    return story


def _custody(ev: Evidence, evidence_sha: str, images: dict[str, bytes], k: Kit) -> list:
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak, Spacer

    t, P, small, monos = k.t, k.P, k.small, k.monos
    story = [PageBreak(), P(t["custody"], k.h2), P(t["custody_intro"])]
    rows = [[P(t["file"], small), P(t["hash"], small)],
            [P(f"{t['suspect_clip']}: {ev.clip.path}", small), P(ev.clip.sha256, monos)],
            [P(f"{ATTACHMENT_NAME} ({ev.query_id}.evidence.json)", small), P(evidence_sha, monos)],
            [P(f"{t['manifest']}: {ev.index.path}", small), P(ev.index.manifest_sha256, monos)]]
    ctx = ev.provenance.context if ev.provenance else None
    if ctx:
        rows.append([P(f"{t['context']}: {ctx.source}", small), P(ctx.sha256, monos)])
    for rid, r in sorted(ev.references.items()):
        rows.append([P(f"{t['reference']}: {rid} — {r.path}", small), P(r.sha256 or "", monos)])
    for name in sorted(images):
        rows.append([P(f"{t['exhibit_from']}: {name}", small), P(hashlib.sha256(images[name]).hexdigest(), monos)])
    story.append(k.table(rows, [64 * mm, 110 * mm]))
    story.append(P(t["parameters"], k.h3))
    rows = [[P(key, monos), P(v, monos)] for key, v in _flatten(ev.tool.parameters)]
    story.append(k.table(rows, [70 * mm, 100 * mm], header=False))
    story.append(P(t["versions"], k.h3))
    rows = [[P(key, monos), P(str(v), monos)] for key, v in ev.tool.libraries.items()]
    story.append(k.table(rows, [50 * mm, 120 * mm], header=False))
    when = datetime.now(timezone.utc).isoformat(timespec="seconds")
    story += [Spacer(1, 4 * mm), P(t["generated"].format(when=when, version=__version__), small)]
    return story


def build_story(ev: Evidence, evidence_sha: str, images: dict[str, bytes], lang: str, redact_refs: bool,
                reviews: list[dict] | None = None) -> tuple[list, str]:
    """(flowables, the regular font's name) of the whole report."""
    k = _kit(lang)
    story = _cover(ev, evidence_sha, k, redact_refs) + _works(ev, images, k, redact_refs)
    if reviews is not None:
        story += _review(reviews, k)
    story += _methods(ev, k) + _custody(ev, evidence_sha, images, k)
    return story, k.body.fontName
