#!/usr/bin/env python3
"""Index size per hour of reference video, per channel, and per catalogue still.

Indexes real footage (../shared/corpus/videos when present, else generated drawn footage) and
the corpus stills, at the default sampling (`sampling.reference.fps`, stills whole and by tiles),
and prints each channel's file size per reference hour and per still, and the catalogue's.
The clip channel is measured with ViT-B-32 (its vectors take the same room whatever the weights;
a random initialisation when the real weights are not on this machine).

    .venv/bin/python scripts/bench_index_size.py [--clip] [--stills N]
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scan import clip_channel, clips  # noqa: E402

from auditor.config import load_config  # noqa: E402
from auditor.indexing.ingest import CatalogueItem, add_items  # noqa: E402
from reference_index import ReferenceIndex  # noqa: E402

STILLS = Path(__file__).resolve().parents[2] / "shared" / "corpus" / "images"


def sizes(index: Path) -> dict[str, int]:
    manifest = json.loads((index / "manifest.json").read_text())
    out = {name: int(spec["bytes"]) for name, spec in manifest["channels"].items()}
    out["catalogue"] = int(manifest["catalogue"]["bytes"])
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", action="store_true", help="also the clip channel (ViT-B-32)")
    ap.add_argument("--stills", type=int, default=4, help="corpus stills to index for the per-still figure")
    args = ap.parse_args()
    config = load_config()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        channels = ["pdq", "orb"]
        weights = ""
        if args.clip:
            _, weights, _ = clip_channel(config, 32, work)
            channels.append("clip")
        videos, source = clips(None, work)
        video_index = work / "videos"
        report = add_items(video_index, [CatalogueItem(p, f"work {i}", "bench") for i, p in enumerate(videos)], config, channels)
        with ReferenceIndex.open(video_index) as idx:
            hours = sum(v["duration_s"] for v in idx.videos()) / 3600
            frames = idx.counts()["frames"]
        per_hour = {k: v / hours for k, v in sizes(video_index).items()}
        print(f"reference video: {len(videos) - len(report.failed)} files, {hours * 60:.1f} min, {frames} frames at "
              f"{config['sampling']['reference']['fps']:g} frames/s ({source})" + (f"; clip: {weights}" if weights else ""))
        for name, b in per_hour.items():
            print(f"  {name:10} {b / 2**20:9.1f} MiB per reference hour   ({b / 3600 / config['sampling']['reference']['fps']:,.0f} bytes a frame)")
        stills = sorted(p for p in STILLS.iterdir() if p.is_file())[: args.stills] if STILLS.is_dir() else []
        if stills:
            still_index = work / "stills"
            add_items(still_index, [CatalogueItem(p, "art", "bench") for p in stills], config, channels)
            tiles = config["sampling"]["reference"]["still_tiles"]
            print(f"catalogue stills: {len(stills)}, each indexed whole and by tiles at levels {tiles}")
            for name, b in sizes(still_index).items():
                print(f"  {name:10} {b / len(stills) / 2**10:9.1f} KiB per still")


if __name__ == "__main__":
    main()
