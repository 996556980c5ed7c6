"""Typed errors raised by the library. Only the CLI turns them into messages and exit codes."""

from __future__ import annotations

from pathlib import Path

from .names import printable


class AuditorError(Exception):
    """Base of every error the library raises on purpose."""

    exit_code = 1


class UsageError(AuditorError):
    """The user asked for something that cannot be done as asked (bad option, bad config)."""

    exit_code = 2


class InputError(AuditorError):
    """One input file cannot be used. Names the file and the reason in one line (a file name that
    is not UTF-8 in its escaped form, see names.py)."""

    exit_code = 1

    def __init__(self, path: str | Path, reason: str):
        self.path = printable(path)
        self.reason = " ".join(str(reason).split())  # one line, whatever a library put in it
        super().__init__(f"{self.path}: {reason}")


class LimitExceeded(InputError):
    """An input is over a configured limit (duration, resolution, frame count, size)."""


class MissingDependency(AuditorError):
    """A library, model weights or another external thing is not installed."""

    exit_code = 3


class ModelWeightsMissing(MissingDependency):
    """Model weights are not on this machine. The message says how to get them."""
