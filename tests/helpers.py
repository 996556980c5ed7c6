"""Footage and models the tests make for themselves."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import cv2
import numpy as np

from auditor.media import synth

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"
# An evidence file as auditor wrote it before its records were typed (2026-11-24, pdq,orb,
# calibrated; frames and points trimmed): every later version must still read it.
FIRST_FORMAT_EVIDENCE = Path(__file__).resolve().parent / "data" / "evidence_first_format.json"


def evidence_json(query_id: str, flagged: bool) -> str:
    """A complete evidence file for `query_id` with the given verdict (from the first-format one)."""
    ev = json.loads(FIRST_FORMAT_EVIDENCE.read_text(encoding="utf-8"))
    ev["query_id"] = query_id
    ev["verdict"]["flagged"] = flagged
    return json.dumps(ev)


def write_scene(path, seed: int, seconds: float, size=(320, 180), fps: float = 24.0) -> Path:
    w, h = size
    return synth.write_clip(path, lambda t: synth.scene_frame(seed, t, w, h), seconds, fps)


def write_copy(path, seed: int, ref_start: float, ref_end: float, lead_in: float, tail: float,
               size=(400, 224), fps: float = 25.0, filler_seed: int = 777) -> Path:
    """A clip: `lead_in` s of unrelated footage, then ref seconds [ref_start, ref_end) of work
    `seed` rescaled, colour-shifted and watermarked, then `tail` s of unrelated footage."""
    w, h = size
    length = ref_end - ref_start

    def frame(t):
        if lead_in <= t < lead_in + length:
            f = synth.scene_frame(seed, ref_start + t - lead_in, 320, 180)
            return synth.watermark(synth.colour_shift(synth.rescale(f, w, h)))
        return synth.scene_frame(filler_seed, t, w, h)

    return synth.write_clip(path, frame, lead_in + length + tail, fps)


def rotate_mp4_90(path: Path) -> None:
    """Set the display matrix of an MP4's video track to a 90-degree rotation (in place)."""
    data = bytearray(path.read_bytes())
    at = data.find(b"tkhd")
    assert at > 0 and data[at + 4] == 0, "expected a version-0 tkhd box"
    matrix = at + 4 + 4 + 20 + 8 + 8
    one, zero = 1 << 16, 0
    values = [zero, one, zero, -one & 0xFFFFFFFF, zero, zero, zero, zero, 1 << 30]
    data[matrix : matrix + 36] = struct.pack(">9I", *values)
    path.write_bytes(bytes(data))


def make_tiny_open_clip(folder: Path, seed: int = 0) -> Path:
    """A tiny open_clip model saved as an open_clip folder (config + safetensors weights)."""
    import open_clip
    import torch
    from safetensors.torch import save_file

    model_cfg = {
        "embed_dim": 16,
        "vision_cfg": {"image_size": 32, "layers": 1, "width": 32, "patch_size": 8, "head_width": 16},
        "text_cfg": {"context_length": 8, "vocab_size": 64, "width": 16, "heads": 2, "layers": 1},
    }
    preprocess_cfg = {
        "mean": [0.48145466, 0.4578275, 0.40821073],
        "std": [0.26862954, 0.26130258, 0.27577711],
        "interpolation": "bicubic",
        "resize_mode": "shortest",
    }
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "open_clip_config.json").write_text(
        json.dumps({"model_cfg": model_cfg, "preprocess_cfg": preprocess_cfg})
    )
    torch.manual_seed(seed)
    model = open_clip.CLIP(**model_cfg)
    state = {k: v.contiguous() for k, v in model.state_dict().items()}
    save_file(state, str(folder / "open_clip_model.safetensors"))
    return folder


def noise_image(path: Path, size=(200, 120), seed=0) -> Path:
    img = np.random.default_rng(seed).integers(0, 255, (size[1], size[0], 3), dtype=np.uint8)
    img = cv2.GaussianBlur(img, (9, 9), 0)
    cv2.imwrite(str(path), img)
    return path


def crashing_scan(path: str, query_id: str, out_dir: str) -> tuple:
    """A worker task that dies like a decoder crash on clips named *crash*, and scans the rest."""
    import os

    from auditor.scan import engines

    if "crash" in Path(path).name:
        os._exit(139)
    return engines.worker_scan(path, query_id, out_dir)


def sleepy_scan(path: str, query_id: str, out_dir: str) -> tuple:
    """A worker task that hangs on clips named *slow* (a long decode), and scans the rest."""
    import time

    from auditor.scan import engines

    if "slow" in Path(path).name:
        time.sleep(120)
    return engines.worker_scan(path, query_id, out_dir)


def hits_for(ref_id, pairs, channel="pdq", raw=10.0, work="W", kind="video"):
    """Search hits on one reference: (query time, reference time) pairs, 5 query frames a second."""
    from auditor.match.segments import Hit

    return [
        Hit(q_index=round(q * 5), q_t=q, channel=channel, frame_id=i, ref_id=ref_id, kind=kind, work=work,
            owner="O", ref_t=r, raw=raw, sim=1 - raw / 128)
        for i, (q, r) in enumerate(pairs)
    ]


def assert_valid_evidence(path) -> None:
    """The evidence file validates against the published JSON Schema of auditor.evidence/1."""
    import jsonschema

    from auditor.evidence.records import json_schema

    errors = list(jsonschema.Draft202012Validator(json_schema()).iter_errors(json.loads(Path(path).read_text())))
    assert not errors, [(list(e.path), e.message) for e in errors[:3]]
