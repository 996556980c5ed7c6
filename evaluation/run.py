"""Index an evaluation set, scan its queries and print the evaluation figures.

    python -m evaluation.make_set --out eval-set      # once
    python -m evaluation.run eval-set [--channels pdq] [--config my.toml]

Prints the figures of the tuning half and of the reporting half separately (truth.csv's split
column): choose thresholds on the first, report the second.

Uses the library functions the CLI uses; the index and results go under the set's folder
(index-<channels>/, results-<channels>/), rebuilt on each run. The figures of each half are
recorded as one JSON line in docs/results/evaluation.jsonl (`--results`, as for the benchmarks).
"""

from __future__ import annotations

import argparse
import csv
import shutil
import time
from pathlib import Path

from auditor.config import load_config
from auditor.evaluate import evaluate
from auditor.indexing.ingest import add_items, read_catalogue_csv
from auditor.scan.batch import run_batch
from benchmarks.common import add_shared_arguments, record


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--channels", default="pdq")
    ap.add_argument("--config", type=Path, default=None)
    ap.add_argument("--iou", type=float, default=0.5)
    ap.add_argument("--calibrate", action="store_true", help="calibrate the index (leave-one-work-out) before scanning")
    ap.add_argument("--resume", action="store_true",
                    help="keep the index and the results so far: scan only the clips without evidence")
    add_shared_arguments(ap)
    args = ap.parse_args(argv)
    config = load_config(args.config)
    names = args.channels.split(",")
    tag = "-".join(names)
    index = args.folder / f"index-{tag}"
    results = args.folder / f"results-{tag}"
    resume = args.resume and index.exists()
    for d in (() if resume else (index, results)):
        if d.exists():
            shutil.rmtree(d)
    t0 = time.perf_counter()
    ingest = None if resume else add_items(index, read_catalogue_csv(args.folder / "catalogue.csv"), config, names)
    if args.calibrate and not resume:
        from auditor.indexing.calibrate import calibrate

        calibrate(index, config)
    t1 = time.perf_counter()
    queries = sorted((args.folder / "queries").glob("*.mp4"))
    scan = run_batch(queries, index, results, config)
    t2 = time.perf_counter()
    built = ("index kept (--resume)" if ingest is None else
             f"index {len(ingest.results)} references in {t1 - t0:.1f} s ({len(ingest.failed)} failed)")
    print(f"channels {args.channels}{' (calibrated, leave-one-work-out)' if args.calibrate else ''}; {built}; "
          f"scan {len(queries)} clips in {t2 - t1:.1f} s ({len(scan.failed)} failed)")
    with open(args.folder / "truth.csv", newline="", encoding="utf-8") as f:
        has_split = "split" in (csv.DictReader(f).fieldnames or [])
    figures: dict = {"clips": len(queries), "scan_s": round(t2 - t1, 1), "failed": len(scan.failed)}
    for split in (("tune", "report") if has_split else (None,)):
        r = evaluate(results / "matches.csv", args.folder / "truth.csv", results, args.iou, split)
        figures[split or "all"] = {
            "segment_ap": round(r.segment_ap, 3), "vsc_matching_ap": round(r.vsc_matching_ap, 3),
            "segments_found": r.segments_found, "truth_segments": r.truth_segments,
            "predicted_segments": r.predicted_segments, "clip_recall": round(r.clip_recall, 3),
            "clips_with_copies": r.positives, "clips_found": r.positives - len(r.missed), "clip_fp_rate": round(r.clip_fpr, 3),
            "negatives": r.negatives, "negatives_flagged": len(r.false_positives), "missed": " ".join(r.missed) or "-",
        }
        titles = {"tune": "TUNING HALF (thresholds may be chosen here)", "report": "REPORTING HALF (figures to report)"}
        title = "ALL" if split is None else titles[split]
        print(f"\n== {title}")
        print(f"segment AP     {r.segment_ap:.3f}   (IoU >= {r.iou:g}; {r.segments_found}/{r.truth_segments} segments found, "
              f"{r.predicted_segments} predicted)")
        print(f"VSC match AP   {r.vsc_matching_ap:.3f}   (VSC 2022 matching track: overlap along both timelines)")
        print(f"clip recall    {r.clip_recall:.3f}   ({r.positives} clips with copies)")
        print(f"clip FP rate   {r.clip_fpr:.3f}   ({len(r.false_positives)}/{r.negatives} negatives flagged)")
        print("transform       clips  clip recall  segment recall")
        for name, t in r.per_transform.items():
            seg = "-" if t["segment_recall"] is None else f"{t['segment_recall']:.2f}"
            print(f"  {name:14} {t['clips']:5}  {t['clip_recall']:11.2f}  {seg:>14}")
        for name, (flagged, clips) in r.negatives_per_kind.items():
            print(f"  {name:22} {flagged} of {clips} flagged")
        if r.missed:
            print("missed:", " ".join(r.missed))
        if r.false_positives:
            print("false positives:", " ".join(r.false_positives))
    record("evaluation", figures, argv, args.results, module="evaluation.run")


if __name__ == "__main__":
    main()
