"""Local-feature verification of candidate frame pairs: SIFT, ratio test, RANSAC.

For a segment's strongest frame pairs, the suspect frame and the reference frame are decoded
again (the reference from the file the catalogue names, after checking its SHA-256), SIFT
keypoints are matched with Lowe's ratio test, and an affine transform is fitted with RANSAC.
Inliers are matches the one transform explains: a crop, an inset, a letterbox, a rescale or a
mirror all keep many; unrelated frames keep almost none. The inlier count and ratio, the
transform and the matched keypoint coordinates go into the evidence, so a report can draw them.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from reference_index.files import sha256_file

from .sampling import MediaReader, _downscale, is_still

MAX_POINTS = 60  # inlier coordinates kept per pair in the evidence

# Query variants (see channels.pdq.DIHEDRAL): how to turn the query frame so it faces the
# reference the way its hash matched.
_VARIANT_OPS = {
    "original": lambda im: im,
    "rot90": lambda im: np.rot90(im, 1),
    "rot180": lambda im: np.rot90(im, 2),
    "rot270": lambda im: np.rot90(im, 3),
    "flip_vertical": lambda im: im[::-1],
    "flip_horizontal": lambda im: im[:, ::-1],
    "transpose": lambda im: im.transpose(1, 0, 2),
    "transverse": lambda im: np.rot90(im, 2).transpose(1, 0, 2),
}


def _unmap_points(points: np.ndarray, variant: str, shape: tuple[int, int]) -> np.ndarray:
    """Coordinates in the turned query frame -> coordinates in the original query frame."""
    h, w = shape
    probe = np.arange(h * w, dtype=np.int64).reshape(h, w)
    turned = np.ascontiguousarray(_VARIANT_OPS[variant](probe))
    xs = np.clip(points[:, 0].round().astype(int), 0, turned.shape[1] - 1)
    ys = np.clip(points[:, 1].round().astype(int), 0, turned.shape[0] - 1)
    flat = turned[ys, xs]
    return np.stack([flat % w, flat // w], axis=1).astype(np.float32)


@dataclass
class PairCheck:
    query_t: float
    ref_t: float
    variant: str
    keypoints: tuple[int, int]
    matches: int
    inliers: int
    inlier_ratio: float
    transform: list | None
    points: list  # [[qx, qy, rx, ry], ...] inliers, in each frame's sampled pixel coordinates
    frame_sizes: tuple[tuple[int, int], tuple[int, int]]  # (query w, h), (reference w, h)

    def to_dict(self) -> dict:
        return {
            "query_t": round(self.query_t, 3),
            "ref_t": round(self.ref_t, 3),
            "variant": self.variant,
            "keypoints": list(self.keypoints),
            "matches": self.matches,
            "inliers": self.inliers,
            "inlier_ratio": round(self.inlier_ratio, 4),
            "transform": self.transform,
            "scales": None if (sc := transform_scales(self.transform)) is None else [round(x, 4) for x in sc],
            "points": self.points,
            "frame_sizes": [list(s) for s in self.frame_sizes],
        }


def match_frames(query: np.ndarray, ref: np.ndarray, cfg: dict, variant: str = "original") -> PairCheck:
    """Match two RGB frames; the query is first turned by `variant`."""
    turned = np.ascontiguousarray(_VARIANT_OPS.get(variant, _VARIANT_OPS["original"])(query))
    sift = cv2.SIFT_create(nfeatures=int(cfg["sift_features"]))
    kq, dq = sift.detectAndCompute(cv2.cvtColor(turned, cv2.COLOR_RGB2GRAY), None)
    kr, dr = sift.detectAndCompute(cv2.cvtColor(ref, cv2.COLOR_RGB2GRAY), None)
    sizes = ((query.shape[1], query.shape[0]), (ref.shape[1], ref.shape[0]))
    empty = PairCheck(0.0, 0.0, variant, (len(kq or ()), len(kr or ())), 0, 0, 0.0, None, [], sizes)
    if dq is None or dr is None or len(kq) < 3 or len(kr) < 3:
        return empty
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(dq, dr, k=2)
    good = [m for m, *rest in (p for p in pairs if p) if not rest or m.distance < cfg["ratio"] * rest[0].distance]
    empty.matches = len(good)
    if len(good) < 3:
        return empty
    src = np.float32([kq[m.queryIdx].pt for m in good])
    dst = np.float32([kr[m.trainIdx].pt for m in good])
    model, mask = cv2.estimateAffine2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=float(cfg["ransac_threshold_px"]), maxIters=2000
    )
    if model is None or mask is None:
        return empty
    mask = mask.ravel().astype(bool)
    inliers = int(mask.sum())
    q_pts = _unmap_points(src[mask], variant, query.shape[:2]) if variant != "original" else src[mask]
    pts = np.concatenate([q_pts, dst[mask]], axis=1)[:MAX_POINTS]
    return PairCheck(
        0.0, 0.0, variant, (len(kq), len(kr)), len(good), inliers, inliers / len(good),
        np.round(model, 5).tolist(), np.round(pts, 1).tolist(), sizes,
    )


class FrameSource:
    """Decodes frames again by time: from the suspect clip, and from reference files."""

    REF_CACHE = 64  # reference frames kept (verification and exhibits ask for the same ones)

    def __init__(self, config: dict):
        self.config = config
        self.max_side = int(config["sampling"]["max_side"])
        self._ref_ok: dict[str, str | None] = {}
        self._query: tuple[str, dict[float, np.ndarray]] = ("", {})
        self._refs: dict[tuple[str, float], np.ndarray | None] = {}

    def remember_query(self, path: str | Path, frames: dict[float, np.ndarray] | None) -> None:
        """Frames of the clip kept from sampling: query_frames then needs no second decode."""
        self._query = (str(path), dict(frames or {}))

    def query_frames(self, path: str | Path, times: list[float]) -> dict[float, np.ndarray]:
        """Frames of the clip at these sample times (exact sampled timestamps). Frames decoded
        for the previous call on the same clip are reused; only missing ones are decoded."""
        wanted = sorted(set(round(t, 3) for t in times))
        cached = self._query[1] if self._query[0] == str(path) else {}
        out = {t: cached[t] for t in wanted if t in cached}
        missing = [t for t in wanted if t not in out]
        if missing:
            fps = float(self.config["sampling"]["query"]["fps"])
            found = 0
            for frame in MediaReader(path, fps, self.config).frames():
                key = round(frame.t, 3)
                if key in missing:
                    out[key] = frame.image
                    found += 1
                if found == len(missing) or frame.t > missing[-1] + 1:
                    break
        self._query = (str(path), {**cached, **out})
        return out

    def reference_problem(self, video: dict) -> str | None:
        """Why the reference file cannot be used (missing, changed), or None."""
        ref_id = video["ref_id"]
        if ref_id not in self._ref_ok:
            path = Path(video["path"])
            if not path.is_file():
                self._ref_ok[ref_id] = f"reference file not found: {path}"
            elif sha256_file(path) != video["sha256"]:
                self._ref_ok[ref_id] = f"reference file changed since indexing: {path}"
            else:
                self._ref_ok[ref_id] = None
        return self._ref_ok[ref_id]

    def reference_frame(self, video: dict, t: float) -> np.ndarray | None:
        key = (video["ref_id"], round(t, 3))
        if key not in self._refs:
            if len(self._refs) >= self.REF_CACHE:
                self._refs.pop(next(iter(self._refs)))
            self._refs[key] = self._decode_reference(video, t)
        return self._refs[key]

    def _decode_reference(self, video: dict, t: float) -> np.ndarray | None:
        path = video["path"]
        if video["kind"] == "still" or is_still(path):
            bgr = cv2.imdecode(np.frombuffer(Path(path).read_bytes(), np.uint8), cv2.IMREAD_COLOR)
        else:
            cap = cv2.VideoCapture(str(path), cv2.CAP_FFMPEG)
            cap.set(cv2.CAP_PROP_ORIENTATION_AUTO, 1)
            try:
                cap.set(cv2.CAP_PROP_POS_MSEC, max(0.0, t * 1000 - 200))
                bgr = None
                while cap.grab():
                    now = cap.get(cv2.CAP_PROP_POS_MSEC) / 1000
                    if now >= t - 1e-3:
                        ok, bgr = cap.retrieve()
                        break
            finally:
                cap.release()
        if bgr is None:
            return None
        return cv2.cvtColor(_downscale(bgr, self.max_side), cv2.COLOR_BGR2RGB)


def transform_scales(transform: list | None) -> tuple[float, float] | None:
    """The two scales (singular values) of an affine transform's linear part, larger first."""
    if transform is None:
        return None
    a = np.asarray(transform, dtype=np.float64)[:, :2]
    if not np.isfinite(a).all():
        return None
    s = np.linalg.svd(a, compute_uv=False)
    return float(s[0]), float(s[1])


def plausible_transform(transform: list | None, cfg: dict) -> bool:
    """A copied picture keeps its shape: both scales of the transform lie in
    [min_scale, max_scale] and differ by at most `max_anisotropy` times. RANSAC on a few chance
    matches between unrelated frames tends to find degenerate maps instead (the whole query
    squeezed onto a line or a point of the reference)."""
    scales = transform_scales(transform)
    if scales is None:
        return False
    big, small = scales
    return (
        small >= cfg["min_scale"] and big <= cfg["max_scale"] and big <= cfg["max_anisotropy"] * small
    )


def pair_verified(check: PairCheck, cfg: dict) -> bool:
    """A plausible transform with many inliers, or with fewer that explain most matches."""
    if not plausible_transform(check.transform, cfg):
        return False
    return check.inliers >= cfg["min_inliers"] or (
        check.inliers >= cfg["min_inliers_small"] and check.inlier_ratio >= cfg["min_inlier_ratio_small"]
    )


def pick_pairs(pairs: list, n: int) -> list:
    """The segment's strongest pair, then pairs spread over its length."""
    if len(pairs) <= n:
        return list(pairs)
    best = max(pairs, key=lambda h: h.sim)
    rest = [pairs[int(i)] for i in np.linspace(0, len(pairs) - 1, n + 1)]
    chosen = [best] + [p for p in rest if p is not best]
    return chosen[:n]


def verification_pairs(pairs: list, cfg: dict) -> list:
    """Every pair verification may look at: the first `pairs_per_segment`, and when those are
    inconclusive up to `extra_pairs_when_inconclusive` more, spread over the segment."""
    n = int(cfg["pairs_per_segment"])
    first = pick_pairs(pairs, n)
    more = [h for h in pick_pairs(pairs, n + int(cfg.get("extra_pairs_when_inconclusive", 0))) if h not in first]
    return first + more[: int(cfg.get("extra_pairs_when_inconclusive", 0))]


def verify_segment(segment, query_frames: dict[float, np.ndarray], source: FrameSource, video: dict | None, cfg: dict) -> dict:
    """Verification record for one segment (see module docstring)."""
    if video is None:
        return {"status": "unavailable", "reason": f"reference {segment.ref_id} not in the catalogue", "pairs": []}
    problem = source.reference_problem(video)
    if problem:
        return {"status": "unavailable", "reason": problem, "pairs": []}
    checks = []

    def check_all(hits) -> None:
        for h in hits:
            q = query_frames.get(round(h.q_t, 3))
            r = source.reference_frame(video, h.ref_t)
            if q is None or r is None:
                continue
            check = match_frames(q, r, cfg, h.variant)
            check.query_t, check.ref_t = h.q_t, h.ref_t
            checks.append(check)

    first = pick_pairs(segment.pairs, int(cfg["pairs_per_segment"]))
    check_all(first)
    if not checks:
        return {"status": "unavailable", "reason": "frames could not be decoded again", "pairs": []}
    verified = [c for c in checks if pair_verified(c, cfg)]
    if verified and len(verified) * 2 < len(checks):
        # inconclusive (some pairs match geometrically, most do not): look at more of the segment
        check_all([h for h in verification_pairs(segment.pairs, cfg) if h not in first])
        verified = [c for c in checks if pair_verified(c, cfg)]
    status = "verified" if len(verified) * 2 >= len(checks) else "not verified"
    return {
        "status": status,
        "method": f"SIFT, ratio test {cfg['ratio']}, RANSAC affine ({cfg['ransac_threshold_px']} px)",
        "pairs_checked": len(checks),
        "pairs_verified": len(verified),
        "rule": (
            f"an affine transform with both scales in [{cfg['min_scale']:g}, {cfg['max_scale']:g}] and at most "
            f"{cfg['max_anisotropy']:g}x apart, with >= {cfg['min_inliers']} inliers, or >= {cfg['min_inliers_small']} "
            f"at an inlier ratio >= {cfg['min_inlier_ratio_small']}, on at least half the pairs"
        ),
        "median_inliers": float(np.median([c.inliers for c in checks])),
        "pairs": [c.to_dict() for c in checks],
    }
