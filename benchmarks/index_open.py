"""How long opening a reference index takes, with its files verified against the manifest.

Builds (or reuses) an index of synthetic vectors — a 256-bit binary channel and a float channel,
exact search — of about `--mb` megabytes, then opens it in fresh processes: without
verification (as before integrity checks), verified with an empty checksum cache (every file
read and hashed), and verified again (the cache vouches for files whose identity is unchanged).
Each figure is the median of `--repeat` opens, each in its own process.

    python -m benchmarks.index_open --out /tmp/bench-open --mb 300
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

import reference_index as ri
from benchmarks.common import ROOT, add_shared_arguments, record

FLOAT_DIM = 512
FRAMES_PER_VIDEO = 1000


def build(path: Path, mb: float) -> None:
    frames = int(mb * 1e6 / (FLOAT_DIM * 4 + 8 + 32 + 8))
    ri.create_index(path, {
        "hash": {"metric": "hamming", "dim": 256, "fingerprint": {"id": "bench-hash"}},
        "embed": {"metric": "ip", "dim": FLOAT_DIM, "fingerprint": {"id": "bench-embed"}},
    })
    rng = np.random.default_rng(0)
    with ri.IndexWriter(path) as w:
        for v in range(0, frames, FRAMES_PER_VIDEO):
            n = min(FRAMES_PER_VIDEO, frames - v)
            emb = rng.standard_normal((n, FLOAT_DIM), dtype=np.float32)
            emb /= np.linalg.norm(emb, axis=1, keepdims=True)
            w.add_video(work=f"work {v // 10000}", owner="Studio", ref_id=f"v{v}",
                        info={"path": f"v{v}.mp4", "sha256": f"{v:064x}", "kind": "video",
                              "duration_s": n / 2, "fps": 24, "width": 320, "height": 180},
                        times=np.arange(n) * 0.5,
                        vectors={"hash": (np.arange(n), rng.integers(0, 256, (n, 32), dtype=np.uint8)),
                                 "embed": (np.arange(n), emb)})


OPEN = """
import sys, time
import reference_index as ri
t = time.perf_counter()
idx = ri.ReferenceIndex.open(sys.argv[1], verify=sys.argv[2] == "1")
opened = time.perf_counter() - t
if sys.argv[3] == "1":
    for name in idx.channels:
        idx.vectors(name)
print(opened, time.perf_counter() - t)
idx.close()
"""


def timed(path: Path, verify: bool, cache: Path, load: bool = False) -> tuple[float, float]:
    env = dict(os.environ, REFERENCE_INDEX_CACHE=str(cache))
    out = subprocess.run([sys.executable, "-c", OPEN, str(path.resolve()), "1" if verify else "0", "1" if load else "0"],
                         cwd=ROOT, env=env, capture_output=True, text=True, check=True).stdout.split()
    return float(out[0]), float(out[1])


# each row's figures: the key it is recorded under, what it is
ROWS = (
    ("open_not_verified_ms", "open, not verified (sizes not even checked)"),
    ("open_verified_cold_cache_ms", "open, verified, empty cache (every file hashed)"),
    ("open_verified_warm_cache_ms", "open, verified, cache warm (nothing hashed)"),
    ("open_and_load_verified_warm_cache_ms", "open + load every channel, verified, cache warm"),
    ("open_and_load_not_verified_ms", "open + load every channel, not verified"),
)


def main(argv: list[str] | None = None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", type=Path, required=True, help="Folder for the index (reused when present).")
    ap.add_argument("--mb", type=float, default=300.0)
    ap.add_argument("--repeat", type=int, default=5)
    add_shared_arguments(ap)
    a = ap.parse_args(argv)
    path = a.out / "idx"
    figures: dict = {}
    if not ri.exists(path):
        t = time.perf_counter()
        build(path, a.mb)
        figures["build_s"] = round(time.perf_counter() - t, 1)
        print(f"built in {figures['build_s']:.1f} s")
    size = sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
    info = ri.ReferenceIndex.open(path, verify=False)
    frames = info.counts()["frames"]
    info.close()
    print(f"index {path}: {size / 1e6:.0f} MB, {frames} frames")
    figures.update(index_mb=round(size / 1e6, 1), frames=frames)
    time.sleep(2.5)  # files this fresh are never cached (a change in the same timestamp tick could hide)
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp) / "cache"
        rows = {
            "open, not verified (sizes not even checked)": [timed(path, False, cache)[0] for _ in range(a.repeat)],
        }
        cold = []
        for _ in range(a.repeat):
            for f in cache.glob("*"):
                f.unlink()
            cold.append(timed(path, True, cache)[0])
        rows["open, verified, empty cache (every file hashed)"] = cold
        rows["open, verified, cache warm (nothing hashed)"] = [timed(path, True, cache)[0] for _ in range(a.repeat)]
        rows["open + load every channel, verified, cache warm"] = [timed(path, True, cache, True)[1] for _ in range(a.repeat)]
        rows["open + load every channel, not verified"] = [timed(path, False, cache, True)[1] for _ in range(a.repeat)]
    for what, xs in rows.items():
        print(f"{what:52} median {statistics.median(xs) * 1000:8.1f} ms  (min {min(xs) * 1000:.1f}, max {max(xs) * 1000:.1f})")
    for key, what in ROWS:
        xs = rows[what]
        figures[key] = {"median": round(statistics.median(xs) * 1000, 1), "min": round(min(xs) * 1000, 1),
                        "max": round(max(xs) * 1000, 1)}
    record("index_open", figures, argv, a.results)


if __name__ == "__main__":
    main()
