"""What was done to the clip, in words, for page one: only what the evidence already shows.

- mirrored or turned: the variant of the query frame that matched (the verified pairs' when
  verification ran, else the segment's retrieval pairs'), when most of them agree on one;
- cropped, scaled down, or shown as a picture in picture: from the verified pairs' fitted
  transforms, in shares of the two frames (a mere change of resolution says nothing);
- played backwards or at another speed: the segment's speed;
- a region of a still: the segment's `ref_region`.

Where the evidence shows none of these, nothing is said. The words are this module's, in the
report's languages (text.py holds the rest of the report's words).
"""

from __future__ import annotations

from statistics import median

from ..evidence.records import Evidence, PairCheck, Segment

WORDS = {
    "en": {
        "heading": "What was done to the clip",
        "flip_horizontal": "Mirrored left to right.",
        "flip_vertical": "Turned upside down as in a mirror (flipped top to bottom).",
        "rot90": "Rotated by 90 degrees.", "rot270": "Rotated by 90 degrees.", "rot180": "Rotated by 180 degrees.",
        "transpose": "Mirrored and rotated by 90 degrees.", "transverse": "Mirrored and rotated by 90 degrees.",
        "cropped": "Cropped: the clip shows about {w} % of the reference picture's width and {h} % of its height.",
        "scaled": "Scaled down: the reference picture fills about {w} % of the clip's width and {h} % of its height.",
        "inset": "Picture in picture: the reference picture fills a small part of the clip's frame, about {a} % of it.",
        "backwards": "Played backwards.",
        "backwards_speed": "Played backwards at {s} times the reference's speed.",
        "speed": "Played at {s} times the reference's speed.",
        "region": "A region of the still {ref}: about {a} % of its area.",
        "where": "{qs:.1f}–{qe:.1f} s ({ref}): ",
    },
    "ja": {
        "heading": "クリップに加えられた加工",
        "flip_horizontal": "左右が反転されています。",
        "flip_vertical": "上下が反転されています。",
        "rot90": "90 度回転されています。", "rot270": "90 度回転されています。", "rot180": "180 度回転されています。",
        "transpose": "反転したうえで 90 度回転されています。", "transverse": "反転したうえで 90 度回転されています。",
        "cropped": "トリミングされています：参照映像の幅の約 {w} %、高さの約 {h} % が写っています。",
        "scaled": "縮小されています：参照映像はクリップの画面の幅の約 {w} %、高さの約 {h} % を占めています。",
        "inset": "ピクチャー・イン・ピクチャー：参照映像はクリップの画面の一部（面積の約 {a} %）に小さく表示されています。",
        "backwards": "逆再生されています。",
        "backwards_speed": "参照の {s} 倍の速さで逆再生されています。",
        "speed": "参照の {s} 倍の速さで再生されています。",
        "region": "静止画 {ref} の一部（面積の約 {a} %）が使われています。",
        "where": "{qs:.1f}–{qe:.1f} 秒（{ref}）：",
    },
}

SPEED_TOLERANCE = 0.05  # a timeline fitted over sampled frames: 1.006 is the reference's own speed
WHOLE = 0.9  # a share of a frame above this is the whole frame (borders, trimming, fitting noise)
INSET_AREA = 0.5  # a reference picture over less of the clip's frame than this is an inset
SHOWN = 3  # segments described at most


def _turned(check: PairCheck) -> tuple[float, float]:
    """The query frame's size as matched: a quarter turn swaps its sides."""
    (qw, qh), _ = check.frame_sizes
    return (qh, qw) if check.variant in ("rot90", "rot270", "transpose", "transverse") else (qw, qh)


def _box(points, w: float, h: float) -> tuple[float, float]:
    """Shares of a w x h frame's width and height that the points' bounding box covers inside it."""
    xs = [min(max(x, 0.0), w) for x, _ in points]
    ys = [min(max(y, 0.0), h) for _, y in points]
    return (max(xs) - min(xs)) / w, (max(ys) - min(ys)) / h


def _shares(check: PairCheck) -> tuple[float, float, float, float] | None:
    """(share of the reference's width, of its height shown in the clip; share of the clip's width,
    of its height the reference picture fills), from the pair's transform; None when it has none."""
    if check.transform is None or not check.frame_sizes:
        return None
    (a, b, c), (d, e, f) = check.transform
    det = a * e - b * d
    if abs(det) < 1e-9:
        return None
    qw, qh = _turned(check)
    _, (rw, rh) = check.frame_sizes
    corners = [(0.0, 0.0), (qw, 0.0), (qw, qh), (0.0, qh)]
    into_ref = [(a * x + b * y + c, d * x + e * y + f) for x, y in corners]
    ref_corners = [(0.0, 0.0), (rw, 0.0), (rw, rh), (0.0, rh)]
    into_clip = [((e * (x - c) - b * (y - f)) / det, (-d * (x - c) + a * (y - f)) / det) for x, y in ref_corners]
    return (*_box(into_ref, rw, rh), *_box(into_clip, qw, qh))


def _pct(v: float) -> int:
    return int(round(v * 100))


def _geometry(s: Segment, w: dict) -> list[str]:
    checks = s.verification.pairs if s.verification else ()
    verified = [p for p in checks if p.verified]
    found = [x for x in (_shares(p) for p in verified) if x is not None]
    lines = []
    variants = [p.variant for p in verified] or [p.variant for p in s.pairs]
    if variants:
        common = max(sorted(set(variants)), key=variants.count)
        if common in w and variants.count(common) * 2 > len(variants):
            lines.append(w[common])
    if s.kind == "still":  # the frames verified against are tiles of it: its region says what it shows
        if s.ref_region is not None:
            x0, y0, x1, y1 = s.ref_region
            if (x1 - x0) * (y1 - y0) < WHOLE:
                lines.append(w["region"].format(ref=s.ref_id, a=_pct((x1 - x0) * (y1 - y0))))
        return lines
    if not found:
        return lines
    sw, sh, cw, ch = (median(x[i] for x in found) for i in range(4))
    if min(sw, sh) < WHOLE:
        lines.append(w["cropped"].format(w=_pct(sw), h=_pct(sh)))
    if cw * ch < INSET_AREA:
        lines.append(w["inset"].format(a=_pct(cw * ch)))
    elif min(cw, ch) < WHOLE:
        lines.append(w["scaled"].format(w=_pct(cw), h=_pct(ch)))
    return lines


def _speed(s: Segment, w: dict) -> list[str]:
    if s.kind != "video" or s.speed is None:
        return []
    fast = abs(abs(s.speed) - 1) > SPEED_TOLERANCE
    said = f"{abs(s.speed):.2f}".rstrip("0").rstrip(".")
    if s.speed < 0:
        return [w["backwards_speed"].format(s=said) if fast else w["backwards"]]
    return [w["speed"].format(s=said)] if fast else []


def heading(lang: str) -> str:
    return WORDS[lang]["heading"]


def what_was_done(ev: Evidence, lang: str) -> list[str]:
    """Lines saying what was done to the clip, segment by segment (the strongest first); [] when
    the evidence shows nothing done."""
    w = WORDS[lang]
    segments = ev.segments()
    lines = []
    for s in segments:
        said = _geometry(s, w) + _speed(s, w)
        if not said:
            continue
        where = w["where"].format(qs=s.query_start, qe=s.query_end, ref=s.ref_id) if len(segments) > 1 else ""
        lines.append(where + ("" if lang == "ja" else " ").join(said))
        if len(lines) == SHOWN:
            break
    return lines
