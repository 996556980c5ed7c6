"""Throughput of the scan pipeline's stages on real footage, measured in one run.

Prints, for the clips used (../shared/corpus/videos when present, else generated footage):
- decode: frames decoded per second by the OpenCV reader (and frames sampled per second);
- pdq: frames hashed per second;
- clip raw encoder: images per second through the image tower alone, on preprocessed batches,
  as many side by side as the channel encodes (one thread each);
- clip pipeline: images per second through decode + sample + preprocess + encode (embed_file),
  every sampled frame encoded; and the pipeline / raw-encoder ratio;
- held frames: the same with held frames reusing vectors (the default), and the share of
  encoder calls that cut, per clip;
- end to end: a batch scan of every clip against an index of the first half (pdq + clip, with
  model and index loading, search, segments, verification, exhibits and evidence), beside the
  rate the raw encoder alone would allow for the frames the scan encoded. The raw encoder is
  measured again just before and just after the scan (these machines' speed drifts over
  minutes) and the bound uses the mean; the encoder's own time inside the scan is printed too.

CLIP weights: the real ViT-B-32 / laion2b_s34b_b79k when they are in the Hugging Face cache;
otherwise a randomly initialised ViT-B-32 saved to a temporary open_clip folder and loaded
through the same `local-dir:` path (throughput does not depend on weight values; the figures
say which was used); or the model `--clip-model` names.

    python -m benchmarks.scan [--fps 5] [--clips N] [--batch-size 32] [--workers N]
    python -m benchmarks.scan --local     # pdq,orb: a 60-s 720p copy, scan / decode time (benchmarks.scan_local)
    python -m benchmarks.scan --local --small-catalogues 0.5,1,2,4   # ... against its source alone
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from pathlib import Path

from auditor.channels.pdq import PDQChannel
from auditor.config import load_config
from auditor.media.reader import MediaReader
from auditor.scan.pipeline import embed_file
from benchmarks.common import (
    add_shared_arguments,
    clip_channel,
    clips,
    merged,
    record,
)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--fps", type=float, default=None, help="sampling rate (default: the query rate in the config)")
    ap.add_argument("--clips", type=int, default=None, help="use only the first N clips")
    ap.add_argument("--footage", type=Path, default=None,
                    help="the videos of this folder (default: ../shared/corpus/videos, else generated footage)")
    ap.add_argument("--batch-size", type=int, default=32)
    ap.add_argument("--clip-model", default=None, metavar="SPEC",
                    help="this open_clip model (a name or local-dir:FOLDER) instead of ViT-B-32")
    ap.add_argument("--workers", type=int, default=os.cpu_count() or 1,
                    help="end to end: scan with this many worker processes, each with cores / workers threads "
                         "(default: one per core, the fastest on CPU; 1 scans in this process and times its encoder)")
    ap.add_argument("--local", action="store_true", help="only the local-feature benchmark (benchmarks.scan_local)")
    ap.add_argument("--structures", default="ivf,words", help="with --local: ORB structures to measure")
    ap.add_argument("--repeat", type=int, default=3, help="with --local: decode and scan each copy this many times (medians)")
    ap.add_argument("--small-catalogues", default=None, metavar="RATES",
                    help="with --local: instead, catalogues of the copies' source alone sampled at these frames/s "
                         "(e.g. 0.5,1,2,4), searched exhaustively and in inverted lists")
    add_shared_arguments(ap)
    args = ap.parse_args(argv)
    if args.local:
        from benchmarks import scan_local

        with tempfile.TemporaryDirectory() as tmp:
            if args.small_catalogues:
                rates = tuple(float(r) for r in args.small_catalogues.split(","))
                measured = scan_local.run_small(Path(tmp), rates, repeat=args.repeat)
            else:
                measured = scan_local.run(Path(tmp), tuple(args.structures.split(",")), repeat=args.repeat)
        record("scan", measured, argv, args.results)
        return
    import torch  # only here: the rest of the benchmarks (and --help) need no torch

    config = load_config()
    fps = args.fps or config.sampling.query.fps
    figures: dict = {}
    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        paths, source = clips(args.clips, workdir, args.footage)
        print(f"footage: {source}, {len(paths)} clips; sampling {fps:g} frames/s; torch threads {torch.get_num_threads()}")
        figures.update(clips=len(paths), sampling_fps=fps, torch_threads=torch.get_num_threads())

        # 1. decode
        t0 = time.perf_counter()
        frames: list = []  # every frame sampled, as an image
        decoded = 0
        for p in paths:
            r = MediaReader(p, fps, config)
            frames.extend(f.image for f in r.frames())
            decoded += r.info.frames_decoded
        dt = time.perf_counter() - t0
        print(f"decode         {decoded / dt:9.1f} frames decoded/s   ({len(frames) / dt:.1f} sampled/s; "
              f"{decoded} frames in {dt:.2f} s)")
        figures.update(decode_frames_per_s=round(decoded / dt, 1), decode_sampled_frames_per_s=round(len(frames) / dt, 1),
                       frames_decoded=decoded, decode_s=round(dt, 2))

        # 2. pdq
        pdq = PDQChannel(config)
        t0 = time.perf_counter()
        emb = pdq.embed(frames)
        dt = time.perf_counter() - t0
        print(f"pdq            {len(frames) / dt:9.1f} frames/s           "
              f"({int(emb.keep.sum())}/{len(frames)} kept at quality >= {pdq.min_quality})")
        figures.update(pdq_frames_per_s=round(len(frames) / dt, 1), pdq_frames_kept=int(emb.keep.sum()),
                       frames_sampled=len(frames))

        # 3. clip raw encoder vs pipeline
        clip, weights, real_weights, chosen = clip_channel(workdir, args.batch_size, args.clip_model)
        config = load_config(overrides=chosen)  # indexes and scans below use the same model
        print(f"clip model     {weights}; batch {clip.batch_size}; device {clip.device}")
        figures.update(clip_weights=weights, real_weights=real_weights, clip_batch_size=clip.batch_size)
        batch = clip.preprocess(frames[: clip.batch_size])
        clip.encode(batch)  # warm-up
        # as the channel encodes: batches side by side, one thread each (clip.streams of them)
        n_batches = clip.streams * max(2, min(8, len(frames) // clip.batch_size))

        def raw_rate() -> float:
            from concurrent.futures import ThreadPoolExecutor

            t0 = time.perf_counter()
            with ThreadPoolExecutor(clip.streams) as pool:
                list(pool.map(lambda _: clip.encode(batch), range(n_batches)))
            return n_batches * len(batch) / (time.perf_counter() - t0)

        raw = raw_rate()
        print(f"clip raw       {raw:9.1f} images/s           (encoder alone, {n_batches} batches of {len(batch)}, "
              f"{clip.streams} side by side)")
        figures["clip_raw_images_per_s"] = round(raw, 1)
        plain = load_config(overrides=merged(chosen, {"sampling": {"held_frame_max_diff": 0.0}}))
        t0 = time.perf_counter()
        n = 0
        for p in paths:
            n += embed_file(p, fps, {"clip": clip}, plain).n_frames
        pipe = n / (time.perf_counter() - t0)
        print(f"clip pipeline  {pipe:9.1f} images/s           (decode + sample + preprocess + encode, every frame, {n} frames)")
        print(f"ratio          {pipe / raw:9.2f}  pipeline / raw encoder")
        figures.update(clip_pipeline_images_per_s=round(pipe, 1), pipeline_over_raw_encoder=round(pipe / raw, 2))
        t0 = time.perf_counter()
        n = embedded = 0
        for p in paths:
            e = embed_file(p, fps, {"clip": clip}, config)
            n, embedded = n + e.n_frames, embedded + e.embedded_frames
        held = n / (time.perf_counter() - t0)
        print(f"held frames    {held:9.1f} frames/s           (held frames reuse vectors, max diff "
              f"{config.sampling.held_frame_max_diff:g}: {embedded}/{n} frames encoded, "
              f"{100 * (1 - embedded / n):.1f} % of encoder calls cut)")
        figures.update(held_frames_per_s=round(held, 1), held_frames_encoded=embedded, held_frames_sampled=n,
                       encoder_calls_cut_percent=round(100 * (1 - embedded / n), 1))
        figures["pdq_frames_encoded_per_clip"] = per_clip = {}
        for p in paths:
            e = embed_file(p, fps, {"pdq": pdq}, config)
            print(f"  {p.name:42} {e.embedded_frames:4}/{e.n_frames:<4} frames encoded")
            per_clip[p.name] = e.embedded_frames

        # 4. end to end: a catalogue of the first half of the clips, every clip scanned as a batch
        from auditor.indexing.ingest import CatalogueItem, add_items
        from auditor.scan.batch import run_batch
        from auditor.scan.engines import Local, WorkerPool
        from auditor.scan.scanner import Scanner

        refs = paths[: max(1, len(paths) // 2)]
        if not real_weights:
            # Random weights embed every frame near every other (cosine ~0.9+): their "hits" would
            # chain into dozens of bogus segments per clip and time verification of noise. The clip
            # channel still embeds and searches every frame; only its hits are not counted (1.0 is
            # the most the configuration allows: only a frame identical to a reference frame passes).
            config = load_config(overrides=merged(chosen, {"channels": {"clip": {"min_similarity": 1.0}}}))
            print("end to end uses clip's embedding and search but not its hits (random weights: its hits are noise)")
        index = workdir / "index"
        t0 = time.perf_counter()
        add_items(index, [CatalogueItem(p, f"work {i}", "bench") for i, p in enumerate(refs)], config, ["pdq", "clip"])
        t_index = time.perf_counter() - t0
        # The raw encoder again, just before and just after: these machines' speed drifts over
        # minutes, so the bound uses the mean of the two.
        raw_before = raw_rate()
        busy = [0.0, 0]  # in-process scan: the encoder's seconds inside encode(), images encoded
        t0 = time.perf_counter()
        if args.workers > 1:  # each worker loads the model and index; its encoder is not observed
            report = run_batch(paths, index, workdir / "results", config, WorkerPool(args.workers))
            busy[1] = embedded  # the same clips and held-frame rule as above
        else:
            from auditor.channels.clip import ClipChannel

            scanner = Scanner(index, config)  # loading the model and index counts
            clip_in_scan = scanner.channels["clip"]
            assert isinstance(clip_in_scan, ClipChannel)
            encode = clip_in_scan.encode

            def timed_encode(b):
                t = time.perf_counter()
                out = encode(b)
                busy[0] += time.perf_counter() - t
                busy[1] += len(b)
                return out

            clip_in_scan.encode = timed_encode  # type: ignore[method-assign]  # timed: the benchmark wraps the encoder
            try:
                report = run_batch(paths, index, workdir / "results", config, Local(scanner))
            finally:
                scanner.close()
        dt = time.perf_counter() - t0
        raw_after = raw_rate()
        raw_mean = (raw_before + raw_after) / 2
        scanned = sum(o.frames for o in report.outcomes)
        bound = raw_mean * scanned / max(1, busy[1])  # the rate if only the encoder took time, same frames encoded
        print(f"end to end     {len(paths) / dt:9.2f} clips/s  {scanned / dt:.1f} frames/s   "
              f"(pdq + clip, load + sample + embed + search + segments + verification + evidence; "
              f"{args.workers} worker(s); index of {len(refs)} clips built in {t_index:.1f} s)")
        if busy[0]:
            print(f"  encoder      {busy[1] / busy[0]:9.1f} images/s inside the scan, busy {busy[0]:.1f} s of {dt:.1f} s "
                  f"({100 * busy[0] / dt:.0f} %)")
        print(f"  raw encoder  {raw_before:9.1f} images/s before the scan, {raw_after:.1f} after")
        print(f"ratio          {scanned / dt / bound:9.2f}  end to end / raw-encoder-bound rate ({bound:.1f} frames/s: "
              f"{busy[1]} images at the raw rate {raw_mean:.1f}/s)")
        figures.update(end_to_end_clips_per_s=round(len(paths) / dt, 2), end_to_end_frames_per_s=round(scanned / dt, 1),
                       end_to_end_s=round(dt, 1), workers=args.workers, reference_clips=len(refs),
                       index_build_s=round(t_index, 1), raw_before_images_per_s=round(raw_before, 1),
                       raw_after_images_per_s=round(raw_after, 1), end_to_end_over_bound=round(scanned / dt / bound, 2),
                       bound_frames_per_s=round(bound, 1), images_encoded_in_scan=busy[1])
        if busy[0]:
            figures.update(encoder_images_per_s_in_scan=round(busy[1] / busy[0], 1), encoder_busy_s=round(busy[0], 1))
    record("scan", figures, argv, args.results)


if __name__ == "__main__":
    main()
