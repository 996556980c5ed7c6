"""Geometric verification of candidate frame pairs: SIFT, ratio test, RANSAC.

For a segment's strongest frame pairs, the suspect frame and the reference frame are decoded
again (the reference from the file the catalogue names, after checking its SHA-256), SIFT
keypoints are matched with Lowe's ratio test, and an affine transform is fitted with RANSAC.
Inliers are matches the one transform explains: a crop, an inset, a letterbox, a rescale or a
mirror all keep many; unrelated frames keep almost none. The inlier count and ratio, the
transform and the matched keypoint coordinates go into the evidence, so a report can draw them.
"""

from __future__ import annotations

import cv2
import numpy as np

from ..evidence.records import PairCheck, Verification, VerificationStatus
from ..media.frames import FrameSource
from ..settings import Verify

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


def transform_scales(transform: list | None) -> tuple[float, float] | None:
    """The two scales (singular values) of an affine transform's linear part, larger first."""
    if transform is None:
        return None
    a = np.asarray(transform, dtype=np.float64)[:, :2]
    if not np.isfinite(a).all():
        return None
    s = np.linalg.svd(a, compute_uv=False)
    return float(s[0]), float(s[1])


def plausible_transform(transform: list | None, cfg: Verify) -> bool:
    """A copied picture keeps its shape: both scales of the transform lie in
    [min_scale, max_scale] and differ by at most `max_anisotropy` times. RANSAC on a few chance
    matches between unrelated frames tends to find degenerate maps instead (the whole query
    squeezed onto a line or a point of the reference)."""
    scales = transform_scales(transform)
    if scales is None:
        return False
    big, small = scales
    return small >= cfg.min_scale and big <= cfg.max_scale and big <= cfg.max_anisotropy * small


def pair_verified(check: PairCheck, cfg: Verify) -> bool:
    """A plausible transform with many inliers, or with fewer that explain most matches."""
    if not plausible_transform(check.transform, cfg):
        return False
    return check.inliers >= cfg.min_inliers or (
        check.inliers >= cfg.min_inliers_small and check.inlier_ratio >= cfg.min_inlier_ratio_small
    )


def _sift(image: np.ndarray, cfg: Verify, cache: dict | None, key) -> tuple:
    """SIFT keypoints and descriptors of an RGB frame; with `cache`, computed once per `key`."""
    if cache is not None and key is not None and key in cache:
        return cache[key]
    sift = cv2.SIFT.create(nfeatures=int(cfg.sift_features))
    found = sift.detectAndCompute(cv2.cvtColor(image, cv2.COLOR_RGB2GRAY), None)
    if cache is not None and key is not None:
        cache[key] = found
    return found


def match_frames(query: np.ndarray, ref: np.ndarray, cfg: Verify, variant: str = "original",
                 query_t: float = 0.0, ref_t: float = 0.0, cache: dict | None = None, ref_key=None) -> PairCheck:
    """Match two RGB frames; the query is first turned by `variant`. `cfg`: the [verify] table.
    With `cache` (and `ref_key` naming the reference frame), a frame's features are computed
    once however many pairs it is in."""
    turned = np.ascontiguousarray(_VARIANT_OPS.get(variant, _VARIANT_OPS["original"])(query))
    kq, dq = _sift(turned, cfg, cache, ("query", round(query_t, 3), variant))
    kr, dr = _sift(ref, cfg, cache, None if ref_key is None else ("reference", ref_key))
    sizes = [[query.shape[1], query.shape[0]], [ref.shape[1], ref.shape[0]]]
    times = {"query_t": round(query_t, 3), "ref_t": round(ref_t, 3), "variant": variant, "frame_sizes": sizes}
    counts = (len(kq or ()), len(kr or ()))

    def unmatched(matches: int = 0) -> PairCheck:
        return PairCheck(**times, keypoints=counts, matches=matches, inliers=0, inlier_ratio=0.0, transform=None,
                         scales=None, points=[], verified=False)

    if dq is None or dr is None or len(kq) < 3 or len(kr) < 3:
        return unmatched()
    pairs = cv2.BFMatcher(cv2.NORM_L2).knnMatch(dq, dr, k=2)
    good = [m for m, *rest in (p for p in pairs if p) if not rest or m.distance < cfg.ratio * rest[0].distance]
    if len(good) < 3:
        return unmatched(len(good))
    src = np.array([kq[m.queryIdx].pt for m in good], np.float32)
    dst = np.array([kr[m.trainIdx].pt for m in good], np.float32)
    model, mask = cv2.estimateAffine2D(
        src, dst, method=cv2.RANSAC, ransacReprojThreshold=float(cfg.ransac_threshold_px),
        maxIters=int(cfg.ransac_max_iterations),
    )
    if model is None or mask is None or not np.isfinite(model).all():  # degenerate points can fit inf/NaN
        return unmatched(len(good))
    mask = mask.ravel().astype(bool)
    inliers = int(mask.sum())
    q_pts = _unmap_points(src[mask], variant, query.shape[:2]) if variant != "original" else src[mask]
    pts = np.concatenate([q_pts, dst[mask]], axis=1)[: int(cfg.points_kept_per_pair)]
    transform = np.round(model, 5).tolist()
    scales = transform_scales(transform)
    check = PairCheck(
        **times, keypoints=counts, matches=len(good), inliers=inliers, inlier_ratio=round(inliers / len(good), 4),
        transform=transform, scales=None if scales is None else tuple(round(x, 4) for x in scales),
        points=np.round(pts, 1).tolist(),
    )
    return check.model_copy(update={"verified": pair_verified(check, cfg)})


def region_on_still(check: PairCheck, box) -> tuple[float, float, float, float] | None:
    """Where the suspect frame lands on the still through the fitted transform: its corners
    mapped into the tile (`box` of the still), as a box in shares of the still's width and
    height; None without a plausible transform."""
    if check.transform is None or not check.verified:
        return None
    (qw, qh), (rw, rh) = check.frame_sizes
    corners = np.array([[0, 0, 1], [qw, 0, 1], [qw, qh, 1], [0, qh, 1]], dtype=np.float64)
    if check.variant not in ("original", "flip_horizontal", "flip_vertical", "rot180"):
        corners = np.array([[0, 0, 1], [qh, 0, 1], [qh, qw, 1], [0, qw, 1]], dtype=np.float64)  # turned by 90 degrees
    mapped = corners @ np.asarray(check.transform, dtype=np.float64).T  # in the tile's pixels
    x0, y0, x1, y1 = box
    xs = x0 + np.clip(mapped[:, 0] / rw, 0, 1) * (x1 - x0)
    ys = y0 + np.clip(mapped[:, 1] / rh, 0, 1) * (y1 - y0)
    return round(float(xs.min()), 4), round(float(ys.min()), 4), round(float(xs.max()), 4), round(float(ys.max()), 4)


def pick_pairs(pairs, n: int) -> list:
    """The segment's strongest pair, then pairs spread over its length."""
    pairs = list(pairs)
    if len(pairs) <= n:
        return pairs
    best = max(pairs, key=lambda h: h.sim)
    rest = [pairs[int(i)] for i in np.linspace(0, len(pairs) - 1, n + 1)]
    chosen = [best] + [p for p in rest if p is not best]
    return chosen[:n]


def verification_pairs(pairs, cfg: Verify) -> list:
    """Every pair verification may look at: the first `pairs_per_segment`, and when those are
    inconclusive up to `extra_pairs_when_inconclusive` more, spread over the segment."""
    n = int(cfg.pairs_per_segment)
    extra = int(cfg.extra_pairs_when_inconclusive)
    first = pick_pairs(pairs, n)
    more = [h for h in pick_pairs(pairs, n + extra) if h not in first]
    return first + more[:extra]


def pair_rule_text(cfg: Verify) -> str:
    """The pair rule in English (the report renders its own language from the parameters)."""
    return (
        f"an affine transform with both scales in [{cfg.min_scale:g}, {cfg.max_scale:g}] and at most "
        f"{cfg.max_anisotropy:g}x apart, with >= {cfg.min_inliers} inliers, or >= {cfg.min_inliers_small} "
        f"at an inlier ratio >= {cfg.min_inlier_ratio_small}, on at least {cfg.min_verified_share:g} of the pairs"
    )


def verify_segment(segment, query_frames: dict[float, np.ndarray], source: FrameSource, video: dict | None,
                   cfg: Verify, cache: dict | None = None) -> Verification:
    """Verification record for one segment (see the module docstring). `cfg`: the [verify] table.
    `cache`: frame features shared between the segments of one clip.

    Pairs are checked until the outcome is settled: once enough have verified that the rest
    could not bring the share below `min_verified_share`, and the checked pairs already put the
    median inliers on one side of `near_identical_min_inliers`, the remaining pairs are skipped."""
    if video is None:
        return Verification(status=VerificationStatus.UNAVAILABLE, reason=f"reference {segment.ref_id} not in the catalogue")
    problem = source.reference_problem(video)
    if problem:
        return Verification(status=VerificationStatus.UNAVAILABLE, reason=problem)
    checks: list[PairCheck] = []
    share = float(cfg.min_verified_share)

    def settled(planned: int) -> bool:
        verified = sum(bool(c.verified) for c in checks)
        high = sum(c.inliers >= cfg.near_identical_min_inliers for c in checks)
        majority = planned // 2 + 1
        return verified >= share * planned and (high >= majority or len(checks) - high >= majority)

    def check_all(hits, stop_when_settled: bool = False) -> None:
        for h in hits:
            if stop_when_settled and settled(len(hits)):
                return
            q = query_frames.get(round(h.q_t, 3))
            r = source.reference_frame(video, h.ref_t, h.ref_box)
            if q is None or r is None:
                continue
            check = match_frames(q, r, cfg, h.variant, h.q_t, h.ref_t, cache,
                                 (segment.ref_id, round(h.ref_t, 3), h.ref_box))
            if segment.kind == "still":
                box = h.ref_box or (0.0, 0.0, 1.0, 1.0)
                check = check.model_copy(update={"ref_box": box, "region": region_on_still(check, box)})
            checks.append(check)

    first = pick_pairs(segment.pairs, int(cfg.pairs_per_segment))
    check_all(first, stop_when_settled=True)
    if not checks:
        return Verification(status=VerificationStatus.UNAVAILABLE, reason="frames could not be decoded again")
    verified = sum(bool(c.verified) for c in checks)
    if verified and verified / len(checks) < share:
        # inconclusive (some pairs match geometrically, most do not): look at more of the segment
        check_all([h for h in verification_pairs(segment.pairs, cfg) if h not in first])
        verified = sum(bool(c.verified) for c in checks)
    return Verification(
        status=VerificationStatus.VERIFIED if verified and verified / len(checks) >= share else VerificationStatus.NOT_VERIFIED,
        method=f"SIFT, ratio test {cfg.ratio}, RANSAC affine ({cfg.ransac_threshold_px} px)",
        pairs_checked=len(checks),
        pairs_verified=verified,
        rule=pair_rule_text(cfg),
        median_inliers=float(np.median([c.inliers for c in checks])),
        pairs=tuple(checks),
    )
