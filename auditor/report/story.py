"""The evidence PDF's contents, as reportlab flowables, in reading order.

Page one is for people: the verdict in one sentence (the clip, the work with the catalogue's
episode and title, timecodes on both sides), what was done to the clip as far as the evidence
shows it (changes.py), the clearest verified frame pair side by side without marks, the works,
one line each on what the level, the score and the p-value mean, and the identification a
reader checks against the files (the hashes `auditor verify` reads stay here).
Then the case details (the scan, the clip's provenance and collection), each work
(sections.py), the review trail, and the appendices: local-feature overlays, methods and the
chain of custody (appendix.py).

Everything is read from one `Evidence` record and the exhibit pictures it names; every word the
report itself says comes from text.py (and the sentences of rules and verdicts from
evidence/wording.py), in the report's language.
"""

from __future__ import annotations

import io
from pathlib import Path

from ..evidence.records import Evidence, Provenance, Resemblance, SegmentSummary
from ..evidence.rules import Level
from ..evidence.wording import count, level_name, odds, verdict_sentence
from . import appendix, changes, notes, sections
from .kit import ATTACHMENT_NAME, FRAME_W_MM, Kit, catalogue_words, channel_lines, file_name, fmt_p, make_kit, plurals, work_line
from .pictures import LEVEL_COLOURS, exhibit_picture, png

__all__ = ["ATTACHMENT_NAME", "build_story"]


def _context_rows(prov: Provenance | None, k: Kit, keys: tuple[str, ...] | None = None, cut: int = 0) -> list:
    """Rows (label, value) of the user's context, in the report's language; `keys`: only these;
    `cut`: values longer than this end in an ellipsis (the case details print them whole)."""
    ctx = prov.context if prov else None
    if not ctx:
        return []
    names = k.tables["context_keys"]

    def shown(v) -> str:
        v = str(v)
        return v[: cut - 1] + "…" if cut and len(v) > cut else v

    return [[k.P(names.get(key, key), k.small), k.P(shown(v), k.small)] for key, v in ctx.fields.items()
            if keys is None or key in keys]


# Page one keeps the hashes `auditor verify` reads: it lists the strongest works only, so that
# however many works a clip touches, the identification stays on it
COVER_WORKS = 4
COVER_H_MM = 255  # the text block's height on A4 with the report's margins, less the frame's padding
COLLECTION_KEYS = ("collected_by", "organisation", "source_url", "collected_at")


def _provenance(prov: Provenance, k: Kit) -> list:
    from reportlab.lib.units import mm

    t, P, small = k.t, k.P, k.small
    cc = prov.content_credentials
    lines = [P(k.tables["cc_status"].get(cc.status, str(cc.status)))]
    for r in cc.reasons:
        lines.append(P(f"{r.get('code')}: {r.get('explanation')}" if isinstance(r, dict) else str(r), small))
    m = cc.active_manifest
    if m:
        when = f", {m.signing_time}" if m.signing_time else ""
        lines.append(P(t["cc_signer"].format(signer=m.signer, issuer=m.certificate_issuer, when=when,
                                             gen=m.claim_generator), small))
        for a in m.actions:
            said = (a.get("action"), a.get("digital_source_type"), a.get("software_agent"))
            lines.append(P("• " + " ".join(str(v) for v in said if v), small))
        lines.append(P(t["cc_ai"].format(v=t["yes"] if m.ai_generated else t["not_stated"]), small))
        if cc.status == "valid" and not cc.signer_trusted:
            lines.append(P(t["cc_untrusted"], small))
    box = prov.container
    box_line = t["container_line"].format(
        codec=box.codec, w=box.width, h=box.height, fps=float(box.fps or 0),
        enc=box.encoder or t["not_recorded"], created=box.creation_time or t["not_recorded"],
    ) if box.readable else "–"
    ctx = prov.context
    if ctx:
        where = P(f"{file_name(ctx.source)} · SHA-256 {ctx.sha256}", small)
        inner = k.table(_context_rows(prov, k) + [[P(t["file"], small), where]], [38 * mm, 83 * mm], header=False)
        ctx_cell = [inner]
    else:
        ctx_cell = [P(t["no_context"])]
    rows = [[P(t["cc"], small), lines], [P(t["container"], small), P(box_line, small)], [P(t["context"], small), ctx_cell]]
    return [k.table(rows, [45 * mm, 129 * mm], header=False)]


def _best(ev: Evidence):
    """(work, what the verdict rests on: a segment or the work's resemblance), or (None, None)."""
    if not ev.works:
        return None, None
    work = ev.works[0]
    best: SegmentSummary | Resemblance | None = work.best_segment
    if work.resemblance is not None and (best is None or ev.verdict.level == Level.RESEMBLANCE):
        best = work.resemblance
    return work, best


def _featureless(ev: Evidence, t: float) -> bool:
    """Whether the suspect frame at `t` scored below a channel's `min_quality` (a flat or blurred
    frame: a poor picture of the match, whatever its inliers)."""
    frames = [f for f in ev.frames if abs(f.t - t) < 1e-3]
    settings = ev.tool.parameters.get("channels") or {}
    for f in frames:
        for ch, q in f.quality.items():
            least = (settings.get(ch) or {}).get("min_quality") if isinstance(settings.get(ch), dict) else None
            if least is not None and q < float(least):
                return True
    return False


def clearest_exhibit(ev: Evidence):
    """(segment, exhibit) of the strongest work's clearest frame pair: a verified pair first, of a
    frame that is not featureless, then the most inliers; (None, None) without exhibits."""
    for w in ev.works:
        ranked = []
        for s in w.segments:
            checked = s.verification.pairs if s.verification else ()
            for ex in s.exhibits:
                i = ex.verification_pair
                pair = checked[i] if i is not None and i < len(checked) else None
                ranked.append(((bool(pair and pair.verified), not _featureless(ev, ex.query_t),
                                pair.inliers if pair else -1), s, ex))
        if ranked:
            _, s, ex = max(ranked, key=lambda r: r[0])  # the first of equals: the stronger segment's
            return s, ex
    return None, None


def _strongest_pair(ev: Evidence, images: dict[str, bytes], k: Kit, redact_refs: bool) -> list:
    """The clearest verified exhibit of the strongest work, side by side, without marks."""
    from reportlab.lib.units import mm
    from reportlab.platypus import Image

    s, ex = clearest_exhibit(ev)
    if s is None or ex is None:
        return []
    pic, _ = exhibit_picture(s, ex, images.__getitem__, redact_refs, marks=False)
    width = FRAME_W_MM * mm
    height = width * pic.shape[0] / pic.shape[1]
    if height > 62 * mm:
        width, height = width * 62 * mm / height, 62 * mm
    ref = f"{s.work} {catalogue_words(ev, s.ref_id, k.lang)} ({s.ref_id})".replace("  ", " ")
    cap = (k.t["still_caption"] if s.kind == "still" else k.t["pair_clean"]).format(qt=ex.query_t, ref=ref, rt=ex.ref_t)
    return [Image(io.BytesIO(png(pic)), width=width, height=height), k.P(cap, k.small)]


def _cover(ev: Evidence, evidence_sha: str, images: dict[str, bytes], k: Kit, redact_refs: bool,
           reviews: list[dict] | None = None) -> list:
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import mm
    from reportlab.platypus import KeepInFrame, Spacer

    t, P, small, monos = k.t, k.P, k.small, k.monos
    clip, verdict = ev.clip, ev.verdict
    name = Path(clip.path).name
    story = [P(t["title"], k.h1), P(t["suspect_line"].format(name=name), k.body), Spacer(1, 2 * mm)]
    colour = LEVEL_COLOURS.get(str(verdict.level), "#000000")
    vstyle = ParagraphStyle("verdict", parent=k.body, fontName=k.bold, fontSize=11, leading=15,
                            textColor=colors.HexColor(colour))
    work, best = _best(ev)
    words = catalogue_words(ev, best.ref_id, k.lang) if best is not None and hasattr(best, "ref_id") else None
    sentence = verdict_sentence(
        name, best, work and work.work, work and work.owner, len(ev.segments()),
        verdict.p_value, verdict.p_value_at_floor, verdict.expected_false_matches, k.lang, words=words,
    )
    story += [P(t["verdict"], k.h2), P(sentence, vstyle)]
    story += [P(line) for line in sections.outcome(verdict.flagged, reviews, k)]
    done = changes.what_was_done(ev, k.lang)
    if done:
        story += [P(changes.heading(k.lang), k.h3)] + [P(line, small) for line in done]
    noted = notes.points_to_note(ev, k.lang)
    if noted:
        story += [P(notes.heading(k.lang), k.h3)] + [P("• " + line, small) for line in noted]
    pair = _strongest_pair(ev, images, k, redact_refs)
    if pair:
        story += [P(t["strongest_pair"], k.h3)] + pair
    if ev.works:
        # no p-value here: page one words the chance below; the exact figures are the appendix's
        rows = [[P(t["work"], small), P(t["owner"], small), P(t["level"], small), P(t["matched"], small)]]
        for w in ev.works[:COVER_WORKS]:
            matched = t["seconds"].format(v=w.matched_seconds) if w.segments else "–"  # no shared timeline
            rows.append([P(work_line(ev, w, k.lang), small), P(w.owner, small), P(level_name(w.level, k.lang), small),
                         P(matched, small)])
        story += [P(t["works"], k.h3), k.table(rows, [78 * mm, 46 * mm, 34 * mm, 16 * mm])]
        if len(ev.works) > COVER_WORKS:
            story.append(P(t["more_works"].format(n=len(ev.works) - COVER_WORKS), small))
    else:
        story.append(P(t["no_segments"]))
    story += [P(t["what_it_means"], k.h3)] + [P(line, small) for line in _meanings(ev, k)]
    rows = [
        [P(t["suspect_clip"], small), P(name, small)],
        [P(t["clip_sha"], small), P(clip.sha256, monos)],
        [P(t["evidence_sha"], small), P(evidence_sha, monos)],
        [P(t["scan_time"], small), P(ev.created_utc, small)],
    ] + _context_rows(ev.provenance, k, COLLECTION_KEYS, cut=110)
    story += [P(t["identification"], k.h3), k.table(rows, [45 * mm, 129 * mm], header=False)]
    if redact_refs:
        story += [Spacer(1, 2 * mm), P(t["redacted_note"], small)]
    # all of it on page one, shrunk if it must be (the hashes verify reads are printed there)
    return [KeepInFrame(FRAME_W_MM * mm, COVER_H_MM * mm, story, mode="shrink")]


def _meanings(ev: Evidence, k: Kit) -> list[str]:
    """One line each on what the verdict's level and its chance mean, worded for a reader who is
    not a statistician: the plain count first, the model's figure named as one. (The score stays
    with the segments: beside levels it reads as a ranking it is not.)"""
    t, v = k.t, ev.verdict
    lines = [t["meaning_level"].format(level=level_name(v.level, k.lang),
                                       meaning=k.tables["level_meanings"].get(str(v.level), ""))]
    if not ev.works:
        return lines
    null = ev.calibration.null if ev.calibration else None
    if v.chance is not None and null is not None:
        c = v.chance
        basis = (t["basis_background"].format(minutes=f"{null.minutes:g}", clips=null.clips, **plurals(null))
                 if null.method == "background" else t["basis_lowo"].format(works=null.works))
        key = "meaning_chance_none" if c.null_closer == 0 else "meaning_chance_some"
        lines.append(t[key].format(n=count(c.null_frames, k.lang), k=count(c.null_closer, k.lang), basis=basis,
                                   odds=odds(c.null_closer / c.null_frames, k.lang) if c.null_closer else ""))
        if v.p_value is not None:
            lines.append(t["meaning_model"].format(odds=odds(v.p_value, k.lang)) if c.extrapolated
                         else t["meaning_counted"].format(p=fmt_p(v.p_value, v.p_value_at_floor)))
        lines += _shortfall(ev, null, k)
    elif v.p_value is not None:
        lines.append(t["meaning_p"].format(p=fmt_p(v.p_value, v.p_value_at_floor), e=f"{v.expected_false_matches or 0:.2g}"))
    else:
        lines.append(t["meaning_no_p"])
    return lines


def _shortfall(ev: Evidence, null, k: Kit) -> list[str]:
    """Lines saying the calibration rests on less than the documented minimum, in the report's language."""
    cal, t = ev.tool.parameters.get("calibration") or {}, k.t
    out = []
    if "min_null_frames" in cal and null.frames < int(cal["min_null_frames"]):
        out.append(t["meaning_short_frames"].format(frames=count(null.frames, k.lang),
                                                    min=count(cal["min_null_frames"], k.lang)))
    least = float(cal.get("min_background_minutes", 0))
    if null.method == "background" and null.minutes < least:
        out.append(t["meaning_short_minutes"].format(minutes=f"{null.minutes:g}", min=f"{least:g}", **plurals(null)))
    return out


def _case(ev: Evidence, k: Kit) -> list:
    """The scan's details and the clip's provenance."""
    from reportlab.lib.units import mm
    from reportlab.platypus import PageBreak

    t, P, small, monos = k.t, k.P, k.small, k.monos
    clip, idx = ev.clip, ev.index
    rows = [
        [P(t["suspect_clip"], small), P(file_name(clip.path), small)],
        [P(t["duration"], small), P(t["seconds"].format(v=float(clip.duration_s or 0)))],
        [P(t["size"], small), P(t["bytes"].format(v=int(clip.size_bytes or 0)))],
        [P(t["resolution"], small), P(f"{clip.width} x {clip.height}, {clip.fps or 0:g} fps")],
        [P(t["tool"], small), P(f"auditor {ev.tool.version}")],
        [P(t["index"], small), P(t["generation"].format(id=idx.id, n=idx.generation), monos)],
        [P(t["manifest"], small), P(idx.manifest_sha256, monos)],
        [P(t["channels"], small), [P(line, small) for line in channel_lines(ev, k.lang)]],
    ]
    if idx.shards:  # searched through shards: say of which index, and how it was split
        sh = idx.shards
        rows.insert(7, [P(t["sharded"], small), P(t["sharded_value"].format(
            n=sh.shards, by=t.get(f"by_{sh.by}", sh.by), source=sh.source_id, sha=sh.source_manifest_sha256 or "-"), small)])
    story = [PageBreak(), P(t["case_details"], k.h2), k.table(rows, [45 * mm, 129 * mm], header=False),
             P(t["evidence_attached"].format(name=ATTACHMENT_NAME), small)]
    if ev.provenance:
        story += [P(t["provenance"], k.h2)] + _provenance(ev.provenance, k)
    return story


def build_story(ev: Evidence, evidence_sha: str, images: dict[str, bytes], lang: str, redact_refs: bool,
                reviews: list[dict] | None = None) -> tuple[list, str]:
    """(flowables, the regular font's name) of the whole report."""
    k = make_kit(lang)
    story = _cover(ev, evidence_sha, images, k, redact_refs, reviews) + _case(ev, k) + sections.works(ev, images, k, redact_refs)
    if reviews is not None:
        story += sections.review(reviews, k)
    story += appendix.overlays(ev, images, k, redact_refs) + appendix.methods(ev, k)
    story += appendix.custody(ev, evidence_sha, images, k)
    return story, k.body.fontName
