"""Small image operations shared by channels and verification."""

from __future__ import annotations

import numpy as np


def _edge_run(block, limit: int, dark: float, flat: float) -> int:
    """How many lines from an edge are bars; `block(a, b)` gives lines a..b-1 from that edge."""
    done, step = 0, 8
    while done < limit:
        k = min(step, limit - done)
        lines = block(done, done + k).astype(np.float32)
        gray = lines.mean(axis=2) if lines.ndim == 3 else lines
        bar = (gray.mean(axis=1) < dark) & (gray.std(axis=1) < flat)
        if not bar.all():
            return done + int(np.argmin(bar))
        done += k
        step *= 2
    return limit


def content_box(image: np.ndarray, max_frac: float = 0.4, dark: float = 40.0, flat: float = 8.0) -> tuple[int, int, int, int]:
    """(top, bottom, left, right) of the picture inside near-black letterbox/pillarbox bars.

    A bar is a run of rows (or columns) from an edge that are dark (mean < `dark`) and flat
    (standard deviation < `flat`). At most `max_frac` of the height (width) is trimmed per side.
    Lines are examined from each edge inwards only until the first that is not a bar.
    """
    h, w = image.shape[:2]
    cols = np.swapaxes(image, 0, 1)  # columns as lines
    top = _edge_run(lambda a, b: image[a:b], int(h * max_frac), dark, flat)
    bottom = _edge_run(lambda a, b: image[h - b : h - a][::-1], int(h * max_frac), dark, flat)
    left = _edge_run(lambda a, b: cols[a:b], int(w * max_frac), dark, flat)
    right = _edge_run(lambda a, b: cols[w - b : w - a][::-1], int(w * max_frac), dark, flat)
    return top, h - bottom, left, w - right


def trim_borders(image: np.ndarray) -> np.ndarray:
    """The image without near-black bars (unchanged when there are none or nothing is left)."""
    t, b, left, r = content_box(image)
    if b - t < 16 or r - left < 16:
        return image
    if (t, b, left, r) == (0, image.shape[0], 0, image.shape[1]):
        return image
    return np.ascontiguousarray(image[t:b, left:r])
