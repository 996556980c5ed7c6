"""Exhibit frames: the suspect frame and the reference frame of a segment's strongest pairs.

A report is rendered from the evidence alone, so the scan keeps the pictures it will need: for
the strongest segments of a clip, the frame pairs that verification checked (or, without
verification, the segment's strongest pairs) are saved as JPEG files in `<query_id>.frames/`
beside the evidence JSON, each named in the evidence with its SHA-256.
"""

from __future__ import annotations

import hashlib

import cv2
import numpy as np

from ..evidence.records import Exhibit, ImageFile
from ..match.decision import Decided
from ..match.geometry import pick_pairs
from ..media.frames import FrameSource

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


def _pair_times(decided: Decided, per_segment: int) -> list[tuple[float, float, int | None]]:
    """(query_t, ref_t, index into verification pairs or None)."""
    checked = decided.verification.pairs if decided.verification else ()
    if checked:
        return [(p.query_t, p.ref_t, i) for i, p in enumerate(checked[:per_segment])]
    return [(round(h.q_t, 3), round(h.ref_t, 3), None) for h in pick_pairs(decided.segment.pairs, per_segment)]


def collect(clip_path, query_id: str, decided: list[Decided], index, source: FrameSource,
            config: dict) -> tuple[dict[int, tuple[Exhibit, ...]], dict[str, bytes]]:
    """Exhibits of the strongest segments (`decided`, strongest first) by segment key, and the
    pictures to write beside the evidence ({relative file name: JPEG bytes})."""
    cfg = config["exhibits"]
    todo = decided[: int(cfg["max_segments"])]
    if not todo:
        return {}, {}
    per = int(cfg["pairs_per_segment"])
    max_side = int(cfg["max_side"])
    plan = {d.segment.key: _pair_times(d, per) for d in todo}
    query = source.query_frames(clip_path, [t for p in plan.values() for t, _, _ in p])
    folder = frames_dir_name(query_id)
    files: dict[str, bytes] = {}

    def keep(name: str, image: np.ndarray) -> ImageFile:
        data = encode_jpeg(image, max_side)
        files[f"{folder}/{name}"] = data
        return ImageFile(file=f"{folder}/{name}", sha256=hashlib.sha256(data).hexdigest(),
                         width=image.shape[1], height=image.shape[0])

    out: dict[int, tuple[Exhibit, ...]] = {}
    for si, d in enumerate(todo, 1):
        video = index.video(d.segment.ref_id)
        problem = "reference not in the catalogue" if video is None else source.reference_problem(video)
        exhibits = []
        for pi, (qt, rt, vi) in enumerate(plan[d.segment.key], 1):
            q = query.get(round(qt, 3))
            if q is None:
                continue
            r = None if problem else source.reference_frame(video, rt)
            exhibits.append(Exhibit(
                query_t=qt, ref_t=rt, verification_pair=vi, query_image=keep(f"s{si:02d}_p{pi}_query.jpg", q),
                ref_image=None if r is None else keep(f"s{si:02d}_p{pi}_ref.jpg", r),
                ref_unavailable=None if r is not None else (problem or "reference frame could not be decoded again"),
            ))
        out[d.segment.key] = tuple(exhibits)
    return out, files
