"""Configuration is checked when it is loaded: a bad value is exit code 2 with one line naming the
key and what it may be; evidence is standard JSON; folder options naming a file are refused."""

import json
import math

import pytest
from typer.testing import CliRunner

from auditor.cli import app
from auditor.config import load_config
from auditor.errors import InputError, UsageError

runner = CliRunner()


@pytest.mark.parametrize(
    "text, key, allowed",
    [
        ("[sampling.query]\nfps = 0\n", "sampling.query.fps", "must be > 0"),
        ("[sampling.reference]\nfps = nan\n", "sampling.reference.fps", "finite"),
        ("[sampling.query]\nfps = inf\n", "sampling.query.fps", "finite"),
        ("[search]\ntop_k = 0\n", "search.top_k", "must be >= 1"),
        ("[segments]\nmin_speed = 1.5\nmax_speed = 0.5\n", "segments.min_speed", "must be below 'segments.max_speed'"),
        ("[channels.pdq]\nmax_distance = 300\n", "channels.pdq.max_distance", "<= 256"),
        ("[channels.orb]\nmax_descriptor_distance = -1\n", "channels.orb.max_descriptor_distance", ">= 0"),
        ('[verdict]\nflag_levels = ["copy"]\n', "verdict.flag_levels", "'near-identical copy'"),
        ("[limits]\nmax_duration_s = 0\n", "limits.max_duration_s", "every limit must be > 0"),
        ("[limits]\nmax_width = -5\n", "limits.max_width", "every limit must be > 0"),
        ("[verify]\nmin_verified_share = 0.0\n", "verify.min_verified_share", "must be > 0"),
        ("[sampling.reference]\nstill_tiles = [2, 'x']\n", "sampling.reference.still_tiles", "whole numbers"),
        ("[exhibits]\nmax_side = 100000000000000000000\n", "exhibits.max_side", "<= 8192"),
    ],
)
def test_a_bad_value_is_exit_2_naming_the_key_and_what_is_allowed(tmp_path, text, key, allowed):
    f = tmp_path / "bad.toml"
    f.write_text(text)
    with pytest.raises(UsageError) as e:
        load_config(f)
    message = str(e.value)
    assert str(f) in message and f"'{key}'" in message and allowed in message and "\n" not in message
    r = runner.invoke(app, ["scan", "x.mp4", "--index", str(tmp_path / "idx"), "--out", str(tmp_path / "o"),
                            "--config", str(f)])
    assert r.exit_code == 2 and f"'{key}'" in r.stderr and "Traceback" not in r.output


def test_a_config_file_that_is_not_utf8_is_named_as_such(tmp_path):
    f = tmp_path / "latin1.toml"
    f.write_bytes("[channels.clip]\nmodel = 'caf\xe9'\n".encode("latin-1"))
    r = runner.invoke(app, ["scan", "x.mp4", "--index", str(tmp_path / "idx"), "--out", str(tmp_path / "o"),
                            "--config", str(f)])
    assert r.exit_code == 2 and "not UTF-8 text" in r.stderr and "Traceback" not in r.output


def test_evidence_with_a_number_that_is_not_finite_is_refused_not_written_as_nan(tmp_path):
    from helpers import FIRST_FORMAT_EVIDENCE

    from auditor.evidence.files import parse_evidence, write_evidence

    ev = parse_evidence(FIRST_FORMAT_EVIDENCE.read_bytes(), "first")
    bad = ev.model_copy(update={"verdict": ev.verdict.model_copy(update={"score": math.nan})})
    with pytest.raises(InputError, match="'verdict.score' is not a finite number"):
        write_evidence(tmp_path, bad)
    assert not list(tmp_path.iterdir())
    json.loads(write_evidence(tmp_path, ev).read_text(), parse_constant=lambda c: pytest.fail(c))


@pytest.mark.parametrize("command", [
    ["scan", "x.mp4", "--index", "{file}", "--out", "{tmp}/o"],
    ["scan", "x.mp4", "--index", "{tmp}/idx", "--out", "{file}"],
    ["scan", "x.mp4", "--index", "{tmp}/idx", "--out", "{file}/sub"],
    ["index", "optimize", "--index", "{file}"],
    ["index", "remove", "--index", "{file}", "--work", "W"],
    ["index", "calibrate", "--index", "{file}"],
    ["demo", "--out", "{file}"],
    ["serve", "--index", "{file}", "--results", "{tmp}"],
])
def test_a_folder_option_naming_a_file_is_exit_2_in_one_line(tmp_path, command):
    a_file = tmp_path / "a_file"
    a_file.write_text("x")
    r = runner.invoke(app, [c.format(file=a_file, tmp=tmp_path) for c in command])
    assert r.exit_code == 2, r.output
    assert "is a file, not" in r.stderr and "Traceback" not in r.output and str(a_file) in r.stderr
