"""Where the clip channel's weights come from, and never from nowhere.

- an open_clip pretrained tag (default `laion2b_s34b_b79k`), found in the Hugging Face cache;
- a checkpoint file given as `pretrained = "/path/to/open_clip_model.safetensors"`;
- an open_clip folder given as `model = "local-dir:/path"` (open_clip_config.json + weights).
When none is there, `ModelWeightsMissing` says how to fetch them; a model open_clip would build
with random weights is refused (`no_random_init`). Also the device torch can use.
"""

from __future__ import annotations

import contextlib
import os
from functools import lru_cache
from pathlib import Path

from reference_index.store import sha256_file

from ..errors import MissingDependency, ModelWeightsMissing, UsageError

LOCAL_DIR = "local-dir:"
WEIGHT_SUFFIXES = (".safetensors", ".bin", ".pth", ".pt")


def resolve_device(requested: str) -> str:
    """'cpu', 'cuda', 'cuda:N' or 'auto' -> a device torch can use, or a clear error."""
    import torch

    requested = (requested or "cpu").strip().lower()
    if requested == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if requested == "cpu":
        return "cpu"
    if requested == "cuda" or requested.startswith("cuda:"):
        if not torch.cuda.is_available():
            raise MissingDependency(
                f"device '{requested}' was asked for, but torch sees no CUDA GPU on this machine "
                "(use --device cpu, or install a CUDA build of torch on a machine with a GPU)"
            )
        if ":" in requested:
            index = int(requested.split(":", 1)[1])
            if index >= torch.cuda.device_count():
                raise UsageError(f"device '{requested}': only {torch.cuda.device_count()} GPU(s) present")
        return requested
    raise UsageError(f"unknown device '{requested}' (use cpu, cuda, cuda:N or auto)")


@lru_cache(maxsize=8)
def _weights_sha256(path: str, size: int, mtime_ns: int) -> str:
    return sha256_file(path)


def weights_sha256(path: str | Path) -> str:
    st = os.stat(path)
    return _weights_sha256(str(Path(path).resolve()), st.st_size, st.st_mtime_ns)


def hub_cache_dir() -> str:
    """The Hugging Face hub cache folder, read from the environment now (not at import)."""
    if os.environ.get("HF_HUB_CACHE"):
        return os.environ["HF_HUB_CACHE"]
    if os.environ.get("HF_HOME"):
        return os.path.join(os.environ["HF_HOME"], "hub")
    from huggingface_hub import constants

    return constants.HF_HUB_CACHE


def _how_to_fetch(model: str, tag: str, repo_id: str | None) -> str:
    cache = hub_cache_dir()
    lines = [
        f"CLIP weights for {model} / {tag} are not on this machine (looked in the Hugging Face cache {cache}).",
        "Get them in one of these ways:",
        "  1. On a machine with internet access:",
        "       pip install open_clip_torch",
        f"       python -c \"import open_clip; open_clip.create_model_and_transforms('{model}', pretrained='{tag}')\"",
    ]
    if repo_id:
        folder = "models--" + repo_id.replace("/", "--")
        lines.append(f"     then copy {folder} from that machine's Hugging Face cache into {cache}/ here")
        lines.append("     (or set HF_HUB_CACHE to the folder that holds the copy).")
    lines += [
        "  2. Point at a checkpoint file:  --clip-pretrained /path/to/open_clip_model.safetensors",
        "  3. Point at an open_clip folder: --clip-model local-dir:/path/to/folder",
        "  4. Where the hub is reachable, allow a download: set channels.clip.allow_download = true.",
        "Or index and scan with the weight-free channels: --channels pdq,orb (PDQ hashes and ORB local features).",
    ]
    return "\n".join(lines)


def resolve_weights(model: str, pretrained: str | None, allow_download: bool) -> tuple[dict, str]:
    """Where the weights are, as (keyword arguments for open_clip, weights file path).

    Raises ModelWeightsMissing when they are not on this machine (and download is not allowed),
    UsageError for a model or tag open_clip does not know.
    """
    import open_clip

    if model.startswith(LOCAL_DIR):
        folder = Path(model[len(LOCAL_DIR):]).expanduser()
        if not folder.is_dir():
            raise ModelWeightsMissing(f"open_clip folder not found: {folder}")
        if not (folder / "open_clip_config.json").is_file():
            raise ModelWeightsMissing(f"{folder}: no open_clip_config.json in this open_clip folder")
        # Same search open_clip performs, so that the file we hash is the file it loads.
        found = open_clip.factory._find_checkpoint_in_dir(folder)
        if not found:
            raise ModelWeightsMissing(
                f"{folder}: no weights file (*.safetensors, *.bin or *.pth) beside open_clip_config.json; "
                "open_clip would fall back to random weights, which auditor refuses"
            )
        return {"model_name": f"{LOCAL_DIR}{folder}"}, found

    if model not in open_clip.list_models():
        raise UsageError(f"unknown open_clip model '{model}' (see open_clip.list_models())")
    if not pretrained:
        raise UsageError("the clip channel needs weights: set channels.clip.pretrained to a tag or a file")
    candidate = Path(pretrained).expanduser()
    if candidate.is_file():
        return {"model_name": model, "pretrained": str(candidate)}, str(candidate)
    if os.sep in pretrained or pretrained.endswith(WEIGHT_SUFFIXES):
        raise ModelWeightsMissing(f"checkpoint file not found: {candidate}")

    cfg = open_clip.get_pretrained_cfg(model, pretrained)
    if not cfg:
        tags = ", ".join(open_clip.list_pretrained_tags_by_model(model)) or "none"
        raise UsageError(f"unknown pretrained tag '{pretrained}' for {model} (known: {tags})")
    preprocess = {
        key: cfg[src]
        for key, src in (
            ("image_mean", "mean"),
            ("image_std", "std"),
            ("image_interpolation", "interpolation"),
            ("image_resize_mode", "resize_mode"),
        )
        if cfg.get(src) is not None
    }
    repo_id = None
    path = None
    if cfg.get("hf_hub"):
        from huggingface_hub import try_to_load_from_cache

        # "org/repo/" or "org/repo/filename"
        repo_id = "/".join(cfg["hf_hub"].strip("/").split("/")[:2])
        names = ["open_clip_model.safetensors", "open_clip_pytorch_model.bin"]
        if cfg.get("hf_hub_filename"):
            names.insert(0, cfg["hf_hub_filename"])
        for name in names:
            hit = try_to_load_from_cache(repo_id, name, cache_dir=hub_cache_dir())
            if isinstance(hit, str) and os.path.isfile(hit):
                path = hit
                break
    elif cfg.get("url"):
        cached = Path(os.path.expanduser("~/.cache/clip")) / os.path.basename(cfg["url"])
        if cached.is_file():
            path = str(cached)
    if path is None:
        if not allow_download:
            raise ModelWeightsMissing(_how_to_fetch(model, pretrained, repo_id))
        try:
            path = open_clip.download_pretrained(cfg, cache_dir=hub_cache_dir())
        except Exception as exc:  # network errors come in many types
            raise ModelWeightsMissing(
                f"download of {model} / {pretrained} failed: {exc}\n" + _how_to_fetch(model, pretrained, repo_id)
            ) from exc
    return {"model_name": model, "pretrained": path, **preprocess}, path


_INIT_FUNCTIONS = ("uniform_", "normal_", "trunc_normal_", "constant_", "ones_", "zeros_", "eye_", "orthogonal_",
                   "xavier_uniform_", "xavier_normal_", "kaiming_uniform_", "kaiming_normal_")


@contextlib.contextmanager
def no_random_init():
    """Skip torch.nn.init's random initialisation while open_clip builds the model: every value
    is overwritten by the checkpoint, which open_clip loads with strict=True (a parameter the
    file lacks is an error, never left as it was). Saves a second or more per model load."""
    import torch.nn.init as init

    saved = {name: getattr(init, name) for name in _INIT_FUNCTIONS if hasattr(init, name)}
    try:
        for name in saved:
            setattr(init, name, lambda tensor, *args, **kwargs: tensor)
        yield
    finally:
        for name, fn in saved.items():
            setattr(init, name, fn)
