"""What the clip page's players need of each match: the time mapping that keeps the reference in
step with the suspect clip, and the still, region and points a match on key art is judged by.

A segment is a mapping `ref_t = speed * query_t + offset` over [query_start, query_end]; a
negative speed is a copy played backwards (the reference runs from ref_end down to ref_start while
the clip plays forwards), so the page seeks the reference along the mapping instead of playing
it. A moment (a frame of the work reproduced) and a still have no timeline: the reference stays on
the matched frame or still while the clip is held at the moment.
"""

from __future__ import annotations

from urllib.parse import quote

from ..evidence.records import Evidence, Segment
from ..evidence.rules import Level

MOMENT_S = 0.05  # a "segment" shorter than this is one instant: no timeline to follow


def mapping(s: Segment) -> tuple[float, float]:
    """(speed, offset) of a video segment: ref_t = speed * query_t + offset. Files that predate
    the recorded speed get the one their interval implies."""
    length = s.query_end - s.query_start
    speed = s.speed if s.speed is not None else ((s.ref_end - s.ref_start) / length if length > 0 else 1.0)
    first = s.ref_end if speed < 0 else s.ref_start  # the reference time at the segment's first frame
    return speed, first - speed * s.query_start


def _still_points(s: Segment) -> list[list[float]]:
    """Verified keypoints on the still, in shares of its width and height (at most 200)."""
    out: list[list[float]] = []
    for pair in (s.verification.pairs if s.verification else ()):
        if not pair.verified or not pair.frame_sizes or len(pair.frame_sizes) < 2:
            continue
        rw, rh = pair.frame_sizes[1]
        x0, y0, x1, y1 = pair.ref_box or (0.0, 0.0, 1.0, 1.0)
        for p in pair.points:
            if len(p) >= 4 and rw and rh:
                out.append([round(x0 + (x1 - x0) * p[2] / rw, 4), round(y0 + (y1 - y0) * p[3] / rh, 4)])
    return out[:200]


def segment_views(ev: Evidence, qid: str, video_url) -> list[dict]:
    """Per kept segment (in `ev.segments()` order): what the page's script needs to show it.
    `video_url(ref_id)` is the reference video's address on the desk, or None when not served."""
    base = f"/clip/{quote(qid, safe='')}"
    views = []
    for i, s in enumerate(ev.segments()):
        moment = s.kind == "still" or s.level == Level.MOMENT or s.query_end - s.query_start < MOMENT_S
        speed, offset = (0.0, s.ref_start) if moment else mapping(s)
        marks = [{"n": k + 1, "q": ex.query_t, "r": ex.ref_t, "box": ex.region or ex.ref_box,
                  "img": f"{base}/pair/{i}/{k}.png"} for k, ex in enumerate(s.exhibits)]
        views.append({
            "i": i, "ref": s.ref_id, "work": s.work, "kind": s.kind, "level": str(s.level), "moment": moment,
            "qs": s.query_start, "qe": s.query_end, "rs": s.ref_start, "re": s.ref_end,
            "speed": round(speed, 6), "offset": round(offset, 6),
            "video": None if s.kind == "still" else video_url(s.ref_id),
            "still": f"/files/{quote(s.still_image.file)}" if s.still_image else None,
            "still_size": [s.still_image.width, s.still_image.height] if s.still_image else None,
            "region": list(s.ref_region) if s.ref_region else None,
            "points": _still_points(s) if s.kind == "still" else [],
            "marks": marks,
        })
    return views


def gallery_views(ev: Evidence) -> list[dict]:
    """The clip's closest moments to works it resembles without a shared timeline."""
    out = []
    for w in ev.works:
        if w.resemblance is None:
            continue
        for g in w.resemblance.gallery:
            if g.query_image is None:
                continue
            out.append({"work": w.work, "ref": g.ref_id, "q": g.query_t, "r": g.ref_t, "similarity": g.similarity,
                        "query_img": f"/files/{quote(g.query_image.file)}",
                        "ref_img": f"/files/{quote(g.ref_image.file)}" if g.ref_image else None})
    return out
