"""The `clip` channel: an open_clip image tower, L2-normalised vectors, inner product.

Semantic and style resemblance (re-rendered characters, new poses) that hashes cannot see.

Weights come from the Hugging Face cache, a checkpoint file or an open_clip folder, and never
from nowhere (clip_weights.py).

Preprocessing follows the weights' own preprocess config (size, mean, std, interpolation,
resize mode) but runs on numpy/OpenCV arrays in batches rather than PIL one image at a time.

On the CPU every batch is encoded on one thread, and batches run side by side on as many threads
as the process has cores (`use_cores`): the same frames give bit-identical vectors whether a
clip is scanned alone, by a worker process or by a Ray actor. Encoding one batch on several
threads would not: with two threads, torch's matrix products for a few rows (the last
projection, a batch of 7) round differently from one thread (up to 4e-6 here), enough to change
the sixth decimal of a similarity in the evidence. Two batches on one thread each ran as fast
as one batch on two threads (ViT-B-32, 2 cores: 19-20 images/s either way). Which batch a
frame falls in still matters (a batch of 1-3 rows is computed another way), so the batches are
cut from what is embedded by one rule that knows nothing of threads (`cpu_batches`): even
batches of at most `batch_size`, and at least `PIECES` of them where there are `PIECES x 8`
frames, so that side-by-side encoding has work for several cores (one thread encodes batches of
8 to 32 frames equally fast).
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from pydantic import Field

from ..errors import ModelWeightsMissing
from ..evidence.rules import Comparison, Level
from ..extras import require
from ..media.reader import frame_input
from ..settings import Configuration, Table
from .base import Channel, Embeddings, Meaning, statistic_rule
from .clip_weights import LOCAL_DIR, no_random_init, resolve_device, resolve_weights, weights_sha256

_INTERPOLATION = {"bicubic": cv2.INTER_CUBIC, "bilinear": cv2.INTER_LINEAR, "nearest": cv2.INTER_NEAREST}


PIECES = 4  # a chunk of frames is encoded in at least this many batches where each has 8 frames
_CORES: int | None = None  # torch's intra-op threads when the first model loaded on the CPU


def _one_thread_a_batch() -> int:
    """Make torch compute on one thread (see the module docstring); the cores it would have used."""
    global _CORES
    import torch

    if _CORES is None:
        _CORES = max(1, int(torch.get_num_threads()))
    torch.set_num_threads(1)
    return _CORES


def cpu_batches(n: int, batch_size: int) -> list[tuple[int, int]]:
    """How `n` frames are cut into batches on the CPU, as (start, end): even batches of at most
    `batch_size`, at least PIECES of them when each can have 8 frames. Depends on nothing else."""
    pieces = max(-(-n // max(1, batch_size)), min(PIECES, n // 8), 1 if n else 0)
    base, extra = divmod(n, pieces) if pieces else (0, 0)
    bounds, start = [], 0
    for i in range(pieces):
        end = start + base + (i < extra)
        bounds.append((start, end))
        start = end
    return bounds


class ClipSettings(Table):
    """`[channels.clip]` (configs/default.toml says why each value)."""

    model: str = "ViT-B-32"
    pretrained: str = "laion2b_s34b_b79k"
    device: str = "cpu"
    batch_size: int = Field(32, ge=1)
    min_similarity: float = Field(0.90, ge=-1, le=1)
    strong_min_median_similarity: float = Field(0.94, ge=-1, le=1)
    allow_download: bool = False


class ClipChannel(Channel):
    Settings = ClipSettings
    name = "clip"
    metric = "ip"

    # the statistic in words, its unit and what the channel sees, per language
    words = {
        "label": {"en": "CLIP median cosine similarity", "ja": "CLIP コサイン類似度の中央値"},
        "unit": {"en": "", "ja": ""},
        "description": {
            "en": "CLIP image embeddings (open_clip): semantic and stylistic resemblance, such as re-drawn "
                  "characters and new poses.",
            "ja": "CLIP 画像埋め込み（open_clip）：描き直されたキャラクターや新しいポーズなど、意味や画風の"
                  "類似を捉えます。",
        },
    }

    @classmethod
    def meaning(cls, config: Configuration) -> Meaning:
        return Meaning(
            name=cls.name,
            statistic="median_similarity",
            higher_is_better=True,
            rules=(
                statistic_rule(cls.name, "median_similarity", "strong", Level.STRONG, Comparison.GE,
                               "strong_min_median_similarity", config),
            ),
            needs_verification=False,
            resolution=0.005,
            worst=-1.0,
            query_variants=1,
            resemblance=True,
            words=cls.words,
        )

    @classmethod
    def requested_device(cls, config: Configuration) -> str:
        return str(config.channels.of(cls.name, ClipSettings).device)

    @property
    def device(self) -> str:
        return self._device

    def __init__(self, config: Configuration):
        require(self.name, ("torch", "torchvision", "open_clip", "huggingface_hub"), f"the {self.name} channel")
        super().__init__(config)
        s = self.settings
        self.model_spec = str(s.model)
        # an open_clip folder carries its own weights: a pretrained tag does not apply to it
        self.pretrained = None if self.model_spec.startswith(LOCAL_DIR) else (s.pretrained or None)
        self.batch_size = int(s.batch_size)
        self.min_similarity = float(s.min_similarity)
        self._device = resolve_device(self.requested_device(config))
        self._kwargs, self.weights_path = resolve_weights(self.model_spec, self.pretrained, bool(s.allow_download))
        self._visual: Any = None  # open_clip's image tower, a torch module (torch is untyped here)
        self._streams: int | None = None  # threads encoding batches side by side on the CPU (None: one, on a GPU)
        self._pool: ThreadPoolExecutor | None = None
        self._load()

    def _load(self) -> None:
        import open_clip
        import torch

        try:
            with no_random_init():
                model, _, _ = open_clip.create_model_and_transforms(
                    device=self.device, load_weights=True, **self._kwargs
                )
        except (RuntimeError, ValueError, KeyError, OSError) as exc:
            raise ModelWeightsMissing(f"{self.weights_path}: open_clip could not load these weights: {exc}") from exc
        model.eval()
        self._visual = model.visual
        if self.device == "cpu":
            self._streams = _one_thread_a_batch()
        pp = self._preprocess = dict(open_clip.get_model_preprocess_cfg(model))
        size = pp.get("size", 224)
        self.image_size = tuple(size) if isinstance(size, (list, tuple)) else (int(size), int(size))
        self.mean = np.asarray(pp.get("mean"), dtype=np.float32)
        self.std = np.asarray(pp.get("std"), dtype=np.float32)
        # (x / 255 - mean) / std as (x - 255 mean) / (255 std), on NCHW batches
        self._mean255 = torch.from_numpy(self.mean * 255.0).view(1, 3, 1, 1)
        self._std255 = torch.from_numpy(self.std * 255.0).view(1, 3, 1, 1)
        self.interpolation = str(pp.get("interpolation") or "bicubic")
        self.resize_mode = str(pp.get("resize_mode") or "shortest")
        with torch.inference_mode():
            probe = torch.zeros((1, 3, *self.image_size), device=self.device)
            self.dim = int(self._visual(probe).shape[-1])
        if self.model_spec.startswith(LOCAL_DIR):
            cfg = json.loads((Path(self.model_spec[len(LOCAL_DIR):]) / "open_clip_config.json").read_text())
            self._architecture = cfg.get("model_cfg", {})
        else:
            self._architecture = open_clip.get_model_config(self.model_spec) or {}

    def identity(self) -> dict:
        return {
            "name": self.name,
            "metric": self.metric,
            "dim": self.dim,
            "model": self.model_spec if not self.model_spec.startswith(LOCAL_DIR) else "local-dir",
            "architecture_sha256": hashlib.sha256(
                json.dumps(self._architecture, sort_keys=True).encode()
            ).hexdigest()[:16],
            "pretrained": self.pretrained if self.pretrained and os.sep not in self.pretrained else None,
            "weights_sha256": weights_sha256(self.weights_path),
            "preprocess": {
                "size": list(self.image_size),
                "mean": [round(float(x), 6) for x in self.mean],
                "std": [round(float(x), 6) for x in self.std],
                "interpolation": self.interpolation,
                "resize_mode": self.resize_mode,
                "resizer": "opencv",
                "input": frame_input(self.config),
            },
            "normalised": "L2",
        }

    def source(self) -> dict:
        out = {"weights_path": str(self.weights_path), "model_spec": self.model_spec}
        for pkg in ("open_clip_torch", "torch"):
            try:
                out[pkg] = version(pkg)
            except PackageNotFoundError:  # pragma: no cover
                pass
        return out

    # -- preprocessing ----------------------------------------------------------------------
    def _prepare(self, image: np.ndarray) -> np.ndarray:
        th, tw = self.image_size
        h, w = image.shape[:2]
        interp = _INTERPOLATION.get(self.interpolation, cv2.INTER_CUBIC)
        if self.resize_mode == "squash":
            out = cv2.resize(image, (tw, th), interpolation=interp)
        elif self.resize_mode == "longest":
            scale = min(th / h, tw / w)
            nh, nw = max(1, round(h * scale)), max(1, round(w * scale))
            resized = cv2.resize(image, (nw, nh), interpolation=interp)
            out = np.zeros((th, tw, 3), dtype=np.uint8)
            y, x = (th - nh) // 2, (tw - nw) // 2
            out[y : y + nh, x : x + nw] = resized
        else:  # "shortest": resize the shorter side, then centre-crop (open_clip's default)
            scale = max(th / h, tw / w)
            nh, nw = max(th, round(h * scale)), max(tw, round(w * scale))
            resized = cv2.resize(image, (nw, nh), interpolation=interp)
            y, x = (nh - th) // 2, (nw - tw) // 2
            out = resized[y : y + th, x : x + tw]
        return out

    def preprocess(self, images: list[np.ndarray]):
        """RGB uint8 images -> float32 NCHW torch tensor, normalised as the weights expect:
        (x / 255 - mean) / std, computed as (x - 255 mean) / (255 std) in one pass over the
        batch (a third of the time numpy took; the same values to float rounding)."""
        import torch

        batch = torch.from_numpy(np.stack([self._prepare(im) for im in images]))
        x = batch.permute(0, 3, 1, 2).to(torch.float32, memory_format=torch.contiguous_format)
        return x.sub_(self._mean255).div_(self._std255)

    def encode(self, batch) -> np.ndarray:
        """The raw encoder: a batch from `preprocess` -> L2-normalised float32 vectors."""
        import torch

        with torch.inference_mode():
            x = batch.to(self.device, non_blocking=True)
            feats = self._visual(x).float()
            feats = torch.nn.functional.normalize(feats, dim=-1)
            return feats.cpu().numpy()

    @property
    def streams(self) -> int:
        """Batches encoded side by side (1 on a GPU)."""
        return self._streams or 1

    def use_cores(self, n: int) -> None:
        """Encode at most `n` batches at once (on the CPU; a GPU takes one batch at a time)."""
        if self._streams is not None and max(1, int(n)) != self._streams:
            self._streams = max(1, int(n))
            if self._pool is not None:
                self._pool.shutdown(wait=True)
                self._pool = None

    def embed(self, images: Sequence[np.ndarray], query: bool = False) -> Embeddings:
        if self._streams is None:  # a GPU: batches of batch_size, one after the other
            return super().embed(images, query)
        batches = [list(images[a:b]) for a, b in cpu_batches(len(images), self.batch_size)]
        one = self.embed_query_batch if query else self.embed_batch
        if self._streams == 1 or len(batches) < 2:
            parts = [one(b) for b in batches]
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(self._streams, thread_name_prefix="auditor-clip")
            parts = list(self._pool.map(one, batches))
        return Embeddings.concat(parts, self.vector_width, self.vector_dtype)

    def embed_batch(self, images: list[np.ndarray]) -> Embeddings:
        vectors = self.encode(self.preprocess(images))
        return Embeddings(vectors.astype(np.float32, copy=False), np.ones(len(images), dtype=bool), None)

    def similarity(self, raw: np.ndarray) -> np.ndarray:
        return np.clip(np.asarray(raw, dtype=np.float32), 0.0, 1.0)

    def is_hit(self, raw: np.ndarray) -> np.ndarray:
        return np.asarray(raw) >= self.min_similarity
