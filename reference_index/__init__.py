"""reference_index — the rights holder's store of reference frames.

Vectors (one FAISS index per channel), a SQLite catalogue of works, videos and frames, and a
manifest with fingerprints and checksums. Knows nothing of video decoding or models.

- `store`: the index folder and everything that keeps it whole (manifest, reader, writer, leases,
  integrity, catalogue, shards);
- `search`: the search structures, one per channel, chosen by size (FAISS exact search and
  inverted lists, the multi-index hash for PDQ), and neighbours in one canonical order;
- `experimental`: structures built and measured but not yet defaults (visual words, the
  competition, relays);
- `errors`: what the store refuses, as typed errors.

This face names what the rest of the project may use; `store`, `search` and `experimental` have
faces of their own.
"""

from .errors import (
    CatalogueConflict,
    ChannelMismatch,
    FingerprintMismatch,
    IndexCorrupt,
    IndexIsSharded,
    IndexLocked,
    IndexNotFound,
    IndexWriteFailed,
    ReferenceIndexError,
    ShardRefused,
)
from .search import ChannelVectors
from .store import (
    FORMAT,
    FrameRef,
    IndexWriter,
    ReferenceIndex,
    create_index,
    describe_fingerprint,
    exists,
    open_index,
)

__all__ = [
    "FORMAT",
    "CatalogueConflict",
    "ChannelMismatch",
    "ChannelVectors",
    "FingerprintMismatch",
    "FrameRef",
    "IndexCorrupt",
    "IndexIsSharded",
    "IndexLocked",
    "IndexNotFound",
    "IndexWriteFailed",
    "IndexWriter",
    "ReferenceIndex",
    "ReferenceIndexError",
    "ShardRefused",
    "create_index",
    "describe_fingerprint",
    "exists",
    "open_index",
]
