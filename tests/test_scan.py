import csv
import json
import re

import pytest
from helpers import write_copy
from typer.testing import CliRunner

from auditor.cli import app
from auditor.config import load_config
from auditor.evidence.files import MATCHES_COLUMNS
from auditor.evidence.records import SCHEMA
from auditor.scan.batch import run_batch

runner = CliRunner()


def read_csv(path):
    with open(path, newline="") as f:
        return list(csv.DictReader(f))


def test_a_reencoded_edited_copy_is_found_at_the_right_times(footage, pdq_index, pdq_config, tmp_path):
    report = run_batch([footage["copy"], footage["unrelated"]], pdq_index, tmp_path, pdq_config)
    assert [o.status for o in report.outcomes] == ["ok", "ok"]
    ev = json.loads((tmp_path / "copy.evidence.json").read_text())
    assert ev["schema"] == SCHEMA
    assert ev["verdict"]["flagged"] is True
    assert ev["verdict"]["level"] in ("near-identical copy", "strong resemblance")
    work = ev["works"][0]
    assert (work["work"], work["owner"]) == ("Star Courier", "Demo Studio")
    seg = work["segments"][0]
    # the copy shows ref seconds 3.0-7.0 of ep01 from second 2.0 of the suspect
    assert seg["ref_id"] == "ep01"
    assert seg["query_start"] == pytest.approx(2.0, abs=0.45)
    assert seg["query_end"] == pytest.approx(6.0, abs=0.45)
    assert seg["ref_start"] == pytest.approx(3.0, abs=0.45)
    assert seg["ref_end"] == pytest.approx(7.0, abs=0.45)
    assert (seg["ref_start"] - seg["query_start"]) == pytest.approx(1.0, abs=0.25)
    assert work["matched_seconds"] == pytest.approx(4.0, abs=0.8)
    assert work["share_of_clip"] == pytest.approx(4.0 / 7.0, abs=0.12)
    assert ev["verdict"]["rule"] and "PDQ" in ev["verdict"]["rule"]
    # the record says where it came from and how
    assert ev["clip"]["sha256"] and ev["clip"]["duration_s"] == pytest.approx(7.0, abs=0.1)
    assert ev["index"]["manifest_sha256"] and ev["index"]["id"]
    assert ev["tool"]["parameters"]["channels"]["pdq"]["max_distance"] == 31
    assert set(ev["tool"]["channels"]) == {"pdq"}
    # a short clip: 10 frames a second (sampling.query.short_clip_fps) and its last frame
    assert len(ev["frames"]) == ev["clip"]["frames_sampled"] == 71 and ev["clip"]["sampling_fps"] == 10.0
    assert ev["frames"][15]["top"]["pdq"][0]["ref_id"] == "ep01"

    unrelated = json.loads((tmp_path / "unrelated.evidence.json").read_text())
    assert unrelated["verdict"] == {**unrelated["verdict"], "flagged": False, "level": "no match"}
    assert unrelated["works"] == []

    rows = read_csv(tmp_path / "matches.csv")
    assert tuple(rows[0].keys()) == MATCHES_COLUMNS
    assert {r["query_id"] for r in rows} == {"copy"} and rows[0]["ref_id"] == "ep01"
    summary = {r["query_id"]: r for r in read_csv(tmp_path / "summary.csv")}
    assert summary["copy"]["flagged"] == "true" and summary["unrelated"]["flagged"] == "false"


def test_a_copy_of_two_works_gives_two_segments(footage, pdq_index, pdq_config, tmp_path):
    from auditor.media import synth

    def frame(t):
        if t < 3.0:
            return synth.scene_frame(12, 1.0 + t)  # ep02 seconds 1-4
        return synth.scene_frame(21, t - 3.0 + 4.0)  # other seconds 4-7

    clip = synth.write_clip(tmp_path / "mix.mp4", frame, 6.0, fps=24.0)
    report = run_batch([clip], pdq_index, tmp_path / "out", pdq_config)
    ev = json.loads(open(report.outcomes[0].evidence_path).read())
    found = {(s["ref_id"], round(s["ref_start"]), round(s["query_start"])) for w in ev["works"] for s in w["segments"]}
    assert ("ep02", 1, 0) in found and ("other", 4, 3) in found
    assert {w["work"] for w in ev["works"]} == {"Star Courier", "Moonlit Garden"}


def test_a_bad_clip_in_a_batch_costs_that_clip_alone(footage, pdq_index, tmp_path):
    bad = tmp_path / "corrupt.mp4"
    bad.write_bytes(b"\x00\x00\x00\x18ftypmp42" + b"garbage" * 100)
    empty = tmp_path / "empty.mp4"
    empty.write_bytes(b"")
    out = tmp_path / "out"
    result = runner.invoke(
        app, ["scan", str(bad), str(footage["copy"]), str(empty), "--index", str(pdq_index), "--out", str(out)]
    )
    assert result.exit_code == 1
    assert "corrupt.mp4" in result.stderr and "empty.mp4: empty file" in result.stderr
    summary = {r["query_id"]: r for r in read_csv(out / "summary.csv")}
    assert summary["corrupt"]["status"] == "error" and "not a readable video" in summary["corrupt"]["error"]
    assert summary["empty"]["status"] == "error"
    assert summary["copy"]["status"] == "ok" and summary["copy"]["flagged"] == "true"
    assert (out / "copy.evidence.json").exists() and not (out / "corrupt.evidence.json").exists()


def test_clips_with_the_same_name_do_not_overwrite_each_other(footage, pdq_index, pdq_config, tmp_path):
    a = write_copy(tmp_path / "a" / "clip.mp4", 11, 3.0, 6.0, 0.5, 0.5)
    b = write_copy(tmp_path / "b" / "clip.mp4", 21, 1.0, 4.0, 0.5, 0.5)
    report = run_batch([a, b], pdq_index, tmp_path / "out", pdq_config)
    ids = [o.query_id for o in report.outcomes]
    assert ids == ["clip-1", "clip-2"]
    works = [json.loads(open(o.evidence_path).read())["works"][0]["work"] for o in report.outcomes]
    assert works == ["Star Courier", "Moonlit Garden"]


def test_cli_index_build_info_and_scan(footage, tmp_path):
    cat = tmp_path / "catalogue.csv"
    refs = footage["refs"]
    cat.write_text(
        "path,work,owner,episode,title,first_published,ref_id,notes\n"
        f"{refs['ep01']},Star Courier,Demo Studio,1,Departure,2024-04-01,sc-01,\n"
        f"{refs['other']},Moonlit Garden,Example Pictures,,,,,\n"
        "missing.mp4,Moonlit Garden,Example Pictures,,,,,\n"
    )
    idx = tmp_path / "idx"
    r = runner.invoke(app, ["index", "build", "--catalogue", str(cat), "--index", str(idx), "--channels", "pdq"])
    assert r.exit_code == 1, r.output  # the missing file is reported, the others indexed
    assert "missing.mp4: no such file" in r.stderr
    assert "2 added, 0 skipped, 1 failed" in r.stdout
    r = runner.invoke(app, ["index", "build", "--catalogue", str(cat), "--index", str(idx)])
    assert "0 added, 2 skipped" in r.stdout  # a re-run skips what is in
    r = runner.invoke(app, ["index", "info", "--index", str(idx), "--json", "--verify"])
    assert r.exit_code == 0, r.output
    info = json.loads(r.stdout)
    assert info["verified"] is True and info["counts"]["videos"] == 2
    assert {w["work"] for w in info["works"]} == {"Star Courier", "Moonlit Garden"}
    assert info["channels"]["pdq"]["structure"].startswith("IndexBinaryIDMap2")
    r = runner.invoke(app, ["scan", str(footage["copy"]), "--index", str(idx), "--out", str(tmp_path / "out")])
    assert r.exit_code == 0, r.output
    assert "copy" in r.stdout and "yes" in r.stdout
    rows = read_csv(tmp_path / "out" / "matches.csv")
    assert rows[0]["ref_id"] == "sc-01"  # the catalogue's ref_id, not the file stem


def test_cli_usage_errors_exit_2(footage, pdq_index, tmp_path):
    r = runner.invoke(app, ["scan", str(footage["copy"]), "--index", str(tmp_path / "nowhere"), "--out", str(tmp_path)])
    assert r.exit_code == 2 and "no such index folder" in r.stderr
    r = runner.invoke(
        app, ["index", "add", str(footage["copy"]), "--index", str(pdq_index), "--work", "X", "--owner", "Y",
              "--channels", "pdq,clip"]
    )
    assert r.exit_code == 2 and "holds channels pdq" in r.stderr
    bad_cfg = tmp_path / "bad.toml"
    bad_cfg.write_text("[segments]\nmin_framez = 3\n")
    r = runner.invoke(app, ["scan", str(footage["copy"]), "--index", str(pdq_index), "--out", str(tmp_path),
                            "--config", str(bad_cfg)])
    assert r.exit_code == 2 and "unknown setting 'segments.min_framez'" in r.stderr
    r = runner.invoke(app, ["index", "add", str(footage["copy"]), "--index", str(tmp_path / "i2"), "--work", "X",
                            "--owner", "Y", "--channels", "pdq,nope"])
    assert r.exit_code == 2 and "unknown channel 'nope'" in r.stderr


def test_stills_match_as_key_art(tmp_path, pdq_config):
    import cv2

    from auditor.indexing.ingest import CatalogueItem, add_items
    from auditor.media import synth

    art = tmp_path / "keyart.png"
    cv2.imwrite(str(art), cv2.cvtColor(synth.scene_frame(31, 0.5, 640, 360), cv2.COLOR_RGB2BGR))
    idx = tmp_path / "idx"
    add_items(idx, [CatalogueItem(art, "Star Courier", "Demo Studio")], pdq_config, ["pdq"])
    # a clip that holds the key art for 3 s between unrelated footage
    clip = synth.write_clip(
        tmp_path / "poster.mp4",
        lambda t: synth.rescale(synth.scene_frame(31, 0.5, 640, 360), 320, 180) if 1 <= t < 4 else synth.scene_frame(50, t),
        5.0,
    )
    report = run_batch([clip], idx, tmp_path / "out", pdq_config)
    seg = json.loads(open(report.outcomes[0].evidence_path).read())["works"][0]["segments"][0]
    assert seg["kind"] == "still" and seg["ref_id"] == "keyart"
    assert seg["query_start"] == pytest.approx(1.0, abs=0.25) and seg["query_end"] == pytest.approx(4.0, abs=0.25)


def test_demo_runs_offline_and_flags_only_the_copy(tmp_path):
    r = runner.invoke(app, ["demo", "--out", str(tmp_path / "demo")])
    assert r.exit_code == 0, r.output
    summary = {row["query_id"]: row for row in read_csv(tmp_path / "demo" / "results" / "summary.csv")}
    assert summary["generated_clip_0042"]["flagged"] == "true"
    assert summary["generated_clip_0043"]["flagged"] == "false"
    assert re.search(r"match seconds 3\.0–7\.[01] of star_courier_ep01", r.stdout), r.stdout


def test_evidence_parameters_follow_the_config(footage, pdq_index, tmp_path):
    cfg = load_config(overrides={"segments": {"min_frames": 100}})
    report = run_batch([footage["copy"]], pdq_index, tmp_path, cfg)
    ev = json.loads(open(report.outcomes[0].evidence_path).read())
    assert ev["tool"]["parameters"]["segments"]["min_frames"] == 100
    assert ev["verdict"]["flagged"] is False  # no segment is long enough: no verdict


def test_an_unexpected_failure_on_one_clip_costs_that_clip_alone(footage, pdq_index, pdq_config, tmp_path, monkeypatch):
    from auditor.scan import scanner as scan_mod

    real = scan_mod.Scanner.scan

    def flaky(self, path, query_id=None, out_dir=None):
        if "unrelated" in str(path):
            raise RuntimeError("decoder exploded")
        return real(self, path, query_id, out_dir)

    monkeypatch.setattr(scan_mod.Scanner, "scan", flaky)
    report = run_batch([footage["unrelated"], footage["copy"]], pdq_index, tmp_path, pdq_config)
    assert [o.status for o in report.outcomes] == ["error", "ok"]
    assert "RuntimeError: decoder exploded" in report.outcomes[0].error


def test_searching_chunk_by_chunk_while_decoding_gives_the_same_evidence(footage, orb_index, cropped_copy, monkeypatch):
    """Each chunk of frames is searched while the next is decoded: the candidates a frame gets
    cannot depend on how the clip was cut into chunks, nor on searching ahead at all."""
    import threading

    from auditor.scan import pipeline
    from auditor.scan.scanner import Scanner

    def frames_and_segments(chunk):
        monkeypatch.setattr(pipeline, "CHUNK", chunk)
        scanner = Scanner(orb_index, load_config())
        try:
            ev = scanner.scan(cropped_copy)
        finally:
            scanner.close()
        segments = [(s.ref_id, s.query_start, s.query_end, s.level) for w in ev.works for s in w.segments]
        return [f.model_dump() for f in ev.frames], segments, ev.runtime.searched["orb"].frames

    whole = frames_and_segments(10_000)  # one chunk: searched after the last frame is described
    assert whole[1] and whole[1][0][0] == "ep01"  # the crop only ORB sees
    assert frames_and_segments(3) == whole
    assert not [t for t in threading.enumerate() if t.name.startswith("auditor-search")]
