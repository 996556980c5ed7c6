"""Sample a file and embed its frames with every channel, a chunk at a time.

Frames are never all held at once: a chunk of `CHUNK` frames is decoded, embedded by each
channel, and dropped; only the (small) vectors are kept. Memory is bounded by the chunk size
whatever the clip's length.

Held frames (animation repeats a drawing for several frames; stills and title cards last
seconds) are embedded once: a sampled frame whose 32x32 grey thumbnail differs from the last
embedded one by at most `sampling.held_frame_max_diff` (mean absolute difference, 0-255) reuses
that frame's vectors. The frame keeps its own time, so segments and evidence are unchanged.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import cv2
import numpy as np

from .channels import Channel, Embeddings
from .sampling import MediaInfo, MediaReader

CHUNK = 64


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

    @property
    def n_frames(self) -> int:
        return len(self.times)


def embed_file(
    path: str | Path,
    fps: float,
    channels: dict[str, Channel],
    config: dict,
    on_frames: Callable[[int], None] | None = None,
    query: bool = False,
    keep_frames_bytes: int = 0,
) -> EmbeddedMedia:
    """Sample `path` at `fps` and embed every sampled frame with every channel.

    `query=True` embeds as a suspect clip: channels may add variants of each frame.
    `keep_frames_bytes`: also return the sampled frames (for verification, which would
    otherwise decode the clip again) as long as they fit in this many bytes; none beyond.
    """
    reader = MediaReader(path, fps, config)
    times: list[float] = []
    parts: dict[str, list[Embeddings]] = {name: [] for name in channels}
    chunk: list[np.ndarray] = []
    max_diff = float(config["sampling"].get("held_frame_max_diff", 0.0))
    source: list[int] = []  # per sampled frame: the embedded frame whose vectors it uses
    last_thumb = None
    embedded = 0

    def flush() -> None:
        if not chunk:
            return
        for name, ch in channels.items():
            parts[name].append(ch.embed(chunk, query=query))
        if on_frames:
            on_frames(len(chunk))
        chunk.clear()

    kept: dict[float, np.ndarray] | None = {} if keep_frames_bytes > 0 else None
    kept_bytes = 0
    for frame in reader.frames():
        times.append(frame.t)
        if kept is not None:
            kept_bytes += frame.image.nbytes
            if kept_bytes > keep_frames_bytes:
                kept = None  # over budget: verification will decode what it needs again
            else:
                kept[round(frame.t, 3)] = frame.image
        if max_diff > 0:
            thumb = cv2.resize(cv2.cvtColor(frame.image, cv2.COLOR_RGB2GRAY), (32, 32), interpolation=cv2.INTER_AREA)
            thumb = thumb.astype(np.float32)
            if last_thumb is not None and float(np.abs(thumb - last_thumb).mean()) <= max_diff:
                source.append(embedded - 1)
                continue
            last_thumb = thumb
        source.append(embedded)
        embedded += 1
        chunk.append(frame.image)
        if len(chunk) >= CHUNK:
            flush()
    flush()
    embeddings = {
        name: Embeddings.concat(parts[name], ch.vector_width, ch.vector_dtype) for name, ch in channels.items()
    }
    if embedded < len(times):
        src = np.asarray(source, dtype=np.int64)
        embeddings = {name: _expand(e, src) for name, e in embeddings.items()}
    return EmbeddedMedia(reader.info, np.asarray(times, dtype=np.float64), embeddings, fps, embedded, kept)


def _expand(e: Embeddings, src: np.ndarray) -> Embeddings:
    """Embeddings of the embedded frames -> of every sampled frame (frame i uses frame src[i])."""
    if e.owner is not None:  # many vectors per frame: copy each source frame's run of vectors
        order = np.argsort(e.owner, kind="stable")
        starts = np.searchsorted(e.owner[order], np.arange(len(e.keep)))
        ends = np.searchsorted(e.owner[order], np.arange(len(e.keep)), side="right")
        picks = [order[starts[j] : ends[j]] for j in src]
        idx = np.concatenate(picks) if picks else np.zeros(0, np.int64)
        owner = np.repeat(np.arange(len(src)), [len(p) for p in picks]).astype(np.int64)
        vectors = e.vectors[idx]
    else:
        owner = None
        vectors = e.vectors[src]
    return Embeddings(
        vectors,
        e.keep[src],
        None if e.quality is None else e.quality[src],
        None if not e.variants else {k: v[src] for k, v in e.variants.items()},
        owner,
    )
