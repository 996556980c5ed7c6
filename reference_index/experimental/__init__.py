"""Experiments: built, tested and measured, but not the defaults, and opt-in only.

They stay here until they beat the defaults on the evaluation set (docs/scaling.md has their
figures):

- visual words (`words`, `vocabulary`, `words_file`): a search structure for the local-feature
  channel at catalogue sizes where inverted lists no longer fit in memory (about 1 KB a reference
  frame searched, then a short list of frames matched descriptor by descriptor). Chosen with
  `[index] local_structure = "words"`. On the evaluation set it misses a mirrored crop that
  inverted lists find.
- the competition (`competition`): a sample of the catalogue's descriptors that stands in, within
  visual words' short lists, for the competition exhaustive search has.
- relays (`relays`): with hundreds of shard actors on Ray, actors that ask groups of shards on a
  clip scanner's behalf (`[search] shards_per_relay`), so that the scanner does not spend its CPU
  calling each shard. Measured on one machine only.
"""

from .competition import FAR, Competition, limits
from .relays import relay_tree
from .vocabulary import Vocabulary
from .words import WordIndex

__all__ = ["FAR", "Competition", "Vocabulary", "WordIndex", "limits", "relay_tree"]
