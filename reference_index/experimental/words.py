"""Visual words for channels with many binary descriptors a frame (ORB): sub-linear search.

Searching every stored descriptor grows with the catalogue. Instead ("Video Google", DBoW,
Hamming embedding): a vocabulary of binary words is trained on reference descriptors, two levels
deep (a descriptor is compared with `k1` centroids, then with the `k2` of its cell; the vocabulary
grows with the catalogue, a word for about 32 descriptors, so a word's postings do not), and an
inverted file lists, for each word, the reference descriptors that fall in it: 5 bytes each
(frame id in 3, a 16-bit signature in 2: the bits the word says least about), 1 KB a reference
frame of 200 descriptors. This is all a query searches.

A query frame is scored in two steps. Short list: each of its descriptors looks in its
`query_words` nearest words and votes for the reference frames with a posting there within
`max_signature_distance` signature bits (a shared word alone is common by chance, a shared word
and signature is not), weighted by its inverse document frequency, log(frames held / frames it
reaches): a generic patch many frames share lifts them all a little, a patch few frames share
lifts those a lot, and a copy collects many votes whichever its patches are (TF-IDF, as "Video
Google" scores frames); the `shortlist` frames with the highest scores go on. Then
the same votes as exhaustive matching, among those frames only: each query descriptor votes for
the frames of its `neighbours` nearest descriptors within the channel's distance, looked for
among the short-listed descriptors in its `near_cells` nearest top-level cells of the vocabulary
(descriptors that close to each other seldom fall far apart in it: at 1.8 M frames, 16 of 1,024
cells kept 95.6 % of the votes at 3 % of the comparisons; 0: among all). The full descriptors
for this, and each one's cell, are kept frame by frame in the same file (6.8 KB a frame),
memory-mapped: a scan reads only its short-listed frames' pages. A vote counts only when closer
than the query descriptor's nearest among every `competition`-th catalogue descriptor
(reference_index.competition: the competition a short list leaves out; 0: no such sample).

Files: `arrayfile` (a JSON header and raw arrays), never pickle.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from ..errors import IndexCorrupt
from ..search.arrayfile import has_magic, read_arrays, read_at_random, write_arrays
from ..search.arrays import per_distinct_row, spans, unique_sorted
from ..search.openmp import faiss
from ..search.threads import one_thread
from .competition import Competition
from .vocabulary import Vocabulary, cell_lists

MAGIC = b"AUDITOR-WORDS2\n"
FRAME_BITS = 24
MAX_FRAMES = 1 << FRAME_BITS  # frame ids fit 3 bytes; larger catalogues are sharded


def posting_keys(words: np.ndarray, frames: np.ndarray, sigs: np.ndarray) -> np.ndarray:
    """Sorted int64 keys (word, frame, signature): the order postings are kept in."""
    return np.sort((np.asarray(words, np.int64) << 40) | (np.asarray(frames, np.int64) << 16) | np.asarray(sigs, np.int64))


def posting_rows(keys: np.ndarray) -> np.ndarray:
    """The 5-byte postings of `posting_keys`: the frame in 3 bytes (little-endian), then the
    signature in 2 (big-endian), as `_frames` and `_passing` read them."""
    rows = np.empty((len(keys), 5), np.uint8)
    for b in range(3):
        rows[:, b] = (keys >> (16 + 8 * b)) & 0xFF
    rows[:, 3], rows[:, 4] = (keys >> 8) & 0xFF, keys & 0xFF
    return rows


def check_frame_ids(ids: np.ndarray, shift: int) -> None:
    """Refuse descriptor ids whose frame id does not fit a posting's 3 bytes."""
    if len(ids) and (int(np.max(ids)) >> shift) >= MAX_FRAMES:
        raise ValueError(f"visual words hold frame ids below {MAX_FRAMES:,}: shard the index (auditor index shard)")


def _frames(post: np.ndarray) -> np.ndarray:
    return post[:, 0].astype(np.int64) | (post[:, 1].astype(np.int64) << 8) | (post[:, 2].astype(np.int64) << 16)


def top_ranked(score: np.ndarray, n: int) -> np.ndarray:
    """The positions (ascending) of the n highest scores, ties going to the lower position: the
    first n of np.lexsort((positions, -score)), without sorting them all (a query frame's step 1
    scores some 30,000 frames to keep 300)."""
    if len(score) <= n:
        return np.arange(len(score))
    cut = np.partition(score, len(score) - n)[len(score) - n]  # the n-th highest
    above = np.nonzero(score > cut)[0]
    return np.sort(np.r_[above, np.nonzero(score == cut)[0][: n - len(above)]])


POPCOUNT16 = np.array([bin(i).count("1") for i in range(1 << 16)], np.uint8)
EMPTY = (np.zeros(0, np.int64), np.zeros(0, np.float64))


class WordIndex:
    """One channel's visual words: the inverted file (word -> postings of frame id and
    signature) and the descriptors frame by frame (for the second step and for rebuilding).

    Offers what ChannelVectors uses of a FAISS index (ntotal, add_with_ids, remove_ids, the
    stored ids and vectors) and `search_frames` for scoring whole query frames."""

    def __init__(self, vocabulary: Vocabulary, shift: int, stop_share: float = 0.01, query_words: int = 1,
                 max_signature_distance: int = 2, neighbours: int = 3, shortlist: int = 300, competition: int = 256,
                 near_cells: int = 16):
        self.vocabulary = vocabulary
        self.shift = int(shift)  # vector id = frame id << shift | rank
        self.stop_share = float(stop_share)
        self.query_words = int(query_words)
        self.max_signature_distance = int(max_signature_distance)
        self.neighbours = int(neighbours)
        self.shortlist = int(shortlist)
        self.competition = int(competition)  # every this-many-th descriptor is kept as the competition (0: none)
        self.near_cells = int(near_cells)  # step 2 looks in a query descriptor's this many nearest cells (0: all)
        self._rival: Competition | None = None
        self._offsets = np.zeros(vocabulary.size + 1, np.int64)  # word -> postings [lo, hi)
        self._post = np.zeros((0, 5), np.uint8)  # frame id (24 bits, little-endian), signature (16 bits)
        self._ids = np.zeros(0, np.int64)  # descriptors' vector ids, ascending ...
        self._desc = np.zeros((0, 32), np.uint8)  # ... and the descriptors, in that order ...
        self._cells = np.zeros(0, np.uint16)  # ... and each one's nearest top-level cell
        self._fids = np.zeros(0, np.int64)  # the frames held, ascending, and where each one's ...
        self._fstart = np.zeros(1, np.int64)  # ... descriptors start (one more: the end)
        self._pending: list[tuple[np.ndarray, np.ndarray]] = []  # (ids, descriptors) not merged yet
        self._stop: np.ndarray | None = None

    @property
    def ntotal(self) -> int:
        return int(len(self._ids) + sum(len(p[0]) for p in self._pending))

    # -- adding and removing ------------------------------------------------------------------
    def add_with_ids(self, codes: np.ndarray, ids: np.ndarray) -> None:
        ids = np.asarray(ids, np.int64)
        check_frame_ids(ids, self.shift)
        self._pending.append((ids, np.ascontiguousarray(codes, np.uint8)))

    def _merge(self) -> None:
        if self._pending:
            ids = np.concatenate([np.asarray(self._ids)] + [p[0] for p in self._pending])
            desc = np.concatenate([np.asarray(self._desc)] + [p[1] for p in self._pending])
            self._pending = []
            self._set(ids, desc)

    def _set(self, ids: np.ndarray, desc: np.ndarray) -> None:
        order = np.argsort(ids, kind="stable")
        self._ids, self._desc = ids[order], desc[order]
        self._fids, start = np.unique(self._ids >> self.shift, return_index=True)
        self._fstart = np.r_[start, len(ids)].astype(np.int64)
        cell = self.vocabulary.cells(self._desc, 1) if len(ids) else np.zeros((0, 1), np.int64)
        self._cells = cell[:, 0].astype(np.uint16)
        words = self.vocabulary.assign(self._desc, cell=cell)[:, 0] if len(ids) else np.zeros(0, np.int64)
        keys = posting_keys(words, self._ids >> self.shift, self.vocabulary.signature(self._desc))
        self._post = posting_rows(keys)
        self._offsets = np.searchsorted(keys >> 40, np.arange(self.vocabulary.size + 1), "left").astype(np.int64)
        self._stop = None
        self.keep_competition(self.competition)

    def keep_competition(self, every: int) -> None:
        """Keep every `every`-th stored descriptor (in id order) as step 2's competition (0: none)."""
        self.competition = int(every)
        self._rival = Competition.of(self.vocabulary, Competition.kept(self._desc, 0, every)) if every else None

    @property
    def kept_competition(self) -> Competition | None:
        """The descriptors kept as step 2's competition (None: none)."""
        return self._rival

    def remove_ids(self, ranges: list[tuple[int, int]]) -> int:
        """Remove the descriptors whose ids fall in these ranges [lo, hi); returns how many went."""
        self._merge()
        gone = np.zeros(len(self._ids), bool)
        for lo, hi in ranges:
            gone |= (self._ids >= lo) & (self._ids < hi)
        if gone.any():
            self._set(np.asarray(self._ids)[~gone], np.asarray(self._desc)[~gone])
        return int(gone.sum())

    # -- what it holds ------------------------------------------------------------------------
    def all(self) -> tuple[np.ndarray, np.ndarray]:
        """(ids, descriptors) stored, ids ascending."""
        self._merge()
        return np.asarray(self._ids), np.asarray(self._desc)

    @property
    def frames(self) -> int:
        self._merge()
        return int(len(self._fids))

    STOP_ABOVE_MEAN = 4.0  # ... and every word with more than this many times the mean postings

    def stop_words(self) -> np.ndarray:
        """The most common words, ignored when short-listing: the `stop_share` with most postings,
        and any word with more than STOP_ABOVE_MEAN times the mean (real descriptors crowd some
        words: at 1.8 M frames a query descriptor's word held 3,300 postings against 514 on
        average; these words carry little idf weight and most of the reading)."""
        self._merge()
        if self._stop is None:
            sizes = np.diff(np.asarray(self._offsets))
            n = int(round(self.stop_share * self.vocabulary.size))
            top = np.argsort(-sizes, kind="stable")[:n] if n else np.zeros(0, np.int64)
            crowded = (np.nonzero(sizes > self.STOP_ABOVE_MEAN * sizes.mean())[0] if len(sizes) and self.stop_share
                       else np.zeros(0, np.int64))
            self._stop = np.union1d(top, crowded).astype(np.int64)
        return self._stop

    def bytes_per_frame(self) -> dict[str, float]:
        """What a frame costs: the searched inverted file, the searched competition, and the
        descriptors read for short lists."""
        n = max(1, self.frames)
        kept = sum(a.nbytes for a in self._competition_arrays().values())
        return {"inverted_file": (self._post.nbytes + self._offsets.nbytes) / n, "competition": kept / n,
                "descriptors": (self._desc.nbytes + self._cells.nbytes + self._ids.nbytes + self._fids.nbytes
                                + self._fstart.nbytes) / n}

    def describe(self) -> str:
        v = self.vocabulary
        return (f"visual words: {v.size} words in two levels ({len(v.top)} x up to {int(np.diff(v.first).max())}), "
                f"vocabulary {v.id}, the commonest {self.stop_share:.0%} and those above "
                f"{self.STOP_ABOVE_MEAN:g}x the mean postings ignored; inverted file with "
                f"16-bit signatures; a query descriptor votes through its "
                f"{'nearest word' if self.query_words == 1 else f'{self.query_words} nearest words'} "
                f"for frames within {self.max_signature_distance} signature bits, weighted by inverse "
                f"frame frequency; the {self.shortlist} frames scoring highest are matched descriptor by descriptor"
                + (f" within each query descriptor's {self.near_cells} nearest top-level cells" if self._restricted() else "")
                + (f", a vote counting only when closer than the query descriptor's nearest among every "
                   f"{self.competition}th reference descriptor" if self.competition else ""))

    # -- scoring ------------------------------------------------------------------------------
    def nearest_competitors(self, codes: np.ndarray) -> np.ndarray | None:
        """Each query descriptor's distance to its nearest kept competitor (None: none kept);
        `competition.limits` turns it into the farthest its votes may come from."""
        self._merge()
        return None if self._rival is None else self._rival.nearest(codes)

    def search_frames(self, codes: np.ndarray, frame_of: np.ndarray, rows: np.ndarray, k: int, max_distance: int,
                      exclude: np.ndarray | None = None, stats: dict | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """For each query frame in `rows` (its descriptors: `codes[frame_of == row]`), the k
        reference frames with the most votes: (frame ids, votes), best first (ties: the lower
        frame id). `stats`, when given, adds up postings read and descriptors compared."""
        short = self.shortlists(codes, frame_of, rows, exclude, stats)
        return self.votes(codes, frame_of, rows, short, k, max_distance, stats=stats)

    def _by_row(self, frame_of: np.ndarray, rows: np.ndarray) -> list[np.ndarray]:
        frame_of = np.asarray(frame_of)
        order = np.argsort(frame_of, kind="stable")
        starts = np.searchsorted(frame_of[order], rows, "left")
        ends = np.searchsorted(frame_of[order], rows, "right")
        return [order[a:b] for a, b in zip(starts, ends)]

    def shortlists(self, codes: np.ndarray, frame_of: np.ndarray, rows: np.ndarray, exclude: np.ndarray | None = None,
                   stats: dict | None = None) -> list[tuple[np.ndarray, float]]:
        """Step 1 for each query frame in `rows`: (its short-listed frames, ascending; the best
        short-list score), from the inverted file alone: the `shortlist` frames with the most
        signature-checked word votes."""
        self._merge()
        codes = np.ascontiguousarray(codes, np.uint8)
        rows, frame_of = np.asarray(rows, np.int64), np.asarray(frame_of, np.int64)
        with one_thread():  # a descriptor the clip repeats is assigned once
            words = per_distinct_row(codes, lambda c: self.vocabulary.assign(c, self.query_words)).astype(np.int64)
        stop = np.zeros(self.vocabulary.size, bool)
        stop[self.stop_words()] = True
        voter = np.repeat(np.arange(len(codes)), words.shape[1])  # a query descriptor, for each word it looks in
        w = words.ravel()
        keep = ~stop[w] & np.isin(frame_of[voter], rows)
        voter, w = voter[keep], w[keep]
        # a (word, signature) that several query descriptors look up (a clip repeats most of its
        # corners from frame to frame) is read once for them all
        looked, which = np.unique((w << 16) | self.vocabulary.signature(codes).astype(np.int64)[voter], return_inverse=True)
        start, found = self._passing(looked, exclude, stats)
        out = []
        for mine in self._by_row(frame_of[voter], rows):  # each query frame's lookups, in descriptor order
            first, n = start[which[mine]], start[which[mine] + 1] - start[which[mine]]
            frames = found[spans(first, n)]
            out.append(self._best(np.repeat(voter[mine] - (voter[mine].min() if len(mine) else 0), n), frames))
        return out

    def _best(self, voter: np.ndarray, frames: np.ndarray) -> tuple[np.ndarray, float]:
        """A query frame's short list (ascending) and best score, from the frames each of its
        descriptors (`voter`) found."""
        if not len(frames):
            return np.zeros(0, np.int64), 0.0
        pairs = unique_sorted((voter << FRAME_BITS) | frames)  # a descriptor votes once for a frame ...
        pv, pf = pairs >> FRAME_BITS, pairs & (MAX_FRAMES - 1)  # (shifts: int64 division is slow)
        weight = np.log(max(1, len(self._fids)) / np.bincount(pv)[pv])  # ... weighted by how few it reaches (idf)
        uniq, at = np.unique(pf, return_inverse=True)
        score = np.bincount(at, weights=weight, minlength=len(uniq))
        return uniq[top_ranked(score, self.shortlist)], float(score.max())

    BLOCK = 1 << 20  # postings read at a time (the arrays made for them: some 30 MB)

    def _passing(self, looked: np.ndarray, exclude, stats) -> tuple[np.ndarray, np.ndarray]:
        """For each (word << 16 | signature) of `looked` (ascending), the frames of its word's
        postings within `max_signature_distance` bits of its signature, but those in `exclude`:
        (start, frames), frames[start[i]:start[i + 1]] for looked[i]. Reads each posting's two
        signature bytes, and the frame only of the few that pass (a few in a hundred)."""
        w, sigs = looked >> 16, (looked & 0xFFFF).astype(np.uint16)
        n = self._offsets[w + 1] - self._offsets[w]
        ends = np.cumsum(n)
        if stats is not None:
            stats["postings"] = stats.get("postings", 0) + int(ends[-1] if len(ends) else 0)
        counts, parts, a = np.zeros(len(looked), np.int64), [np.zeros(0, np.int64)], 0
        while a < len(looked):
            b = max(a + 1, int(np.searchsorted(ends, (ends[a - 1] if a else 0) + self.BLOCK, "right")))
            lo, m = self._offsets[w[a:b]], n[a:b]
            idx = spans(lo, m)
            sig = (self._post[idx, 3].astype(np.uint16) << 8) | self._post[idx, 4]
            near = np.nonzero(POPCOUNT16[sig ^ np.repeat(sigs[a:b], m)] <= self.max_signature_distance)[0]
            frames, of = _frames(self._post[idx[near]]), a + np.searchsorted(np.cumsum(m), near, "right")
            if exclude is not None and len(exclude):
                ok = ~np.isin(frames, exclude)
                frames, of = frames[ok], of[ok]
            counts += np.bincount(of, minlength=len(looked))
            parts.append(frames)
            a = b
        return np.r_[0, np.cumsum(counts)], np.concatenate(parts)

    def votes(self, codes: np.ndarray, frame_of: np.ndarray, rows: np.ndarray, shortlists: list, k: int,
              max_distance, only: np.ndarray | None = None, stats: dict | None = None) -> list[tuple[np.ndarray, np.ndarray]]:
        """Step 2 for each query frame in `rows` (where `only` allows): exhaustive matching's votes
        within `max_distance` bits (or bits per row of `codes`) among its short-listed frames,
        (frame ids, votes), best first (ties: the lower frame id)."""
        self._merge()
        codes = np.ascontiguousarray(codes, np.uint8)
        out = []
        with one_thread():
            near = None  # each query descriptor's nearest cells (a descriptor the clip repeats: found once)
            if self._restricted() and len(codes):
                near = per_distinct_row(codes, lambda c: self.vocabulary.cells(c, self.near_cells))
            for i, mine in enumerate(self._by_row(frame_of, rows)):
                frames, limit = shortlists[i][0], max_distance[mine] if np.ndim(max_distance) else max_distance
                wanted = (only is None or bool(only[i])) and len(frames)
                cells = None if near is None else near[mine]
                out.append(self._votes(codes[mine], frames, k, limit, stats, cells) if wanted else EMPTY)
        return out

    def _restricted(self) -> bool:
        """Whether step 2 compares a query descriptor only within its nearest cells: asked for,
        fewer cells than the vocabulary has, and each stored descriptor's cell known."""
        return 0 < self.near_cells < len(self.vocabulary.top) and len(self._cells) == len(self._desc)

    def _votes(self, query: np.ndarray, frames: np.ndarray, k: int, max_distance, stats, cells=None) -> tuple:
        """Step 2: exhaustive matching's votes among the short-listed frames' descriptors (those
        in each query descriptor's `cells` when given)."""
        at = np.searchsorted(self._fids, frames)
        lo, hi = self._fstart[at], self._fstart[at + 1]
        n = hi - lo
        rows = spans(lo, n)
        ref = np.take(np.asarray(self._desc), rows, axis=0)  # take: several times faster than indexing a memmap
        owner = np.repeat(frames, n)
        if cells is None:
            if stats is not None:
                stats["compared"] = stats.get("compared", 0) + len(ref) * len(query)
            flat = faiss.IndexBinaryFlat(ref.shape[1] * 8)
            flat.add(ref)
            dists, nb = flat.search(query, min(self.neighbours, len(ref)))
        else:
            dists, nb = self._search_cells(query, cells, ref, np.take(np.asarray(self._cells), rows).astype(np.int64), stats)
        q, j = np.nonzero((dists <= np.reshape(max_distance, (-1, 1))) & (nb >= 0))
        pairs = unique_sorted((q.astype(np.int64) << FRAME_BITS) | owner[nb[q, j]])  # one vote per query descriptor and frame
        uniq, votes = np.unique(pairs & (MAX_FRAMES - 1), return_counts=True)
        best = np.lexsort((uniq, -votes))[:k]
        return uniq[best], votes[best].astype(np.float64)

    def _search_cells(self, query: np.ndarray, cells: np.ndarray, ref: np.ndarray, held: np.ndarray, stats):
        """Each query descriptor's `neighbours` nearest among `ref` in its `cells` ((distances,
        positions in ref), -1 for none): `ref` in inverted lists by the cells stored beside it
        (`held`), searched in the query's cells."""
        if len(held) and int(held.max()) >= len(self.vocabulary.top):  # FAISS would write past its lists
            raise IndexCorrupt(f"visual words: a stored descriptor's cell ({int(held.max())}) is beyond the "
                               f"vocabulary's {len(self.vocabulary.top)}")
        lists = cell_lists(self.vocabulary.top, ref, held)
        lists.nprobe = cells.shape[1]
        if stats is not None:
            stats["compared"] = stats.get("compared", 0) + int(np.bincount(held, minlength=len(self.vocabulary.top))[cells].sum())
        return lists.search_preassigned(query, min(self.neighbours, len(ref)), cells, None)

    # -- files ----------------------------------------------------------------------------------
    SETTINGS = ("shift", "stop_share", "query_words", "max_signature_distance", "neighbours", "shortlist", "competition",
                "near_cells")

    def save(self, path: str | Path) -> None:
        self._merge()
        write_arrays(path, MAGIC, {s: getattr(self, s) for s in self.SETTINGS},
                     {**self.vocabulary.arrays(), "offsets": self._offsets, "postings": self._post, "ids": self._ids,
                      "descriptors": self._desc, "cells": self._cells, "frame_ids": self._fids, "frame_start": self._fstart,
                      **self._competition_arrays()})

    def _competition_arrays(self) -> dict[str, np.ndarray]:
        if not self.competition:
            return {}
        kept = self._rival or Competition.of(self.vocabulary, np.zeros((0, self.vocabulary.top.shape[1]), np.uint8))
        return kept.arrays()

    @staticmethod
    def is_file(path: str | Path) -> bool:
        return has_magic(path, MAGIC)

    @classmethod
    def load(cls, path: str | Path, mmap: bool = False) -> WordIndex:
        header, found = read_arrays(path, MAGIC, mmap)
        a = {spec["name"]: arr for spec, arr in found}
        # files from before the competition kept none, and from before cells, no cells
        settings = {"competition": 0, "near_cells": 0, **{s: header[s] for s in cls.SETTINGS if s in header}}
        out = cls(Vocabulary(a["top"], a["leaves"], a["first"], a["sig_bits"]), **settings)
        out._offsets, out._post, out._ids, out._desc = a["offsets"], a["postings"], a["ids"], a["descriptors"]
        out._fids, out._fstart = a["frame_ids"], a["frame_start"]
        if out.near_cells:
            if "cells" not in a or len(a["cells"]) != len(out._desc):
                raise ValueError(f"keeps {len(a.get('cells', ())):,} descriptors' cells for {len(out._desc):,} descriptors, "
                                 f"though its header says step 2 looks in the nearest {out.near_cells}")
            out._cells = a["cells"]
        if out.competition:
            if "competition_codes" not in a or "competition_offsets" not in a:
                raise ValueError(f"keeps no competition, though its header says every {out.competition}th descriptor")
            out._rival = Competition(a["top"], a["competition_codes"], a["competition_offsets"])
        read_at_random(out._desc, out._cells)  # step 2 reads short-listed frames' few kilobytes each
        return out
