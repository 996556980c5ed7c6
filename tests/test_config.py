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
    assert cfg.sampling.query.fps == 8.0 and isinstance(cfg.sampling.query.fps, float)
    assert cfg.channels.of("pdq").max_distance == 24
    assert cfg.channels.of("pdq").min_quality == load_config().channels.of("pdq").min_quality


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


def test_the_presets_channel_tables_are_the_channels_own_defaults():
    """configs/default.toml documents each built-in channel's table; the channel's Settings model
    holds the defaults a file without that table gets: the two must not drift apart."""
    import tomllib

    from auditor.channels import channel_class
    from auditor.config import DEFAULT_CONFIG_PATH

    preset = tomllib.loads(DEFAULT_CONFIG_PATH.read_text(encoding="utf-8"))["channels"]
    for name in ("pdq", "orb", "clip"):
        defaults = channel_class(name).Settings().model_dump()
        assert preset[name] == defaults, name
        assert {k: type(v) for k, v in preset[name].items()} == {k: type(v) for k, v in defaults.items()}, name


TOY = '''
from pydantic import Field
import numpy as np
from auditor.channels.base import Channel, Embeddings, Meaning
from auditor.settings import Table


class ToySettings(Table):
    threshold: float = Field(0.5, ge=0, le=1)
    label: str = "toy"


class ToyChannel(Channel):
    name = "toy"
    metric = "ip"
    dim = 4
    Settings = ToySettings

    @classmethod
    def meaning(cls, config):
        return Meaning(cls.name, "median_similarity", True, (), False, 0.01, 0.0, 1, False, cls.words)

    def identity(self):
        return {"name": self.name, "threshold": self.settings.threshold}

    def embed_batch(self, images):
        return Embeddings(np.ones((len(images), 4), np.float32), np.ones(len(images), bool))

    def similarity(self, raw):
        return np.asarray(raw, np.float32)

    def is_hit(self, raw):
        return np.asarray(raw) >= self.settings.threshold
'''


def test_a_channel_registered_through_an_entry_point_brings_its_settings_and_their_checks(tmp_path, monkeypatch):
    (tmp_path / "toy_channel.py").write_text(TOY)
    dist = tmp_path / "toy_channel-0.1.dist-info"
    dist.mkdir()
    (dist / "METADATA").write_text("Metadata-Version: 2.1\nName: toy-channel\nVersion: 0.1\n")
    (dist / "entry_points.txt").write_text("[auditor.channels]\ntoy = toy_channel:ToyChannel\n")
    monkeypatch.syspath_prepend(str(tmp_path))

    from auditor.channels import create_channel

    cfg = load_config()  # no [channels.toy] anywhere: the channel's own defaults
    assert cfg.channels.of("toy").threshold == 0.5 and cfg.model_dump()["channels"]["toy"] == {"threshold": 0.5, "label": "toy"}
    assert create_channel("toy", cfg).identity() == {"name": "toy", "threshold": 0.5}
    f = tmp_path / "c.toml"
    f.write_text("[channels.toy]\nthreshold = 0.8\n")
    assert load_config(f).channels.of("toy").threshold == 0.8
    f.write_text("[channels.toy]\nthreshold = 2\n")
    with pytest.raises(UsageError, match=re.escape("'channels.toy.threshold' = 2 is not allowed: must be >= 0 and <= 1")):
        load_config(f)
    f.write_text("[channels.toy]\nthreshhold = 0.8\n")
    with pytest.raises(UsageError, match=re.escape("unknown setting 'channels.toy.threshhold'")):
        load_config(f)


def test_a_configuration_reaches_worker_processes_as_it_was_resolved():
    import pickle

    cfg = load_config(overrides={"segments": {"min_frames": 5}})
    again = pickle.loads(pickle.dumps(cfg))
    assert again.model_dump() == cfg.model_dump() and again.segments.min_frames == 5


def test_a_moved_setting_is_told_where_it_went(tmp_path):
    f = tmp_path / "c.toml"
    f.write_text("[verdict]\nnear_identical_max_median_pdq_distance = 20\n")
    with pytest.raises(UsageError, match=re.escape("is now 'channels.pdq.near_identical_max_median_distance'")):
        load_config(f)
