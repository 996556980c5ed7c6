import json
import re

import pytest
from typer.testing import CliRunner

from auditor.cli import app
from auditor.config import load_config
from auditor.errors import UsageError


def test_a_user_file_replaces_only_the_keys_it_names(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("[sampling.query]\nfps = 8\n[channels.pdq]\nmax_distance = 24\n")
    cfg = load_config(f)
    assert cfg["sampling"]["query"]["fps"] == 8.0 and isinstance(cfg["sampling"]["query"]["fps"], float)
    assert cfg["channels"]["pdq"]["max_distance"] == 24
    assert cfg["channels"]["pdq"]["min_quality"] == load_config()["channels"]["pdq"]["min_quality"]


@pytest.mark.parametrize(
    "text, message",
    [
        ("[sampling]\nmax_sidez = 3\n", "unknown setting 'sampling.max_sidez'"),
        ("[channels.pdq]\nmax_distance = 'far'\n", "'channels.pdq.max_distance' must be int"),
        ("sampling = 3\n", "'sampling' must be a table"),
        ("[channels.clip]\nallow_download = 1\n", "must be bool"),
        ("not toml [", "not valid TOML"),
        ("[search]\nshards_per_relay = 1\n", "'search.shards_per_relay' = 1 is not allowed: 0 (no relays) or at least 2"),
    ],
)
def test_bad_config_files_are_named_with_the_problem(tmp_path, text, message):
    f = tmp_path / "c.toml"
    f.write_text(text)
    with pytest.raises(UsageError, match=re.escape(message)) as e:
        load_config(f)
    assert str(f) in str(e.value)


def test_channels_command_lists_fingerprints_and_why_a_channel_is_unavailable(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty"))
    r = CliRunner().invoke(app, ["channels", "--json"])
    assert r.exit_code == 0, r.output
    out = json.loads(r.stdout)
    assert out["pdq"]["status"] == "ok" and out["pdq"]["fingerprint"]["id"]
    assert out["clip"]["status"] == "unavailable" and "not on this machine" in out["clip"]["reason"]
