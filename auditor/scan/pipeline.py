"""Sample a file and embed its frames with every channel, a chunk at a time.

Frames are never all held at once: a chunk of `CHUNK` frames is decoded, embedded by each
channel, and dropped; only the (small) vectors are kept. Memory is bounded by the chunk size
whatever the clip's length.

Held frames (animation repeats a drawing for several frames; stills and title cards last
seconds) are embedded once: a sampled frame whose 32x32 grey thumbnail differs from the last
embedded one by at most `sampling.held_frame_max_diff` (mean absolute difference, 0-255) reuses
that frame's vectors. The frame keeps its own time, so segments and evidence are unchanged.

Decoding runs in a helper thread, at most `PREFETCH` frames ahead of the channels and at the
lowest scheduling priority: the decoder (OpenCV releases the GIL) fills the time the encoder
leaves a core idle without taking cores from it, and the channels rarely wait for frames.
The channels embed each chunk side by side, one thread each: their vectors are the same as one
after the other (tested), and no one thread carries every channel's work while cores wait.
"""

from __future__ import annotations

import contextlib
import os
import queue
import sys
import threading
from collections.abc import Callable, Generator, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..channels import Channel, Embeddings
from ..media.reader import THUMB, MediaInfo, MediaReader, grey_thumbnail
from ..settings import Configuration

CHUNK = 64
# the first chunks are smaller (8, 16, 32 frames, then CHUNK): searching, which waits for a whole
# chunk, starts while the decoder and the channels are still on their first frames
FIRST_CHUNK = 8
PREFETCH = CHUNK  # frames decoded ahead of the channels (0: decode in the calling thread)
HELPER_NICE = 19  # the decoding thread yields the cores to the encoder (Linux: niceness is per thread)


def _yield_to_encoder() -> None:
    """Lower the calling thread's scheduling priority, so that decoding uses the cycles the
    encoder leaves and does not slow it down. Linux only (elsewhere the niceness
    would apply to the whole process); threads this one starts (FFmpeg's) inherit it."""
    if HELPER_NICE and sys.platform.startswith("linux"):
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), HELPER_NICE)


@dataclass
class EmbeddedMedia:
    """One input after sampling and embedding: its info, frame times, and vectors per channel."""

    info: MediaInfo
    times: np.ndarray
    embeddings: dict[str, Embeddings]
    sampling_fps: float
    embedded_frames: int = -1  # frames actually embedded (the rest reused a held frame's vectors)
    # the sampled frames themselves, by time, when asked for and within the memory budget
    frames: dict[float, np.ndarray] | None = None
    boxes: list | None = None  # per frame: the region of a still a tile shows (None: the whole frame)
    # per sampled frame, the sampled frame whose vectors it reuses (itself when embedded); None: all embedded
    source: np.ndarray | None = None
    thumbs: np.ndarray | None = None  # per sampled frame: its grey thumbnail (media.reader.grey_thumbnail)

    @property
    def n_frames(self) -> int:
        return len(self.times)


def running_count(on_frames: Callable[[str, int], None] | None, label: str) -> Callable[[int], None] | None:
    """An `on_frames` for embed_file that reports `on_frames(label, frames embedded so far)`."""
    if on_frames is None:
        return None
    done = 0

    def frames_done(n: int) -> None:
        nonlocal done
        done += n
        on_frames(label, done)

    return frames_done


def embed_file(
    path: str | Path,
    fps: float,
    channels: dict[str, Channel],
    config: Configuration,
    on_frames: Callable[[int], None] | None = None,
    query: bool = False,
    keep_frames_bytes: int = 0,
    on_chunk: Callable[[dict[str, Embeddings]], None] | None = None,
    dense_when_short: bool | None = None,
) -> EmbeddedMedia:
    """Sample `path` at `fps` and embed every sampled frame with every channel.

    `query=True` embeds as a suspect clip: channels may add variants of each frame.
    `keep_frames_bytes`: also return the sampled frames (for verification, which would
    otherwise decode the clip again) as long as they fit in this many bytes; none beyond.
    `on_chunk`: called with each chunk's embeddings (of the frames embedded, not the held ones)
    as soon as every channel has embedded it, in order.
    `dense_when_short`: sample a short clip densely (MediaReader); by default, a query's way.
    """
    # a reference still is also indexed by tiles, so a clip showing a small region of it is found
    tiles = () if query else tuple(config.sampling.reference.still_tiles)
    dense = query if dense_when_short is None else dense_when_short
    reader = MediaReader(path, fps, config, still_tiles=tiles, dense_when_short=dense)
    times: list[float] = []
    boxes: list = []
    parts: dict[str, list[Embeddings]] = {name: [] for name in channels}
    chunk: list[np.ndarray] = []
    max_diff = float(config.sampling.held_frame_max_diff)
    source: list[int] = []  # per sampled frame: the embedded frame whose vectors it uses
    last_thumb = None
    thumbs: list[np.ndarray] = []  # every sampled frame's grey thumbnail (held frames; guided comparison)
    embedded = 0

    # the channels embed a chunk side by side (OpenCV, pdqhash, FAISS and torch release the GIL):
    # no one thread carries every channel's work while the others wait on it
    others = ThreadPoolExecutor(len(channels) - 1, thread_name_prefix="auditor-embed") if len(channels) > 1 else None

    def flush() -> None:
        if not chunk:
            return
        names = list(channels)
        started = ({name: others.submit(channels[name].embed, chunk, query=query) for name in names[1:]}
                   if others is not None else {})  # no pool: one channel
        done = {names[0]: channels[names[0]].embed(chunk, query=query)}
        done.update({name: f.result() for name, f in started.items()})  # in the channels' order
        for name, emb in done.items():
            parts[name].append(emb)
        if on_chunk:
            on_chunk(done)
        if on_frames:
            on_frames(len(chunk))
        chunk.clear()

    kept: dict[float, np.ndarray] | None = {} if keep_frames_bytes > 0 else None
    kept_bytes = 0
    limit = min(CHUNK, FIRST_CHUNK)
    with contextlib.closing(prefetched(reader.frames(), PREFETCH)) as frames, others or contextlib.nullcontext():
        for frame in frames:
            times.append(frame.t)
            boxes.append(frame.box)
            if kept is not None:
                kept_bytes += frame.image.nbytes
                if kept_bytes > keep_frames_bytes:
                    kept = None  # over budget: verification will decode what it needs again
                else:
                    kept[round(frame.t, 3)] = frame.image
            small = grey_thumbnail(frame.image)
            thumbs.append(small)
            if max_diff > 0:
                thumb = small.astype(np.float32)
                if last_thumb is not None and float(np.abs(thumb - last_thumb).mean()) <= max_diff:
                    source.append(embedded - 1)
                    continue
                last_thumb = thumb
            source.append(embedded)
            embedded += 1
            chunk.append(frame.image)
            if len(chunk) >= limit:
                flush()
                limit = min(CHUNK, 2 * limit)
        flush()
    embeddings = {
        name: Embeddings.concat(parts[name], ch.vector_width, ch.vector_dtype) for name, ch in channels.items()
    }
    first = None
    if embedded < len(times):
        src = np.asarray(source, dtype=np.int64)
        embeddings = {name: pick_frames(e, src) for name, e in embeddings.items()}
        first = np.unique(src, return_index=True)[1][src]  # the sampled frame each one's vectors came from
    return EmbeddedMedia(reader.info, np.asarray(times, dtype=np.float64), embeddings, reader.fps, embedded, kept,
                         boxes if any(b is not None for b in boxes) else None, first,
                         np.asarray(thumbs, dtype=np.uint8).reshape(-1, THUMB, THUMB))


class _Raised:
    def __init__(self, exc: BaseException):
        self.exc = exc


_END = object()


def prefetched(items: Iterator, depth: int) -> Generator:
    """Yield what `items` yields, produced by a helper thread up to `depth` items ahead.

    Whatever `items` raises is raised here, in order, after the items before it. When the
    consumer stops early (an error, Ctrl-C, or it has seen enough), the helper stops at its
    next item and closes `items`, so its `finally` blocks (releasing a decoder) run."""
    if depth <= 0:
        yield from items
        return
    buffer: queue.Queue = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def put(item) -> bool:
        while not stop.is_set():
            try:
                buffer.put(item, timeout=0.05)
                return True
            except queue.Full:
                continue
        return False

    def produce() -> None:
        _yield_to_encoder()
        try:
            for item in items:
                if not put(item):
                    return
            put(_END)
        except BaseException as exc:  # handed to the consumer, raised there
            put(_Raised(exc))
        finally:
            close = getattr(items, "close", None)
            if close is not None:
                close()

    helper = threading.Thread(target=produce, name="auditor-decode", daemon=True)
    helper.start()
    try:
        while True:
            item = buffer.get()
            if item is _END:
                return
            if isinstance(item, _Raised):
                raise item.exc
            yield item
    finally:
        stop.set()
        helper.join()


def pick_frames(e: Embeddings, src: np.ndarray) -> Embeddings:
    """Embeddings of the embedded frames -> of every sampled frame (frame i uses frame src[i]);
    also picks frames out (src: the frames wanted)."""
    frame_of: np.ndarray | None
    variant_of: np.ndarray | None
    if e.frame_of is not None:  # many vectors per frame: copy each source frame's run of vectors
        order = np.argsort(e.frame_of, kind="stable")
        starts = np.searchsorted(e.frame_of[order], np.arange(len(e.keep)))
        ends = np.searchsorted(e.frame_of[order], np.arange(len(e.keep)), side="right")
        picks = [order[starts[j] : ends[j]] for j in src]
        idx = np.concatenate(picks) if picks else np.zeros(0, np.int64)
        frame_of = np.repeat(np.arange(len(src)), [len(p) for p in picks]).astype(np.int64)
        vectors = e.vectors[idx]
        variant_of = None if e.variant_of is None else e.variant_of[idx]
    else:
        frame_of = variant_of = None
        vectors = e.vectors[src]
    return Embeddings(
        vectors,
        e.keep[src],
        None if e.quality is None else e.quality[src],
        None if not e.variants else {k: v[src] for k, v in e.variants.items()},
        frame_of,
        variant_of,
    )
