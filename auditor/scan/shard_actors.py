"""A sharded index served by Ray actors: one actor a shard, which opens its shard once and maps
its vectors; the clip scanners send each channel's query vectors to every shard actor and merge
the answers (reference_index.store.sharded). Everything else a scan does (catalogue lookups, segments,
verification against the reference files, calibration, evidence) happens in the clip scanner,
as with one index.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from reference_index.experimental import relay_tree
from reference_index.store import ShardBackend, ShardedIndex, is_sharded

SHARED_BYTES = 100_000  # an array this large goes into Ray's object store, as Ray puts it there itself
RELAY_CONCURRENCY = 64  # calls a relay serves at once (clip scanners share it; each call mostly waits)


class RayShards:
    """A fanout (reference_index.store.sharded.Fanout) over shard actors: every shard asked at once.
    A large array every shard gets (a chunk's query descriptors) is put into Ray's object store
    once for all of them: passed as it is, Ray would store a copy for each shard (measured with 32
    actors: 84 against 36 ms a fanout of a 1.3 MB chunk).

    With more than `per_relay` shards (0: no limit), the caller asks relays (`ShardRelay`, actors
    taking no CPU of their own), each of which asks up to `per_relay` shard actors (or relays) on
    its behalf: an experiment (reference_index.experimental.relays)."""

    def __init__(self, actors: list, cpus: int = 1, per_relay: int = 0):
        self.actors = actors
        nodes, relays = relay_tree(actors, per_relay, _relay_actor)
        self.nodes = nodes
        self.describe = (f"{len(actors)} Ray actors, one a shard" + (f", {cpus} CPUs each" if cpus > 1 else "")
                         + (f", asked through {relays} relay{'s' if relays > 1 else ''}" if relays else ""))

    def __call__(self, method: str, args: list) -> list:
        return _fan(self.nodes, method, args)


class ShardRelay:
    """A Ray actor that asks a group of shard actors (or of relays) on a clip scanner's behalf."""

    def __init__(self, nodes: list):
        self.nodes = nodes

    def call(self, method: str, args: list) -> list:
        # a shard's error comes back through Ray as an error of its own type and message (tested)
        return _fan(self.nodes, method, args)


def _relay_actor(nodes: list):
    import ray

    return ray.remote(ShardRelay).options(num_cpus=0, max_concurrency=RELAY_CONCURRENCY).remote(nodes)


def _fan(nodes: list, method: str, args: list) -> list:
    """Ask every node at once: a shard actor its `method` with its own args, a relay with those of
    the shards it covers (in order); the answers one per shard, in the shards' order."""
    import ray

    stored: dict[int, object] = {}  # id of an array the args hold (alive through the call) -> its ref

    def once(value):
        if isinstance(value, np.ndarray) and value.nbytes >= SHARED_BYTES:
            if id(value) not in stored:
                stored[id(value)] = ray.put(value)
            return stored[id(value)]  # Ray hands the shard actor the array itself (a relay passes the ref on)
        return value

    calls, at = [], 0
    for actor, n in nodes:
        if n:
            calls.append(actor.call.remote(method, [tuple(map(once, a)) for a in args[at : at + n]]))
        else:
            calls.append(getattr(actor, method).remote(*map(once, args[at])))
        at += n or 1
    out: list = []
    for (_, n), answer in zip(nodes, ray.get(calls)):
        out.extend(answer if n else [answer])
    return out


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
