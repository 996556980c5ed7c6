"""Evaluation of scan results against a truth file.

Truth CSV columns: `query_id,ref_id,query_start,query_end,ref_start,ref_end[,transform][,split]`.
A query with no copied segment (a negative) has one row with an empty ref_id; every query the
evaluation should count must appear at least once.

Measures:
- Segment average precision (micro, VSC-style): predicted segments from matches.csv, pooled over
  all queries and ranked by score, are matched one to one to truth segments of the same
  (query_id, ref_id) when their overlap IoU >= `iou` (default 0.5). Overlap IoU is the IoU of the
  boxes [query_start, query_end] x [ref_start, ref_end]; when either reference interval has no
  length (a still), it is the IoU of the query intervals alone. AP = sum over true positives of
  the precision at their rank, divided by the number of truth segments.
- Clip-level recall and false-positive rate: a clip counts as detected when its evidence verdict
  is flagged (with --evidence), or else when matches.csv has any row for it.
- Per-transform recall: of the positive clips, by the truth's `transform` column; false
  positives per kind of negative.
- With `split`, only the queries whose truth rows carry that `split` value count (an evaluation
  set is split so that thresholds are chosen on one part and figures reported on another).
"""

from __future__ import annotations

import csv
from collections import defaultdict
from dataclasses import dataclass, field
from pathlib import Path

from .errors import UsageError
from .evidence.files import evidence_path, read_evidence, unescape_cell


@dataclass
class Interval2D:
    query_id: str
    ref_id: str
    qs: float
    qe: float
    rs: float
    re: float
    score: float = 0.0
    transform: str = ""


def _iou1(a0, a1, b0, b1) -> float:
    inter = max(0.0, min(a1, b1) - max(a0, b0))
    union = max(a1, b1) - min(a0, b0)
    return inter / union if union > 0 else 0.0


def overlap_iou(p: Interval2D, t: Interval2D) -> float:
    q = _iou1(p.qs, p.qe, t.qs, t.qe)
    if p.re - p.rs <= 0 or t.re - t.rs <= 0:
        return q
    qi = max(0.0, min(p.qe, t.qe) - max(p.qs, t.qs))
    ri = max(0.0, min(p.re, t.re) - max(p.rs, t.rs))
    inter = qi * ri
    union = (p.qe - p.qs) * (p.re - p.rs) + (t.qe - t.qs) * (t.re - t.rs) - inter
    return inter / union if union > 0 else 0.0


def _read_rows(path: Path, required: tuple[str, ...]) -> list[dict]:
    try:
        with open(path, newline="", encoding="utf-8") as f:
            reader = csv.DictReader(f)
            missing = [c for c in required if c not in (reader.fieldnames or [])]
            if missing:
                raise UsageError(f"{path}: missing column(s) {', '.join(missing)}")
            return list(reader)
    except OSError as exc:
        raise UsageError(f"{path}: cannot read: {exc.strerror or exc}") from exc


def _f(row: dict, key: str, path: Path, line: int) -> float:
    try:
        return float(row[key])
    except (TypeError, ValueError) as exc:
        raise UsageError(f"{path}:{line}: '{key}' is not a number: {row.get(key)!r}") from exc


TIME_COLS = ("query_start", "query_end", "ref_start", "ref_end")


def _times(row: dict, path: Path, line: int) -> tuple[float, float, float, float]:
    """A row's TIME_COLS, as numbers."""
    qs, qe, rs, re_ = (_f(row, k, path, line) for k in TIME_COLS)
    return qs, qe, rs, re_


def read_truth(path: str | Path, split: str | None = None) -> tuple[list[Interval2D], dict[str, set[str]]]:
    """Truth segments, and every query id with its transforms (negatives included); with
    `split`, only the rows of that split."""
    path = Path(path)
    rows = _read_rows(path, ("query_id", "ref_id") + TIME_COLS)
    if split is not None:
        if rows and "split" not in rows[0]:
            raise UsageError(f"{path}: --split {split}: the truth has no split column")
        rows = [r for r in rows if (r.get("split") or "").strip() == split]
        if not rows:
            raise UsageError(f"{path}: no rows of split {split!r}")
    segments: list[Interval2D] = []
    queries: defaultdict[str, set[str]] = defaultdict(set)
    for line, r in enumerate(rows, start=2):
        qid = r["query_id"].strip()
        transform = (r.get("transform") or "").strip()
        queries[qid]
        if transform:
            queries[qid].add(transform)
        if r["ref_id"].strip():
            segments.append(Interval2D(qid, r["ref_id"].strip(), *_times(r, path, line), transform=transform))
    if not queries:
        raise UsageError(f"{path}: no rows")
    return segments, dict(queries)


def read_matches(path: str | Path) -> list[Interval2D]:
    path = Path(path)
    rows = _read_rows(path, ("query_id", "ref_id") + TIME_COLS + ("score",))
    return [
        Interval2D(unescape_cell(r["query_id"]), unescape_cell(r["ref_id"]), *_times(r, path, i), score=_f(r, "score", path, i))
        for i, r in enumerate(rows, start=2)
    ]


def segment_ap(preds: list[Interval2D], truth: list[Interval2D], iou: float) -> tuple[float, set[int]]:
    """Micro AP; also the indices of truth segments that were found."""
    by_pair = defaultdict(list)
    for i, t in enumerate(truth):
        by_pair[(t.query_id, t.ref_id)].append(i)
    used: set[int] = set()
    tp = 0
    ap = 0.0
    for rank, p in enumerate(sorted(preds, key=lambda p: -p.score), start=1):
        best, best_iou = None, iou
        for i in by_pair.get((p.query_id, p.ref_id), []):
            if i not in used:
                v = overlap_iou(p, truth[i])
                if v >= best_iou:
                    best, best_iou = i, v
        if best is not None:
            used.add(best)
            tp += 1
            ap += tp / rank
    return (ap / len(truth) if truth else 0.0), used


@dataclass
class EvalResult:
    segment_ap: float
    iou: float
    truth_segments: int
    predicted_segments: int
    segments_found: int
    positives: int
    negatives: int
    clip_recall: float
    clip_fpr: float
    decision: str
    per_transform: dict = field(default_factory=dict)
    missed: list = field(default_factory=list)
    false_positives: list = field(default_factory=list)
    negatives_per_kind: dict = field(default_factory=dict)  # kind of negative -> (flagged, clips)
    split: str | None = None

    def to_dict(self) -> dict:
        return self.__dict__.copy()


def evaluate(matches: str | Path, truth: str | Path, evidence_dir: str | Path | None = None, iou: float = 0.5,
             split: str | None = None) -> EvalResult:
    truth_segs, queries = read_truth(truth, split)
    preds = [p for p in read_matches(matches) if p.query_id in queries]
    ap, found = segment_ap(preds, truth_segs, iou)
    positive = {t.query_id for t in truth_segs}
    negative = set(queries) - positive
    if evidence_dir is not None:
        detected = set()
        for qid in queries:
            f = evidence_path(evidence_dir, qid)
            if f.is_file() and read_evidence(f).verdict.flagged:
                detected.add(qid)
        decision = "evidence verdict flagged"
    else:
        detected = {p.query_id for p in preds}
        decision = "any row in matches.csv"
    per_transform = {}
    transforms = sorted({t for q in positive for t in queries[q]})
    for name in transforms:
        qs = [q for q in positive if name in queries[q]]
        segs = [i for i, t in enumerate(truth_segs) if t.transform == name]
        per_transform[name] = {
            "clips": len(qs),
            "clip_recall": sum(q in detected for q in qs) / len(qs),
            "segment_recall": (sum(i in found for i in segs) / len(segs)) if segs else None,
        }
    kinds = sorted({t for q in negative for t in queries[q]})
    negatives_per_kind = {k: (sum(q in detected for q in negative if k in queries[q]),
                              sum(1 for q in negative if k in queries[q])) for k in kinds}
    return EvalResult(
        segment_ap=ap,
        iou=iou,
        truth_segments=len(truth_segs),
        predicted_segments=len(preds),
        segments_found=len(found),
        positives=len(positive),
        negatives=len(negative),
        clip_recall=(len(positive & detected) / len(positive)) if positive else 0.0,
        clip_fpr=(len(negative & detected) / len(negative)) if negative else 0.0,
        decision=decision,
        per_transform=per_transform,
        missed=sorted(positive - detected),
        false_positives=sorted(negative & detected),
        negatives_per_kind=negatives_per_kind,
        split=split,
    )
