"""A batch killed outright (kill -9) leaves no worker behind, and a summary.csv of what it finished."""

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

TESTS = Path(__file__).resolve().parent

SCRIPT = """
import sys
sys.path.insert(0, {tests!r})
from helpers import sleepy_scan
from auditor.config import load_config
from auditor.scan.batch import run_batch
from auditor.scan.engines import WorkerPool

if __name__ == "__main__":
    cfg = load_config(overrides={{"channels": {{"default": ["pdq"]}}}})
    run_batch({clips!r}, {index!r}, {out!r}, cfg, WorkerPool(2, task=sleepy_scan))
"""


def descendants(pid: int) -> set[int]:
    """Every living process below `pid`."""
    parents = {}
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            try:
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            if fields[0] != "Z":
                parents[int(entry.name)] = int(fields[1])
    found, frontier = set(), {pid}
    while frontier:
        frontier = {p for p, pp in parents.items() if pp in frontier} - found
        found |= frontier
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


def test_killing_the_parent_of_a_worker_pool_leaves_no_process_and_keeps_a_summary(footage, pdq_index, tmp_path):
    slow = tmp_path / "slow.mp4"
    slow.write_bytes(footage["unrelated"].read_bytes() + b"\0" * 4096)  # largest: scanned first, and hangs
    quick = tmp_path / "quick.mp4"
    quick.write_bytes(footage["copy"].read_bytes())
    out = tmp_path / "out"
    script = tmp_path / "run.py"
    script.write_text(SCRIPT.format(tests=str(TESTS), clips=[str(slow), str(quick)], index=str(pdq_index), out=str(out)))
    proc = subprocess.Popen([sys.executable, str(script)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        deadline = time.monotonic() + 90
        while not (out / "summary.csv").is_file() and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.1)
        assert proc.poll() is None, "the run ended before it could be killed"
        children = descendants(proc.pid)
        assert len(children) >= 2, children  # the workers (and the resource tracker)
    finally:
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    deadline = time.monotonic() + 10
    while any(alive(p) for p in children) and time.monotonic() < deadline:
        time.sleep(0.1)
    survivors = [p for p in children if alive(p)]
    for p in survivors:
        os.kill(p, signal.SIGKILL)
    assert not survivors, "processes outlived the killed parent"
    with open(out / "summary.csv", newline="", encoding="utf-8") as f:
        rows = list(csv.DictReader(f))
    assert [(r["query_id"], r["status"], r["flagged"]) for r in rows] == [("quick", "ok", "true")]
