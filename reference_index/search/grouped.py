"""Binary inverted lists whose nearest lists are found through groups of their centroids.

With thousands of lists, comparing a query with every centroid costs as much as scanning the
lists it picks. From GROUPED_FROM lists on, the centroids are put in about sqrt(nlist) groups
(Hamming k-means over the centroids, an `IndexBinaryIVF` quantizer of the main index): a query
is compared with the groups' centres and with the centroids of its nearest groups only. At
4,096 lists and GROUPS_PROBED = 8: 576 comparisons instead of 4,096 (which were 45 % of a
clip's ORB search), and 96 % of the 8 lists probed are those exhaustive comparison would give,
the rest being the farthest (16 groups: 97 %, 1,088 comparisons; a 60-s clip's descriptors
against python -m benchmarks.scan --local's 35-minute catalogue).

The groups compared are saved with the index. Asking for more lists than they hold would
silently probe fewer: `probe` widens them to hold at least twice the lists asked for.
"""

from __future__ import annotations

import math

import numpy as np

from .openmp import faiss

GROUPED_FROM, GROUPS_PROBED = 2048, 8


def group_centroids(index, dim: int, groups: int, seed: int) -> None:
    """Give the binary inverted-list `index` (trained) a quantizer over its centroids in `groups` groups."""
    centroids = centroids_of(index, dim // 8)
    centres = faiss.IndexBinaryFlat(dim)
    quantizer = faiss.IndexBinaryIVF(centres, dim, groups)
    # each index owns the one it searches through (Python keeps neither)
    centres.this.disown()  # type: ignore[attr-defined]  # SWIG's proxy, absent from faiss's stubs
    quantizer.own_fields = True
    quantizer.cp.seed = seed
    quantizer.train(centroids)
    quantizer.add(centroids)  # ids 0..nlist-1: the list numbers
    quantizer.nprobe = min(GROUPS_PROBED, groups)
    quantizer.this.disown()  # type: ignore[attr-defined]  # SWIG's proxy, absent from faiss's stubs
    index.quantizer = quantizer
    index.own_fields = True


def centroids_of(index, width: int) -> np.ndarray:
    """List i's centroid in row i, whether the lists are found through groups or not."""
    q = faiss.downcast_IndexBinary(index.quantizer)
    if not isinstance(q, faiss.IndexBinaryIVF):
        return faiss.vector_to_array(q.xb).reshape(-1, width).copy()  # type: ignore[attr-defined]  # a flat index's codes: not in faiss's stubs
    out = np.zeros((q.ntotal, width), np.uint8)
    for lst in range(q.nlist):
        n = q.invlists.list_size(lst)
        if n:
            ids = faiss.rev_swig_ptr(q.invlists.get_ids(lst), n)
            out[ids] = faiss.rev_swig_ptr(q.invlists.get_codes(lst), n * width).reshape(n, width)
    return out


def probe(index, nprobe: int) -> None:
    """Search `nprobe` lists of the binary inverted-list `index`; where they are found through
    groups, compare groups holding at least twice as many centroids (never fewer than saved)."""
    index.nprobe = int(nprobe)
    q = faiss.downcast_IndexBinary(index.quantizer)
    if isinstance(q, faiss.IndexBinaryIVF) and q.ntotal:
        wanted = math.ceil(2 * int(nprobe) * q.nlist / q.ntotal)
        q.nprobe = max(q.nprobe, min(q.nlist, wanted))
