"""A results folder as one case: every clip with its level, work, episode, timecodes, p-value,
review state and report; the failures with their reasons; totals per work and owner. The case
summary (summary.py) and the case bundle (bundle.py) are written from it.

Read from the evidence files, summary.csv (for the clips that failed) and the review trail
(reviews.sqlite, when the desk was used); nothing is written here.
"""

from __future__ import annotations

import csv
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from ..errors import InputError, UsageError
from ..evidence.consistency import contradictions
from ..evidence.files import SUFFIX, read_evidence, read_exhibit, unescape_cell
from ..evidence.records import Evidence, ImageFile
from ..evidence.rules import Level
from .kit import catalogue_words

MAX_TEXT = 2000  # characters of any one text the summary shows (as in a report: pdf.MAX_TEXT)

WORDS = {
    "en": {
        "title": "Case summary", "folder": "Results folder: {path}",
        "counts": "{clips} clips: {flagged} flagged, {matched} matching a work, {failed} failed.",
        "works": "Totals per work", "work": "Work", "owner": "Rights holder", "clips": "Clips", "flagged": "Flagged",
        "seconds": "Matched seconds", "strongest": "Strongest level",
        "all_clips": "Every clip", "clip_name": "Clip", "level": "Level", "episode": "Episode", "clip_time": "Clip (s)",
        "ref_time": "Reference (s)", "p_value": "p-value", "review": "Review", "report": "Report", "evidence": "Evidence",
        "picture": "Strongest frame pair", "failures": "Failures", "reason": "Reason", "none": "none",
        "open": "open", "footer": "auditor case summary · {n} clips",
    },
    "ja": {
        "title": "事案の一覧", "folder": "結果フォルダ：{path}",
        "counts": "クリップ {clips} 件：指摘 {flagged} 件、作品と一致 {matched} 件、失敗 {failed} 件。",
        "works": "作品ごとの合計", "work": "作品", "owner": "権利者", "clips": "クリップ数", "flagged": "指摘",
        "seconds": "一致時間（秒）", "strongest": "最も強い水準",
        "all_clips": "全クリップ", "clip_name": "クリップ", "level": "水準", "episode": "話数・題名",
        "clip_time": "クリップ（秒）",
        "ref_time": "参照（秒）", "p_value": "p 値", "review": "確認", "report": "報告書", "evidence": "証拠",
        "picture": "最も強く一致したフレームの対", "failures": "失敗", "reason": "理由", "none": "なし",
        "open": "開く", "footer": "auditor 事案の一覧 · {n} 件",
    },
}

# a clip's review state in words, per language
REVIEW_STATES = {
    "en": {"confirm": "confirmed", "dismiss": "dismissed", "second look": "second look", "": "not reviewed"},
    "ja": {"confirm": "確認済み（一致を認める）", "dismiss": "却下", "second look": "再確認", "": "未確認"},
}


@dataclass
class ClipRow:
    query_id: str
    clip: str  # the clip's file name
    flagged: bool
    level: Level
    work: str = ""
    owner: str = ""
    episode: str = ""
    ref_id: str = ""
    query_span: tuple[float, float] | None = None
    ref_span: tuple[float, float] | None = None
    p_value: str = ""
    review: str = ""
    reviewer: str = ""
    report: str = ""  # the report's name in the folder ('' when none was rendered)
    evidence: str = ""
    pair: tuple[bytes, bytes | None] | None = None  # the strongest exhibit: suspect and reference pictures (JPEG)
    matched_seconds: float = 0.0


@dataclass
class Failure:
    query_id: str
    path: str
    reason: str


@dataclass
class WorkTotal:
    work: str
    owner: str
    clips: int = 0
    flagged: int = 0
    seconds: float = 0.0
    strongest: Level = Level.NONE


@dataclass
class Case:
    folder: Path
    clips: list[ClipRow] = field(default_factory=list)
    failures: list[Failure] = field(default_factory=list)
    works: list[WorkTotal] = field(default_factory=list)
    last_scan_utc: str = ""  # when the newest evidence was written (ISO 8601): the files' own date
    warnings: list[str] = field(default_factory=list)  # one line per file that cost its clip something

    @property
    def flagged(self) -> int:
        return sum(c.flagged for c in self.clips)

    @property
    def matched(self) -> int:
        return sum(c.level != Level.NONE for c in self.clips)


def _reviews(folder: Path) -> dict[str, tuple[str, str]]:
    """query_id -> (latest decision, reviewer), read-only (the desk's trail is never touched)."""
    db = folder / "reviews.sqlite"
    if not db.is_file():
        return {}
    try:
        conn = sqlite3.connect(f"file:{db}?mode=ro", uri=True)
        try:
            rows = conn.execute("SELECT d.query_id, d.decision, d.reviewer FROM decisions d JOIN (SELECT query_id, "
                                "MAX(id) AS id FROM decisions GROUP BY query_id) m USING(id)").fetchall()
        finally:
            conn.close()
    except sqlite3.Error as exc:
        raise InputError(db, f"cannot read the review trail: {exc}") from None
    return {q: (d, r) for q, d, r in rows}


def report_name(folder: Path, query_id: str, lang: str) -> str:
    """The clip's report in the folder, in `lang` if there is one, else in any language; ''."""
    names = [f"{query_id}.report{'' if lang == 'en' else '.' + lang}.pdf", f"{query_id}.report.pdf",
             f"{query_id}.report.ja.pdf"]
    return next((n for n in names if (folder / n).is_file()), "")


def _picture(folder: Path, image: ImageFile) -> bytes:
    """An exhibit picture that is inside the folder, has its SHA-256 and decodes; InputError."""
    data = read_exhibit(folder, image)
    try:
        ok = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR) is not None
    except cv2.error:
        ok = False
    if not ok:
        raise InputError(folder, f"exhibit frame {image.file} is not a readable picture")
    return data


def _pair(folder: Path, ev: Evidence, warnings: list[str]) -> tuple[bytes, bytes | None] | None:
    """The strongest exhibit pair; one that cannot be used is left out with a warning (the clip
    is still listed)."""
    for s in ev.segments():
        for ex in s.exhibits:
            try:
                return (_picture(folder, ex.query_image),
                        _picture(folder, ex.ref_image) if ex.ref_image else None)
            except InputError as exc:
                warnings.append(f"{ev.query_id}: {exc.reason} (shown without its frame pair)")
                return None
    return None


def clip_row(folder: Path, ev: Evidence, evidence_name: str, lang: str, reviews: dict,
             warnings: list[str] | None = None) -> ClipRow:
    row = ClipRow(query_id=ev.query_id, clip=Path(ev.clip.path).name, flagged=ev.verdict.flagged,
                  level=ev.verdict.level, evidence=evidence_name, report=report_name(folder, ev.query_id, lang))
    row.review, row.reviewer = reviews.get(ev.query_id, ("", ""))
    if ev.works:
        w = ev.works[0]
        row.work, row.owner, row.matched_seconds = w.work, w.owner, w.matched_seconds
        seg = w.best_segment
        if seg is not None:
            row.ref_id, row.episode = seg.ref_id, catalogue_words(ev, seg.ref_id, lang)
            row.query_span = (seg.query_start, seg.query_end)
            row.ref_span = None if seg.kind == "still" else (seg.ref_start, seg.ref_end)
        p_of = w.best_segment or w.resemblance
        if p_of is not None and p_of.p_value is not None:
            row.p_value = ("< " if p_of.p_value_at_floor else "") + f"{p_of.p_value:.2g}"
    row.pair = _pair(folder, ev, warnings if warnings is not None else [])
    return row


def read_case(folder: str | Path, lang: str = "en") -> Case:
    """The case of a results folder (UsageError when it holds no evidence and no summary.csv)."""
    folder = Path(folder)
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such results folder")
    case = Case(folder.resolve())
    reviews = _reviews(folder)
    seen = set()
    for f in sorted(folder.glob(f"*{SUFFIX}")):
        try:
            ev = read_evidence(f, max_text=MAX_TEXT)
            wrong = contradictions(ev)
            if wrong:
                raise InputError(f, f"the evidence contradicts itself: {wrong[0]}")
        except InputError as exc:  # costs this clip alone: listed among the failures, and said once
            case.warnings.append(str(exc))
            case.failures.append(Failure(f.name[: -len(SUFFIX)], f.name, exc.reason))
            seen.add(f.name[: -len(SUFFIX)])
            continue
        seen.add(ev.query_id)
        case.last_scan_utc = max(case.last_scan_utc, ev.created_utc)
        case.clips.append(clip_row(folder, ev, f.name, lang, reviews, case.warnings))
        for w in ev.works:
            total = next((t for t in case.works if t.work == w.work), None)
            if total is None:
                total = WorkTotal(w.work, w.owner)
                case.works.append(total)
            total.clips += 1
            total.flagged += int(ev.verdict.flagged and w.level.rank <= ev.verdict.level.rank)
            total.seconds += w.matched_seconds
            if w.level.rank < total.strongest.rank:
                total.strongest = w.level
    summary = folder / "summary.csv"
    if summary.is_file():
        with open(summary, newline="", encoding="utf-8") as fh:
            for r in csv.DictReader(fh):
                r = {k: unescape_cell(v) if isinstance(v, str) else v for k, v in r.items()}
                if r.get("status") == "error" and r.get("query_id") not in seen:
                    case.failures.append(Failure(r.get("query_id") or "", r.get("path") or "", r.get("error") or ""))
    if not case.clips and not case.failures:
        raise UsageError(f"{folder}: no evidence files and no summary.csv: not a results folder of auditor scan")
    case.clips.sort(key=lambda c: (c.level.rank, not c.flagged, c.query_id))
    case.works.sort(key=lambda t: (t.strongest.rank, -t.flagged, t.work))
    return case
