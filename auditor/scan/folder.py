"""A results folder several scans share: its lock, the ids its clips hold, and its CSVs.

- The lock: `flock` on `<out>/.auditor.lock`, held while ids are claimed and while the CSVs are
  rebuilt (never while clips are scanned). `flock` belongs to the open file, so closing another
  descriptor of the file does not drop it, and a process that dies releases it.
- Ids: a clip's id is its file stem unless that is another clip's (see `inputs.query_ids`). An id
  belongs to another clip when the folder holds evidence under it of another file (other path or
  other SHA-256, or evidence that cannot be read: it is kept, never replaced), or a running scan
  claims it for another file. Claims are small files in `.claims/`, removed when the scan ends;
  one left by a scan that died names a process that is gone and is ignored.
- The CSVs: `matches.csv` and `summary.csv` are rebuilt from every evidence file in the folder,
  whichever scan wrote it (this scan's outcomes for its own clips; failures of earlier scans kept
  until their clip has evidence), so the folder's CSVs never list fewer clips than it holds.
"""

from __future__ import annotations

import csv
import fcntl
import json
import os
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

from ..errors import InputError
from ..evidence.files import SUFFIX, evidence_files, evidence_path, read_evidence, unescape_cell
from ..evidence.records import Evidence
from ..names import printable
from .inputs import query_ids

LOCK = ".auditor.lock"
CLAIMS = ".claims"


@contextmanager
def folder_lock(out: Path) -> Iterator[None]:
    """The results folder's lock, for as long as the block runs (waits for another scan's)."""
    fd = os.open(out / LOCK, os.O_RDWR | os.O_CREAT, 0o666)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _alive(owner: str) -> bool:
    try:
        os.kill(int(owner.split(":", 1)[0]), 0)
    except (ValueError, ProcessLookupError):
        return False
    except PermissionError:
        return True
    return True


def _where(path: str | Path) -> str:
    return printable(os.path.abspath(os.fspath(path)))


class Claims:
    """The ids one scan holds in a results folder while it runs."""

    def __init__(self, out: Path):
        self.out, self.owner = out, f"{os.getpid()}:{uuid.uuid4().hex}"
        self.mine: list[str] = []

    def _claim_file(self, qid: str) -> Path:
        return self.out / CLAIMS / f"{qid}.json"

    def _free(self, qid: str, clip: Path, sha_of: Callable[[Path], str | None]) -> bool:
        here = _where(clip)
        try:
            claim = json.loads(self._claim_file(qid).read_text(encoding="utf-8"))
            if claim.get("path") != here and claim.get("owner") != self.owner and _alive(str(claim.get("owner", ""))):
                return False
        except (OSError, ValueError, AttributeError):
            pass
        ev_file = evidence_path(self.out, qid)
        if not ev_file.exists():
            return True
        try:
            ev = read_evidence(ev_file)
        except InputError:
            return False  # someone's file, unreadable: kept as it is
        return _where(ev.clip.path) == here and ev.clip.sha256 == sha_of(clip)

    def assign(self, clips: list[Path], sha_of: Callable[[Path], str | None]) -> list[str]:
        """An id for each clip that no other clip of the folder holds, claimed until `release`."""
        (self.out / CLAIMS).mkdir(exist_ok=True)
        with folder_lock(self.out):
            ids = query_ids(clips, taken=lambda qid, i: not self._free(qid, clips[i], sha_of))
            for qid, clip in zip(ids, clips):
                self._claim_file(qid).write_text(json.dumps({"path": _where(clip), "owner": self.owner}),
                                                 encoding="utf-8")
            self.mine = ids
        return ids

    def release(self) -> None:
        with folder_lock(self.out):
            for qid in self.mine:
                f = self._claim_file(qid)
                try:
                    if json.loads(f.read_text(encoding="utf-8")).get("owner") == self.owner:
                        f.unlink()
                except (OSError, ValueError, AttributeError):
                    pass


class FolderEvidence:
    """Every evidence file of a results folder, each read again only when it changed."""

    def __init__(self, out: Path):
        self.out = out
        self._seen: dict[str, tuple[tuple[int, int], Evidence | str]] = {}

    def read(self) -> dict[str, Evidence | str]:
        """{query id: its evidence, or why it cannot be read}."""
        found: dict[str, Evidence | str] = {}
        for name, key in evidence_files(self.out):
            known = self._seen.get(name)
            if known is None or known[0] != key:
                try:
                    known = (key, read_evidence(self.out / name))
                except InputError as exc:
                    known = (key, exc.reason)
                self._seen[name] = known
            found[name[: -len(SUFFIX)]] = known[1]
        return found


def earlier_failures(summary: Path) -> list[dict]:
    """The failed rows of the folder's summary.csv as it stands (before this scan rewrites it)."""
    try:
        with open(summary, newline="", encoding="utf-8") as fh:
            rows = [{k: unescape_cell(v) if isinstance(v, str) else v for k, v in r.items()} for r in csv.DictReader(fh)]
    except (OSError, UnicodeDecodeError, csv.Error):
        return []
    return [r for r in rows if r.get("status") == "error" and r.get("query_id")]


def report_of(out: Path, qid: str) -> str | None:
    """The clip's report in the folder (English first), or None."""
    found = next((p for p in (out / f"{qid}.report.pdf", out / f"{qid}.report.ja.pdf") if p.is_file()), None)
    return str(found) if found else None
