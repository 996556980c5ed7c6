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
- VSC matching-track AP (`vsc_matching_ap`): the main metric of the Video Similarity Challenge
  2022's matching track (facebookresearch/vsc2022, vsc/metrics.py, `match_metric`), on the same
  predictions. No IoU threshold: precision and recall are the lengths of overlap of the predicted
  and the truth boxes, measured along the query and the reference timelines and combined by a
  geometric mean; AP integrates precision over recall as the predictions ranked by score are
  added. It rewards covering the copied spans, where segment AP counts whole segments found.
- Clip-level recall and false-positive rate: a clip counts as detected when its evidence verdict
  is flagged (with --evidence), or else when matches.csv has any row for it.
- Per-transform recall: of the positive clips, by the truth's `transform` column; false
  positives per kind of negative.
- With `split`, only the queries whose truth rows carry that `split` value count (an evaluation
  set is split so that thresholds are chosen on one part and figures reported on another).
"""

from __future__ import annotations

import csv
import itertools
import math
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


def _merged(spans: list[tuple[float, float]]) -> list[tuple[float, float]]:
    """The union of intervals, as disjoint intervals in order (vsc2022's `Intervals._dedup`)."""
    out: list[tuple[float, float]] = []
    for start, end in sorted(spans):
        if out and start <= out[-1][1]:
            out[-1] = (out[-1][0], max(end, out[-1][1]))
        else:
            out.append((start, end))
    return out


def _length(spans: list[tuple[float, float]]) -> float:
    return sum(end - start for start, end in spans)


def _is_still(b: Interval2D) -> bool:
    return b.re - b.rs <= 0


def _unions(boxes: list[Interval2D], axis: int) -> tuple[list[tuple[float, float]], ...]:
    """The union of boxes' intervals on the query (0) or the reference (1) axis. On the reference
    axis, a still's query interval stands in for its reference interval, in a union of its own
    (query times are not reference times)."""
    if axis == 0:
        return (_merged([(b.qs, b.qe) for b in boxes]),)
    return (_merged([(b.rs, b.re) for b in boxes if not _is_still(b)]),
            _merged([(b.qs, b.qe) for b in boxes if _is_still(b)]))


def _boxes_overlap(a: Interval2D, b: Interval2D) -> bool:
    """Whether two boxes share an area (vsc2022's `Match.overlaps`), or, when either is a still,
    whether their query intervals share a length."""
    q = min(a.qe, b.qe) - max(a.qs, b.qs)
    if _is_still(a) or _is_still(b):
        return q > 0
    return q > 0 and min(a.re, b.re) - max(a.rs, b.rs) > 0


def vsc_matching_ap(preds: list[Interval2D], truth: list[Interval2D]) -> float:
    """VSC 2022's matching-track metric: a micro average precision whose precision and recall are
    lengths of overlap along the query and the reference timelines, not counts of segments.

    From facebookresearch/vsc2022, vsc/metrics.py, `match_metric` (with `VideoPair` and
    `Intervals`), after VCSL. Predictions are ranked by score, highest first; predictions of
    equal score are added together. Within each (query_id, ref_id) pair, on each axis, the
    predicted intervals are unioned, and so are the intervals of the truth boxes that overlap (share
    an area with) at least one prediction of the pair so far; the pair's intersection is the length
    those two unions share, its predicted length the length of the predictions' union. Summed over
    pairs, per axis: recall = intersection / the length of the union of all truth intervals of each
    pair, precision = intersection / predicted length. Recall and precision are the geometric means
    of the two axes', sqrt(R_q * R_r) and sqrt(P_q * P_r), and AP = sum over score levels of
    precision x the increase of recall. Truth rows need no score; ids are compared as they are
    (VSC's Q/R prefixes play no part).

    Departures (none touches boxes that all have reference intervals of some length: on those
    this gives vsc2022's figure). A still (a box whose reference interval has no length: a still
    reference has no timeline) is measured on the query axis alone, as `overlap_iou` does:
    vsc2022 would never find one, its boxes having no area. It overlaps another box when their
    query intervals share a length, and on the reference axis its query interval stands in for its
    reference interval, unioned apart from reference times, so that a query copying a still counts
    the same on both axes. Where vsc2022 divides by zero, this returns 0.0 (no truth, or truth of
    no length) or takes a precision of 0 (predictions of no length so far).
    """
    gts_by_pair: defaultdict[tuple[str, str], list[Interval2D]] = defaultdict(list)
    for t in truth:
        gts_by_pair[(t.query_id, t.ref_id)].append(t)
    axes = (0, 1)
    gt_total = [sum(_length(u) for gts in gts_by_pair.values() for u in _unions(gts, a)) for a in axes]
    if not all(v > 0 for v in gt_total):
        return 0.0
    pair_preds: defaultdict[tuple[str, str], list[Interval2D]] = defaultdict(list)
    pair_seen: defaultdict[tuple[str, str], set[int]] = defaultdict(set)  # truth boxes overlapped so far
    pair_inter: defaultdict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    pair_total: defaultdict[tuple[str, str], list[float]] = defaultdict(lambda: [0.0, 0.0])
    inter = [0.0, 0.0]
    total = [0.0, 0.0]
    recall = ap = 0.0
    ranked = sorted(preds, key=lambda p: p.score, reverse=True)
    for _, group in itertools.groupby(ranked, key=lambda p: p.score):
        for p in group:
            key = (p.query_id, p.ref_id)
            pair_preds[key].append(p)
            gts = gts_by_pair.get(key, [])
            pair_seen[key].update(i for i, t in enumerate(gts) if _boxes_overlap(p, t))
            for a in axes:
                pus = _unions(pair_preds[key], a)
                gus = _unions([gts[i] for i in sorted(pair_seen[key])], a)
                # |P n G| = |P| + |G| - |P u G|, as vsc2022's Intervals.intersect_length (rounding
                # can take it a hair below 0 where P and G are disjoint)
                i_len = sum(max(0.0, _length(pu) + _length(gu) - _length(_merged(pu + gu))) for pu, gu in zip(pus, gus))
                p_len = sum(_length(pu) for pu in pus)
                inter[a] += i_len - pair_inter[key][a]
                total[a] += p_len - pair_total[key][a]
                pair_inter[key][a], pair_total[key][a] = i_len, p_len
        new_recall = math.sqrt(max(0.0, (inter[0] / gt_total[0]) * (inter[1] / gt_total[1])))
        precision = math.sqrt(max(0.0, math.prod(inter[a] / total[a] if total[a] > 0 else 0.0 for a in axes)))
        ap += precision * (new_recall - recall)
        recall = new_recall
    return ap


@dataclass
class EvalResult:
    segment_ap: float
    vsc_matching_ap: float
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
        vsc_matching_ap=vsc_matching_ap(preds, truth_segs),
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
