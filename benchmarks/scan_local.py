"""A 60-s 720p copy scanned with pdq,orb against real footage, over the time it takes to decode
it, measured in one run: the local-feature part of benchmarks.scan (`--local`), run alone or from there.

    python -m benchmarks.scan_local
    python -m benchmarks.scan_local --small-catalogues 0.5,1,2,4

Catalogue: every video of ../shared/corpus/videos (282 s of real footage) sampled at 15 frames/s,
about 4,200 reference frames: as many as 35 minutes at the default 2 frames/s. Suspects: the
first 60 s of one reference scaled to 1280x720 with a caption (and mirrored, cropped and colour-
shifted variants), written as MPEG-4 at 25 frames/s. For each structure of the ORB channel
(inverted lists, which `index add` builds at this size, and visual words) and each suspect:
decode time (every frame read by OpenCV, as the scan must), scan time (Scanner.scan: sampling,
ORB and PDQ, search, segments, verification, evidence; index and channels opened beforehand, as
in a batch), their ratio, whether the copy was flagged on the right reference, and what the
search covered (descriptors searched and pairs verified per second of clip). Each copy is decoded
and scanned `repeat` times, alternately (these machines' speed drifts by a third over minutes):
the medians, their ratio, and the range of the ratios of each decode-scan-decode. Then where the
median scan's CPU went: each channel's description and search (CPU seconds of the threads that
ran them), and the rest (decoding, FAISS's other threads, segments, verification, evidence): the
scan is CPU-bound on two cores, so these add up to about twice its time.

`run_small` (`--small-catalogues RATES`): the captioned and mirrored copies against catalogues of
their source alone, sampled at each rate, ORB searched exhaustively and in the inverted lists its
size would get past `index.exact_max_local`: each one's scan / decode time, the verdict, and the
share of exhaustive search's neighbours within the channel's distance that the lists find.

`--source FILE`, `--footage DIR` (the catalogue), `--seconds S` and `--edits` make a small run.
"""

from __future__ import annotations

import argparse
import resource
import shutil
import tempfile
import threading
import time
from pathlib import Path

import cv2
import numpy as np

from auditor.channels.orb import ORBChannel
from auditor.config import load_config
from auditor.indexing.ingest import CatalogueItem, add_items
from auditor.media.reader import MediaReader
from auditor.scan.scanner import Scanner
from benchmarks.common import (
    CORPUS_VIDEOS,
    add_shared_arguments,
    corpus_clips,
    record,
)

SOURCE = CORPUS_VIDEOS / "popeye_sinbad_part2_1440p_60s.mkv"
EDITS = ("caption", "mirror", "crop", "colour")


def write_copy(src: Path, out: Path, edit: str, seconds: float = 60.0) -> Path:
    cap = cv2.VideoCapture(str(src))
    fps_in = cap.get(cv2.CAP_PROP_FPS) or 25.0
    wr = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"mp4v"), 25.0, (1280, 720))
    t, step, frame = 0.0, 1.0 / 25.0, None
    i = 0
    while t < seconds:
        while i / fps_in <= t:
            ok, f = cap.read()
            if not ok:
                break
            frame, i = f, i + 1
        if frame is None:
            break
        im = frame
        if edit == "crop":
            h, w = im.shape[:2]
            im = im[int(0.12 * h): int(0.88 * h), int(0.1 * w): int(0.9 * w)]
        im = cv2.resize(im, (1280, 720), interpolation=cv2.INTER_AREA)
        if edit == "mirror":
            im = np.ascontiguousarray(im[:, ::-1])
        if edit == "colour":
            im = np.clip(im.astype(np.float32) * [0.85, 1.0, 1.2] + 10, 0, 255).astype(np.uint8)
        cv2.rectangle(im, (0, 620), (1280, 720), (20, 20, 20), -1)
        cv2.putText(im, "made with a video generator", (40, 685), cv2.FONT_HERSHEY_SIMPLEX, 1.4, (255, 255, 255), 3)
        wr.write(im)
        t += step
    wr.release()
    cap.release()
    return out


def decode_seconds(path: Path) -> float:
    t0 = time.perf_counter()
    cap = cv2.VideoCapture(str(path))
    while cap.grab():
        cap.retrieve()
    cap.release()
    return time.perf_counter() - t0


class StageClock:
    """CPU seconds of the threads running each channel's `embed` and `candidates`, by stage."""

    def __init__(self, channels: dict):
        self.seconds: dict[str, float] = {}
        self._lock = threading.Lock()
        for name, ch in channels.items():
            for method, stage in (("embed", "describe"), ("candidates", "search")):
                setattr(ch, method, self._timed(getattr(ch, method), f"{name} {stage}"))

    def _timed(self, fn, label: str):
        def timed(*args, **kwargs):
            t0 = time.thread_time()
            try:
                return fn(*args, **kwargs)
            finally:
                with self._lock:
                    self.seconds[label] = self.seconds.get(label, 0.0) + time.thread_time() - t0
        return timed


def process_cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def run(work: Path, structures=("ivf", "words"), edits=EDITS, repeat: int = 3, source: Path = SOURCE,
        footage: Path | None = None, seconds: float = 60.0) -> dict:
    """Print and return the figures: per structure, the catalogue (`footage`'s videos, default the
    corpus) and, per copy of `seconds` of `source`, its decode and scan times."""
    if not Path(source).is_file():
        raise SystemExit(f"benchmarks.scan_local: needs the real footage {source}")
    videos = corpus_clips(footage, (".mkv", ".webm", ".mp4"))
    suspects = {e: write_copy(source, work / f"copy_{e}.mp4", e, seconds) for e in edits}
    ref_id = Path(source).stem
    figures: dict = {}
    for structure in structures:
        config = load_config(overrides={"sampling": {"reference": {"fps": 15.0}},
                                        "index": {"local_structure": structure}})
        index = work / f"index-{structure}"
        shutil.rmtree(index, ignore_errors=True)
        t0 = time.perf_counter()
        rep = add_items(index, [CatalogueItem(v, v.stem, "corpus") for v in videos], config, ["pdq", "orb"])
        built = time.perf_counter() - t0
        scanner = Scanner(index, config)
        frames = scanner.index.counts()["frames"]
        orb = scanner.index.vectors("orb")
        print(f"\n[{structure}] catalogue: {len(videos)} videos, {frames} reference frames, {orb.ntotal} ORB descriptors, "
              f"built in {built:.0f} s ({len(rep.failed)} failed); orb: {orb.describe()}", flush=True)
        figures[structure] = {"videos": len(videos), "reference_frames": frames, "orb_descriptors": orb.ntotal,
                              "build_s": round(built, 1), "failed": len(rep.failed)}
        clock = StageClock(scanner.channels)
        scanner.scan(suspects[edits[0]])  # warm up: vocabularies, lists, page cache
        for edit, clip in suspects.items():
            decodes, scans, cpu = [decode_seconds(clip)], [], []
            for _ in range(max(1, repeat)):
                clock.seconds.clear()
                c0, t0 = process_cpu(), time.perf_counter()
                ev = scanner.scan(clip)
                scans.append(time.perf_counter() - t0)
                total = process_cpu() - c0
                cpu.append((total, dict(clock.seconds)))
                decodes.append(decode_seconds(clip))  # decode again after: the machine's speed drifts
            ratios = [s / ((a + b) / 2) for s, a, b in zip(scans, decodes, decodes[1:])]
            decode, scan = float(np.median(decodes)), float(np.median(scans))
            found = any(s.ref_id == ref_id for w in ev.works for s in w.segments)
            runtime = ev.runtime
            assert runtime is not None  # a scan records how it ran
            s = runtime.searched["orb"]
            secs = ev.clip.duration_s or 60.0
            print(f"  {edit:8} decode {decode:5.2f} s, scan {scan:6.2f} s, scan/decode {scan / decode:5.2f} "
                  f"(each run {min(ratios):.2f}-{max(ratios):.2f}); "
                  f"{ev.verdict.level.value} ({'right reference' if found else 'reference NOT found'}); "
                  f"orb searched {s.frames} frames, {s.vectors / secs:.0f} descriptors/s of clip; "
                  f"{(runtime.pairs_verified or 0) / secs:.2f} pairs verified/s of clip", flush=True)
            total, stages = cpu[int(np.argsort(scans)[len(scans) // 2])]  # the median scan's
            print(f"           CPU {total:.2f} s in a {scan:.2f}-s scan: " +
                  ", ".join(f"{label} {t:.2f}" for label, t in sorted(stages.items())) +
                  f", the rest {total - sum(stages.values()):.2f} (decoding, FAISS's other threads, segments, "
                  f"verification, evidence)", flush=True)
            figures[f"{structure} {edit}"] = {
                "decode_s": round(decode, 2), "scan_s": round(scan, 2), "scan_over_decode": round(scan / decode, 2),
                "scan_over_decode_min": round(min(ratios), 2), "scan_over_decode_max": round(max(ratios), 2),
                "level": ev.verdict.level.value, "right_reference": found, "orb_frames_searched": s.frames,
                "orb_descriptors_per_s_of_clip": round(s.vectors / secs), "pairs_verified_per_s_of_clip":
                round((runtime.pairs_verified or 0) / secs, 2), "cpu_s": round(total, 2),
                **{f"cpu_{label.replace(' ', '_')}_s": round(t, 2) for label, t in sorted(stages.items())},
                "cpu_rest_s": round(total - sum(stages.values()), 2)}
        scanner.close()
    return figures


def run_small(work: Path, rates=(0.5, 1.0, 2.0, 4.0), edits=("caption", "mirror"), repeat: int = 3,
              source: Path = SOURCE, seconds: float = 60.0) -> dict:
    """Print and return the figures: per rate, the catalogue of `source` alone and, per copy of
    `seconds` of it, its scan / decode time searched exhaustively and in inverted lists."""
    if not Path(source).is_file():
        raise SystemExit(f"benchmarks.scan_local: needs the real footage {source}")
    src = Path(source)
    suspects = {e: write_copy(src, work / f"copy_{e}.mp4", e, seconds) for e in edits}
    figures: dict = {}
    for fps in rates:
        scanners = {}
        for structure, limit in (("exhaustive", 1 << 40), ("inverted lists", 0)):
            config = load_config(overrides={"sampling": {"reference": {"fps": fps}}, "index": {"exact_max_local": limit}})
            index = work / f"index-{fps:g}-{limit}"
            add_items(index, [CatalogueItem(src, src.stem, "corpus")], config, ["pdq", "orb"])
            scanners[structure] = scanner = Scanner(index, config)
        orb = scanner.index.vectors("orb")
        print(f"\n[the source alone at {fps:g} frames/s] {scanner.index.counts()['frames']} reference frames, "
              f"{orb.ntotal} ORB descriptors; inverted lists: {orb.describe()}", flush=True)
        channel = scanner.channels["orb"]
        assert isinstance(channel, ORBChannel)
        limit = channel.max_descriptor_distance
        query_fps = float(config.sampling.query.fps)
        codes = np.concatenate([channel.embed_query_batch([f.image for f in MediaReader(c, query_fps, config).frames()]).vectors
                                for c in suspects.values()])
        found = {name: int((sc.index.vectors("orb").search(codes, channel.neighbours)[0] <= limit).sum())
                 for name, sc in scanners.items()}
        print(f"  neighbours within {limit} bits of the copies' {len(codes)} query descriptors: inverted lists find "
              f"{found['inverted lists'] / max(1, found['exhaustive']):.4f} of exhaustive search's {found['exhaustive']}",
              flush=True)
        figures[f"{fps:g} frames/s"] = {
            "reference_frames": scanner.index.counts()["frames"], "orb_descriptors": orb.ntotal, "query_descriptors": len(codes),
            "neighbours_exhaustive": found["exhaustive"],
            "neighbours_lists_share": round(found["inverted lists"] / max(1, found["exhaustive"]), 4)}
        for edit, clip in suspects.items():
            for sc in scanners.values():
                sc.scan(clip)  # warm up
            decodes = [decode_seconds(clip)]
            scans: dict[str, list[float]] = {name: [] for name in scanners}
            verdicts = {}
            for _ in range(max(1, repeat)):
                for name, sc in scanners.items():
                    t0 = time.perf_counter()
                    ev = sc.scan(clip)
                    scans[name].append(time.perf_counter() - t0)
                    verdicts[name] = ev.verdict.level.value
                decodes.append(decode_seconds(clip))
            decode = float(np.median(decodes))
            print(f"  {edit:8} decode {decode:5.2f} s; " + "; ".join(
                f"{name}: scan {np.median(t):5.2f} s, {np.median(t) / decode:4.2f}x decode, {verdicts[name]}"
                for name, t in scans.items()), flush=True)
            row = figures[f"{fps:g} frames/s {edit}"] = {"decode_s": round(decode, 2)}
            for name, t in scans.items():
                key = name.replace(" ", "_")
                row.update({f"{key}_scan_s": round(float(np.median(t)), 2),
                            f"{key}_scan_over_decode": round(float(np.median(t)) / decode, 2), f"{key}_level": verdicts[name]})
        for sc in scanners.values():
            sc.close()
    return figures


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--structures", default="ivf,words", help="ORB structures to measure")
    ap.add_argument("--repeat", type=int, default=3, help="decode and scan each copy this many times (medians)")
    ap.add_argument("--small-catalogues", default=None, metavar="RATES",
                    help="instead, catalogues of the copies' source alone sampled at these frames/s "
                         "(e.g. 0.5,1,2,4), searched exhaustively and in inverted lists")
    ap.add_argument("--source", type=Path, default=SOURCE, help="the video the copies are made of")
    ap.add_argument("--footage", type=Path, default=None,
                    help="the catalogue: the videos of this folder (default: ../shared/corpus/videos)")
    ap.add_argument("--seconds", type=float, default=60.0, help="the copies' length")
    ap.add_argument("--edits", default=None,
                    help=f"the copies' edits among {','.join(EDITS)} (default: all; caption,mirror with --small-catalogues)")
    add_shared_arguments(ap)
    args = ap.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        if args.small_catalogues:
            rates = tuple(float(r) for r in args.small_catalogues.split(","))
            edits = tuple(args.edits.split(",")) if args.edits else ("caption", "mirror")
            figures = run_small(Path(tmp), rates, edits, args.repeat, args.source, args.seconds)
        else:
            edits = tuple(args.edits.split(",")) if args.edits else EDITS
            figures = run(Path(tmp), tuple(args.structures.split(",")), edits, args.repeat, args.source, args.footage,
                          args.seconds)
    record("scan_local", figures, argv, args.results)


if __name__ == "__main__":
    main()
