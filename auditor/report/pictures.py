"""Pictures of the evidence: side-by-side frame pairs with their matches drawn, redaction, and
the similarity timeline. The PDF and the review desk draw them with the same code."""

from __future__ import annotations

import io

import cv2
import numpy as np

from ..evidence.records import Evidence, Exhibit, PairCheck, Work
from .fonts import japanese_font_path
from .text import TEXT

LEVEL_COLOURS = {
    "near-identical copy": "#b3261e",
    "strong resemblance": "#c2571a",
    "a frame of the work reproduced": "#a0306e",
    "resemblance without a shared timeline": "#6a3d9a",
    "weak resemblance": "#8a6d00",
    "no match": "#2e6b30",
}


MAX_LINES = 30  # local-feature matches drawn per frame pair


def decode(data: bytes) -> np.ndarray:
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    return cv2.cvtColor(img, cv2.COLOR_BGR2RGB)


def png(image: np.ndarray) -> bytes:
    ok, buf = cv2.imencode(".png", cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
    return buf.tobytes()


def redact(image: np.ndarray, label: str) -> np.ndarray:
    """Downsample to 96 px wide and back, and stamp a diagonal watermark."""
    h, w = image.shape[:2]
    small = cv2.resize(image, (96, max(1, round(96 * h / w))), interpolation=cv2.INTER_AREA)
    out = cv2.resize(small, (w, h), interpolation=cv2.INTER_NEAREST).copy()
    overlay = out.copy()
    scale = w / 320
    for k in range(-1, 3):
        cv2.putText(overlay, label, (int(w * 0.05), int(h * (0.3 + 0.3 * k))), cv2.FONT_HERSHEY_SIMPLEX,
                    scale, (255, 255, 255), max(1, int(2 * scale)), cv2.LINE_AA)
    return cv2.addWeighted(overlay, 0.6, out, 0.4, 0)


def pair_picture(query: np.ndarray, ref: np.ndarray | None, points: list | None,
                 frame_sizes: list | None) -> np.ndarray:
    """Query on the left, reference on the right, same height, inlier matches drawn as lines."""
    height = 240

    def fit(im):
        h, w = im.shape[:2]
        return cv2.resize(im, (max(1, round(w * height / h)), height), interpolation=cv2.INTER_AREA), height / h

    q, qs = fit(query)
    gap = 12
    if ref is None:
        r = np.full((height, q.shape[1], 3), 235, np.uint8)
        rs = 1.0
    else:
        r, rs = fit(ref)
    canvas = np.full((height, q.shape[1] + gap + r.shape[1], 3), 255, np.uint8)
    canvas[:, : q.shape[1]] = q
    canvas[:, q.shape[1] + gap :] = r
    if points and frame_sizes and ref is not None:
        # points are in the sampled frames' pixels; the exhibit images may be smaller
        (qw, _), (rw, _) = frame_sizes
        fq = qs * query.shape[1] / qw
        fr = rs * ref.shape[1] / rw
        rng = np.random.default_rng(0)
        if len(points) > MAX_LINES:  # a hundred lines hide the pictures: an even sample of them
            points = [points[i] for i in np.linspace(0, len(points) - 1, MAX_LINES).round().astype(int)]
        for qx, qy, rx, ry in points:
            colour = tuple(int(c) for c in rng.integers(40, 220, 3))
            a = (int(qx * fq), int(qy * fq))
            b = (int(rx * fr) + q.shape[1] + gap, int(ry * fr))
            cv2.line(canvas, a, b, colour, 1, cv2.LINE_AA)
            cv2.circle(canvas, a, 3, colour, 1, cv2.LINE_AA)
            cv2.circle(canvas, b, 3, colour, 1, cv2.LINE_AA)
    return canvas


def side_by_side(query: bytes, ref: bytes | None, redacted: bool = False) -> np.ndarray:
    """Two pictures (JPEG bytes) at the same height: the suspect's on the left, the reference's on
    the right (redacted when asked)."""
    q = decode(query)
    r = decode(ref) if ref is not None else None
    if r is not None and redacted:
        r = redact(r, "REDACTED")
    return pair_picture(q, r, None, None)


def exhibit_picture(segment, exhibit: Exhibit, read, redacted: bool = False,
                    marks: bool = True) -> tuple[np.ndarray, PairCheck | None]:
    """The side-by-side picture of one exhibit (`read(relative file name) -> bytes`), and the
    verification record of the pair it shows (its inliers are drawn unless marks=False), if any."""
    checked = segment.verification.pairs if segment.verification else ()
    i = exhibit.verification_pair
    vpair = checked[i] if i is not None and i < len(checked) else None
    q = decode(read(exhibit.query_image.file))
    r = decode(read(exhibit.ref_image.file)) if exhibit.ref_image else None
    if r is not None and redacted:
        r = redact(r, "REDACTED")  # drawn by OpenCV, which has no Japanese glyphs
    drawn = vpair if marks else None
    pic = pair_picture(q, r, drawn.points if drawn else None, drawn.frame_sizes if drawn else None)
    return pic, vpair


def region_picture(segment, read, redacted: bool = False) -> np.ndarray | None:
    """For a still: the whole still with the region the segment shows (thick) and where each
    exhibited suspect frame lands on it (thin, numbered). None without a still picture."""
    if segment.still_image is None:
        return None
    still = decode(read(segment.still_image.file))
    if redacted:
        still = redact(still, "REDACTED")
    h, w = still.shape[:2]
    scale = 360 / max(h, w)
    out = cv2.resize(still, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    h, w = out.shape[:2]
    thick = max(2, round(max(h, w) / 160))

    def rect(box, colour, width):
        x0, y0, x1, y1 = box
        cv2.rectangle(out, (int(x0 * (w - 1)), int(y0 * (h - 1))), (int(x1 * (w - 1)), int(y1 * (h - 1))), colour, width,
                      cv2.LINE_AA)

    for i, ex in enumerate(segment.exhibits, 1):
        if ex.region is not None:  # white over black: seen on light and dark art alike
            rect(ex.region, (0, 0, 0), 3)
            rect(ex.region, (255, 255, 255), 1)
            at = (int(ex.region[0] * w) + 3, int(ex.region[1] * h) + 14)
            cv2.putText(out, str(i), at, cv2.FONT_HERSHEY_SIMPLEX, 0.45, (0, 0, 0), 3, cv2.LINE_AA)
            cv2.putText(out, str(i), at, cv2.FONT_HERSHEY_SIMPLEX, 0.45, (255, 255, 255), 1, cv2.LINE_AA)
    if segment.ref_region is not None:
        rect(segment.ref_region, (0, 0, 0), thick + 2)
        rect(segment.ref_region, (255, 200, 0), thick)
    return out


def timeline_png(evidence: Evidence, work: Work, lang: str) -> bytes:
    """Best similarity to this work per sampled frame, with the work's segments shaded."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import font_manager
    from matplotlib import pyplot as plt

    t = TEXT[lang]
    refs = {rid for rid, r in evidence.references.items() if r.work == work.work}
    refs |= {s.ref_id for s in work.segments}
    channels = sorted({c for f in evidence.frames for c in f.top})
    props, font_path = None, None
    if lang == "ja":
        font_path = str(japanese_font_path())
        font_manager.fontManager.addfont(font_path)
        props = font_manager.FontProperties(fname=font_path)
    fig, ax = plt.subplots(figsize=(7.2, 2.0), dpi=150)
    for seg in work.segments:
        ax.axvspan(seg.query_start, max(seg.query_end, seg.query_start + 0.05),
                   color=LEVEL_COLOURS.get(str(seg.level), "#999999"), alpha=0.22, lw=0)
    times = [f.t for f in evidence.frames]
    for ch in channels:
        ys = []
        for f in evidence.frames:
            sims = [c.similarity for c in f.top.get(ch, ()) if c.ref_id in refs]
            ys.append(max(sims) if sims else np.nan)
        line, = ax.plot(times, ys, lw=1.2, marker="o", ms=2, label=ch)
        # the hit threshold in similarity: where hits begin (a hit is a cut on the channel's own
        # score, and similarity follows that score, so the weakest hit marks the cut)
        hits = [c.similarity for f in evidence.frames for c in f.top.get(ch, ()) if c.hit]
        if hits:
            ax.axhline(min(hits), color=line.get_color(), lw=0.9, ls="--",
                       label=t["threshold_label"].format(channel=ch))
    ax.set_ylim(0, 1.02)
    ax.set_xlim(0, max(evidence.clip.duration_s or 0, times[-1] if times else 1))
    ax.set_xlabel(t["timeline_x"], fontproperties=props, fontsize=8)
    ax.set_ylabel(t["timeline_y"], fontproperties=props, fontsize=7)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)
    if channels:
        small = font_manager.FontProperties(fname=font_path, size=6.5) if props else {"size": 6.5}
        ax.legend(loc="lower right", ncols=2 * len(channels), prop=small)
    fig.tight_layout()
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    plt.close(fig)
    return buf.getvalue()
