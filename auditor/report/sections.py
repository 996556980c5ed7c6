"""The report's body: per work its catalogue words, segments, timeline, frame pairs (without
marks; the overlays are appendix A), the region of a still, the resemblance gallery; and the
review trail."""

from __future__ import annotations

import io

from ..evidence.records import Evidence
from ..evidence.wording import level_name, rule_text
from .kit import FRAME_W_MM, Kit, catalogue_words, file_name, fmt_p, rule_of
from .pictures import exhibit_picture, png, region_picture, side_by_side, timeline_png


def _catalogue_table(ev: Evidence, w, k: Kit) -> list:
    """The catalogue's words for the work's cited references: ref id, episode, title, first
    published, notes."""
    from reportlab.lib.units import mm

    t, P, small = k.t, k.P, k.small
    cited = [rid for rid in dict.fromkeys(s.ref_id for s in w.segments) if rid in ev.references]
    if not cited:
        return []
    rows = [[P(t["reference_file"], small), P(t["episode"], small), P(t["first_published"].format(date="").strip(), small),
             P(t["file"], small)]]
    for rid in cited:
        r = ev.references[rid]
        words = catalogue_words(ev, rid, k.lang) or "–"
        note = f" · {r.notes}" if r.notes else ""
        rows.append([P(rid, small), P(words + note, small), P(r.first_published or "–", small),
                     P(file_name(r.path) or "–", small)])
    return [k.table(rows, [38 * mm, 64 * mm, 22 * mm, 50 * mm])]


def works(ev: Evidence, images: dict[str, bytes], k: Kit, redact_refs: bool) -> list:
    from reportlab.lib.units import mm
    from reportlab.platypus import CondPageBreak, Image, KeepTogether, Spacer

    t, P, small = k.t, k.P, k.small
    story = []
    for w in ev.works:
        story += [CondPageBreak(120 * mm), P(f"{t['work']}: {w.work} — {w.owner}", k.h2)]
        story += _catalogue_table(ev, w, k)
        story += _resemblance(w, images, k, redact_refs)
        if not w.segments:
            continue
        rows = [[P(t["query_time"], small), P(t["reference"], small), P(t["reference_time"], small),
                 P(t["score"], small), P(t["p_value"], small), P(t["level"], small)]]
        for s in w.segments:
            when = ("–" if s.kind == "still" else f"{s.ref_end:.2f}→{s.ref_start:.2f}" if (s.speed or 0) < 0
                    else f"{s.ref_start:.2f}–{s.ref_end:.2f}")  # a copy played backwards: in playing order
            rows.append([P(f"{s.query_start:.2f}–{s.query_end:.2f}", small), P(s.ref_id, small), P(when, small),
                         P(f"{s.score:.3f}", small), P(fmt_p(s.p_value, s.p_value_at_floor), small),
                         P(level_name(s.level, k.lang), small)])
        story += [P(t["segments"], k.h3), k.table(rows, [26 * mm, 46 * mm, 26 * mm, 16 * mm, 18 * mm, 42 * mm])]
        for s in w.segments[:3]:
            label, text = rule_of(s, k)
            story.append(P(f"{s.query_start:.2f}–{s.query_end:.2f} s · {label}: {text}", small))
            if s.kind == "video":
                story.append(P(span_basis(s, k), small))
        story.append(KeepTogether([P(t["timeline"], k.h3), Image(io.BytesIO(timeline_png(ev, w, k.lang)),
                                                                   width=FRAME_W_MM * mm, height=FRAME_W_MM * mm * 2.0 / 7.2)]))
        shown = [(s, ex) for s in w.segments for ex in s.exhibits]
        figures = []
        for i, (s, ex) in enumerate(shown):
            pic, vpair = exhibit_picture(s, ex, images.__getitem__, redact_refs, marks=False)
            width = FRAME_W_MM * mm
            height = width * pic.shape[0] / pic.shape[1]
            if height > 58 * mm:
                width, height = width * 58 * mm / height, 58 * mm
            caption = t["still_caption"] if s.kind == "still" else t["pair_caption"]
            cap = caption.format(qt=ex.query_t, ref=s.ref_id, rt=ex.ref_t)
            parts = ([P(t["frame_pairs"], k.h3)] if i == 0 else []) + [Image(io.BytesIO(png(pic)), width=width, height=height),
                                                                       P(cap, small)]
            if vpair:
                parts.append(P(t["inliers"].format(inliers=vpair.inliers, matches=vpair.matches), small))
            if ex.ref_image is None:
                parts.append(P(t["no_ref"].format(why=ex.ref_unavailable or ""), small))
            parts.append(Spacer(1, 3 * mm))
            figures.append(parts)
        story += keep_last_two(figures)
        for s in w.segments:
            still = region_picture(s, images.__getitem__, redact_refs)
            if still is None:
                continue
            width = 80 * mm * still.shape[1] / max(still.shape)
            height = 80 * mm * still.shape[0] / max(still.shape)
            x0, y0, x1, y1 = s.ref_region or (0, 0, 1, 1)
            cap = t["region_caption"].format(ref=s.ref_id, qs=s.query_start, qe=s.query_end, x0=x0 * 100, y0=y0 * 100,
                                             x1=x1 * 100, y1=y1 * 100, share=(x1 - x0) * (y1 - y0) * 100)
            story.append(KeepTogether([P(t["region"], k.h3), Image(io.BytesIO(png(still)), width=width, height=height),
                                       P(cap, small), Spacer(1, 3 * mm)]))
    return story


def keep_last_two(figures: list[list]) -> list:
    """Each figure kept together with its caption, and the last two kept together: the last one
    never stands alone on a page."""
    from reportlab.platypus import KeepTogether

    if len(figures) >= 2:
        figures = figures[:-2] + [figures[-2] + figures[-1]]
    return [KeepTogether(parts) for parts in figures]


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
                                            p=fmt_p(r.p_value, r.p_value_at_floor),
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


def review(reviews: list[dict], k: Kit) -> list:
    from reportlab.lib.units import mm
    from reportlab.platypus import CondPageBreak

    t, P, small = k.t, k.P, k.small
    story = [CondPageBreak(60 * mm), P(t["review"], k.h2), P(t["review_intro"], small)]
    if not reviews:
        return story + [P(t["review_none"])]
    rows = [[P(t["review_when"], small), P(t["review_who"], small), P(t["review_what"], small), P(t["review_why"], small)]]
    for r in reviews:
        decision = k.tables["review_decisions"].get(r["decision"], r["decision"])
        why = P(r["note"] or "–", small)
        if r.get("work"):  # a missed match: what and where it is, before why
            why = P(_missed_words(r, k) + (f" — {r['note']}" if r["note"] else ""), small)
        rows.append([P(r["created_utc"], small), P(r["reviewer"]), P(decision), why])
    return story + [k.table(rows, [38 * mm, 35 * mm, 27 * mm, 74 * mm])]


def outcome(flagged: bool, reviews: list[dict] | None, k: Kit) -> list[str]:
    """Page 1's lines under the verdict: flagged or not, and with a review trail, the latest
    decision (by whom and when) and the matches reviewers added that the scan missed."""
    t = k.t
    lines = [t["flagged"] if flagged else t["not_flagged"]]
    outcomes = k.tables["review_outcomes"]
    decided = [r for r in reviews or () if r["decision"] in outcomes]
    if decided:
        last = decided[-1]
        lines[0] = t["review_outcome"].format(flagged=lines[0], decision=outcomes[last["decision"]],
                                              who=last["reviewer"], when=last["created_utc"])
    missed = [r for r in reviews or () if r.get("work")]
    if missed:
        lines.append(t["review_missed_cover"].format(n=len(missed), items="; ".join(_missed_words(r, k) for r in missed)))
    return lines


def _missed_words(r: dict, k: Kit) -> str:
    """A missed match in words: the work (reference), its times in the clip and, when given, in the reference."""
    unit = " 秒" if k.lang == "ja" else " s"
    rt = ""
    if r.get("ref_start") is not None:
        rt = f" → {r['ref_start']:.1f}" + (f"–{r['ref_end']:.1f}" if r.get("ref_end") is not None else "") + unit
    return k.t["review_missed"].format(work=r["work"], ref=f" ({r['ref_id']})" if r.get("ref_id") else "",
                                            qs=r["query_start"], qe=r["query_end"], rt=rt)


def span_basis(s, k: Kit) -> str:
    """In words: the direction of a video segment's timeline and what its span rests on."""
    t = k.t
    sep = "" if k.lang == "ja" else " "  # Japanese sentences follow each other without a space
    unsupported = sum(p.frames for p in s.parts if p.basis == "unsupported")
    text = t["span_direction_backwards" if (s.speed or 0) < 0 else "span_direction"].format(
        qs=s.query_start, qe=s.query_end, speed=abs(s.speed or 1.0), a=s.ref_end, b=s.ref_start)
    if s.parts:  # files written before guided comparison (or with it off) do not say
        text += sep + t["span_basis"].format(paired=s.frames, guided=s.guided_frames)
    if unsupported:
        text += sep + t["span_unsupported"].format(n=unsupported)
    return text
