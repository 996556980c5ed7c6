"""The store: an index folder and everything that keeps it whole.

- `manifest`: the folder's layout, reading and committing manifest.json, the writer's lock;
- `reader`: `ReferenceIndex`, a read view that holds the generation it opened;
- `writer`: `IndexWriter` and `create_index`, copy-on-write generations;
- `leases`: readers' claims on generations, so writers never delete one in use;
- `schema`, `integrity`, `verified`: the manifest's shape; a generation's files and counts checked
  against it before any reader or writer uses them; checksums remembered by file identity;
- `catalogue`: the SQLite catalogue of works, videos and frames;
- `files`: atomic writes and SHA-256 of files;
- `shards`, `sharded`: splitting an index into shards, and reading the shards as one index.
"""

from .catalogue import VIDEO_FIELDS, FrameRef
from .files import atomic_path, atomic_write_bytes, atomic_write_json, atomic_write_text, sha256_file
from .manifest import FORMAT, describe_fingerprint, exists
from .reader import ReferenceIndex, open_index
from .sharded import ShardBackend, ShardedIndex, is_sharded, open_reader
from .shards import shard_index
from .writer import IndexWriter, create_index

__all__ = [
    "FORMAT", "VIDEO_FIELDS", "FrameRef", "IndexWriter", "ReferenceIndex", "ShardBackend", "ShardedIndex",
    "atomic_path", "atomic_write_bytes", "atomic_write_json", "atomic_write_text", "create_index",
    "describe_fingerprint", "exists", "is_sharded", "open_index", "open_reader", "sha256_file", "shard_index",
]
