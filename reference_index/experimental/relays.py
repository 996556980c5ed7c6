"""Relays: with hundreds of shards, a tree of relays between a clip scanner and the shard actors.

Each actor a clip scanner asks itself costs the scanner 0.45-0.9 ms of its own CPU (measured on
Ray, one machine); at 400 shards and 21 fanouts a clip that is 4-8 s of calling per clip. With
relays, the scanner asks a few relays and each relay asks a group of at most `per_relay` shard
actors (or relays) on its behalf. Opt-in (`[search] shards_per_relay`), measured on one machine
only: on a real cluster its latency is an estimate from per-call costs (docs/scaling.md).

This module plans the tree; `auditor.scan.shard_actors` makes the relay actors and calls through
them.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

Node = tuple[object, int]  # (an actor, the shards it relays to; 0: a shard actor itself)


def relay_tree(leaves: list, per_relay: int, make_relay: Callable[[list[Node]], object]) -> tuple[list[Node], int]:
    """The nodes a caller asks for `leaves` (shard actors), in the shards' order, and how many
    relays were made: while there are more than `per_relay` nodes, as few groups as will do, of
    even sizes, each asked through one relay (`make_relay(its nodes)`); a group of one needs none.
    `per_relay` below 2: every leaf is asked directly."""
    nodes: list[Node] = [(a, 0) for a in leaves]
    relays = 0
    if per_relay >= 2:
        while len(nodes) > per_relay:
            groups = np.array_split(np.arange(len(nodes)), -(-len(nodes) // per_relay))
            nodes = [nodes[g[0]] if len(g) == 1 else (make_relay([nodes[i] for i in g]), sum(nodes[i][1] or 1 for i in g))
                     for g in groups]
            relays += sum(len(g) > 1 for g in groups)
    return nodes, relays
