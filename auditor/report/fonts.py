"""Fonts for the evidence PDF: IPAex Gothic (TrueType, embedded) for Japanese reports."""

from __future__ import annotations

import os
import shutil
import subprocess
from pathlib import Path

from ..errors import MissingDependency

FONT_ENV = "AUDITOR_JA_FONT"
# IPAex Gothic (TrueType outlines, which reportlab can embed); installed by ./setup.sh
JA_FONT_PATHS = (
    "/usr/share/fonts/opentype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/truetype/ipaexfont-gothic/ipaexg.ttf",
    "/usr/share/fonts/truetype/fonts-japanese-gothic.ttf",
)


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


def report_fonts(lang: str) -> tuple[str, str, str]:
    """(regular, bold, monospace) font names registered with reportlab."""
    if lang == "en":
        return "Helvetica", "Helvetica-Bold", "Courier"
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    if "IPAexGothic" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(TTFont("IPAexGothic", str(japanese_font_path())))
    return "IPAexGothic", "IPAexGothic", "Courier"
