"""Bundles an attacker made: entries that would land outside the folder they are unpacked in, a
link entry, a file twice under one name (only one copy checked), and a zip bomb; none verifies,
and none is read whole into memory."""

import hashlib
import json
import os
import resource
import stat
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest
from typer.testing import CliRunner

from auditor.cli import app

runner = CliRunner()
ROOT = Path(__file__).resolve().parents[1]
LINK = (stat.S_IFLNK | 0o777) << 16
FILE = (stat.S_IFREG | 0o644) << 16


def raw_zip(path: Path, members: list[dict]) -> Path:
    """A zip written byte by byte: each member {name, data, [size, crc, method, attr]} exactly as
    given (sizes and CRC may lie; names are not cleaned)."""
    out, central = bytearray(), bytearray()
    for m in members:
        name = m["name"].encode()
        data, method = m["data"], m.get("method", 0)
        size, crc = m.get("size", len(data)), m.get("crc", zlib.crc32(data) if "size" not in m else 0)
        offset = len(out)
        out += struct.pack("<IHHHHHIIIHH", 0x04034B50, 20, 0, method, 0, 0x21, crc, len(data), size, len(name), 0)
        out += name + data
        central += struct.pack("<IHHHHHHIIIHHHHHII", 0x02014B50, 0x031E, 20, 0, method, 0, 0x21, crc, len(data), size,
                               len(name), 0, 0, 0, 0, m.get("attr", FILE), offset) + name
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, len(members), len(members), len(central), len(out), 0)
    path.write_bytes(bytes(out + central + end))
    return path


def bundle_with(path: Path, members: list[dict]) -> Path:
    """A bundle whose manifest lists every member with its true SHA-256 (the last copy's, for a name twice)."""
    files = {m["name"]: hashlib.sha256(m["data"]).hexdigest() for m in members}
    manifest = {"format": "auditor.bundle/1", "only_flagged": False, "files": files}
    return raw_zip(path, [*members, {"name": "manifest.json", "data": json.dumps(manifest).encode()}])


GOOD = {"name": "clip.evidence.json", "data": b'{"schema": "auditor.evidence/1"}'}


def verify(path: Path):
    r = runner.invoke(app, ["verify", str(path)])
    assert "Traceback" not in r.stdout + r.stderr and r.exception is None or isinstance(r.exception, SystemExit)
    return r


def test_a_well_formed_bundle_still_verifies(tmp_path):
    r = verify(bundle_with(tmp_path / "ok.zip", [GOOD]))
    assert r.exit_code == 0, r.stdout


@pytest.mark.parametrize("member", [
    {"name": "../../evil.sh", "data": b"#!/bin/sh\nrm -rf ~\n"},
    {"name": "/tmp/abs_evil.txt", "data": b"absolute"},
    {"name": "frames/..\\..\\evil.bat", "data": b"windows"},
    {"name": "clip.frames/etc", "data": b"/etc", "attr": LINK},
], ids=["dot-dot", "absolute", "backslash", "link"])
def test_entries_that_leave_the_folder_or_link_out_do_not_verify(tmp_path, member):
    r = verify(bundle_with(tmp_path / "evil.zip", [GOOD, member]))
    assert r.exit_code == 1 and "FAIL" in r.stdout, r.stdout
    assert member["name"] in r.stdout


def test_a_file_twice_under_one_name_does_not_verify(tmp_path):
    forged = {"name": "clip.evidence.json", "data": b'{"schema": "auditor.evidence/1", "forged": true}'}
    r = verify(bundle_with(tmp_path / "twice.zip", [forged, GOOD]))
    assert r.exit_code == 1 and "clip.evidence.json" in r.stdout and "twice" in r.stdout, r.stdout


def zero_bomb(size: int) -> bytes:
    """Raw deflate of `size` zero bytes, a few kilobytes a gigabyte: one flushed block repeated."""
    chunk = 1 << 20
    c = zlib.compressobj(9, zlib.DEFLATED, -15)
    block = c.compress(b"\0" * chunk) + c.flush(zlib.Z_FULL_FLUSH)
    return block * (size // chunk) + b"\x03\x00"


def test_a_zip_bomb_is_refused_without_reading_it_into_memory(tmp_path):
    size = 3 << 30
    bomb = {"name": "clip.report.pdf", "data": zero_bomb(size), "size": size, "method": 8}
    path = bundle_with(tmp_path / "bomb.zip", [GOOD, bomb])
    assert path.stat().st_size < 8 << 20

    def limit():  # a process allowed 2.5 GiB: reading the member whole would be a MemoryError
        resource.setrlimit(resource.RLIMIT_AS, (5 << 29, 5 << 29))

    r = subprocess.run([sys.executable, "-m", "auditor", "verify", str(path)], capture_output=True, text=True,
                       timeout=120, preexec_fn=limit, env=dict(os.environ, PYTHONPATH=str(ROOT)))
    assert r.returncode == 1, r.stdout + r.stderr[-2000:]
    assert "Traceback" not in r.stderr and "MemoryError" not in r.stderr
    assert "clip.report.pdf" in r.stdout and "too large" in r.stdout, r.stdout
