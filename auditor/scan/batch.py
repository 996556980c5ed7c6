"""Batch scans: many clips, resumable, on one engine, a bad clip costing itself alone.

- Inputs: see inputs.py (files, folders, patterns, lists).
- Resumable: each clip's evidence is written atomically as soon as it is done. A re-run skips a
  clip whose evidence already exists for the same clip SHA-256, index manifest and parameters
  (`force=True` redoes it). An interrupted run loses nothing already written.
- Engines and their one error policy: see engines.py. With a worker pool at most
  `2 x workers` clips are in flight, so memory stays bounded whatever the number of clips.
- Ids: a clip's id is its file stem unless another clip of the batch or of the folder holds it
  (folder.py): a scan never replaces another clip's evidence.
- `matches.csv` and `summary.csv` list every clip of the folder, whichever scan wrote its evidence,
  this batch's failures and those skipped because they were already done; they are rebuilt under
  the folder's lock, atomically, as clips finish (at most every `CSV_EVERY_S` seconds, so a run
  killed outright leaves them) and at the end (also on Ctrl-C).
"""

from __future__ import annotations

import hashlib
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

from reference_index.store import sha256_file

from ..errors import AuditorError, InputError, UsageError
from ..evidence.files import (
    SUMMARY_COLUMNS,
    check_writable,
    evidence_path,
    matches_rows,
    read_evidence,
    strongest,
    write_evidence,
    write_matches_csv,
    write_summary_csv,
)
from ..evidence.records import Evidence, Verdict
from ..extras import require
from ..media.provenance import read_context
from ..media.reader import not_a_file
from ..names import printable
from ..settings import Configuration
from . import engines
from .folder import Claims, FolderEvidence, earlier_failures, folder_lock, report_of

CSV_EVERY_S = 2.0  # summary.csv and matches.csv are rewritten at most this often while a batch runs


class ClipStatus(StrEnum):
    OK = "ok"
    SKIPPED = "skipped"  # evidence of an earlier run, for the same clip, index and parameters
    ERROR = "error"


@dataclass
class ClipOutcome:
    path: str
    query_id: str
    status: ClipStatus
    evidence_path: str | None = None
    verdict: Verdict | None = None
    top_work: str | None = None
    segments: int = 0
    error: str | None = None
    report_path: str | None = None
    frames: int = 0  # frames sampled (0 for skipped and failed clips)
    strongest: dict = field(default_factory=dict)  # the strongest match's catalogue words and timecodes

    def summary_row(self, folder: str | Path) -> dict:
        """The clip's row of summary.csv; files are named relative to `folder`, the summary's."""
        v = self.verdict
        return {
            "query_id": self.query_id,
            "path": self.path,
            "status": str(self.status),
            "flagged": "" if v is None else str(v.flagged).lower(),
            "level": "" if v is None else str(v.level),
            "score": "" if v is None else f"{v.score:.6f}",
            "top_work": self.top_work or "",
            "segments": self.segments if v is not None else "",
            "evidence": _relative(self.evidence_path, folder),
            "error": self.error or "",
            "report": _relative(self.report_path, folder),
            **(self.strongest or dict.fromkeys(SUMMARY_COLUMNS[11:], "")),
        }


def _relative(path: str | None, folder: str | Path) -> str:
    return "" if not path else os.path.relpath(path, folder)


@dataclass
class ScanReport:
    out_dir: str
    outcomes: list[ClipOutcome] = field(default_factory=list)  # in the order of the inputs, once the run ends
    matches_csv: str = ""
    summary_csv: str = ""

    @property
    def failed(self) -> list[ClipOutcome]:
        return [o for o in self.outcomes if o.status == ClipStatus.ERROR]

    def count(self, status: ClipStatus) -> int:
        return sum(o.status == status for o in self.outcomes)


# -- resuming --------------------------------------------------------------------------------
def parameters_sha256(parameters: dict) -> str:
    """The SHA-256 of a resolved configuration's values (`Config.model_dump()`, as evidence keeps it)."""
    return hashlib.sha256(json.dumps(parameters, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def finished_evidence(out_dir: Path, query_id: str, clip_sha: str, manifest_sha: str, params_sha: str) -> Evidence | None:
    """The evidence an earlier run wrote for this very clip, index and parameters, or None."""
    try:
        ev = read_evidence(evidence_path(out_dir, query_id))
    except InputError:
        return None
    same = (ev.clip.sha256 == clip_sha and ev.index.manifest_sha256 == manifest_sha
            and parameters_sha256(ev.tool.parameters) == params_sha)
    return ev if same else None


# -- the batch -------------------------------------------------------------------------------
class _Results:
    """What a batch has finished so far: the outcomes, matches.csv's rows, and the CSVs kept up to
    date as clips finish (at most every CSV_EVERY_S seconds, so a run killed outright leaves CSVs
    listing what it finished)."""

    def __init__(self, out: Path, pdf: dict | None, progress: Callable[[ClipOutcome], None] | None):
        self.out, self.pdf, self.progress = out, pdf, progress
        self.report = ScanReport(str(out), matches_csv=str(out / "matches.csv"), summary_csv=str(out / "summary.csv"))
        self.evidence = FolderEvidence(out)
        self.earlier = earlier_failures(out / "summary.csv")  # failures of earlier scans into this folder
        self.written = -float("inf")

    def write_csvs(self) -> None:
        """Both CSVs from every evidence file of the folder (folder.py), under its lock."""
        with folder_lock(self.out):
            mine = {o.query_id: o for o in self.report.outcomes}
            rows: list[dict] = []
            summary = [o.summary_row(self.out) for o in self.report.outcomes]
            for qid, ev in sorted(self.evidence.read().items()):
                if isinstance(ev, str):
                    if qid not in mine:
                        summary.append(ClipOutcome("", qid, ClipStatus.ERROR, evidence_path=str(evidence_path(self.out, qid)),
                                                   error=f"evidence cannot be read: {ev}").summary_row(self.out))
                    continue
                rows.extend(matches_rows(ev))
                if qid not in mine:
                    summary.append(_outcome_of(self.out, qid, ev).summary_row(self.out))
            listed = {r["query_id"] for r in summary}
            summary += [r for r in self.earlier if r["query_id"] not in listed]
            write_matches_csv(self.report.matches_csv, rows)
            write_summary_csv(self.report.summary_csv, summary)
        self.written = time.monotonic()

    def _finish(self, outcome: ClipOutcome, ev: Evidence | None) -> None:
        if ev is not None:
            if self.pdf is not None and ev.verdict.flagged:
                _render(outcome, self.pdf)
        self.report.outcomes.append(outcome)
        if time.monotonic() - self.written >= CSV_EVERY_S:
            self.write_csvs()
        if self.progress:
            self.progress(outcome)

    def done(self, path: Path, qid: str, ev: Evidence, status: ClipStatus = ClipStatus.OK) -> None:
        try:
            written = evidence_path(self.out, qid) if status == ClipStatus.SKIPPED else write_evidence(self.out, ev)
        except InputError as exc:  # nothing a reader could trust is written
            self.failed(path, qid, exc.reason)
            return
        outcome = ClipOutcome(
            printable(path), qid, status, evidence_path=str(written), verdict=ev.verdict,
            top_work=ev.works[0].work if ev.works else None, segments=len(ev.segments()),
            frames=0 if status == ClipStatus.SKIPPED else ev.clip.frames_sampled, strongest=strongest(ev),
        )
        self._finish(outcome, ev)

    def failed(self, path: Path, qid: str, reason: str) -> None:
        self._finish(ClipOutcome(printable(path), qid, ClipStatus.ERROR, error=" ".join(str(reason).split())), None)

    def settle(self, path: Path, qid: str, status: str, value) -> None:
        """What an engine reports for a clip: ("ok", its evidence) or ("error", the reason)."""
        self.done(path, qid, value) if status == "ok" else self.failed(path, qid, value)


def run_batch(
    paths: Sequence[str | Path],
    index_path: str | Path,
    out_dir: str | Path,
    config: Configuration,
    engine: engines.Engine | None = None,
    *,
    force: bool = False,
    pdf: dict | None = None,
    context_file: str | Path | None = None,
    progress: Callable[[ClipOutcome], None] | None = None,
) -> ScanReport:
    """Scan every clip (see the module docstring) on `engine` (default: one after another in
    this process); write evidence, matches.csv and summary.csv into `out_dir`.

    `force`: scan again clips whose evidence exists for the same clip, index and parameters.
    `pdf`: keyword arguments of `report.render_report` (lang, redact_references, sign,
    passphrase); with it, every flagged clip also gets its evidence PDF. A report that cannot
    be rendered marks that clip as failed, with the reason; its evidence stays.
    `context_file`: the generation context of every clip (else each clip's own sidecar).
    `progress`: called with each clip's outcome as it finishes."""
    engine = engine or engines.Local()
    out = Path(out_dir)
    if out.exists() and not out.is_dir():
        raise UsageError(f"--out {out}: is a file, not a folder")
    out.mkdir(parents=True, exist_ok=True)
    check_writable(out, "--out", "evidence and CSVs are written here")
    if isinstance(engine, engines.OnRay):
        require("ray")
    if context_file is not None:
        try:
            read_context(context_file)  # a malformed context file stops the batch before it starts
        except InputError as exc:
            raise UsageError(f"--context {exc}") from None
        context_file = str(context_file)
    clips = [Path(p) for p in paths]
    shas: dict[Path, str | None] = {}
    unread: dict[Path, str] = {}

    def sha_of(path: Path) -> str | None:
        if path not in shas:
            try:
                shas[path] = sha256_file(path)
            except OSError as exc:
                shas[path], unread[path] = None, f"cannot read: {exc.strerror or exc}"
        return shas[path]

    results = _Results(out, pdf, progress)
    claims = Claims(out)
    ids = claims.assign(clips, sha_of)
    with engines.session(engine, index_path, config, context_file) as run:
        try:
            todo = _not_yet_done(clips, ids, out, force, run.manifest_sha256, parameters_sha256(config.model_dump()),
                                 results, sha_of, unread)
            run.scan(todo, str(out), results.settle, results.failed)
        finally:
            # Also on Ctrl-C and when the run stops: the CSVs list every clip finished so far.
            # Outcomes arrive as clips finish; the report lists them in the order of the inputs.
            given: dict[tuple[str, str], int] = {}  # (path as printed, query id) -> its place among the inputs
            for i, key in enumerate(zip(map(printable, clips), ids)):
                given.setdefault(key, i)
            results.report.outcomes.sort(key=lambda o: given.get((o.path, o.query_id), len(given)))
            results.write_csvs()
            claims.release()
    return results.report


def _outcome_of(out: Path, qid: str, ev: Evidence) -> ClipOutcome:
    """The summary's view of a clip another scan left in the folder."""
    return ClipOutcome(ev.clip.path, qid, ClipStatus.OK, evidence_path=str(evidence_path(out, qid)), verdict=ev.verdict,
                       top_work=ev.works[0].work if ev.works else None, segments=len(ev.segments()),
                       strongest=strongest(ev), report_path=report_of(out, qid))


def _not_yet_done(paths: list[Path], ids: list[str], out: Path, force: bool, manifest_sha: str, params_sha: str,
                  results: _Results, sha_of: Callable[[Path], str | None],
                  unread: dict[Path, str]) -> list[tuple[Path, str]]:
    """The clips to scan: not files (refused now) and clips an earlier run finished (skipped) are
    settled here, the rest returned."""
    todo: list[tuple[Path, str]] = []
    for path, qid in zip(paths, ids):
        problem = not_a_file(path)
        if problem:
            results.failed(path, qid, problem)
            continue
        if not force and evidence_path(out, qid).is_file():  # hash only when there is something to match
            clip_sha = sha_of(path)
            if clip_sha is None:
                results.failed(path, qid, unread.get(path, "cannot read"))
                continue
            ev = finished_evidence(out, qid, clip_sha, manifest_sha, params_sha)
            if ev is not None:
                results.done(path, qid, ev, status=ClipStatus.SKIPPED)
                continue
        todo.append((path, qid))
    return todo


def _render(outcome: ClipOutcome, pdf: dict) -> None:
    from ..report.pdf import default_report_path, render_report

    assert outcome.evidence_path is not None  # a report is rendered from evidence written
    existing = default_report_path(outcome.evidence_path, pdf.get("lang", "en"))
    if outcome.status == ClipStatus.SKIPPED and existing.is_file():
        outcome.report_path = str(existing)  # rendered by the earlier run from this same evidence
        return
    try:
        outcome.report_path = str(render_report(outcome.evidence_path, **pdf))
    except (AuditorError, OSError, ValueError) as exc:
        outcome.status, outcome.error = ClipStatus.ERROR, f"evidence written, report failed: {exc}"
    except Exception as exc:  # whatever one clip's report does to a library costs that clip alone
        if engines.stops_the_run(exc):
            raise
        outcome.status, outcome.error = ClipStatus.ERROR, f"evidence written, report failed: {engines.unexpected(exc)}"
