"""Small image operations shared by channels and verification."""

from __future__ import annotations

import numpy as np


def content_box(image: np.ndarray, max_frac: float = 0.4, dark: float = 40.0, flat: float = 8.0) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the picture inside near-black letterbox/pillarbox bars.

    A bar is a run of rows (or columns) from an edge that are dark (mean < `dark`) and flat
    (standard deviation < `flat`). At most `max_frac` of the height (width) is trimmed per side.
    """
    gray = image.mean(axis=2) if image.ndim == 3 else image.astype(np.float32)
    h, w = gray.shape

    def run(lines: np.ndarray, limit: int) -> int:
        bar = (lines.mean(axis=1) < dark) & (lines.std(axis=1) < flat)
        n = int(np.argmin(bar)) if not bar.all() else len(bar)
        return min(n, limit)

    top = run(gray, int(h * max_frac))
    bottom = run(gray[::-1], int(h * max_frac))
    left = run(gray.T, int(w * max_frac))
    right = run(gray.T[::-1], int(w * max_frac))
    return top, h - bottom, left, w - right


def trim_borders(image: np.ndarray) -> np.ndarray:
    """The image without near-black bars (unchanged when there are none or nothing is left)."""
    t, b, l, r = content_box(image)
    if b - t < 16 or r - l < 16:
        return image
    if (t, b, l, r) == (0, image.shape[0], 0, image.shape[1]):
        return image
    return np.ascontiguousarray(image[t:b, l:r])
