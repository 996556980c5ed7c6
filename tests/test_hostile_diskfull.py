"""A disk that fills up during `index add`: the failed commit removes what it wrote (one line, no
FAISS traceback), and readers of the index work on without a lease file (said once). The disk is
a small tmpfs mounted in the commands' own mount namespace."""

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]

SCRIPT = r'''
py() { "$PY" -m auditor "$@" 2>&1; }
mount -t tmpfs -o size=2m tmpfs "$D" || exit 97
py index add "$REF1" --index "$D/idx" --work "Star Courier" --owner "Demo Studio" --channels pdq,orb >/dev/null || exit 98
dd if=/dev/zero of="$D/filler" bs=4k 2>/dev/null
truncate -s -"$FREE" "$D/filler"
echo "== add"; py index add "$REF2" --index "$D/idx" --work "Moonlit Garden" --owner "Example Pictures"; echo "rc=$?"
echo "== ls"; ls "$D/idx"
dd if=/dev/zero of="$D/filler2" bs=1k 2>/dev/null  # what the failed add gave back: the disk stays full
echo "== info"; py index info --index "$D/idx" --verify >/dev/null; echo "rc=$?"
echo "== scan"; py scan "$COPY" --index "$D/idx" --out "$OUT" --quiet; echo "rc=$?"
echo "== end"
'''


def sections(text: str) -> dict[str, str]:
    out, name = {}, None
    for line in text.splitlines():
        if line.startswith("== "):
            name = line[3:]
            out[name] = ""
        elif name:
            out[name] += line + "\n"
    return out


@pytest.mark.parametrize("free", ["8k", "200k"], ids=["full-while-copying", "full-while-committing"])
def test_a_disk_full_during_index_add_leaves_the_index_as_it_was_and_readable(footage, tmp_path, free):
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("no unshare to mount a small disk")
    disk = tmp_path / "disk"
    disk.mkdir()
    env = dict(os.environ, PYTHONPATH=str(ROOT), PY=sys.executable, D=str(disk), REF1=str(footage["refs"]["ep01"]), FREE=free,
               REF2=str(footage["refs"]["other"]), COPY=str(footage["copy"]), OUT=str(tmp_path / "out"))
    flags = ["-m"] if os.geteuid() == 0 else ["-rm"]
    r = subprocess.run([unshare, *flags, "sh", "-c", SCRIPT], capture_output=True, text=True, timeout=600, env=env)
    if r.returncode in (97, 98) or "unshare failed" in r.stderr:
        pytest.skip(f"cannot mount a small disk here: {r.stderr.strip()[-300:]}")
    out = sections(r.stdout)
    assert "end" in out, r.stdout + r.stderr
    add = out["add"]
    assert "rc=0" not in add and "Traceback" not in add and "faiss" not in add.lower(), add
    assert "space" in add.lower(), add
    listed = out["ls"].split()
    assert len([n for n in listed if n.startswith("gen-")]) == 1, listed  # nothing half-written left
    assert "rc=0" in out["info"], out["info"]
    assert "rc=0" in out["scan"] and "Traceback" not in out["scan"], out["scan"]
    assert out["scan"].count("lease") == 1, out["scan"]  # said once
