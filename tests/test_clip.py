"""The clip channel through its real loading code, with a tiny open_clip model saved to disk."""

import json

import numpy as np
import pytest
from helpers import make_tiny_open_clip
from typer.testing import CliRunner

from auditor.channels import create_channel
from auditor.channels.clip import resolve_device
from auditor.cli import app
from auditor.config import load_config
from auditor.errors import MissingDependency, ModelWeightsMissing, UsageError
from auditor.media import synth
from reference_index.store.files import sha256_file

runner = CliRunner()


def clip_config(model_dir, **clip):
    return load_config(overrides={"channels": {"clip": {"model": f"local-dir:{model_dir}", **clip}}})


def test_loads_from_an_open_clip_folder_and_fingerprints_the_weights(tiny_clip_dir):
    ch = create_channel("clip", clip_config(tiny_clip_dir))
    fp = ch.fingerprint()
    assert fp["weights_sha256"] == sha256_file(tiny_clip_dir / "open_clip_model.safetensors")
    assert fp["dim"] == ch.dim == 16 and fp["pretrained"] is None
    assert fp["preprocess"]["size"] == [32, 32] and fp["preprocess"]["interpolation"] == "bicubic"
    frames = [synth.scene_frame(3, t) for t in np.arange(0, 3, 0.1)]  # 30 frames: more than one batch
    ch.batch_size = 8
    emb = ch.embed(frames)
    assert emb.vectors.shape == (30, 16) and emb.vectors.dtype == np.float32
    assert np.allclose(np.linalg.norm(emb.vectors, axis=1), 1.0, atol=1e-5)
    assert np.allclose(ch.embed(frames[:5]).vectors, emb.vectors[:5], atol=1e-5)  # batching changes nothing


def test_preprocessing_agrees_with_open_clips_own_transform(tiny_clip_dir):
    import open_clip
    import torch
    from PIL import Image

    ch = create_channel("clip", clip_config(tiny_clip_dir))
    model, _, preprocess = open_clip.create_model_and_transforms(f"local-dir:{tiny_clip_dir}")
    frames = [synth.scene_frame(5, t, 400, 224) for t in (0.0, 1.0, 4.0)]
    with torch.no_grad():
        ref = model.encode_image(torch.stack([preprocess(Image.fromarray(f)) for f in frames]))
        ref = torch.nn.functional.normalize(ref, dim=-1).numpy()
    ours = ch.embed(frames).vectors
    assert (ours * ref).sum(1).min() > 0.995


@pytest.fixture
def registered_tiny(tiny_clip_dir, tmp_path, monkeypatch):
    """The tiny architecture registered with open_clip under a name, like a built-in one."""
    import open_clip
    from open_clip import factory

    cfg = json.loads((tiny_clip_dir / "open_clip_config.json").read_text())["model_cfg"]
    arch = tmp_path / "arch" / "auditor-tiny-test.json"
    arch.parent.mkdir()
    arch.write_text(json.dumps(cfg))
    monkeypatch.setattr(factory, "_MODEL_CONFIG_PATHS", list(factory._MODEL_CONFIG_PATHS))
    open_clip.add_model_config(arch)
    yield "auditor-tiny-test"
    factory._rescan_model_configs()


def test_a_checkpoint_file_is_accepted_as_pretrained(registered_tiny, tiny_clip_dir, tmp_path):
    weights = tiny_clip_dir / "open_clip_model.safetensors"
    cfg = load_config(overrides={"channels": {"clip": {"model": registered_tiny, "pretrained": str(weights)}}})
    ch = create_channel("clip", cfg)
    fp = ch.fingerprint()
    assert fp["model"] == registered_tiny and fp["weights_sha256"] == sha256_file(weights)
    assert fp["pretrained"] is None  # a path is where, not what: it stays out of the identity
    same = create_channel("clip", clip_config(tiny_clip_dir))
    frames = [synth.scene_frame(4, 1.0)]
    assert np.allclose(ch.embed(frames).vectors, same.embed(frames).vectors, atol=1e-5)
    with pytest.raises(ModelWeightsMissing, match="checkpoint file not found"):
        create_channel("clip", load_config(overrides={"channels": {"clip": {"pretrained": str(tmp_path / "w.safetensors")}}}))


def test_a_pretrained_tag_loads_from_the_hugging_face_cache(registered_tiny, tiny_clip_dir, tmp_path, monkeypatch):
    import shutil

    from open_clip import pretrained

    monkeypatch.setitem(
        pretrained._PRETRAINED, registered_tiny, {"tinytag": pretrained._pcfg(hf_hub="example-org/tiny-clip/")}
    )
    cache = tmp_path / "hf-cache"
    monkeypatch.setenv("HF_HUB_CACHE", str(cache))
    cfg = load_config(overrides={"channels": {"clip": {"model": registered_tiny, "pretrained": "tinytag"}}})
    with pytest.raises(ModelWeightsMissing, match="models--example-org--tiny-clip"):
        create_channel("clip", cfg)
    # lay the weights out as the hub client stores them (what copying a cache folder gives)
    repo = cache / "models--example-org--tiny-clip"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text("0123abcd")
    snap = repo / "snapshots" / "0123abcd"
    snap.mkdir(parents=True)
    shutil.copy(tiny_clip_dir / "open_clip_model.safetensors", snap / "open_clip_model.safetensors")
    ch = create_channel("clip", cfg)
    fp = ch.fingerprint()
    assert fp["pretrained"] == "tinytag" and fp["source"]["weights_path"].startswith(str(snap))
    assert fp["weights_sha256"] == sha256_file(tiny_clip_dir / "open_clip_model.safetensors")


def test_missing_weights_say_how_to_get_them(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    with pytest.raises(ModelWeightsMissing) as e:
        create_channel("clip", load_config())
    msg = str(e.value)
    assert "laion2b_s34b_b79k" in msg and str(tmp_path / "empty-cache") in msg
    assert "models--laion--CLIP-ViT-B-32-laion2B-s34B-b79K" in msg
    assert "--clip-pretrained" in msg and "local-dir:" in msg and "--channels pdq" in msg


def test_a_folder_without_weights_is_refused_not_randomly_initialised(tmp_path):
    folder = make_tiny_open_clip(tmp_path / "m")
    (folder / "open_clip_model.safetensors").unlink()
    with pytest.raises(ModelWeightsMissing, match="random weights"):
        create_channel("clip", clip_config(folder))


def test_weights_are_the_files_values_and_a_file_missing_one_is_refused(tmp_path):
    import torch
    from safetensors.torch import load_file, save_file

    folder = make_tiny_open_clip(tmp_path / "m", seed=3)
    weights = load_file(str(folder / "open_clip_model.safetensors"))
    ch = create_channel("clip", clip_config(folder))
    for name, value in ch._visual.state_dict().items():
        assert torch.equal(value, weights[f"visual.{name}"]), name
    del weights["visual.proj"]  # a parameter the file lacks is never left uninitialised
    save_file(weights, str(folder / "open_clip_model.safetensors"))
    with pytest.raises(ModelWeightsMissing, match="could not load"):
        create_channel("clip", clip_config(folder))
    import torch.nn.init as init

    assert init.normal_(torch.zeros(4), 0.0, 1.0).abs().sum() > 0  # initialisation is back afterwards


def test_unknown_model_or_tag_is_a_usage_error():
    with pytest.raises(UsageError, match="unknown open_clip model"):
        create_channel("clip", load_config(overrides={"channels": {"clip": {"model": "ViT-Nope"}}}))
    with pytest.raises(UsageError, match="unknown pretrained tag 'nope'"):
        create_channel("clip", load_config(overrides={"channels": {"clip": {"pretrained": "nope"}}}))


def test_device_selection(monkeypatch):
    import torch

    assert resolve_device("cpu") == "cpu"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert resolve_device("auto") == "cpu"
    with pytest.raises(MissingDependency, match="no CUDA GPU"):
        resolve_device("cuda")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    assert resolve_device("auto") == "cuda"
    assert resolve_device("cuda:1") == "cuda:1"
    with pytest.raises(UsageError, match="only 2 GPU"):
        resolve_device("cuda:2")
    with pytest.raises(UsageError, match="unknown device"):
        resolve_device("tpu")


def test_cli_exit_3_when_weights_are_missing(footage, tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_CACHE", str(tmp_path / "empty-cache"))
    r = runner.invoke(app, ["index", "add", str(footage["refs"]["ep01"]), "--index", str(tmp_path / "idx"),
                            "--work", "W", "--owner", "O", "--channels", "pdq,clip"])
    assert r.exit_code == 3 and "are not on this machine" in r.stderr
    assert not (tmp_path / "idx" / "manifest.json").exists()


def test_pdq_and_clip_end_to_end_and_a_different_model_is_refused(footage, tiny_clip_dir, tmp_path):
    idx = tmp_path / "idx"
    model = f"local-dir:{tiny_clip_dir}"
    # A random tiny tower puts every frame close together (cosine > 0.99): only near-identical
    # frames count as hits, and clip alone never reaches "strong resemblance".
    cfg = tmp_path / "tiny.toml"
    cfg.write_text("[channels.clip]\nmin_similarity = 0.9992\nstrong_min_median_similarity = 0.99999\n")
    args = ["--clip-model", model, "--config", str(cfg)]
    r = runner.invoke(app, ["index", "add", str(footage["refs"]["ep01"]), str(footage["refs"]["other"]),
                            "--index", str(idx), "--work", "Star Courier", "--owner", "Demo Studio",
                            "--channels", "pdq,clip", *args])
    assert r.exit_code == 0, r.output
    r = runner.invoke(app, ["scan", str(footage["copy"]), str(footage["unrelated"]), "--index", str(idx),
                            "--out", str(tmp_path / "out"), *args])
    assert r.exit_code == 0, r.output
    ev = json.loads((tmp_path / "out" / "copy.evidence.json").read_text())
    assert set(ev["tool"]["channels"]) == {"pdq", "clip"}
    assert ev["tool"]["channels"]["clip"]["weights_sha256"] == sha256_file(tiny_clip_dir / "open_clip_model.safetensors")
    assert ev["verdict"]["flagged"] and ev["works"][0]["segments"][0]["ref_id"] == "ep01"
    # clip joins the fusion: its hits on the copied frames chain into the same segment as pdq's
    assert {"pdq", "clip"} <= set(ev["works"][0]["segments"][0]["channels"])
    assert ev["works"][0]["segments"][0]["channel_stats"]["clip"]["frames"] >= 3
    assert all(len(f["top"]["clip"]) == 3 for f in ev["frames"])
    # even a random tiny tower ranks the copied source first for most copied frames
    copied = [f for f in ev["frames"] if 2.2 <= f["t"] <= 5.8]
    assert sum(f["top"]["clip"][0]["ref_id"] == "ep01" for f in copied) >= 0.6 * len(copied)
    un = json.loads((tmp_path / "out" / "unrelated.evidence.json").read_text())
    assert un["verdict"]["flagged"] is False

    other = make_tiny_open_clip(tmp_path / "other-model", seed=1)
    r = runner.invoke(app, ["scan", str(footage["copy"]), "--index", str(idx), "--out", str(tmp_path / "o2"),
                            "--clip-model", f"local-dir:{other}"])
    assert r.exit_code == 2
    assert "channel 'clip' was built with" in r.stderr
    assert sha256_file(tiny_clip_dir / "open_clip_model.safetensors")[:16] in r.stderr
    assert sha256_file(other / "open_clip_model.safetensors")[:16] in r.stderr
