"""Real generator output as suspects: does auditor find the work whose image a generator was given?

Image-to-video, keyframe-interpolation and stylising generators published by their authors with
the images they were given (`pairs.csv` below: see docs/evaluation.md for the repositories and
commits). A set is built from them as a rights team would meet it:

- the catalogue holds the input images of about two thirds of the works, among distractors (the
  stills and videos of ../shared/corpus); the rest are held out, so their outputs are negatives,
  as are text-to-video outputs that were given no image;
- every output is shared as a person shares it: re-encoded to MP4 at 720 lines (upscaled) at
  24 frames a second, a moving watermark on every other clip; one case in four is the
  published file itself (an animated GIF or an MP4);
- works, not clips, are split into a tuning and a reporting half (outputs of one image never
  straddle them).

    python -m evaluation.generators gather --clones CLONES --out RAW   # once: the published files
    python -m evaluation.generators make --raw RAW --out gen-set [--corpus ../shared/corpus]
    python -m evaluation.generators run gen-set [--channels pdq,orb] [--config my.toml]

`gather` takes each file of `generator_pairs.csv` (repository, commit and path of every output
and input) from clones of those repositories under CLONES (owner+name or name) into RAW, with
RAW/pairs.csv (source,id,kind,inputs,output: inputs ';'-joined paths relative to RAW).

A clip counts as found when its verdict is flagged and names one of the expected works; a
two-still interpolation also when both stills are named (reported apart). A negative, or a clip
naming only works it did not come from, is a false positive. Beside auditor's figures, `run`
prints those of the simple matcher the project is compared with (`baseline`: PDQ of every frame,
a work matched when any frame is within 31 bits of any of its frames).
"""

from __future__ import annotations

import argparse
import csv
import hashlib
import shutil
import time
from pathlib import Path

import cv2
import numpy as np

from auditor.config import load_config
from auditor.evidence.files import read_evidence
from auditor.media import animated
from auditor.media.video import open_writer
from benchmarks.common import add_shared_arguments, record

KINDS = ("i2v", "anime_interpolation", "interpolation_two_stills", "sketch_interpolation", "other_style")
NO_INPUT = "t2v_no_input"
LINES, OUT_FPS = 720, 24.0


def _sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _bucket(key: str, salt: str, n: int) -> int:
    return int(hashlib.sha256(f"{salt}:{key}".encode()).hexdigest()[:8], 16) % n


def _works(rows: list[dict], raw: Path) -> dict[str, str]:
    """Input file (by SHA-256) -> its work: inputs given together, or equal, are one work."""
    parent: dict[str, str] = {}

    def find(x: str) -> str:
        while parent.setdefault(x, x) != x:
            x = parent[x]
        return x

    for row in rows:
        shas = [_sha(raw / p) for p in row["inputs"].split(";") if p]
        for s in shas[1:]:
            parent[find(s)] = find(shas[0])
        for s in shas:
            find(s)
    return {s: find(s)[:12] for s in parent}


def _strata(rows: list[dict], raw: Path, work_of: dict[str, str]) -> tuple[set[str], dict[str, str]]:
    """(works held out of the catalogue, each work's half). Within each source and kind, works in
    a fixed pseudo-random order: every third held out; the others, and the held-out ones, to the
    tuning and the reporting half in turn, so that every kind is in both where it can be."""
    first: dict[str, tuple[str, str]] = {}
    for row in rows:
        if row["kind"] != NO_INPUT:
            w = work_of[_sha(raw / row["inputs"].split(";")[0])]
            first.setdefault(w, (row["source"], row["kind"]))
    held_out: set[str] = set()
    half: dict[str, str] = {}
    for stratum in sorted(set(first.values())):
        works = sorted((w for w, k in first.items() if k == stratum), key=lambda w: _bucket(w, "order", 1 << 30))
        kept = [w for i, w in enumerate(works) if i % 3 != 2]
        out = [w for i, w in enumerate(works) if i % 3 == 2]
        held_out.update(out)
        for group in (kept, out):
            for i, w in enumerate(group):
                half[w] = ("tune", "report")[(i + _bucket(str(stratum), "start", 2)) % 2]
    return held_out, half


def read_frames(path: Path) -> tuple[list[np.ndarray], list[float]]:
    """Every frame of a published output (RGB) and the time it is shown from."""
    if animated.frame_count(path) > 1 or path.suffix.lower() == ".gif":
        got = list(animated.frames(path))
        return [f for _, _, f in got], [t for t, _, _ in got] + [got[-1][0] + got[-1][1]]
    cap = cv2.VideoCapture(str(path))
    fps = cap.get(cv2.CAP_PROP_FPS) or 8.0
    frames = []
    while True:
        ok, bgr = cap.read()
        if not ok:
            break
        frames.append(cv2.cvtColor(bgr, cv2.COLOR_BGR2RGB))
    cap.release()
    return frames, [k / fps for k in range(len(frames) + 1)]


def _watermark(image: np.ndarray, t: float, seed: int) -> np.ndarray:
    """A semi-transparent handle and logo drifting across the picture, as sharing apps add."""
    h, w = image.shape[:2]
    rng = np.random.default_rng(seed)
    x0, y0, vx, vy = rng.uniform(0.05, 0.5), rng.uniform(0.1, 0.8), rng.uniform(0.05, 0.15), rng.uniform(-0.08, 0.08)
    x = int(w * ((x0 + vx * t) % 0.7)) + 10
    y = int(h * min(0.9, max(0.1, y0 + vy * t)))
    over = image.copy()
    cv2.putText(over, f"@share_{seed % 10000:04d}", (x, y), cv2.FONT_HERSHEY_SIMPLEX, h / 500, (255, 255, 255), max(2, h // 240))
    cv2.rectangle(over, (x, y + h // 40), (x + w // 10, y + h // 40 + h // 20), (240, 240, 240), -1)
    return cv2.addWeighted(over, 0.55, image, 0.45, 0)


def share(src: Path, dst: Path, watermark: bool, seed: int) -> None:
    """The output as shared: upscaled to 720 lines, 24 frames a second, optionally watermarked, MP4."""
    frames, starts = read_frames(src)
    h, w = frames[0].shape[:2]
    size = (int(round(LINES * w / h / 2)) * 2, LINES)
    writer = open_writer(dst, "mp4v", OUT_FPS, size)
    k, t = 0, 0.0
    while t < starts[-1] - 1e-9:
        while k + 1 < len(frames) and starts[k + 1] <= t + 1e-9:
            k += 1
        frame = cv2.resize(frames[k], size, interpolation=cv2.INTER_CUBIC)
        if watermark:
            frame = _watermark(frame, t, seed)
        writer.write(cv2.cvtColor(frame, cv2.COLOR_RGB2BGR))
        t += 1 / OUT_FPS
    writer.release()


def make(raw: Path, out: Path, corpus: Path | None) -> None:
    rows = list(csv.DictReader((raw / "pairs.csv").open(encoding="utf-8")))
    rows = [r for r in rows if r["kind"] in KINDS + (NO_INPUT,)]
    work_of = _works([r for r in rows if r["kind"] != NO_INPUT], raw)
    held_out, half = _strata(rows, raw, work_of)
    (out / "queries").mkdir(parents=True, exist_ok=True)
    (out / "references").mkdir(exist_ok=True)
    catalogue, seen = [], set()
    for row in rows:
        for p in (row["inputs"].split(";") if row["kind"] != NO_INPUT else []):
            sha = _sha(raw / p)
            if work_of[sha] in held_out or sha in seen:
                continue
            seen.add(sha)
            dst = out / "references" / f"{sha[:12]}{Path(p).suffix.lower()}"
            shutil.copyfile(raw / p, dst)
            catalogue.append({"path": f"references/{dst.name}", "work": f"work_{work_of[sha]}", "owner": row["source"],
                              "ref_id": f"ref_{sha[:12]}"})
    if corpus is not None and corpus.is_dir():  # distractors: unrelated stills and videos
        for file in sorted(list((corpus / "images").glob("*")) + list((corpus / "videos").glob("*"))):
            if file.suffix.lower() in {".png", ".jpg", ".jpeg", ".webp", ".mp4", ".webm", ".mkv", ".gif"}:
                # one work per film or series (two files of Big Buck Bunny are one work, as a
                # catalogue would hold them: leaving one work out then leaves both out)
                catalogue.append({"path": str(file.resolve()), "work": f"distractor_{file.stem.split('_')[0]}",
                                  "owner": "corpus", "ref_id": f"distractor_{file.stem}"})
    with (out / "catalogue.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, ["path", "work", "owner", "ref_id"], lineterminator="\n")
        writer.writeheader()
        writer.writerows(catalogue)
    truth = []
    for k, row in enumerate(sorted(rows, key=lambda r: (r["source"], r["id"]))):
        shas = [_sha(raw / p) for p in row["inputs"].split(";") if p] if row["kind"] != NO_INPUT else []
        works = sorted({work_of[s] for s in shas})
        catalogued = bool(works) and works[0] not in held_out
        src = raw / row["output"]
        qid = f"g{k:03d}_{row['source']}_{row['id']}"[:80]
        how = "original" if k % 4 == 3 else ("mp4_720_watermark" if k % 2 else "mp4_720")
        if how == "original":
            shutil.copyfile(src, out / "queries" / f"{qid}{src.suffix.lower()}")
        else:
            share(src, out / "queries" / f"{qid}.mp4", how.endswith("watermark"), k)
        split = half.get(works[0] if works else qid) or ("tune" if _bucket(qid, "split", 2) == 0 else "report")
        truth.append({"query_id": qid, "kind": row["kind"] if catalogued else f"negative_{row['kind']}",
                      "works": ";".join(f"work_{w}" for w in works) if catalogued else "",
                      "refs": ";".join(f"ref_{s[:12]}" for s in shas) if catalogued else "",
                      "shared": how, "source": row["source"],
                      "split": split})
    with (out / "truth.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, list(truth[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(truth)
    print(f"{len(catalogue)} references ({len(seen)} generator inputs, {len(held_out)} works held out); "
          f"{len(truth)} suspect clips, {sum(bool(t['works']) for t in truth)} from catalogued works -> {out}")


def measure(folder: Path, results: Path, split: str) -> dict:
    """Found, false positives and misses of one half (module docstring)."""
    truth = [t for t in csv.DictReader((folder / "truth.csv").open(encoding="utf-8")) if t["split"] == split]
    found: list[str] = []
    fp: list[str] = []
    missed: list[str] = []
    both = pairs = 0
    per_kind: dict[str, list[int]] = {}
    for t in truth:
        path = results / f"{t['query_id']}.evidence.json"
        named: set[str] = set()
        refs: set[str] = set()
        if path.is_file():
            ev = read_evidence(path)
            if ev.verdict.flagged:
                named = {w.work for w in ev.works if w.segments or w.resemblance}
                refs = {s.ref_id for w in ev.works for s in w.segments}
        expected = set(filter(None, t["works"].split(";")))
        if expected:
            hit = bool(named & expected)
            (found if hit else missed).append(t["query_id"])
            if named - expected and not hit:
                fp.append(t["query_id"])
            per_kind.setdefault(t["kind"], [0, 0])[0] += hit
            per_kind[t["kind"]][1] += 1
            if t["kind"] == "interpolation_two_stills":
                pairs += 1
                both += set(t["refs"].split(";")) <= refs
        elif named:
            fp.append(t["query_id"])
    positives = sum(bool(t["works"]) for t in truth)
    return {"positives": positives, "found": len(found), "negatives": len(truth) - positives,
            "false_positives": len(fp), "two_stills_both_named": f"{both} of {pairs}",
            "per_kind": "; ".join(f"{k} {a} of {n}" for k, (a, n) in sorted(per_kind.items())),
            "missed": " ".join(missed) or "-", "false_positive_clips": " ".join(fp) or "-"}


def _pdq_frames(path: Path, every_s: float = 0.0) -> np.ndarray:
    """PDQ hashes (bool rows) of a file's frames of quality >= 50: every frame, or one per `every_s`."""
    import pdqhash

    if path.suffix.lower() in {".png", ".jpg", ".jpeg", ".webp"} and animated.frame_count(path) < 2:
        frames = [cv2.cvtColor(cv2.imread(str(path)), cv2.COLOR_BGR2RGB)]
    else:
        frames, starts = read_frames(path)
        if every_s:
            frames = [f for f, t, nxt in zip(frames, starts, starts[1:]) if int(t / every_s) != int(nxt / every_s) or t == 0]
    out = []
    for f in frames:
        h, q = pdqhash.compute(np.ascontiguousarray(f))
        if q >= 50:
            out.append(h.astype(bool))
    return np.array(out, dtype=bool).reshape(-1, 256)


def baseline(folder: Path, split: str, every_s: float = 0.0) -> dict:
    """The simple matcher the issue names, as a yardstick: PDQ of every frame (quality >= 50); a
    work matched when any frame of the clip is within 31 bits of any frame of any of its files."""
    cache = folder / "baseline-refs.npz"  # the catalogue's hashes, computed once
    rows = list(csv.DictReader((folder / "catalogue.csv").open(encoding="utf-8")))
    if not cache.is_file():
        hashes: dict = {r["ref_id"]: _pdq_frames(Path(r["path"]) if Path(r["path"]).is_absolute() else folder / r["path"])
                        for r in rows}
        np.savez(cache, **hashes)
    stored = np.load(cache)
    works: dict[str, list[np.ndarray]] = {}
    for r in rows:
        works.setdefault(r["work"], []).append(stored[r["ref_id"]])
    packed = {w: np.concatenate(hs) for w, hs in works.items()}
    truth = [t for t in csv.DictReader((folder / "truth.csv").open(encoding="utf-8")) if t["split"] == split]
    found = fp = positives = 0
    for t in truth:
        q = _pdq_frames(next((folder / "queries").glob(t["query_id"] + ".*")), every_s)
        named = {w for w, h in packed.items() if len(q) and len(h) and (q[:, None, :] != h[None, :, :]).sum(2).min() <= 31}
        expected = set(filter(None, t["works"].split(";")))
        positives += bool(expected)
        found += bool(named & expected)
        fp += bool(named) and not (named & expected)
    return {"found": found, "positives": positives, "false_positives": fp, "negatives": len(truth) - positives}


def run(argv: list[str]) -> None:
    from auditor.indexing.calibrate import calibrate
    from auditor.indexing.ingest import add_items, read_catalogue_csv
    from auditor.scan.batch import run_batch

    ap = argparse.ArgumentParser(prog="python -m evaluation.generators run")
    ap.add_argument("folder", type=Path)
    ap.add_argument("--channels", default="pdq,orb")
    ap.add_argument("--config", type=Path, default=None)
    ap.add_argument("--resume", action="store_true", help="keep the index; scan only clips without evidence")
    add_shared_arguments(ap)
    args = ap.parse_args(argv)
    config = load_config(args.config)
    tag = args.channels.replace(",", "-")
    index, results = args.folder / f"index-{tag}", args.folder / f"results-{tag}"
    if not args.resume:
        for d in (index, results):
            shutil.rmtree(d, ignore_errors=True)
    t0 = time.perf_counter()
    if not index.exists():
        add_items(index, read_catalogue_csv(args.folder / "catalogue.csv"), config, args.channels.split(","))
        calibrate(index, config)
    t1 = time.perf_counter()
    queries = sorted(p for p in (args.folder / "queries").iterdir() if p.is_file())
    scan = run_batch(queries, index, results, config)
    t2 = time.perf_counter()
    print(f"channels {args.channels} (calibrated, leave-one-work-out); index in {t1 - t0:.1f} s; "
          f"scan {len(queries)} clips in {t2 - t1:.1f} s ({len(scan.failed)} failed)")
    figures: dict = {"clips": len(queries), "scan_s": round(t2 - t1, 1), "failed": len(scan.failed)}
    halves = (("tune", "TUNING HALF (thresholds may be chosen here)"), ("report", "REPORTING HALF (figures to report)"))
    for split, title in halves:
        m = figures[split] = measure(args.folder, results, split)
        print(f"\n== {title}")
        print(f"found            {m['found']} of {m['positives']} clips from catalogued works")
        print(f"false positives  {m['false_positives']} ({m['negatives']} negatives)")
        print(f"two stills       both named in {m['two_stills_both_named']}")
        for text in m["per_kind"].split("; "):
            kind, found = text.split(" ", 1)
            print(f"  {kind:26} {found}")
        print("missed:", m["missed"])
        print("false positives:", m["false_positive_clips"])
        for every, label in ((0.0, "every frame"), (1.0, "one frame a second")):
            b = baseline(args.folder, split, every)
            tag = "baseline_every_frame" if not every else "baseline_one_a_second"
            m[f"{tag}_found"], m[f"{tag}_false_positives"] = b["found"], b["false_positives"]
            print(f"simple matcher ({label}): found {b['found']} of {b['positives']}, "
                  f"{b['false_positives']} false positives ({b['negatives']} negatives)")
    record("generators", figures, ["run", *argv], args.results, module="evaluation.generators")


MANIFEST = Path(__file__).with_name("generator_pairs.csv")


def _clone(clones: Path, repo: str) -> Path:
    """The clone (work tree or bare git dir) of owner/name under `clones`: owner+name, or name."""
    for name in (repo.replace("/", "+"), repo.split("/")[1]):
        for candidate in (clones / name, clones / name / "repo"):
            if (candidate / ".git").exists() or (candidate / "HEAD").is_file():
                return candidate
    raise SystemExit(f"{clones}: no clone of {repo} (clone it at the commit generator_pairs.csv names)")


def gather(clones: Path, raw: Path) -> None:
    """RAW (pairs.csv and its files) from clones of the repositories generator_pairs.csv names,
    each file taken from its commit with `git show`, byte for byte."""
    import subprocess

    rows = list(csv.DictReader(MANIFEST.open(encoding="utf-8")))
    out = []
    for row in rows:
        folder = raw / row["source"] / row["id"]
        folder.mkdir(parents=True, exist_ok=True)

        def take(spec: str, name: str, folder: Path = folder) -> str:
            repo, rest = spec.split("@", 1)
            commit, path = rest.split(":", 1)
            clone = _clone(clones, repo)
            where = ["--git-dir", str(clone)] if (clone / "HEAD").is_file() else ["-C", str(clone)]
            data = subprocess.run(["git", *where, "show", f"{commit}:{path}"], capture_output=True, check=True).stdout
            dst = folder / f"{name}{Path(path).suffix.lower()}"
            dst.write_bytes(data)
            return str(dst.relative_to(raw))

        inputs = [take(spec, f"input_{k}") for k, spec in enumerate(filter(None, row["inputs"].split(";")))]
        out.append({"source": row["source"], "id": row["id"], "kind": row["kind"], "inputs": ";".join(inputs),
                    "output": take(row["output"], "output")})
    with (raw / "pairs.csv").open("w", newline="", encoding="utf-8") as f:
        writer = csv.DictWriter(f, list(out[0]), lineterminator="\n")
        writer.writeheader()
        writer.writerows(out)
    print(f"{len(out)} generator outputs and their inputs -> {raw}")


def main(argv: list[str] | None = None) -> None:
    import sys

    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["make"]:
        ap = argparse.ArgumentParser(prog="python -m evaluation.generators make")
        ap.add_argument("--raw", type=Path, required=True)
        ap.add_argument("--out", type=Path, required=True)
        ap.add_argument("--corpus", type=Path, default=Path(__file__).resolve().parents[2] / "shared" / "corpus")
        a = ap.parse_args(argv[1:])
        make(a.raw, a.out, a.corpus)
    elif argv[:1] == ["gather"]:
        ap = argparse.ArgumentParser(prog="python -m evaluation.generators gather")
        ap.add_argument("--clones", type=Path, required=True, help="folder with a clone of each repository")
        ap.add_argument("--out", type=Path, required=True)
        a = ap.parse_args(argv[1:])
        gather(a.clones, a.out)
    elif argv[:1] == ["run"]:
        run(argv[1:])
    else:
        raise SystemExit("usage: python -m evaluation.generators gather --clones DIR --out RAW | make --raw RAW --out OUT"
                         " | run OUT [--channels ...]")


if __name__ == "__main__":
    main()
