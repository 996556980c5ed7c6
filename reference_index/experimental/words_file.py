"""Visual words written out of core: a WordIndex file for more descriptors than memory holds.

`WordIndex.save` sorts every descriptor in memory; at 1.8 M reference frames (360 M descriptors,
11.5 GB of them) that does not fit beside anything else. `WordFileWriter` takes the descriptors
chunk by chunk in ascending id order, for a vocabulary trained beforehand on a sample
(`Vocabulary.for_catalogue`). A first pass writes ids, descriptors and each descriptor's top-level
cell in place and keeps its word and signature in a side file; closing places the postings word
by word (a counting sort: each word's count is known after the first pass). The result is the file
`WordIndex.save` writes for the same vocabulary, settings and descriptors, byte for byte, so
`WordIndex.load(path, mmap=True)` reads and searches it unchanged.

Memory: one chunk, the vocabulary, 8 bytes a word and 16 a frame, the competition's kept
descriptors (reference_index.competition: 32 bytes for every 256th); the postings (5 bytes a
descriptor) are placed through a memory map of the file.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..search.arrayfile import Spec, reserve_arrays
from .competition import Competition
from .vocabulary import Vocabulary
from .words import MAGIC, WordIndex, check_frame_ids, posting_keys, posting_rows

ASSIGNED = np.dtype([("word", "<i4"), ("sig", "<u2")])


class WordFileWriter:
    """Write a WordIndex file for `frames` frames holding `descriptors` descriptors in all:
    `add(ids, codes)` chunk by chunk (ids ascending across chunks), then `close()`."""

    def __init__(self, path: str | Path, vocabulary: Vocabulary, frames: int, descriptors: int, shift: int, **settings):
        self.path, self.vocabulary, self.shift = Path(path), vocabulary, int(shift)
        self.frames, self.descriptors = int(frames), int(descriptors)
        self.width = vocabulary.top.shape[1]
        probe = WordIndex(vocabulary, shift, **settings)
        v = vocabulary
        self._vocab = v.arrays()
        specs: dict[str, Spec] = {name: (a.dtype, a.shape) for name, a in self._vocab.items()}
        specs.update({"offsets": (np.int64, (v.size + 1,)), "postings": (np.uint8, (self.descriptors, 5)),
                      "ids": (np.int64, (self.descriptors,)), "descriptors": (np.uint8, (self.descriptors, self.width)),
                      "cells": (np.uint16, (self.descriptors,)),
                      "frame_ids": (np.int64, (self.frames,)), "frame_start": (np.int64, (self.frames + 1,))})
        self.every = probe.competition
        if self.every:  # the competition's kept descriptors: every `every`-th, counted in advance
            specs.update({"competition_codes": (np.uint8, (Competition.kept_count(self.descriptors, self.every), self.width)),
                          "competition_offsets": (np.int64, (len(v.top) + 1,))})
        self._kept: list[np.ndarray] = []
        self._at = reserve_arrays(self.path, MAGIC, {s: getattr(probe, s) for s in WordIndex.SETTINGS}, specs)
        self._fd = os.open(self.path, os.O_RDWR)
        for name, a in self._vocab.items():
            self._put(name, 0, a)
        self._side_path = self.path.with_name(self.path.name + ".assigned")
        self._side = open(self._side_path, "wb")  # each descriptor's word and signature, in id order
        self._counts = np.zeros(v.size, np.int64)
        self._fids: list[np.ndarray] = []
        self._fstart: list[np.ndarray] = []
        self._n, self._last_id = 0, -1

    def _put(self, name: str, at_bytes: int, a: np.ndarray) -> None:
        data = memoryview(np.ascontiguousarray(a)).cast("B")  # type: ignore[arg-type]  # numpy's stubs declare the buffer from Python 3.12
        done = 0
        while done < len(data):
            done += os.pwrite(self._fd, data[done:], self._at[name] + at_bytes + done)

    def add(self, ids: np.ndarray, codes: np.ndarray) -> None:
        ids = np.asarray(ids, np.int64)
        codes = np.ascontiguousarray(codes, np.uint8)
        if not len(ids):
            return
        if len(codes) != len(ids) or codes.shape[1] != self.width:
            raise ValueError(f"{len(ids)} ids for {codes.shape} descriptors of {self.width} bytes")
        if ids[0] < self._last_id or np.any(np.diff(ids) < 0):
            raise ValueError("descriptors must arrive in ascending id order")
        check_frame_ids(ids, self.shift)
        if self._n + len(ids) > self.descriptors:
            raise ValueError(f"more than the {self.descriptors:,} descriptors announced")
        frame = ids >> self.shift
        new = np.nonzero(np.r_[frame[0] != (self._last_id >> self.shift) if self._last_id >= 0 else True,
                               frame[1:] != frame[:-1]])[0]
        self._fids.append(frame[new])
        self._fstart.append(self._n + new)
        self._put("ids", 8 * self._n, ids)
        self._put("descriptors", self.width * self._n, codes)
        cell = self.vocabulary.cells(codes, 1)
        self._put("cells", 2 * self._n, cell[:, 0].astype(np.uint16))
        assigned = np.empty(len(ids), ASSIGNED)
        assigned["word"] = self.vocabulary.assign(codes, cell=cell)[:, 0]
        assigned["sig"] = self.vocabulary.signature(codes)
        self._side.write(assigned.tobytes())
        if self.every:
            self._kept.append(Competition.kept(codes, self._n, self.every).copy())  # a copy: a slice would keep the chunk
        self._counts += np.bincount(assigned["word"], minlength=len(self._counts))
        self._n += len(ids)
        self._last_id = int(ids[-1])

    def close(self, step: int = 4_000_000) -> Path:
        """Place the postings and finish the file; returns its path."""
        self._side.close()
        try:
            fids = np.concatenate(self._fids or [np.zeros(0, np.int64)])
            fstart = np.concatenate(self._fstart or [np.zeros(0, np.int64)])
            if self._n != self.descriptors or len(fids) != self.frames:
                raise ValueError(f"announced {self.frames:,} frames and {self.descriptors:,} descriptors, "
                                 f"got {len(fids):,} and {self._n:,}")
            offsets = np.r_[0, np.cumsum(self._counts)].astype(np.int64)
            self._put("offsets", 0, offsets)
            self._put("frame_ids", 0, fids)
            self._put("frame_start", 0, np.r_[fstart, self._n].astype(np.int64))
            if self.every:
                kept = np.concatenate(self._kept or [np.zeros((0, self.width), np.uint8)])
                for name, a in Competition.of(self.vocabulary, kept).arrays().items():
                    self._put(name, 0, a)
            if self._n:
                self._place(offsets, np.r_[fstart, self._n], step)
        finally:
            os.close(self._fd)
            self._side_path.unlink(missing_ok=True)
        return self.path

    def _place(self, offsets: np.ndarray, bounds: np.ndarray, step: int) -> None:
        """Second pass: each chunk's postings sorted by (word, frame, signature), appended to its
        words' runs. Chunks are whole frames in frame order, so each run ends sorted as WordIndex
        sorts it."""
        post = np.memmap(self.path, np.uint8, "r+", offset=self._at["postings"], shape=(self._n, 5))
        cursor = offsets[:-1].copy()
        lo = 0
        while lo < self._n:
            at_most = bounds[np.searchsorted(bounds, lo + step, "right") - 1]
            hi = int(at_most) if at_most > lo else int(bounds[np.searchsorted(bounds, lo, "right")])
            count, start, lo = hi - lo, lo, hi
            a = np.fromfile(self._side_path, ASSIGNED, count=count, offset=start * ASSIGNED.itemsize)
            frame = np.fromfile(self.path, np.int64, count=count, offset=self._at["ids"] + 8 * start) >> self.shift
            keys = posting_keys(a["word"], frame, a["sig"])
            words = keys >> 40
            uniq, first, n = np.unique(words, return_index=True, return_counts=True)
            at = cursor[words] + np.arange(count) - np.repeat(first, n)
            cursor[uniq] += n
            post[at] = posting_rows(keys)
        post.flush()
        del post
