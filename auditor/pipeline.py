"""Sample a file and embed its frames with every channel, a chunk at a time.

Frames are never all held at once: a chunk of `CHUNK` frames is decoded, embedded by each
channel, and dropped; only the (small) vectors are kept. Memory is bounded by the chunk size
whatever the clip's length.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Callable

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
) -> EmbeddedMedia:
    """Sample `path` at `fps` and embed every sampled frame with every channel.

    `query=True` embeds as a suspect clip: channels may add variants of each frame.
    """
    reader = MediaReader(path, fps, config)
    times: list[float] = []
    parts: dict[str, list[Embeddings]] = {name: [] for name in channels}
    chunk: list[np.ndarray] = []

    def flush() -> None:
        if not chunk:
            return
        for name, ch in channels.items():
            parts[name].append(ch.embed(chunk, query=query))
        if on_frames:
            on_frames(len(chunk))
        chunk.clear()

    for frame in reader.frames():
        times.append(frame.t)
        chunk.append(frame.image)
        if len(chunk) >= CHUNK:
            flush()
    flush()
    embeddings = {
        name: Embeddings.concat(parts[name], ch.vector_width, ch.vector_dtype) for name, ch in channels.items()
    }
    return EmbeddedMedia(reader.info, np.asarray(times, dtype=np.float64), embeddings, fps)
