"""Are the p-values honest? On footage known to be unrelated, the share of p-values at or below p
must be at most about p, for every p the reports print.

    python -m evaluation.run eval-set --channels pdq,orb      # once: builds eval-set/index-pdq-orb
    python -m evaluation.calibration_check eval-set --channels pdq,orb

The tuning half's negatives are the background the index is calibrated on (a copy of the index,
under eval-set/calibration-<channels>/); the reporting half's negatives, which calibration never
saw, are then checked two ways:

- frames: every sampled frame's p-value (each channel, against the whole catalogue), the figure
  the appendix's frame-level model gives; frames of one clip are not independent, so the share
  is of frames, not of independent draws;
- clips: each negative is scanned as a suspect clip, and the smallest p-value its evidence prints
  (any segment or moment, kept or rejected; none: 1) is counted.

Prints a table, writes the plot (`--plot`, default docs/figures/calibration.png) and records one
JSON line in docs/results/calibration.jsonl (`--results`, as for the benchmarks).
"""

from __future__ import annotations

import argparse
import csv
import json
import shutil
from pathlib import Path

from auditor.channels import open_for_index
from auditor.config import load_config
from auditor.indexing.calibrate import background_scores, calibrate
from auditor.match.calibration import NullModel
from benchmarks.common import ROOT, add_shared_arguments, record
from reference_index import ReferenceIndex

LEVELS = [10.0 ** -k for k in range(1, 7)]


def negatives(folder: Path) -> dict[str, list[Path]]:
    """The negatives of each half, as files."""
    halves: dict[str, list[Path]] = {"tune": [], "report": []}
    with open(folder / "truth.csv", newline="", encoding="utf-8") as f:
        for row in csv.DictReader(f):
            if not row["ref_id"]:
                halves[row["split"]].append(folder / "queries" / f"{row['query_id']}.mp4")
    return halves


def smallest_printed_p(evidence_path: Path) -> float:
    """The smallest p-value a clip's evidence states, anywhere (1 when it states none)."""
    ev = json.loads(evidence_path.read_text(encoding="utf-8"))
    segments = [s for w in ev.get("works", []) for s in w.get("segments", [])] + ev.get("rejected_segments", [])
    ps = [s["p_value"] for s in segments if s.get("p_value") is not None]
    ps += [w["resemblance"]["p_value"] for w in ev.get("works", [])
           if w.get("resemblance") and w["resemblance"].get("p_value") is not None]
    return min(ps, default=1.0)


def share_at_or_below(ps: list[float]) -> list[float]:
    return [sum(p <= a for p in ps) / len(ps) if ps else 0.0 for a in LEVELS]


def plot(path: Path, frames: list[float], clips: list[float], n_frames: int, n_clips: int) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 4.2), dpi=110)
    ax.loglog(LEVELS, LEVELS, "k--", lw=1, label="share = p (honest at or below this line)")
    bottom = min(LEVELS) / 3
    for shares, n, mark, what in ((frames, n_frames, "o", f"held-out background frames ({n_frames:,})"),
                                  (clips, n_clips, "s", f"negative clips, reporting half ({n_clips})")):
        seen = [(a, x) for a, x in zip(LEVELS, shares) if x > 0]
        line = ax.loglog([a for a, _ in seen], [x for _, x in seen], mark + "-", label=what)[0]
        none = [a for a, x in zip(LEVELS, shares) if x == 0]  # a count of zero: drawn on the floor, hollow
        ax.loglog(none, [bottom] * len(none), mark, mfc="none", color=line.get_color())
        ax.axhline(1 / max(n, 1), color=line.get_color(), lw=0.6, ls=":")
    ax.set_ylim(bottom / 2, 1)
    ax.text(min(LEVELS), bottom * 1.3, "hollow: none at or below p; dotted: 1 in n, the finest share each count shows",
            fontsize=6)
    ax.set_xlabel("p (as a report prints it)")
    ax.set_ylabel("share with p-value at or below p")
    ax.set_title("p-values on footage unrelated to the catalogue", fontsize=10)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("folder", type=Path)
    ap.add_argument("--channels", default="pdq,orb")
    ap.add_argument("--config", type=Path, default=None)
    ap.add_argument("--plot", type=Path, default=ROOT / "docs" / "figures" / "calibration.png")
    ap.add_argument("--replot", action="store_true", help="draw the plot again from the last recorded run, run nothing")
    add_shared_arguments(ap)
    args = ap.parse_args(argv)
    if args.replot:
        last = json.loads((ROOT / "docs" / "results" / "calibration.jsonl").read_text().splitlines()[-1])["figures"]
        plot(args.plot, last["frames_share"], last["clips_share"], last["held_out_frames"], last["negative_clips"])
        return
    from auditor.scan.batch import run_batch

    config = load_config(args.config)
    tag = "-".join(args.channels.split(","))
    work = args.folder / f"calibration-{tag}"
    if work.exists():
        shutil.rmtree(work)
    index = work / "index"
    shutil.copytree(args.folder / f"index-{tag}", index)
    halves = negatives(args.folder)
    data = calibrate(index, config, background=halves["tune"])
    frame_ps: list[float] = []
    reader = ReferenceIndex.open(index)
    try:
        channels = open_for_index(reader, config)
        meanings = {n: ch.meaning(config) for n, ch in channels.items()}
        null = NullModel(reader.calibration() or data, meanings, config)
        worst = {n: m.worst for n, m in meanings.items()}
        for clip in halves["report"]:
            _, bests = background_scores(reader, channels, clip, config, worst)
            frame_ps += [null.frame_p(n, raw) for n, raws in bests.items() for raw in raws]
    finally:
        reader.close()
    scan = run_batch(halves["report"], index, work / "results", config)
    clip_ps = [smallest_printed_p(Path(o.evidence_path)) for o in scan.outcomes if o.evidence_path]
    frames, clips = share_at_or_below(frame_ps), share_at_or_below(clip_ps)
    got = data["amount"]
    print(f"calibrated on {got['clips']} tuning-half negatives ({got['minutes']:g} minutes, {got['frames']} null frames); "
          f"checked on {len(halves['report'])} reporting-half negatives")
    print(f"{'p':>8}  {'frames at or below':>20}  {'clips at or below':>18}")
    for a, f, c in zip(LEVELS, frames, clips):
        print(f"{a:8.0e}  {f:20.5f}  {c:18.4f}")
    plot(args.plot, frames, clips, len(frame_ps), len(clip_ps))
    print(f"plot: {args.plot}")
    record("calibration", {"channels": args.channels, "background": got, "held_out_frames": len(frame_ps),
                           "negative_clips": len(clip_ps), "levels": LEVELS, "frames_share": frames,
                           "clips_share": clips}, argv, args.results, module="evaluation.calibration_check")


if __name__ == "__main__":
    main()
