"""Footage and models the tests make for themselves."""

from __future__ import annotations

import json
import struct
from contextlib import contextmanager
from pathlib import Path

import cv2
import numpy as np

# the footage writers live in auditor.media.synth (benchmarks use them too); tests import them from here
from auditor.media.synth import write_copy, write_scene  # noqa: F401  (the tests import them from here)

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


# A catalogue in Japanese, as issue 16 tried it: the demo's "Star Courier" renamed.
JA_WORK, JA_OWNER, JA_EPISODE, JA_TITLE, JA_PUBLISHED = "星の配達人", "株式会社スタジオ青空", "第1話", "長い配達", "2024-04-07"
# the person and place of collection, in other scripts: accented Latin, Korean, Chinese
JA_CONTEXT = ('generator = "Example Video Generator"\ngenerator_version = "2.1"\n'
              'prompt = "별빛 배달부가 편지를 전하는 장면, 星空下的快递员"\n'
              'collected_by = "José Müller"\norganisation = "株式会社スタジオ青空 法務部"\n'
              'source_url = "https://generator.example/share/abc123"\ncollected_at = 2026-11-20T09:30:00Z\n')


def japanese_case(folder: Path):
    """The demo's footage with the copied work catalogued in Japanese, indexed, calibrated and
    scanned (no PDFs); returns the demo's DemoRun-like (folder, index, results)."""
    import csv

    from auditor.config import load_config
    from auditor.demo import SUSPECT, make_footage
    from auditor.indexing.calibrate import calibrate
    from auditor.indexing.ingest import add_items, read_catalogue_csv
    from auditor.scan.batch import run_batch

    folder = Path(folder)
    csv_path, suspects = make_footage(folder)
    with open(csv_path, encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    for r in rows:
        if r["work"] == "Star Courier":
            r["work"], r["owner"] = JA_WORK, JA_OWNER
            if r["episode"] == "1":
                r["episode"], r["title"], r["first_published"] = JA_EPISODE, JA_TITLE, JA_PUBLISHED
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows(rows)
    (folder / "suspects" / f"{SUSPECT}.context.toml").write_text(JA_CONTEXT, encoding="utf-8")
    config = load_config(overrides={"channels": {"default": ["pdq"]}})
    index = folder / "index"
    add_items(index, read_catalogue_csv(csv_path), config, ["pdq"])
    calibrate(index, config)
    results = folder / "results"
    run_batch(suspects, index, results, config)
    return folder, index, results


@contextmanager
def served(app):
    """Serve an ASGI app on a free loopback port in a thread; yields its base URL."""
    import socket
    import threading
    import time

    import uvicorn

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    srv = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning"))
    thread = threading.Thread(target=srv.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not srv.started and time.monotonic() < deadline:
        time.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        srv.should_exit = True
        thread.join(10)
