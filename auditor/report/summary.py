"""`auditor summary RESULTS`: the case summary, written beside the evidence in three forms.

- `summary.xlsx` (openpyxl): sheets of the totals per work and owner, every clip (level, work,
  episode, timecodes on both sides, p-value, review state, a link to its report) and the failures
  with their reasons;
- `summary.html`: one self-contained file (thumbnails inline) with the same tables;
- `summary.pdf`: the same for print, in the report's embedded fonts.
Text cells that a spreadsheet would run as formulas are escaped as in the CSVs. Each file is
written atomically; the same folder gives the same PDF and HTML bytes.
"""

from __future__ import annotations

import base64
import datetime
import html
import io
import re
import zipfile
from collections.abc import Callable
from pathlib import Path

import cv2

from reference_index.store import atomic_path, atomic_write_text

from ..evidence.files import escape_cell
from ..evidence.wording import check_lang, level_name
from .case import REVIEW_STATES, WORDS, Case, ClipRow, read_case
from .kit import file_name
from .pictures import LEVEL_COLOURS, decode, pair_picture

NAMES = ("summary.pdf", "summary.html", "summary.xlsx")


def summary_names(lang: str) -> tuple[str, ...]:
    """The summary's files in one language: summary.pdf ... in English, summary.ja.pdf ... in
    Japanese (as reports are named), so that both can lie side by side."""
    return NAMES if lang == "en" else tuple(n.replace("summary.", f"summary.{lang}.") for n in NAMES)


def _span(span: tuple[float, float] | None) -> str:
    return "" if span is None else f"{span[0]:.2f}–{span[1]:.2f}"


def thumbnail(row: ClipRow, height: int = 90) -> bytes | None:
    """The strongest frame pair side by side, small, as JPEG."""
    if row.pair is None:
        return None
    q, r = row.pair
    pic = pair_picture(decode(q), decode(r) if r else None, None, None)
    w = max(1, round(pic.shape[1] * height / pic.shape[0]))
    small = cv2.resize(pic, (w, height), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(small, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, 80])
    return buf.tobytes() if ok else None


def _clip_cells(c: ClipRow, lang: str) -> list[str]:
    return [c.clip, level_name(c.level, lang), c.work, c.owner, c.episode, _span(c.query_span), _span(c.ref_span),
            c.p_value, REVIEW_STATES[lang].get(c.review, c.review) + (f" ({c.reviewer})" if c.reviewer else "")]


def _clip_heads(w: dict[str, str]) -> list[str]:
    return [w["clip_name"], w["level"], w["work"], w["owner"], w["episode"], w["clip_time"], w["ref_time"], w["p_value"],
            w["review"]]


def write_xlsx(case: Case, path: Path, lang: str) -> None:
    from openpyxl import Workbook
    from openpyxl.styles import Font, PatternFill

    w = WORDS[lang]
    wb = Workbook()
    head_font, head_fill = Font(bold=True), PatternFill("solid", fgColor="E8E8E8")

    def sheet(ws, heads, rows, widths):
        ws.append(heads)
        for cell in ws[1]:
            cell.font, cell.fill = head_font, head_fill
        for r in rows:
            ws.append([escape_cell(v) for v in r])
        for i, width in enumerate(widths):
            ws.column_dimensions[chr(ord("A") + i)].width = width
        ws.freeze_panes = "A2"

    ws = wb.active
    ws.title = w["works"][:31]
    sheet(ws, [w["work"], w["owner"], w["clips"], w["flagged"], w["seconds"], w["strongest"]],
          [[t.work, t.owner, t.clips, t.flagged, round(t.seconds, 1), level_name(t.strongest, lang)] for t in case.works],
          [34, 28, 10, 10, 16, 26])
    ws = wb.create_sheet(w["all_clips"][:31])
    sheet(ws, _clip_heads(w) + [w["report"], w["evidence"]],
          [_clip_cells(c, lang) + [c.report, c.evidence] for c in case.clips],
          [30, 22, 24, 24, 24, 12, 12, 10, 18, 30, 34])
    for i, c in enumerate(case.clips, start=2):  # a link to each report, relative to the folder
        for col, target in ((10, c.report), (11, c.evidence)):
            if target:
                cell = ws.cell(row=i, column=col)
                cell.hyperlink, cell.style = target, "Hyperlink"
    ws = wb.create_sheet(w["failures"][:31])
    sheet(ws, [w["clip_name"], "path", w["reason"]], [[f.query_id, file_name(f.path), f.reason] for f in case.failures],
          [30, 50, 80])
    _save_as_of(wb, path, case.last_scan_utc)


def _save_as_of(wb, path: Path, when_utc: str) -> None:
    """Save the workbook dated by the case (its newest scan), not by the clock: the document's
    dates and its zip entries' alike, so the same folder gives the same bytes (openpyxl stamps
    both, and the document's `modified` date whatever it was set to, with the time of saving)."""
    try:
        when = datetime.datetime.fromisoformat(when_utc.replace("Z", "+00:00")).replace(tzinfo=None)
    except ValueError:
        when = datetime.datetime(1980, 1, 1)  # the zip format's earliest date: a case without evidence
    when = max(when, datetime.datetime(1980, 1, 1))
    wb.properties.created = wb.properties.modified = when
    buf = io.BytesIO()
    wb.save(buf)
    with zipfile.ZipFile(io.BytesIO(buf.getvalue())) as src, atomic_path(path) as tmp, \
            zipfile.ZipFile(tmp, "w", compression=zipfile.ZIP_DEFLATED) as dst:
        stamp = when.strftime("%Y-%m-%dT%H:%M:%SZ").encode()
        for entry in src.infolist():
            data = src.read(entry)
            if entry.filename == "docProps/core.xml":
                data = re.sub(rb"(<dcterms:modified[^>]*>)[^<]*(</dcterms:modified>)", rb"\g<1>" + stamp + rb"\g<2>", data)
            # the zip format keeps seconds in steps of two: write the even second it will read back
            dated = zipfile.ZipInfo(entry.filename, date_time=when.replace(second=when.second - when.second % 2).timetuple()[:6])
            dated.compress_type, dated.external_attr = zipfile.ZIP_DEFLATED, entry.external_attr
            dst.writestr(dated, data)


def write_html(case: Case, path: Path, lang: str) -> None:
    w = WORDS[lang]
    e = html.escape
    counts = w["counts"].format(clips=len(case.clips) + len(case.failures), flagged=case.flagged, matched=case.matched,
                                failed=len(case.failures))
    out = [f'<!doctype html><html lang="{lang}"><head><meta charset="utf-8"><title>{e(w["title"])}</title><style>'
           "body{font-family:'DejaVu Sans','IPAexGothic','Noto Sans CJK JP',sans-serif;margin:2em;font-size:14px}"
           "table{border-collapse:collapse;margin-bottom:2em}td,th{border:1px solid #bbb;padding:4px 6px;"
           "vertical-align:top;text-align:left}th{background:#eee}.lvl{font-weight:bold;white-space:nowrap}img{display:block}</style>"
           f'</head><body><h1>{e(w["title"])}</h1><p>{e(w["folder"].format(path=case.folder.name))}</p>'
           f'<p>{e(counts)}</p>']
    out.append(f'<h2>{e(w["works"])}</h2><table><tr>' + "".join(
        f"<th>{e(h)}</th>" for h in (w["work"], w["owner"], w["clips"], w["flagged"], w["seconds"], w["strongest"])) + "</tr>")
    for t in case.works:
        out.append(f"<tr><td>{e(t.work)}</td><td>{e(t.owner)}</td><td>{t.clips}</td><td>{t.flagged}</td>"
                   f"<td>{t.seconds:.1f}</td><td>{e(level_name(t.strongest, lang))}</td></tr>")
    out.append(f'</table><h2>{e(w["all_clips"])}</h2><table><tr>' + "".join(
        f"<th>{e(h)}</th>" for h in _clip_heads(w) + [w["picture"], w["report"]]) + "</tr>")
    for c in case.clips:
        cells = _clip_cells(c, lang)
        colour = LEVEL_COLOURS.get(str(c.level), "#000")
        tds = [f"<td>{e(cells[0])}</td>", f'<td class="lvl" style="color:{colour}">{e(cells[1])}</td>']
        tds += [f"<td>{e(v)}</td>" for v in cells[2:]]
        thumb = thumbnail(c)
        tds.append(f'<td><img alt="" src="data:image/jpeg;base64,{base64.b64encode(thumb).decode()}"></td>'
                   if thumb else "<td></td>")
        link = c.report or c.evidence
        tds.append(f'<td><a href="{e(link)}">{e(w["open"])}</a></td>' if link else "<td></td>")
        out.append("<tr>" + "".join(tds) + "</tr>")
    out.append(f'</table><h2>{e(w["failures"])}</h2>')
    if case.failures:
        out.append(f'<table><tr><th>{e(w["clip_name"])}</th><th>path</th><th>{e(w["reason"])}</th></tr>')
        out += [f"<tr><td>{e(f.query_id)}</td><td>{e(file_name(f.path))}</td><td>{e(f.reason)}</td></tr>" for f in case.failures]
        out.append("</table>")
    else:
        out.append(f'<p>{e(w["none"])}</p>')
    out.append("</body></html>\n")
    atomic_write_text(path, "".join(out))


def write_pdf(case: Case, path: Path, lang: str) -> None:
    from reportlab.lib.pagesizes import A4, landscape
    from reportlab.lib.units import mm
    from reportlab.platypus import Image, SimpleDocTemplate

    from .fonts import draw_string
    from .kit import make_kit

    w = WORDS[lang]
    k = make_kit(lang)
    P, small = k.P, k.small
    story = [P(w["title"], k.h1), P(w["folder"].format(path=case.folder.name), small),
             P(w["counts"].format(clips=len(case.clips) + len(case.failures), flagged=case.flagged,
                                  matched=case.matched, failed=len(case.failures)))]
    rows = [[P(h, small) for h in (w["work"], w["owner"], w["clips"], w["flagged"], w["seconds"], w["strongest"])]]
    rows += [[P(t.work, small), P(t.owner, small), P(str(t.clips), small), P(str(t.flagged), small),
              P(f"{t.seconds:.1f}", small), P(level_name(t.strongest, lang), small)] for t in case.works]
    story += [P(w["works"], k.h2), k.table(rows, [70 * mm, 60 * mm, 20 * mm, 20 * mm, 30 * mm, 55 * mm])]
    rows = [[P(h, small) for h in _clip_heads(w) + [w["picture"], w["report"]]]]
    for c in case.clips:
        thumb = thumbnail(c, height=60)
        pic = ""
        if thumb:
            img = decode(thumb)
            pic = Image(io.BytesIO(thumb), width=36 * mm, height=36 * mm * img.shape[0] / img.shape[1])
        rows.append([P(v, small) for v in _clip_cells(c, lang)] + [pic, P(c.report or c.evidence, small)])
    story += [P(w["all_clips"], k.h2),
              k.table(rows, [i * mm for i in (28, 21, 25, 23, 23, 16, 16, 12, 21, 38, 27)])]
    story.append(P(w["failures"], k.h2))
    if case.failures:
        rows = [[P(w["clip_name"], small), P("path", small), P(w["reason"], small)]]
        rows += [[P(f.query_id, small), P(file_name(f.path), small), P(f.reason, small)] for f in case.failures]
        story.append(k.table(rows, [50 * mm, 90 * mm, 110 * mm]))
    else:
        story.append(P(w["none"]))

    def footer(canvas, doc):
        canvas.saveState()
        canvas.setFillGray(0.4)
        draw_string(canvas, 18 * mm, 8 * mm, f'{w["footer"].format(n=len(case.clips) + len(case.failures))} · {doc.page}',
                    k.body.fontName, 7)
        canvas.restoreState()

    with atomic_path(path) as tmp:
        doc = SimpleDocTemplate(str(tmp), pagesize=landscape(A4), leftMargin=18 * mm, rightMargin=18 * mm,
                                topMargin=14 * mm, bottomMargin=14 * mm, title=w["title"], author="auditor",
                                lang=lang, initialFontName=k.body.fontName, invariant=1)
        doc.build(story, onFirstPage=footer, onLaterPages=footer)


def write_summary(folder: str | Path, lang: str = "en", warn: Callable[[str], None] | None = None,
                  out_dir: str | Path | None = None) -> list[Path]:
    """Write summary.pdf, summary.html and summary.xlsx (summary.ja.* in Japanese: `summary_names`)
    into the results folder, or `out_dir`; their paths. `warn` hears, one line each, of files that
    cost their clip something (unreadable evidence, an exhibit that cannot be shown)."""
    check_lang(lang)
    case = read_case(folder, lang)
    for line in case.warnings:
        if warn is not None:
            warn(line)
    paths = [Path(out_dir if out_dir is not None else folder) / n for n in summary_names(lang)]
    write_pdf(case, paths[0], lang)
    write_html(case, paths[1], lang)
    write_xlsx(case, paths[2], lang)
    return paths
