"""A results folder this process cannot write: the desk and a scan say so in one line before any
work, never a traceback (and a scan does not scan everything first). The folder is made
read-only by a read-only bind mount in a mount namespace of the command's own (root ignores
permission bits, not a read-only file system)."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import evidence_json

ROOT = Path(__file__).resolve().parents[1]


def read_only(folder: Path, *command: str) -> subprocess.CompletedProcess:
    """Run `python -m auditor COMMAND` with `folder` mounted read-only for it alone."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare to make a read-only folder")
    flags = ["-m"] if os.geteuid() == 0 else ["-rm"]
    mount = f'mount --bind -o ro "{folder}" "{folder}" || exit 97; exec "$@"'
    r = subprocess.run([unshare, *flags, "sh", "-c", mount, "sh", sys.executable, "-m", "auditor", *command],
                       capture_output=True, text=True, timeout=300, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    if r.returncode == 97 or "unshare failed" in r.stderr:
        pytest.skip(f"cannot mount a read-only folder here: {r.stderr.strip()}")
    return r


def test_serve_on_a_read_only_results_folder_is_one_line(tmp_path):
    results = tmp_path / "results"
    results.mkdir()
    (results / "clip1.evidence.json").write_text(evidence_json("clip1", flagged=True))
    r = read_only(results, "serve", "--index", str(tmp_path), "--results", str(results), "--port", "0")
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1
    assert "--results" in r.stderr and "write" in r.stderr


def test_scan_into_a_read_only_out_is_refused_before_scanning(footage, pdq_index, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    r = read_only(out, "scan", str(footage["copy"]), str(footage["unrelated"]), "--index", str(pdq_index),
                  "--out", str(out), "--quiet")
    assert r.returncode == 2, r.stderr
    assert "Traceback" not in r.stderr and len(r.stderr.strip().splitlines()) == 1, r.stderr
    assert "--out" in r.stderr and ".tmp" not in r.stderr
