"""What every command shares: the Typer apps, the shared options, the configuration they
resolve, and the one place the library's typed errors become messages and exit codes.

Exit codes: 0 success; 1 some inputs failed (each reported), or the index is locked by a
writer; 2 usage error (bad option, bad config, wrong or mismatched index, or an index that fails
verification: a file damaged or altered, a manifest of the wrong shape or with wrong counts);
3 a missing dependency or missing model weights; 130 Ctrl-C.
"""

from __future__ import annotations

import functools
from enum import StrEnum
from pathlib import Path

import typer

from reference_index import (
    CatalogueConflict,
    ChannelMismatch,
    FingerprintMismatch,
    IndexCorrupt,
    IndexIsSharded,
    IndexLocked,
    IndexNotFound,
    IndexWriteFailed,
    ReferenceIndexError,
    ShardRefused,
)

from ..config import Config, load_config
from ..errors import AuditorError, UsageError
from ..names import printable

# rich_markup_mode=None: help text is printed as written; under rich markup, text in square
# brackets (auditor[ray], [ in the configuration], [x0, y0, x1, y1]) was swallowed as a style tag
app = typer.Typer(no_args_is_help=True, add_completion=False, rich_markup_mode=None,
                  help="Output-similarity auditor for generated video.")
index_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None, help="Build and inspect a reference index of a catalogue.")


def _version(value: bool) -> None:
    if value:
        from .. import __version__

        typer.echo(f"auditor {__version__}")
        raise typer.Exit()


@app.callback()
def _main(version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                       help="Print the version and exit.")) -> None:
    """Output-similarity auditor for generated video."""
app.add_typer(index_app, name="index")

INDEX_EXIT = {
    IndexNotFound: 2,
    FingerprintMismatch: 2,
    ChannelMismatch: 2,
    CatalogueConflict: 2,
    IndexCorrupt: 2,  # refused before use: never scanned against, never written over
    IndexIsSharded: 2,
    ShardRefused: 2,
    IndexLocked: 1,
    IndexWriteFailed: 1,  # the disk, not the user: the index is as it was
}


def err(message: str) -> None:
    typer.echo(f"auditor: {message}", err=True)


def exit_code(exc: BaseException) -> int:
    """The exit code for an error the library raised on purpose."""
    if isinstance(exc, AuditorError):
        return exc.exit_code
    return next((c for t, c in INDEX_EXIT.items() if isinstance(exc, t)), 1)


def handle_errors(fn):
    """Turn the library's typed errors into one message and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except KeyboardInterrupt:
            err("interrupted; everything finished before the interruption is kept")
            raise typer.Exit(130) from None
        except (AuditorError, ReferenceIndexError) as exc:
            err(f"error: {exc}")
            raise typer.Exit(exit_code(exc)) from None
        except OSError as exc:  # a file system refusal no check foresaw: one line, not a traceback
            where = f"{printable(exc.filename)}: " if exc.filename else ""
            err(f"error: {where}{exc.strerror or exc}")
            raise typer.Exit(1) from None

    return wrapper


def folder(option: str, path: Path) -> Path:
    """`path`, given for a folder option (--index, --out, --results): refused as the user's
    mistake (exit 2) when it, or a folder it would be made in, is an existing file."""
    for p in (path, *path.parents):
        if p.exists() or p.is_symlink():
            if not p.is_dir():
                where = "is a file" if p == path else f"{p} is a file"
                raise UsageError(f"{option} {path}: {where}, not {'an index folder' if option == '--index' else 'a folder'}")
            break
    return path


def resolve_config(config: Path | None, clip_model=None, clip_pretrained=None, device=None, batch_size=None) -> Config:
    """The configuration: defaults, then the --config file, then the model options."""
    clip = {}
    if clip_model:
        clip["model"] = clip_model
    if clip_pretrained:
        clip["pretrained"] = clip_pretrained
    if device:
        clip["device"] = device
    if batch_size:
        clip["batch_size"] = batch_size
    return load_config(config, {"channels": {"clip": clip}} if clip else None)


ConfigOpt = typer.Option(None, "--config", help="TOML file whose settings replace the defaults.", exists=False)
ClipModelOpt = typer.Option(None, "--clip-model", help="open_clip model name, or local-dir:/path/to/folder.")
ClipPretrainedOpt = typer.Option(None, "--clip-pretrained", help="open_clip pretrained tag, or a checkpoint file.")
DeviceOpt = typer.Option(None, "--device", help="Device for the clip channel: cpu, cuda, cuda:N or auto.")
class Lang(StrEnum):
    """The languages reports are written in (evidence/wording.py LANGS)."""

    en = "en"
    ja = "ja"


LangOpt = typer.Option(Lang.en, "--lang", help="Report language.", case_sensitive=False)
RedactOpt = typer.Option(
    False, "--redact-references",
    help="Downsample and watermark reference frames (reports that leave the rights holder).")
SignOpt = typer.Option(None, "--sign", help="Sign the PDF with this PKCS#12 key (.p12/.pfx).")
PassphraseOpt = typer.Option(None, "--passphrase-file", help="File holding the PKCS#12 passphrase (first line).")
