"""Exhibit frames: the suspect frame and the reference frame of a segment's strongest pairs.

A report is rendered from the evidence alone, so the scan keeps the pictures it will need: for
the strongest segments of a clip, the frame pairs that verification checked (or, without
verification, the segment's strongest pairs) are saved as JPEG files in `<query_id>.frames/`
beside the evidence JSON, each named in the evidence with its SHA-256.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import cv2
import numpy as np

from ..evidence.records import Exhibit, GalleryItem, ImageFile
from ..evidence.rules import Level
from ..match.decision import Decided, Decision
from ..match.geometry import pick_pairs
from ..match.resemblance import Nearest
from ..media.frames import FrameSource
from ..media.reader import crop_box
from ..settings import Configuration

JPEG_QUALITY = 88


def frames_dir_name(query_id: str) -> str:
    return f"{query_id}.frames"


def encode_jpeg(image_rgb: np.ndarray, max_side: int) -> bytes:
    h, w = image_rgb.shape[:2]
    scale = min(1.0, max_side / max(h, w))
    if scale < 1.0:
        image_rgb = cv2.resize(image_rgb, (max(1, round(w * scale)), max(1, round(h * scale))), interpolation=cv2.INTER_AREA)
    ok, buf = cv2.imencode(".jpg", cv2.cvtColor(image_rgb, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


@dataclass
class Shown:
    """What the evidence shows of each segment (by segment key): its exhibits, and for a still
    the whole still to draw the region on."""

    exhibits: dict[int, tuple[Exhibit, ...]] = field(default_factory=dict)
    stills: dict[int, ImageFile] = field(default_factory=dict)
    galleries: dict[tuple[str, str], tuple[GalleryItem, ...]] = field(default_factory=dict)  # by (work, channel)


def _pair_times(decided: Decided, per_segment: int) -> list[tuple[float, float, int | None, tuple | None, tuple | None]]:
    """(query_t, ref_t, index into verification pairs or None, the still's tile, where the frame lands)."""
    checked = decided.verification.pairs if decided.verification else ()
    if checked:
        return [(p.query_t, p.ref_t, i, p.ref_box, p.region) for i, p in enumerate(checked[:per_segment])]
    return [(round(h.q_t, 3), round(h.ref_t, 3), None, h.ref_box, None) for h in pick_pairs(decided.segment.pairs, per_segment)]


def _gallery_plan(decision: Decision, config: Configuration) -> dict:
    """The closest moments to show per work that resembles the clip, spaced out in the clip."""
    cfg = config.resemblance
    size, spacing = int(cfg.gallery_size), float(cfg.gallery_spacing_s)
    plan = {}
    for d in decision.resemblances:
        if d.level == Level.NONE:
            continue
        chosen: list[Nearest] = []
        for n in d.resemblance.nearest:
            if len(chosen) < size and all(abs(n.query_t - c.query_t) >= spacing for c in chosen):
                chosen.append(n)
        plan[(d.resemblance.work, d.resemblance.channel)] = chosen
    return plan


def collect(clip_path, query_id: str, decision: Decision, index, source: FrameSource,
            config: Configuration) -> tuple[Shown, dict[str, bytes]]:
    """Exhibits of the strongest segments and the galleries of works that resemble the clip, and
    the pictures to write beside the evidence ({relative file name: JPEG bytes})."""
    cfg = config.exhibits
    todo = list(decision.segments[: int(cfg.max_segments)])
    gallery = _gallery_plan(decision, config)
    shown = Shown()
    if not todo and not gallery:
        return shown, {}
    per = int(cfg.pairs_per_segment)
    max_side = int(cfg.max_side)
    plan = {d.segment.key: _pair_times(d, per) for d in todo}
    wanted = [p[0] for pairs in plan.values() for p in pairs] + [n.query_t for ns in gallery.values() for n in ns]
    query = source.query_frames(clip_path, wanted)
    folder = frames_dir_name(query_id)
    files: dict[str, bytes] = {}

    def keep(name: str, image: np.ndarray) -> ImageFile:
        data = encode_jpeg(image, max_side)
        files[f"{folder}/{name}"] = data
        return ImageFile(file=f"{folder}/{name}", sha256=hashlib.sha256(data).hexdigest(),
                         width=image.shape[1], height=image.shape[0])

    for si, d in enumerate(todo, 1):
        video = index.video(d.segment.ref_id)
        problem = "reference not in the catalogue" if video is None else source.reference_problem(video)
        exhibits = []
        for pi, (qt, rt, vi, box, region) in enumerate(plan[d.segment.key], 1):
            q = query.get(round(qt, 3))
            if q is None:
                continue
            r = None if problem else source.reference_frame(video, rt, box)
            exhibits.append(Exhibit(
                query_t=qt, ref_t=rt, verification_pair=vi, query_image=keep(f"s{si:02d}_p{pi}_query.jpg", q),
                ref_image=None if r is None else keep(f"s{si:02d}_p{pi}_ref.jpg", r),
                ref_unavailable=None if r is not None else (problem or "reference frame could not be decoded again"),
                ref_box=box, region=region,
            ))
        shown.exhibits[d.segment.key] = tuple(exhibits)
        if d.segment.kind == "still" and not problem:
            whole = source.still(video)
            if whole is not None:
                shown.stills[d.segment.key] = keep(f"s{si:02d}_still.jpg", whole)
    for wi, ((work, channel), moments) in enumerate(gallery.items(), 1):
        items = []
        for gi, n in enumerate(moments, 1):
            q = query.get(round(n.query_t, 3))
            video = index.video(n.ref_id)
            problem = "reference not in the catalogue" if video is None else source.reference_problem(video)
            r = None if problem else source.reference_frame(video, n.ref_t, n.ref_box)
            items.append(GalleryItem(
                query_t=n.query_t, crop=n.crop, similarity=n.similarity, ref_id=n.ref_id, ref_t=n.ref_t, ref_box=n.ref_box,
                query_image=None if q is None else keep(f"w{wi:02d}_g{gi}_query.jpg", np.ascontiguousarray(crop_box(q, n.crop))),
                ref_image=None if r is None else keep(f"w{wi:02d}_g{gi}_ref.jpg", r),
                ref_unavailable=None if r is not None else (problem or "reference frame could not be decoded again"),
            ))
        shown.galleries[(work, channel)] = tuple(items)
    return shown, files
