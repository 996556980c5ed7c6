"""reference_index — the rights holder's store of reference frames.

Vectors (one FAISS index per channel), a SQLite catalogue of works, videos and frames, and a
manifest with fingerprints and checksums. Knows nothing of video decoding or models.
"""

from .catalogue import FrameRef
from .errors import (
    CatalogueConflict,
    ChannelMismatch,
    FingerprintMismatch,
    IndexCorrupt,
    IndexLocked,
    IndexNotFound,
    ReferenceIndexError,
)
from .store import FORMAT, IndexWriter, ReferenceIndex, describe_fingerprint, open_index
from .vectors import ChannelVectors

__all__ = [
    "FORMAT",
    "CatalogueConflict",
    "ChannelMismatch",
    "ChannelVectors",
    "FingerprintMismatch",
    "FrameRef",
    "IndexCorrupt",
    "IndexLocked",
    "IndexNotFound",
    "IndexWriter",
    "ReferenceIndex",
    "ReferenceIndexError",
    "describe_fingerprint",
    "open_index",
]
