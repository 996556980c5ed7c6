"""Clips that share a file name never share an id, within one scan or across scans into one folder,
and the folder's CSVs list every clip whose evidence it holds, however many scans wrote there."""

import csv
import json
import threading

import pytest
from helpers import write_copy, write_scene

from auditor.scan.batch import run_batch
from auditor.scan.inputs import query_ids


def read_csv(path):
    with open(path, newline="", encoding="utf-8") as f:
        return list(csv.DictReader(f))


@pytest.fixture(scope="module")
def clips(tmp_path_factory):
    d = tmp_path_factory.mktemp("same-names")
    return {
        "a/x": write_copy(d / "a" / "x.mp4", 11, 3.0, 5.5, 0.5, 0.5),  # a copy of Star Courier
        "b/x": write_scene(d / "b" / "x.mp4", 95, 3.0, size=(320, 180)),  # unrelated
        "c/x-1": write_copy(d / "c" / "x-1.mp4", 11, 4.0, 6.5, 0.5, 0.5),
        "a/clip": write_copy(d / "a" / "clip.mp4", 11, 2.0, 4.5, 0.5, 0.5),
        "b/clip": write_scene(d / "b" / "clip.mp4", 96, 3.0, size=(320, 180)),
    }


def _evidence(out):
    return {p.name[: -len(".evidence.json")]: json.loads(p.read_text()) for p in out.glob("*.evidence.json")}


def test_ids_never_collide_with_another_input_s_stem():
    from pathlib import Path

    ids = query_ids([Path("a/x.mp4"), Path("b/x.mp4"), Path("c/x-1.mp4")])
    assert len(set(ids)) == 3 and ids[2] == "x-1"


def test_one_scan_of_clips_sharing_a_name_keeps_each_clip_s_evidence(clips, pdq_index, pdq_config, tmp_path):
    out = tmp_path / "out"
    given = [clips["a/x"], clips["b/x"], clips["c/x-1"]]
    report = run_batch(given, pdq_index, out, pdq_config)
    ids = [o.query_id for o in report.outcomes]
    assert len(set(ids)) == 3, ids
    evidence = _evidence(out)
    assert len(evidence) == 3
    for o, path in zip(report.outcomes, given):
        assert evidence[o.query_id]["clip"]["path"] == str(path)  # each id's evidence is its own clip's
    summary = read_csv(out / "summary.csv")
    assert sorted(r["query_id"] for r in summary) == sorted(ids)
    flagged = {q for q, ev in evidence.items() if any(w["segments"] for w in ev.get("works", []))}
    assert {r["query_id"] for r in read_csv(out / "matches.csv")} == flagged
    assert len(flagged) == 2


def test_a_later_scan_into_the_same_folder_never_replaces_another_clip_s_evidence(clips, pdq_index, pdq_config,
                                                                                   tmp_path):
    out = tmp_path / "out"
    first = run_batch([clips["a/clip"]], pdq_index, out, pdq_config).outcomes[0]
    second = run_batch([clips["b/clip"]], pdq_index, out, pdq_config).outcomes[0]
    assert first.query_id != second.query_id
    evidence = _evidence(out)
    assert evidence[first.query_id]["clip"]["path"] == str(clips["a/clip"])
    assert evidence[second.query_id]["clip"]["path"] == str(clips["b/clip"])
    assert (out / f"{first.query_id}.frames").is_dir() and not (out / f"{second.query_id}.frames").exists()
    # the same clip again resumes under its own id
    again = run_batch([clips["a/clip"]], pdq_index, out, pdq_config).outcomes[0]
    assert again.query_id == first.query_id and again.status == "skipped"
    assert len(_evidence(out)) == 2


def test_the_csvs_list_every_clip_of_the_folder_after_scans_one_after_the_other(clips, pdq_index, pdq_config,
                                                                                  tmp_path):
    out = tmp_path / "out"
    run_batch([clips["a/x"], clips["b/x"]], pdq_index, out, pdq_config)
    run_batch([clips["c/x-1"], clips["a/clip"]], pdq_index, out, pdq_config)
    evidence = _evidence(out)
    assert len(evidence) == 4
    assert sorted(r["query_id"] for r in read_csv(out / "summary.csv")) == sorted(evidence)
    matched = {q for q, ev in evidence.items() if any(w["segments"] for w in ev.get("works", []))}
    assert {r["query_id"] for r in read_csv(out / "matches.csv")} == matched and len(matched) == 3


def test_the_csvs_list_every_clip_of_the_folder_after_scans_at_once(clips, pdq_index, pdq_config, tmp_path):
    out = tmp_path / "out"
    runs = [[clips["a/x"], clips["b/x"], clips["a/clip"]], [clips["c/x-1"], clips["b/clip"]]]
    threads = [threading.Thread(target=run_batch, args=(r, pdq_index, out, pdq_config)) for r in runs]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    evidence = _evidence(out)
    assert len(evidence) == 5
    assert sorted(r["query_id"] for r in read_csv(out / "summary.csv")) == sorted(evidence)
