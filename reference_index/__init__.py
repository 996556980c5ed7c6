"""reference_index — the rights holder's store of reference frames.

Vectors (one FAISS index per channel), a SQLite catalogue of works, videos and frames, and a
manifest with fingerprints and checksums. Knows nothing of video decoding or models.

- `manifest`: the folder's layout, reading and committing manifest.json, the writer's lock;
- `reader`: `ReferenceIndex`, a read view that holds the generation it opened;
- `writer`: `IndexWriter` and `create_index`, copy-on-write generations;
- `leases`: readers' claims on generations, so writers never delete one in use;
- `schema`, `integrity`, `verified`: the manifest's shape; a generation's files and counts checked
  against it before any reader or writer uses them; checksums remembered by file identity;
- `catalogue`, `vectors`, `grouped`, `multihash`, `words`: the SQLite catalogue and the per-channel
  vector stores (`grouped`: binary inverted lists found through groups of their centroids);
- `shards`, `sharded`, `knn`: splitting an index into shards, reading the shards as one index,
  neighbours in one canonical order so that the shards' merged answers are one index's.
"""

import os as _os

# FAISS's OpenMP threads spin while they wait for work by default. On a machine whose cores are
# busy with anything else (decoding, a second scan worker, another user's job) spinning threads
# take turns with the thread they wait for: one small search of 279 PDQ hashes took 1.8 s
# instead of 0.015 s, an ORB search 10x its time. Sleeping threads wake a little later, which
# only matters to searches far smaller than a clip's. Set before FAISS loads OpenMP; a user's own
# setting wins.
_os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

from .errors import (  # noqa: E402
    CatalogueConflict,
    ChannelMismatch,
    FingerprintMismatch,
    IndexCorrupt,
    IndexIsSharded,
    IndexLocked,
    IndexNotFound,
    ReferenceIndexError,
    ShardRefused,
)
from .search import ChannelVectors  # noqa: E402
from .store import (  # noqa: E402
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
    "IndexWriter",
    "ReferenceIndex",
    "ReferenceIndexError",
    "ShardRefused",
    "create_index",
    "describe_fingerprint",
    "exists",
    "open_index",
]
