"""The search structures: one per channel, chosen by the channel's size.

- `vectors`: `ChannelVectors`, a channel's FAISS index (exact, inverted lists, or the multi-index
  hash), chosen by size (`choose_structure`), searched, grown and rebuilt;
- `grouped`: binary inverted lists found through groups of their centroids;
- `multihash`: the compact multi-index hash for PDQ near-duplicate lookups;
- `knn`: neighbours in one canonical order, so that shards' merged answers are one index's;
- `arrays`, `arrayfile`, `threads`: small helpers (runs of rows, raw array files, one FAISS thread);
- `openmp`: FAISS itself, loaded with its idle threads asleep (`faiss` here is that module).

Visual words, another structure for local features, is in `reference_index.experimental`.
"""

from .arrays import unique_sorted
from .openmp import faiss
from .threads import one_thread
from .vectors import METRICS, STRUCTURES, ChannelVectors, choose_structure, gpu_count

__all__ = ["METRICS", "STRUCTURES", "ChannelVectors", "choose_structure", "faiss", "gpu_count", "one_thread", "unique_sorted"]
