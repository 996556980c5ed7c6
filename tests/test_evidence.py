"""The evidence record as a public contract: its JSON Schema, every field documented, every file
a scan writes valid against it, and every file written so far still read."""

import json

import jsonschema
import pytest
from helpers import FIRST_FORMAT_EVIDENCE
from typer.testing import CliRunner

from auditor.cli import app
from auditor.errors import InputError
from auditor.evidence.files import matches_rows, read_evidence
from auditor.evidence.rules import Level
from auditor.evidence.wording import rule_text
from auditor.scan.batch import run_batch

runner = CliRunner()


def schema() -> dict:
    r = runner.invoke(app, ["schema", "evidence"])
    assert r.exit_code == 0, r.output
    return json.loads(r.stdout)


def test_the_schema_documents_every_field():
    s = schema()
    assert s["title"] == "auditor.evidence/1" and s["$schema"].endswith("2020-12/schema")
    undocumented = []
    for name, definition in [("Evidence", s)] + list(s["$defs"].items()):
        for field, spec in definition.get("properties", {}).items():
            if not spec.get("description"):
                undocumented.append(f"{name}.{field}")
        if "properties" in definition:
            assert definition.get("additionalProperties") is False, name  # nothing outside the contract
    assert not undocumented, undocumented
    assert runner.invoke(app, ["schema", "manifest"]).exit_code == 2


def test_every_evidence_file_a_scan_writes_validates(footage, pdq_index, pdq_config, tmp_path):
    run_batch([footage["copy"], footage["unrelated"]], pdq_index, tmp_path, pdq_config)
    validator = jsonschema.Draft202012Validator(schema())
    files = sorted(tmp_path.glob("*.evidence.json"))
    assert len(files) == 2
    for f in files:
        errors = sorted(validator.iter_errors(json.loads(f.read_text())), key=lambda e: e.path)
        assert not errors, f"{f.name}: {[(list(e.path), e.message) for e in errors[:3]]}"
    # the schema would notice a field outside the contract
    data = json.loads(files[0].read_text())
    data["verdict"]["opinion"] = "looks copied"
    assert not validator.is_valid(data)


def test_the_first_evidence_files_still_read():
    ev = read_evidence(FIRST_FORMAT_EVIDENCE)
    raw = json.loads(FIRST_FORMAT_EVIDENCE.read_text())
    assert ev.verdict.level == Level.NEAR_IDENTICAL and ev.verdict.flagged
    seg = ev.works[0].segments[0]
    old = raw["works"][0]["segments"][0]
    # statistics were {"frames": n, "<name>": value} with the speed among them
    assert seg.channel_stats["pdq"].statistic == "median_distance"
    assert seg.channel_stats["pdq"].value == old["channel_stats"]["pdq"]["median_distance"]
    assert seg.speed == old["channel_stats"]["speed"] and "speed" not in seg.channel_stats
    assert seg.verification.status == "verified" and seg.verification.pairs_checked == old["verification"]["pairs_checked"]
    assert ev.rejected_segments and ev.rejected_segments[0].verification.status == "not verified"
    assert [r["ref_id"] for r in matches_rows(ev)] == [s["ref_id"] for w in raw["works"] for s in w["segments"]]
    # rules were prose then: readers show that prose
    assert seg.rules == () and seg.rule == old["rule"]


def test_a_rule_outcome_reads_in_both_languages(footage, pdq_index, pdq_config, tmp_path):
    run_batch([footage["copy"]], pdq_index, tmp_path, pdq_config)
    ev = read_evidence(tmp_path / "copy.evidence.json")
    decisive = [o for o in ev.verdict.rules if o.decisive]
    assert [o.rule for o in decisive][-1] == "verdict.flag" and decisive[-1].passed
    first = decisive[0]
    assert first.setting.startswith(("channels.pdq.", "verify.")) and first.passed
    en, ja = rule_text(ev.works[0].segments[0].rules, "en"), rule_text(ev.works[0].segments[0].rules, "ja")
    assert en == ev.works[0].segments[0].rule
    assert ("PDQ" in en or "RANSAC" in en) and ("ハミング距離" in ja or "インライア" in ja)
    assert not any(word in ja for word in ("median", "over", "frames"))


@pytest.mark.parametrize("text, problem", [
    ('{"schema": "auditor.evidence/1", "query_id": "x"}', "at 'created_utc'"),
    ('{"schema": "other/2"}', "evidence schema 'other/2'"),
    ('{"schema": "auditor.evid', "not a complete evidence JSON file"),
])
def test_a_broken_evidence_file_is_one_clear_error(tmp_path, text, problem):
    f = tmp_path / "x.evidence.json"
    f.write_text(text)
    with pytest.raises(InputError, match=problem) as info:
        read_evidence(f)
    assert str(f) in str(info.value) and "\n" not in str(info.value)
