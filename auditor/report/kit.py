"""What the report's sections share: styles (embedded fonts with fallback), tables, and the
small renderings of evidence values (p-values, rules, the catalogue's words for a reference)."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from ..evidence.records import Evidence
from ..evidence.wording import rule_text
from .fonts import markup, report_fonts
from .text import TABLES, TEXT

if TYPE_CHECKING:
    from reportlab.lib.styles import ParagraphStyle

ATTACHMENT_NAME = "evidence.json"
FRAME_W_MM = 174  # the text block's width on A4 with 18 mm margins


@dataclass
class Kit:
    """Styles and builders shared by the sections."""

    t: dict[str, str]  # the report's sentences in its language
    tables: dict[str, dict[str, str]]  # and its tables of words (text.TABLES)
    lang: str
    body: ParagraphStyle
    small: ParagraphStyle
    monos: ParagraphStyle
    h1: ParagraphStyle
    h2: ParagraphStyle
    h3: ParagraphStyle
    bold: str

    def P(self, text, style=None):
        from reportlab.platypus import Paragraph

        style = style or self.body
        return Paragraph(markup(str(text), style.fontName), style)

    def table(self, rows, widths, header=True, style_extra=()):
        from reportlab.lib import colors
        from reportlab.platypus import Table, TableStyle

        tbl = Table(rows, colWidths=widths, repeatRows=1 if header else 0)
        st = [
            ("FONTNAME", (0, 0), (-1, -1), self.body.fontName),  # else reportlab sets Helvetica per cell
            ("VALIGN", (0, 0), (-1, -1), "TOP"),
            ("GRID", (0, 0), (-1, -1), 0.25, colors.HexColor("#b0b0b0")),
            ("LEFTPADDING", (0, 0), (-1, -1), 3),
            ("RIGHTPADDING", (0, 0), (-1, -1), 3),
        ]
        if header:
            st.append(("BACKGROUND", (0, 0), (-1, 0), colors.HexColor("#e8e8e8")))
        tbl.setStyle(TableStyle(st + list(style_extra)))
        return tbl


def make_kit(lang: str) -> Kit:
    from reportlab.lib.enums import TA_LEFT
    from reportlab.lib.styles import ParagraphStyle

    regular, bold, mono = report_fonts(lang)
    # CJK wrapping breaks between any two characters, which Japanese needs; English text quoting
    # Japanese titles breaks at spaces and, inside the Japanese runs, between characters too
    wrap = "CJK" if lang == "ja" else "LTR"
    body = ParagraphStyle("body", fontName=regular, fontSize=9, leading=13, alignment=TA_LEFT, wordWrap=wrap, spaceAfter=3)
    return Kit(
        t=TEXT[lang], tables=TABLES[lang], lang=lang, body=body, bold=bold,
        small=ParagraphStyle("small", parent=body, fontSize=7.5, leading=10, spaceAfter=1),
        monos=ParagraphStyle("mono", parent=body, fontName=mono, fontSize=7, leading=9, wordWrap="LTR"),
        h1=ParagraphStyle("h1", parent=body, fontName=bold, fontSize=17, leading=22, spaceAfter=2),
        h2=ParagraphStyle("h2", parent=body, fontName=bold, fontSize=12.5, leading=16, spaceBefore=8, spaceAfter=4,
                          keepWithNext=1),
        h3=ParagraphStyle("h3", parent=body, fontName=bold, fontSize=10, leading=13, spaceBefore=6, spaceAfter=3,
                          keepWithNext=1),
    )


def flatten(d: dict, prefix: str = "") -> list[tuple[str, str]]:
    out = []
    for k, v in d.items():
        key = f"{prefix}.{k}" if prefix else str(k)
        if isinstance(v, dict):
            out += flatten(v, key)
        else:
            out.append((key, json.dumps(v, ensure_ascii=False) if not isinstance(v, str) else v))
    return out


def file_name(path: str | None) -> str:
    """A file's name without the folders it lay in on the machine that scanned it: reports and
    summaries name files, they never print a machine's paths (the evidence JSON keeps them)."""
    if not path:
        return ""
    return re.split(r"[\\/]", str(path).rstrip("/\\"))[-1] or str(path)


def fmt_p(p: float | None, at_floor: bool | None) -> str:
    if p is None:
        return "–"
    return ("< " if at_floor else "") + f"{p:.2g}"


def rule_of(segment, k: Kit) -> tuple[str, str]:
    """(label, text) of a segment's rule: rendered from its outcomes, or (files written before
    rules were data) the evidence's own English words, marked as such."""
    if segment.rules:
        return k.t["rule"], rule_text(segment.rules, k.lang)
    return k.t["rule_quoted"], segment.rule


def channel_lines(ev: Evidence, lang: str = "en") -> list[str]:
    t = TEXT[lang]
    lines = []
    for name, fp in ev.tool.channels.items():
        extra = fp.get("weights_sha256") or fp.get("source")
        model = fp.get("model") or fp.get("algorithm", "")
        what = [t["fingerprint"].format(id=fp.get("id"))] + ([t["weights"].format(w=extra)] if isinstance(extra, str) else [])
        lines.append(f"{name}: {model} ({'; '.join(what)})")
    return lines


def plurals(null) -> dict[str, str]:
    """English plural endings of a background's clips ({s}) and minutes ({ms}): '1 clip', '2 clips'
    (Japanese counts take none, and its sentences leave them out)."""
    return {"s": "" if null.clips == 1 else "s", "ms": "" if f"{null.minutes:g}" == "1" else "s"}


def _quoted(title: str) -> bool:
    """Whether a title already carries its quotes or brackets ('「長い配達」', '｢長い配達｣', '【長い配達】',
    '第1話「長い配達」', '“Night Market”'): it is printed as it is, not wrapped again."""
    import unicodedata

    if not title:
        return False
    if title[0] in "\"'" or unicodedata.category(title[0]) in ("Ps", "Pi"):
        return True
    return unicodedata.category(title[-1]) in ("Pe", "Pf") and any(unicodedata.category(c) in ("Ps", "Pi") for c in title)


def catalogue_words(ev: Evidence, ref_id: str, lang: str) -> str:
    """The catalogue's episode and title of a reference ('第1話 「長い配達」', 'episode 2 “Night
    Market”'), '' when it states neither."""
    r = ev.references.get(ref_id)
    if r is None:
        return ""
    parts = []
    if r.episode:
        ep = r.episode.strip()
        parts.append((f"第{ep}話" if lang == "ja" else f"episode {ep}") if ep.isdigit() else ep)
    if r.title:
        title = r.title.strip().strip("\ufeff\u200b").strip()
        quoted = _quoted(title)
        cjk = any(ord(c) >= 0x2E80 for c in title)  # a Japanese, Chinese or Korean title keeps its own brackets
        parts.append(title if quoted else (f"「{title}」" if lang == "ja" or cjk else f"“{title}”"))
    return " ".join(parts)


def work_line(ev: Evidence, work, lang: str) -> str:
    """A work's row text: its title, the episodes the clip cites, when first published."""
    t = TEXT[lang]
    cited = []
    for s in work.segments:
        words = catalogue_words(ev, s.ref_id, lang)
        if words and words not in cited:
            cited.append(words)
    text = " · ".join([work.work] + cited)
    published = work.metadata.get("first_published") if isinstance(work.metadata, dict) else None
    if published:
        text += f" ({t['first_published'].format(date=published)})"
    return text
