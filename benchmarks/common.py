"""What the benchmarks share: where the corpus is, footage and the CLIP channel to measure, memory,
sub-processes, and the one way results are recorded.

Every benchmark's `main(argv)` adds the shared options with `add_shared_arguments` and, after
printing its figures, calls `record`: one JSON line appended to `docs/results/<benchmark>.jsonl`
(or `--results PATH`; `--results -` records nothing) holding the benchmark, the command, the
date, the commit, the machine and the figures. `python -m benchmarks.docs` renders those files.
"""

from __future__ import annotations

import argparse
import datetime
import functools
import json
import math
import os
import platform
import resource
import shlex
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
CORPUS = ROOT.parent / "shared" / "corpus"
CORPUS_VIDEOS = CORPUS / "videos"
CORPUS_IMAGES = CORPUS / "images"
RESULTS = ROOT / "docs" / "results"


# -- the configuration -------------------------------------------------------------------------
def merged(*parts: Mapping | None) -> dict:
    """Configuration overrides (nested dicts) merged left to right, for `load_config(overrides=...)`."""
    out: dict = {}
    for part in parts:
        for key, value in (part or {}).items():
            if isinstance(value, Mapping) and isinstance(out.get(key), dict):
                out[key] = merged(out[key], value)
            elif isinstance(value, Mapping):
                out[key] = merged(value)
            else:
                out[key] = value
    return out


# -- footage -----------------------------------------------------------------------------------
def corpus_clips(folder: Path | None = None, suffixes: tuple[str, ...] | None = None) -> list[Path]:
    """The video files of `folder` (default ../shared/corpus/videos) in name order, those with
    one of `suffixes` when given; SystemExit when the folder is absent."""
    folder = Path(folder) if folder is not None else CORPUS_VIDEOS
    if not folder.is_dir():
        raise SystemExit(f"needs real footage in {folder} (not found)")
    return sorted(p for p in folder.iterdir() if p.is_file() and (suffixes is None or p.suffix in suffixes))


def clips(limit: int | None, workdir: Path, footage: Path | None = None) -> tuple[list[Path], str]:
    """The clips to measure and where they come from: those of `footage` (a folder of videos),
    else of the corpus when present, else generated drawn footage (`limit` or 4 clips of 20 s)."""
    from auditor.media import synth

    if footage is not None or CORPUS_VIDEOS.is_dir():
        folder = Path(footage) if footage is not None else CORPUS_VIDEOS
        found = corpus_clips(folder)
        return (found[:limit] if limit else found), f"{'footage' if footage is not None else 'corpus'} ({folder})"
    made = [synth.write_clip(workdir / f"gen{i}.mp4", functools.partial(synth.scene_frame, i, width=640, height=360), 20.0)
            for i in range(limit or 4)]
    return made, "generated drawn footage (640x360, 20 s each)"


def clip_channel(workdir: Path, batch_size: int = 32, model: str | None = None, config_path: Path | None = None,
                 overrides: dict | None = None):
    """The clip channel to measure: `model` when given (an open_clip name or `local-dir:FOLDER`),
    else ViT-B-32 with the real laion2b_s34b_b79k weights when they are in the Hugging Face cache,
    else a randomly initialised ViT-B-32 saved to an open_clip folder in `workdir` and loaded
    through the same `local-dir:` path (throughput does not depend on weight values).

    Returns (channel, what weights were used, whether they are real, the overrides that select
    this model and batch size): build the benchmark's configuration with those overrides, so
    that indexes and scans use the same model. torch and open_clip are imported only here."""
    from auditor.channels import create_channel
    from auditor.config import load_config
    from auditor.errors import ModelWeightsMissing

    chosen = merged(overrides, {"channels": {"clip": {"batch_size": batch_size}}})
    if model:
        chosen = merged(chosen, {"channels": {"clip": {"model": model}}})
        return create_channel("clip", load_config(config_path, chosen)), f"{model} (given)", True, chosen
    try:
        channel = create_channel("clip", load_config(config_path, chosen))
        return channel, "ViT-B-32 / laion2b_s34b_b79k (real weights)", True, chosen
    except ModelWeightsMissing:
        import open_clip
        import torch
        from safetensors.torch import save_file

        folder = workdir / "vit-b-32-random"
        folder.mkdir(parents=True, exist_ok=True)
        cfg = open_clip.get_model_config("ViT-B-32")
        (folder / "open_clip_config.json").write_text(json.dumps({"model_cfg": cfg, "preprocess_cfg": {}}))
        torch.manual_seed(0)
        net = open_clip.create_model("ViT-B-32", pretrained=None)
        save_file({k: v.contiguous() for k, v in net.state_dict().items()}, str(folder / "open_clip_model.safetensors"))
        del net
        chosen = merged(chosen, {"channels": {"clip": {"model": f"local-dir:{folder}"}}})
        channel = create_channel("clip", load_config(config_path, chosen))
        return channel, "ViT-B-32, random init (timing only: real weights not on this machine)", False, chosen


# -- processes ---------------------------------------------------------------------------------
def peak_rss_gb() -> float:
    """This process's peak resident memory (VmHWM: reset by exec, unlike getrusage's maximum)."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024**2
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024**2


def run_module(module: str, *args: str, env: dict | None = None) -> str:
    """Run `python -m module args` in a fresh process from the repository root (so `benchmarks`
    is importable wherever the caller runs) and return what it printed; its error if it fails.
    Paths among `args` must be absolute."""
    done = subprocess.run([sys.executable, "-m", module, *args], cwd=ROOT, env=env, capture_output=True, text=True,
                          check=False)
    if done.returncode != 0:
        raise RuntimeError(f"python -m {module} {shlex.join(args)} failed ({done.returncode}):\n{done.stderr[-3000:]}")
    return done.stdout


# -- results -----------------------------------------------------------------------------------
def add_shared_arguments(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
    """The options every benchmark has."""
    parser.add_argument("--results", default=None, metavar="PATH",
                        help="append this run's JSON line to PATH (default: docs/results/<benchmark>.jsonl "
                             "in the repository; '-': record nothing)")
    return parser


def commit() -> str:
    """The repository's commit, with '+dirty' when tracked files differ from it (but for the
    results files, which recording itself changes); 'unknown' outside git."""
    try:
        head = subprocess.run(["git", "-C", str(ROOT), "rev-parse", "HEAD"], capture_output=True, text=True,
                              timeout=30, check=False)
        if head.returncode != 0:
            return "unknown"
        status = subprocess.run(["git", "-C", str(ROOT), "status", "--porcelain", "--untracked-files=no"],
                                capture_output=True, text=True, timeout=60, check=False)
    except (OSError, subprocess.SubprocessError):
        return "unknown"
    changed = [line for line in status.stdout.splitlines() if not line[3:].startswith("docs/results/")]
    return head.stdout.strip() + ("+dirty" if status.returncode != 0 or changed else "")


def machine() -> dict:
    """What the figures were measured on."""
    cpu = platform.processor() or platform.machine()
    memory_gib = None
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.lower().startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                memory_gib = round(int(line.split()[1]) / 2**20, 1)
                break
    except OSError:
        pass
    return {"platform": platform.platform(), "python": platform.python_version(), "cpu": cpu,
            "cpus": os.cpu_count(), "memory_gib": memory_gib}


def command(benchmark: str, argv: list[str] | None, module: str | None = None) -> str:
    """The command as run (`python -m MODULE ...`, by default benchmarks.<benchmark>), without
    --results (it says where the line goes, not what was measured)."""
    args = list(sys.argv[1:] if argv is None else argv)
    kept, skip = [], False
    for a in args:
        if skip:
            skip = False
        elif a == "--results":
            skip = True
        elif not a.startswith("--results="):
            kept.append(str(a))
    return shlex.join(["python", "-m", module or f"benchmarks.{benchmark}", *kept])


def _plain(value: Any, depth: int = 0) -> Any:
    """`value` as JSON: numpy numbers as numbers, non-finite floats as null; at most one level of
    nested tables (figures are flat or shallow)."""
    if isinstance(value, Mapping):
        if depth >= 2:
            raise ValueError("figures nest at most one level deep")
        return {str(k): _plain(v, depth + 1) for k, v in value.items()}
    if isinstance(value, (list, tuple, np.ndarray)):
        return [_plain(v, 2) for v in value]
    if isinstance(value, (bool, np.bool_)):
        return bool(value)
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value) if math.isfinite(value) else None
    if value is None or isinstance(value, str):
        return value
    return str(value)


def record(benchmark: str, figures: dict, argv: list[str] | None = None, results: str | None = None,
           module: str | None = None) -> Path | None:
    """Append one JSON line for this run to `results` (default docs/results/<benchmark>.jsonl;
    '-': nothing) and return its path. `module`: what `python -m` ran, when not benchmarks.<benchmark>."""
    if results == "-":
        return None
    path = Path(results) if results else RESULTS / f"{benchmark}.jsonl"
    line = {
        "benchmark": benchmark,
        "command": command(benchmark, argv, module),
        "date": datetime.datetime.now(datetime.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "commit": commit(),
        "machine": machine(),
        "figures": _plain(figures),
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as f:
        f.write(json.dumps(line, ensure_ascii=False) + "\n")
    print(f"results recorded in {path}", file=sys.stderr)
    return path
