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

from .verify import FrameSource, pick_pairs

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


def _pair_times(segment, per_segment: int) -> list[tuple[float, float, int | None]]:
    """(query_t, ref_t, index into verification pairs or None)."""
    checked = (segment.verification or {}).get("pairs") or []
    if checked:
        return [(p["query_t"], p["ref_t"], i) for i, p in enumerate(checked[:per_segment])]
    return [(round(h.q_t, 3), round(h.ref_t, 3), None) for h in pick_pairs(segment.pairs, per_segment)]


def collect(clip_path, query_id: str, segments: list, index, source: FrameSource, config: dict) -> dict[str, bytes]:
    """Attach `exhibits` to the strongest segments; return {relative file name: JPEG bytes}."""
    cfg = config["exhibits"]
    todo = segments[: int(cfg["max_segments"])]
    if not todo:
        return {}
    per = int(cfg["pairs_per_segment"])
    max_side = int(cfg["max_side"])
    plan = {id(s): _pair_times(s, per) for s in todo}
    query = source.query_frames(clip_path, [t for p in plan.values() for t, _, _ in p])
    folder = frames_dir_name(query_id)
    files: dict[str, bytes] = {}

    def keep(name: str, image: np.ndarray) -> dict:
        data = encode_jpeg(image, max_side)
        files[f"{folder}/{name}"] = data
        return {"file": f"{folder}/{name}", "sha256": hashlib.sha256(data).hexdigest(),
                "width": image.shape[1], "height": image.shape[0]}

    for si, s in enumerate(todo, 1):
        video = index.video(s.ref_id)
        problem = "reference not in the catalogue" if video is None else source.reference_problem(video)
        exhibits = []
        for pi, (qt, rt, vi) in enumerate(plan[id(s)], 1):
            q = query.get(round(qt, 3))
            if q is None:
                continue
            entry = {"query_t": qt, "ref_t": rt, "verification_pair": vi, "query_image": keep(f"s{si:02d}_p{pi}_query.jpg", q)}
            r = None if problem else source.reference_frame(video, rt)
            if r is None:
                entry["ref_image"] = None
                entry["ref_unavailable"] = problem or "reference frame could not be decoded again"
            else:
                entry["ref_image"] = keep(f"s{si:02d}_p{pi}_ref.jpg", r)
            exhibits.append(entry)
        s.exhibits = exhibits
    return files
