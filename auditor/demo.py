"""The built-in demo: a small drawn catalogue, a suspect clip that copies an edited part of it,
and an unrelated clip; indexed and scanned with the weight-free PDQ channel.

Deterministic, offline, no model weights, well under a minute on two cores.
"""

from __future__ import annotations

import csv
import functools
import shutil
from dataclasses import dataclass
from pathlib import Path

import cv2

from .config import load_config
from .indexing.calibrate import calibrate
from .indexing.ingest import IngestReport, add_items, read_catalogue_csv
from .media import synth
from .scan.batch import ScanReport, run_batch

REF_SIZE = (320, 180)
CATALOGUE = [
    # file, seed, seconds, work, owner, episode, title, first published
    ("star_courier_ep01.mp4", 11, 12.0, "Star Courier", "Demo Studio", "1", "The Long Delivery", "2024-04-07"),
    ("star_courier_ep02.mp4", 12, 9.0, "Star Courier", "Demo Studio", "2", "Night Market", "2024-04-14"),
    ("moonlit_garden_ep01.mp4", 21, 9.0, "Moonlit Garden", "Example Pictures", "1", "Seeds", "2023-10-02"),
]
KEY_ART = ("star_courier_keyart.png", 31, "Star Courier", "Demo Studio")
COPIED = ("star_courier_ep01.mp4", 11, 3.0, 7.0)  # the suspect copies seconds 3.0-7.0 of this
SUSPECT = "generated_clip_0042.mp4"
UNRELATED = "generated_clip_0043.mp4"
SUSPECT_FPS = 25.0
LEAD_IN = 1.5  # unrelated seconds before the copied part


@dataclass
class DemoRun:
    folder: Path
    index: Path
    results: Path
    ingest: IngestReport
    scan: ScanReport


def make_footage(folder: str | Path) -> tuple[Path, list[Path]]:
    """Write the demo catalogue (CSV + footage) and two suspect clips; returns (csv, suspects)."""
    folder = Path(folder)
    cat_dir = folder / "catalogue"
    sus_dir = folder / "suspects"
    w, h = REF_SIZE
    rows = []
    for name, seed, seconds, work, owner, episode, title, published in CATALOGUE:
        synth.write_clip(cat_dir / name, functools.partial(synth.scene_frame, seed, width=w, height=h), seconds, fps=24.0)
        rows.append({"path": name, "work": work, "owner": owner, "episode": episode, "title": title,
                     "first_published": published})
    name, seed, work, owner = KEY_ART
    art = synth.scene_frame(seed, 0.5, 640, 360)
    cv2.imwrite(str(cat_dir / name), cv2.cvtColor(art, cv2.COLOR_RGB2BGR))
    rows.append({"path": name, "work": work, "owner": owner, "episode": "", "title": "Key art", "first_published": ""})
    csv_path = cat_dir / "catalogue.csv"
    with open(csv_path, "w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, fieldnames=["path", "work", "owner", "episode", "title", "first_published"])
        writer.writeheader()
        writer.writerows(rows)

    _, seed, start, end = COPIED
    copy_len = end - start

    def suspect(t: float):
        if LEAD_IN <= t < LEAD_IN + copy_len:
            frame = synth.scene_frame(seed, start + (t - LEAD_IN), w, h)
            frame = synth.rescale(frame, 400, 224)
            return synth.watermark(synth.colour_shift(frame))
        return synth.rescale(synth.scene_frame(90, t, w, h), 400, 224)

    suspect_path = synth.write_clip(sus_dir / SUSPECT, suspect, LEAD_IN + copy_len + 1.0, fps=SUSPECT_FPS)
    unrelated_path = synth.write_clip(
        sus_dir / UNRELATED, lambda t: synth.scene_frame(95, t, 400, 224), 6.0, fps=SUSPECT_FPS
    )
    return csv_path, [suspect_path, unrelated_path]


def run_demo(folder: str | Path, progress=None) -> DemoRun:
    folder = Path(folder)
    config = load_config(overrides={"channels": {"default": ["pdq"]}})
    csv_path, suspects = make_footage(folder)
    index = folder / "index"
    if index.exists():  # a re-run starts from a fresh index, so the demo is deterministic
        shutil.rmtree(index)
    ingest = add_items(index, read_catalogue_csv(csv_path), config, ["pdq"])
    calibrate(index, config)  # leave-one-work-out: p-values in the evidence
    results = folder / "results"
    scan = run_batch(suspects, index, results, config, progress=progress, pdf={"lang": "en"})
    return DemoRun(folder, index, results, ingest, scan)
