"""A sharded index served by Ray actors: one actor a shard, which opens its shard once and maps
its vectors; the clip scanners send each channel's query vectors to every shard actor and merge
the answers (reference_index.sharded). Everything else a scan does (catalogue lookups, segments,
verification against the reference files, calibration, evidence) happens in the clip scanner,
as with one index.
"""

from __future__ import annotations

from pathlib import Path

from reference_index.sharded import ShardBackend, ShardedIndex, is_sharded


class RayShards:
    """A fanout (reference_index.sharded.Fanout) over shard actors: every shard asked at once."""

    def __init__(self, actors: list, cpus: int = 1):
        self.actors = actors
        self.describe = f"{len(actors)} Ray actors, one a shard" + (f", {cpus} CPUs each" if cpus > 1 else "")

    def __call__(self, method: str, args: list) -> list:
        import ray

        return ray.get([getattr(actor, method).remote(*a) for actor, a in zip(self.actors, args)])


def shard_count(index_path: str | Path) -> int:
    """Shards of a sharded index (0: one ordinary index), read from its verified manifest."""
    if not is_sharded(index_path):
        return 0
    with ShardedIndex.open(index_path) as idx:
        return len(idx.shards)


def start_shard_actors(index_path: str | Path, num_cpus: int = 1) -> list:
    """One actor per shard of the sharded index at `index_path`, each with its shard open and
    its vectors mapped (waited for, so a shard that fails to open stops the run here), taking
    `num_cpus` CPUs of its node and searching with as many threads."""
    import ray

    with ShardedIndex.open(index_path) as idx:  # verified here once, before any actor starts
        entries = [(str(Path(index_path) / e["path"]), e["manifest_sha256"]) for e in idx.manifest["shards"]]
    cls = ray.remote(ShardBackend).options(num_cpus=num_cpus)
    actors = [cls.remote(path, sha, threads=num_cpus) for path, sha in entries]
    try:
        ray.get([a.search_settings.remote() for a in actors])
    except ray.exceptions.RayError as exc:
        cause = getattr(exc, "cause", None)
        if isinstance(cause, BaseException):
            raise cause from None
        raise
    return actors
