"""Small numpy helpers for the search paths."""

from __future__ import annotations

import numpy as np


def unique_sorted(values: np.ndarray) -> np.ndarray:
    """np.unique(values) for integer keys, by sorting. numpy 2.4's np.unique without return_*
    flags hashes instead, which on a clip's million (query descriptor, reference frame) keys took
    0.85 s against 0.05 s sorted: a tenth of a scan."""
    if values.size == 0:
        return np.sort(values.ravel())
    s = np.sort(values.ravel())
    keep = np.empty(len(s), dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]
