"""Index size per hour of reference video, per channel, and per catalogue still.

Indexes real footage (../shared/corpus/videos when present, else generated drawn footage) and
the corpus stills, at the default sampling (`sampling.reference.fps`, stills whole and by tiles),
and prints each channel's file size per reference hour and per still, and the catalogue's.
The clip channel is measured with ViT-B-32 (its vectors take the same room whatever the weights;
a random initialisation when the real weights are not on this machine).

    python -m benchmarks.index_size [--clip] [--stills N]
"""

from __future__ import annotations

import argparse
import json
import tempfile
from pathlib import Path

from auditor.config import load_config
from auditor.indexing.ingest import CatalogueItem, add_items
from benchmarks.common import (
    CORPUS_IMAGES,
    add_shared_arguments,
    clip_channel,
    clips,
    record,
)
from reference_index import ReferenceIndex


def sizes(index: Path) -> dict[str, int]:
    manifest = json.loads((index / "manifest.json").read_text())
    out = {name: int(spec["bytes"]) for name, spec in manifest["channels"].items()}
    out["catalogue"] = int(manifest["catalogue"]["bytes"])
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip", action="store_true", help="also the clip channel (ViT-B-32)")
    ap.add_argument("--clip-model", default=None, metavar="SPEC",
                    help="with --clip: this open_clip model (a name or local-dir:FOLDER) instead of ViT-B-32")
    ap.add_argument("--stills", type=int, default=4, help="corpus stills to index for the per-still figure")
    ap.add_argument("--clips", type=int, default=None, help="index only the first N videos")
    ap.add_argument("--footage", type=Path, default=None,
                    help="the videos of this folder (default: ../shared/corpus/videos, else generated footage)")
    add_shared_arguments(ap)
    args = ap.parse_args(argv)
    config = load_config()
    figures: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        channels = ["pdq", "orb"]
        weights = ""
        if args.clip:
            _, weights, _, chosen = clip_channel(work, 32, args.clip_model)
            config = load_config(overrides=chosen)
            channels.append("clip")
        videos, source = clips(args.clips, work, args.footage)
        video_index = work / "videos"
        report = add_items(video_index, [CatalogueItem(p, f"work {i}", "bench") for i, p in enumerate(videos)], config, channels)
        with ReferenceIndex.open(video_index) as idx:
            hours = sum(v["duration_s"] for v in idx.videos()) / 3600
            frames = idx.counts()["frames"]
        per_hour = {k: v / hours for k, v in sizes(video_index).items()}
        fps = config.sampling.reference.fps
        print(f"reference video: {len(videos) - len(report.failed)} files, {hours * 60:.1f} min, {frames} frames at "
              f"{fps:g} frames/s ({source})" + (f"; clip: {weights}" if weights else ""))
        for name, b in per_hour.items():
            print(f"  {name:10} {b / 2**20:9.1f} MiB per reference hour   ({b / 3600 / fps:,.0f} bytes a frame)")
        figures["reference"] = {"files": len(videos) - len(report.failed), "minutes": round(hours * 60, 2),
                                "frames": frames, "frames_per_s": fps}
        figures["mib_per_reference_hour"] = {name: round(b / 2**20, 2) for name, b in per_hour.items()}
        figures["bytes_per_frame"] = {name: round(b / 3600 / fps) for name, b in per_hour.items()}
        if weights:
            figures["clip_weights"] = weights
        stills = sorted(p for p in CORPUS_IMAGES.iterdir() if p.is_file())[: args.stills] if CORPUS_IMAGES.is_dir() else []
        if stills:
            still_index = work / "stills"
            add_items(still_index, [CatalogueItem(p, "art", "bench") for p in stills], config, channels)
            tiles = config.sampling.reference.still_tiles
            print(f"catalogue stills: {len(stills)}, each indexed whole and by tiles at levels {tiles}")
            per_still = {}
            for name, b in sizes(still_index).items():
                print(f"  {name:10} {b / len(stills) / 2**10:9.1f} KiB per still")
                per_still[name] = round(b / len(stills) / 2**10, 1)
            figures["stills"] = len(stills)
            figures["kib_per_still"] = per_still
    record("index_size", figures, argv, args.results)


if __name__ == "__main__":
    main()
