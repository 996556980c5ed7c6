"""Fonts for the evidence PDF and the case summary: embedded TrueType fonts only, with fallback.

A report quotes the catalogue and the clip in whatever script they use (a Japanese title in an
English report, a Korean owner, an accented reviewer's name), so every piece of text is split
into runs, each set in the first font of the report's chain that has its characters:
DejaVu Sans (Latin, accented Latin, Greek, Cyrillic), IPAex Gothic (Japanese), Droid Sans
Fallback (Chinese), Nanum Gothic (Korean). A Japanese report puts IPAex Gothic first. All are TrueType,
which reportlab embeds (as subsets); none of the PDF's base-14 fonts is used, so what prints is
what any reader sees. ./setup.sh installs the fonts (Debian's fonts-dejavu-core,
fonts-ipaexfont-gothic, fonts-droid-fallback and fonts-nanum).
"""

from __future__ import annotations

import os
import shutil
import subprocess
from functools import cache
from pathlib import Path
from xml.sax.saxutils import escape

from ..errors import MissingDependency

FONT_ENV = "AUDITOR_JA_FONT"
# IPAex Gothic (TrueType outlines, which reportlab can embed); installed by ./setup.sh
JA_FONT_PATHS = (
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
)
DEJAVU = Path("/usr/share/fonts/truetype/dejavu")
# name registered with reportlab -> (Debian package, candidate files)
FONT_FILES = {
    "AuditorSans": ("fonts-dejavu-core", (DEJAVU / "DejaVuSans.ttf",)),
    "AuditorSans-Bold": ("fonts-dejavu-core", (DEJAVU / "DejaVuSans-Bold.ttf",)),
    "AuditorMono": ("fonts-dejavu-core", (DEJAVU / "DejaVuSansMono.ttf",)),
    "AuditorCJK": ("fonts-droid-fallback", (Path("/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf"),)),
    "AuditorHangul": ("fonts-nanum", (Path("/usr/share/fonts/truetype/nanum/NanumGothic.ttf"),)),
}
JA = "IPAexGothic"


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
        "Reports need the IPAex Gothic font (TrueType) for Japanese text: run ./setup.sh, which installs "
        f"Debian's fonts-ipaexfont-gothic, or set {FONT_ENV}=/path/to/a/japanese.ttf"
    )


def font_path(name: str) -> Path:
    if name == JA:
        return japanese_font_path()
    package, candidates = FONT_FILES[name]
    for c in candidates:
        if c.is_file():
            return c
    raise MissingDependency(f"Reports embed the font {candidates[0].name}: run ./setup.sh, which installs Debian's {package}")


@cache
def _face(name: str):
    """The registered reportlab font (registering it on first use)."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if name not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont(name, str(font_path(name))))
    return pdfmetrics.getFont(name)


@cache
def _covers(name: str) -> frozenset[int]:
    return frozenset(_face(name).face.charToGlyph)


def chain(lang: str, bold: bool = False) -> tuple[str, ...]:
    """The fonts text is set in, in the order they are tried."""
    latin = "AuditorSans-Bold" if bold else "AuditorSans"
    names = (JA, latin, "AuditorCJK", "AuditorHangul") if lang == "ja" else (latin, JA, "AuditorCJK", "AuditorHangul")
    for n in names:
        _face(n)
    return names


def report_fonts(lang: str) -> tuple[str, str, str]:
    """(regular, bold, monospace) font names registered with reportlab: each the head of a chain."""
    regular = chain(lang)[0]
    bold = chain(lang, bold=True)[0]
    _face("AuditorMono")
    return regular, bold, "AuditorMono"


def fallbacks_for(font: str) -> tuple[str, ...]:
    """The chain headed by `font` (a font of report_fonts)."""
    if font == "AuditorMono":
        return ("AuditorMono", "AuditorSans", JA, "AuditorCJK", "AuditorHangul")
    if font == JA:
        return chain("ja")
    return chain("en", bold=font == "AuditorSans-Bold")


def runs(text: str, fonts: tuple[str, ...]) -> list[tuple[str, str]]:
    """`text` as (font, piece) runs: each character in the first font of `fonts` that has it
    (spaces, and characters no font has, stay in the current run)."""
    out: list[tuple[str, str]] = []
    current = fonts[0]
    for ch in text:
        code = ord(ch)
        if not ch.isspace():
            current = next((f for f in fonts if code in _covers(f)), current)
        if out and out[-1][0] == current:
            out[-1] = (current, out[-1][1] + ch)
        else:
            out.append((current, ch))
    return out


def markup(text: str, font: str) -> str:
    """Paragraph markup of plain `text` whose style's font is `font`: escaped, with the runs
    another font must set wrapped in <font face=...>."""
    parts = []
    for face, piece in runs(text, fallbacks_for(font)):
        piece = escape(piece)
        parts.append(piece if face == font else f'<font face="{face}">{piece}</font>')
    return "".join(parts)


def draw_string(canvas, x: float, y: float, text: str, font: str, size: float, right: bool = False) -> None:
    """canvas.drawString with fallback fonts (right=True: `x` is the right edge)."""
    from reportlab.pdfbase.pdfmetrics import stringWidth

    pieces = runs(text, fallbacks_for(font))
    if right:
        x -= sum(stringWidth(p, f, size) for f, p in pieces)
    for f, p in pieces:
        canvas.setFont(f, size)
        canvas.drawString(x, y, p)
        x += stringWidth(p, f, size)


@cache
def font_fingerprints() -> dict[str, str | None]:
    """The SHA-256 (first 16 hex digits) of each font file a report may embed (None: not on this
    machine); a report rendered with other font files has other bytes."""
    import hashlib

    out: dict[str, str | None] = {}
    for name in (*FONT_FILES, JA):
        try:
            out[name] = hashlib.sha256(font_path(name).read_bytes()).hexdigest()[:16]
        except MissingDependency:
            out[name] = None
    return out
