"""Progress of long commands on stderr: a live display on a terminal (rich.progress), plain
lines in a log (one a clip, or one every so often inside a long file), nothing with --quiet.
Failures are always printed, one line each, above the live display."""

from __future__ import annotations

import sys
import time
from typing import TYPE_CHECKING

import typer

from ..scan.batch import ClipOutcome, ClipStatus

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID


def _live_display(*columns) -> Progress:
    """A rich Progress on stderr, refreshed when told to (no thread of its own)."""
    from rich.console import Console
    from rich.progress import Progress

    progress = Progress(*columns, console=Console(file=sys.stderr, force_terminal=True), auto_refresh=False,
                        transient=True)
    progress.start()
    return progress


class _Live:
    """A live display on stderr once started (`_display`), and lines printed above it."""

    _display: Progress | None = None

    def print(self, line: str) -> None:
        """A line of one's own: above the live display, or plain."""
        if self._display is not None:
            self._display.console.print(line, markup=False, highlight=False, soft_wrap=True)
        else:
            typer.echo(line, err=True)

    def close(self) -> None:
        if self._display is not None:
            self._display.stop()
            self._display = None


class FileProgress(_Live):
    """Frames embedded inside one long file (`on_frames(file, frames)`): a live line on a
    terminal with the rate; elsewhere a plain line every `every_s` seconds, so a log is not
    flooded. `print` writes a line of one's own; `close` ends the live line."""

    def __init__(self, live: bool | None = None, every_s: float = 30.0):
        self.live = sys.stderr.isatty() if live is None else live
        self.every_s = every_s
        self.file: str | None = None
        self.start = self.last = 0.0
        self._display: Progress | None = None
        self._task: TaskID | None = None

    def on_frames(self, file: str, frames: int) -> None:
        now = time.monotonic()
        if file != self.file:
            self.file, self.start, self.last = file, now, now
            if self._display is not None and self._task is not None:
                self._display.remove_task(self._task)
                self._task = None
        rate = f"{frames / (now - self.start):.1f} frames/s" if now - self.start >= 0.5 else "starting"
        if self.live:
            if self._display is None:
                from rich.progress import SpinnerColumn, TextColumn

                self._display = _live_display(SpinnerColumn(), TextColumn("{task.description}: {task.completed:.0f} frames, "
                                                                           "{task.fields[rate]}"))
            if self._task is None:
                self._task = self._display.add_task(file[-70:], total=None, rate=rate)
            self._display.update(self._task, completed=frames, rate=rate)
            self._display.refresh()
        elif now - self.last >= self.every_s:
            self.last = now
            typer.echo(f"  {file}: {frames} frames so far ({rate})", err=True)


def progress_printer(total: int, describe, inside: FileProgress):
    """A callback printing `[done/total] ...` for each finished file; `describe(item)` gives
    (failed, text)."""
    done = [0]

    def show(item) -> None:
        done[0] += 1
        failed, text = describe(item)
        inside.print(f"{'auditor: ' if failed else ''}[{done[0]}/{total}] {text}")

    return show


class ScanProgress(_Live):
    """A batch scan's progress: on a terminal a bar (clips done, frames a second, time left);
    otherwise one plain line a clip; with `quiet` only failures."""

    def __init__(self, total: int, quiet: bool = False, live: bool | None = None):
        self.total, self.quiet = total, quiet
        self.live = (sys.stderr.isatty() if live is None else live) and not quiet
        self.done = self.frames = 0
        self.start = time.monotonic()
        self._display = None
        if self.live:
            from rich.progress import BarColumn, MofNCompleteColumn, TextColumn, TimeRemainingColumn

            self._display = _live_display(BarColumn(), MofNCompleteColumn(), TextColumn("clips {task.fields[rate]}"),
                                          TimeRemainingColumn(), TextColumn("{task.description}"))
            self._task = self._display.add_task("", total=total, rate="")

    def __call__(self, o: ClipOutcome) -> None:
        self.done += 1
        self.frames += o.frames
        failed, text = describe_scan(o)
        if failed:
            self.print(f"auditor: [{self.done}/{self.total}] {text}")
        elif not self.quiet and not self.live:
            typer.echo(f"[{self.done}/{self.total}] {text}", err=True)
        if self._display is not None:
            rate = f"{self.frames / max(1e-9, time.monotonic() - self.start):.1f} frames/s"
            self._display.update(self._task, advance=1, rate=rate, description=o.query_id[:30])
            self._display.refresh()

    def __enter__(self) -> ScanProgress:
        return self

    def __exit__(self, *exc) -> None:
        self.close()


def describe_scan(o: ClipOutcome) -> tuple[bool, str]:
    if o.status == ClipStatus.ERROR:
        return True, f"error: {o.path}: {o.error}"
    v = o.verdict
    assert v is not None  # a clip scanned or skipped has its verdict
    return False, f"{o.query_id}: {'flagged' if v.flagged else 'not flagged'}, {v.level} ({v.score:.3f})"
