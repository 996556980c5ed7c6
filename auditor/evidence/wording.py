"""Sentences rendered from the evidence's structured fields, in English and Japanese.

Rules are data (rules.py); where they are shown (the evidence's English `rule` and `summary`
fields, the PDF, the review desk) their sentences are rendered here, in the reader's language.
A channel's statistic is named in the words its channel declares.
"""

from __future__ import annotations

import math

from ..channels import channel_class
from ..errors import UsageError
from .rules import Comparison, Effect, Level, RuleOutcome

LANGS = ("en", "ja")

LEVEL_NAMES = {
    "en": {level: str(level) for level in Level},
    "ja": {
        Level.NEAR_IDENTICAL: "ほぼ同一の複製",
        Level.STRONG: "強い類似",
        Level.MOMENT: "作品のフレームの再現",
        Level.RESEMBLANCE: "時間軸の一致しない作品との類似",
        Level.WEAK: "弱い類似",
        Level.NONE: "一致なし",
    },
}

# measures that are not a channel's statistic: (label, unit) per language
MEASURES = {
    "en": {
        "segment.frames": ("frames in the segment", ""),
        "verification.verified_share": ("share of frame pairs verified geometrically", ""),
        "verification.median_inliers": ("median RANSAC inliers of the checked frame pairs", ""),
        "calibration.expected_false_matches": ("expected false matches by chance", ""),
        "resemblance.expected_false_matches": ("expected false matches of the work's resemblance by chance", ""),
        "verdict.level": ("level", ""),
    },
    "ja": {
        "segment.frames": ("区間のフレーム数", ""),
        "verification.verified_share": ("幾何学的検証を通ったフレーム対の割合", ""),
        "verification.median_inliers": ("検証したフレーム対の RANSAC インライア数の中央値", ""),
        "calibration.expected_false_matches": ("偶然の一致の期待件数", ""),
        "resemblance.expected_false_matches": ("作品との類似が偶然生じる期待件数", ""),
        "verdict.level": ("水準", ""),
    },
}

WORDS = {
    "en": {
        "over": " over {n} frames",
        "needs": " (needs {n} frames)",
        "not_in": "not in",
        "grant": "{level}",
        "grant_failed": "not met",
        "cap": "within the limit",
        "cap_failed": "held at {level}",
        "require": "kept",
        "require_failed": "segment dropped",
        "flag": "flagged",
        "flag_failed": "not flagged",
        "join": "; ",
        "then": ": ",
        "verdict_match": "Seconds {qs:.1f}–{qe:.1f} of {clip} match {where} ({work}, {owner}): {level}.",
        "where_video": "seconds {rs:.1f}–{re:.1f} of {ref}",
        "where_still": "the still {ref}",
        "verdict_named": "Seconds {qs:.1f}–{qe:.1f} of {clip} match {where} of {work}{words} ({ref}, {owner}): {level}.",
        "named_video": "seconds {rs:.1f}–{re:.1f}",
        "where_video_backwards": "seconds {re:.1f} back to {rs:.1f} of {ref}, played backwards",
        "named_video_backwards": "seconds {re:.1f} back to {rs:.1f}, played backwards,",
        "named_still": "the still",
        "verdict_more": " {n} other segments match as well.",
        "verdict_more_one": " One other segment matches as well.",
        "verdict_moment": "{frames} frame(s) of {clip} at {qs:.1f}–{qe:.1f} s reproduce {where} ({work}, {owner}): {level}.",
        "verdict_moment_named": "{frames} frame(s) of {clip} at {qs:.1f}–{qe:.1f} s reproduce {where} of {work}{words} "
                                "({ref}, {owner}): {level}.",
        "where_moment_video": "the frame at {rs:.1f} s of {ref}",
        "named_moment_video": "the frame at {rs:.1f} s",
        "verdict_p": " Unrelated footage matches this well with probability {bound}{p}; over every comparison this "
                     "scan made, {bound}{e} such matches are expected by chance.",
        "verdict_count_none": " None of the {n} frames of unrelated footage compared with the catalogue came this close.",
        "verdict_count_some": " {k} of the {n} frames of unrelated footage compared with the catalogue came this close.",
        "odds_about": "about 1 in {n}",
        "odds_fewer": "fewer than 1 in {n}",
        "below": "below ",
        "verdict_none": "No part of {clip} matches the reference index.",
        "verdict_resemblance": "Frames of {clip} resemble {work} ({owner}) without lining up in time with any of its "
                               "videos: its closest {m} of {n} moments average a similarity of {value:.3f} to the work's "
                               "frames; {level}.",
        "rule_none": "no segment: no run of consecutive frames matched one reference at a steady time offset",
    },
    "ja": {
        "over": "（{n} フレーム）",
        "needs": "（{n} フレーム以上が必要）",
        "not_in": "に含まれない：",
        "grant": "{level}",
        "grant_failed": "満たさない",
        "cap": "上限内",
        "cap_failed": "{level}にとどめる",
        "require": "採用",
        "require_failed": "区間を採らない",
        "flag": "指摘する",
        "flag_failed": "指摘しない",
        "join": "。",
        "then": "：",
        "verdict_match": "{clip} の {qs:.1f}–{qe:.1f} 秒は {where}（{work}、{owner}）と一致します：{level}。",
        "where_video": "{ref} の {rs:.1f}–{re:.1f} 秒",
        "where_still": "静止画 {ref}",
        "verdict_named": "{clip} の {qs:.1f}–{qe:.1f} 秒は {work}{words}の{where}（{ref}、{owner}）と一致します：{level}。",
        "named_video": " {rs:.1f}–{re:.1f} 秒",
        "where_video_backwards": "{ref} の {re:.1f} 秒から {rs:.1f} 秒まで（逆再生）",
        "named_video_backwards": " {re:.1f} 秒から {rs:.1f} 秒まで（逆再生）",
        "named_still": "静止画",
        "verdict_more": "ほかに {n} 件の一致区間があります。",
        "verdict_more_one": "ほかに 1 件の一致区間があります。",
        "verdict_moment": "{clip} の {qs:.1f}–{qe:.1f} 秒の {frames} フレームは {where}（{work}、{owner}）を再現しています：{level}。",
        "verdict_moment_named": "{clip} の {qs:.1f}–{qe:.1f} 秒の {frames} フレームは {work}{words}の{where}（{ref}、{owner}）を"
                                "再現しています：{level}。",
        "where_moment_video": "{ref} の {rs:.1f} 秒のフレーム",
        "named_moment_video": " {rs:.1f} 秒のフレーム",
        "verdict_p": "無関係な映像がこれほど一致する確率は {p}{bound}です（この照合で行ったすべての比較を通じて、偶然の"
                     "一致が見込まれる件数は {e}{bound}）。",
        "verdict_count_none": "目録全体と照合した無関係な映像 {n} フレームのうち、これほど近いものは一つもありませんでした。",
        "verdict_count_some": "目録全体と照合した無関係な映像 {n} フレームのうち、{k} フレームがこれほど近いものでした。",
        "odds_about": "約 {n}回に 1 回",
        "odds_fewer": "{n}回に 1 回未満",
        "below": " 未満",
        "verdict_none": "{clip} のどの部分も参照インデックスと一致しません。",
        "verdict_resemblance": "{clip} のフレームは、{work}（{owner}）のどの動画とも時間軸が一致しないまま、その作品に"
                               "類似しています。最も近い {m} / {n} 時点の作品フレームとの類似度の平均は {value:.3f} です：{level}。",
        "rule_none": "一致区間なし：一つの参照と一定の時間差で連続して一致するフレームがありません",
    },
}

_FAILED = {Comparison.LE: ">", Comparison.GE: "<"}


def check_lang(lang: str) -> str:
    if lang not in LANGS:
        raise UsageError(f"--lang {lang!r}: choose one of {', '.join(LANGS)}")
    return lang


def level_name(level: Level | str, lang: str) -> str:
    try:
        return LEVEL_NAMES[lang][Level(level)]
    except ValueError:
        return str(level)


def number(x: object) -> str:
    """A measured value or threshold as a reader wants it: whole numbers whole, small ones in
    three significant digits, the rest to three decimals."""
    if isinstance(x, bool) or not isinstance(x, (int, float)) or math.isnan(x):
        return str(x)
    if float(x).is_integer():
        return str(int(x))
    if abs(x) < 0.01 or abs(x) >= 1e6:
        return f"{x:.3g}"
    return f"{x:.3f}".rstrip("0").rstrip(".")


def measure_words(measure: str, lang: str) -> tuple[str, str]:
    """(label, unit) of a measure: a channel's statistic in the words its channel declares,
    the decision's own measures from the table above, else the measure's name."""
    if measure in MEASURES[lang]:
        return MEASURES[lang][measure]
    channel = measure.split(".", 1)[0]
    try:
        words = channel_class(channel).words
    except UsageError:  # a plugin channel not installed here
        return measure, ""
    label = words.get("moment_label", words["label"]) if measure.endswith(".moment") else words["label"]
    return label.get(lang, measure), words["unit"].get(lang, "")


def outcome_sentence(o: RuleOutcome, lang: str) -> str:
    """One rule's outcome, e.g. 'PDQ median Hamming distance 6 <= 20 bits over 12 frames: near-identical copy'."""
    w = WORDS[lang]
    label, unit = measure_words(o.measure, lang)
    unit = f" {unit}" if unit else ""
    if o.comparison == Comparison.IN:
        assert isinstance(o.threshold, tuple)  # an "in" rule's threshold is a list of levels
        levels = ", ".join(level_name(x, lang) for x in o.threshold)
        cmp = "in" if o.passed else w["not_in"]
        body = f"{label} {level_name(str(o.measured), lang)} {cmp} [{levels}]"
    else:
        cmp = str(o.comparison) if o.passed or o.measured is None else _FAILED[o.comparison]
        measured = "–" if o.measured is None else number(o.measured)
        body = f"{label} {measured} {cmp} {number(o.threshold)}{unit}"
    if o.frames is not None and o.measure != "segment.frames":
        body += w["over"].format(n=o.frames)
    if o.min_frames is not None and o.frames is not None and o.frames < o.min_frames:
        body += w["needs"].format(n=o.min_frames)
    key = {Effect.GRANT: "grant", Effect.CAP: "cap", Effect.REQUIRE: "require", Effect.FLAG: "flag"}[o.effect]
    result = w[key if o.passed else f"{key}_failed"].format(level=level_name(o.level, lang) if o.level else "")
    return f"{body}{w['then']}{result}"


def rule_text(outcomes, lang: str = "en") -> str:
    """The decisive outcomes as one text (all outcomes when none is marked decisive)."""
    chosen = [o for o in outcomes if o.decisive] or list(outcomes)
    if not chosen:
        return WORDS[lang]["rule_none"]
    return WORDS[lang]["join"].join(outcome_sentence(o, lang) for o in chosen)


def verdict_sentence(clip: str, best, work: str | None, owner: str | None, n_segments: int, p_value: float | None,
                     p_value_at_floor: bool | None, expected_false_matches: float | None, lang: str = "en",
                     words: str | None = None) -> str:
    """The verdict in one sentence. `best`: the strongest segment (a record with query_start,
    query_end, kind, ref_id, ref_start, ref_end, level), a work's resemblance (a record with
    value, frames, top_frames, level), or None. `words`: the catalogue's episode and title of the
    segment's reference ('' when it has none; None: the sentence of evidence files, naming the file)."""
    w = WORDS[lang]
    if best is None:
        return w["verdict_none"].format(clip=clip)
    if not hasattr(best, "query_start"):  # a resemblance without a shared timeline
        text = w["verdict_resemblance"].format(clip=clip, work=work, owner=owner, m=best.top_frames, n=best.frames,
                                               value=best.value, level=level_name(best.level, lang))
        if p_value is not None:
            bound = w["below"] if p_value_at_floor else ""
            text += w["verdict_p"].format(bound=bound, p=f"{p_value:.2g}", e=f"{expected_false_matches:.2g}")
        return text
    backwards = "_backwards" if (getattr(best, "speed", None) or 0.0) < 0 else ""  # a copy played backwards
    if best.level == Level.MOMENT:  # a frame or a few reproduce one frame or still: no interval of it
        named = words is not None
        where = (w["named_still" if named else "where_still"] if best.kind == "still"
                 else w["named_moment_video" if named else "where_moment_video"]).format(ref=best.ref_id, rs=best.ref_start)
        text = w["verdict_moment_named" if named else "verdict_moment"].format(
            clip=clip, frames=best.frames, qs=best.query_start, qe=best.query_end, where=where, work=work,
            words=f" {words}" if words else "", ref=best.ref_id, owner=owner, level=level_name(best.level, lang))
    elif words is not None:  # the catalogue's words for the reference (episode, title): the work named first
        where = (w["named_still"] if best.kind == "still"
                 else w["named_video" + backwards].format(rs=best.ref_start, re=best.ref_end))
        text = w["verdict_named"].format(clip=clip, qs=best.query_start, qe=best.query_end, where=where, work=work,
                                         words=f" {words}" if words else "", ref=best.ref_id, owner=owner,
                                         level=level_name(best.level, lang))
    else:
        where = (w["where_still"].format(ref=best.ref_id) if best.kind == "still"
                 else w["where_video" + backwards].format(ref=best.ref_id, rs=best.ref_start, re=best.ref_end))
        text = w["verdict_match"].format(clip=clip, qs=best.query_start, qe=best.query_end, where=where, work=work,
                                         owner=owner, level=level_name(best.level, lang))
    if n_segments > 1:
        text += w["verdict_more_one"] if n_segments == 2 else w["verdict_more"].format(n=n_segments - 1)
    chance = getattr(best, "chance", None)
    if chance is not None:  # the plain count; the model's figure is the appendix's
        key = "verdict_count_none" if chance.null_closer == 0 else "verdict_count_some"
        text += w[key].format(n=count(chance.null_frames, lang), k=count(chance.null_closer, lang))
    elif p_value is not None:
        bound = w["below"] if p_value_at_floor else ""
        text += w["verdict_p"].format(bound=bound, p=f"{p_value:.2g}", e=f"{expected_false_matches:.2g}")
    return text


def count(n: int, lang: str) -> str:
    """A whole number as a reader writes it: 7,200; in Japanese 7,200 up to 10,000, then 万, 億 and 兆."""
    n = int(n)
    if lang != "ja" or n < 10_000:
        return f"{n:,}"
    for unit, size in (("兆", 10**12), ("億", 10**8), ("万", 10**4)):
        if n >= size and n % size == 0:
            return f"{n // size:,} {unit}"
    return f"{n:,}"


def odds(p: float, lang: str) -> str:
    """A probability for a reader who is not a statistician: 'about 1 in 40' while a count can say
    it, else 'fewer than 1 in 1,000,000' (a power of ten no larger than 1/p: never overstated)."""
    import math

    w = WORDS[lang]
    if p >= 0.01:
        return w["odds_about"].format(n=count(max(1, round(1 / p)), lang))
    return w["odds_fewer"].format(n=count(10 ** math.floor(math.log10(1 / p) + 1e-9), lang))


def channel_description(name: str, lang: str) -> str:
    """What a channel sees, in the words it declares ('' for a channel not installed here)."""
    try:
        return channel_class(name).words["description"].get(lang, "")
    except UsageError:
        return ""
