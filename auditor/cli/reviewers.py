"""`auditor reviewer add | remove | list`: the accounts reviewers sign in with on a desk served
beyond this machine (kept in the results folder's review trail; see review/accounts.py)."""

from __future__ import annotations

import sys
from pathlib import Path

import typer

from ..errors import UsageError
from .common import app, folder, handle_errors

reviewer_app = typer.Typer(no_args_is_help=True, rich_markup_mode=None,
                           help="Reviewer accounts for a desk served beyond this machine (auditor serve --host).")
app.add_typer(reviewer_app, name="reviewer")

ResultsOpt = typer.Option(..., "--results", help="Results folder the desk serves (its trail keeps the accounts).")


def _store(results: Path):
    from ..review.gate import TRAIL
    from ..review.store import ReviewStore

    if not folder("--results", results).is_dir():
        raise UsageError(f"--results {results}: no such folder")
    return ReviewStore(results / TRAIL)


@reviewer_app.command("add")
@handle_errors
def add(
    name: str = typer.Argument(..., help="The reviewer's name, as the trail will record it."),
    results: Path = ResultsOpt,
    password_stdin: bool = typer.Option(False, "--password-stdin", help="Read the password from the first line of stdin."),
) -> None:
    """Create a reviewer's account, or give it a new password (asked twice, not echoed)."""
    from ..review.accounts import MIN_PASSWORD, add_account

    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = typer.prompt(f"password for {name} (at least {MIN_PASSWORD} characters)", hide_input=True,
                                confirmation_prompt=True)
    store = _store(results)
    try:
        add_account(store, name, password)
    except ValueError as exc:
        raise UsageError(str(exc)) from None
    finally:
        store.close()
    typer.echo(f"account set for {name.strip()}: it signs in on a desk served with --host", err=True)


@reviewer_app.command("remove")
@handle_errors
def remove(name: str = typer.Argument(..., help="The reviewer's name."), results: Path = ResultsOpt) -> None:
    """Remove a reviewer's account: it can no longer sign in, and its open sessions end."""
    store = _store(results)
    try:
        if not (store.account(name) or (0, ""))[1]:
            raise UsageError(f"{name}: no such account")
        store.add_account(name, "")
    finally:
        store.close()
    typer.echo(f"account of {name} removed", err=True)


@reviewer_app.command("list")
@handle_errors
def list_(results: Path = ResultsOpt) -> None:
    """The reviewers who have an account, and when each was last set."""
    store = _store(results)
    try:
        for a in store.accounts():
            typer.echo(f"{a['name']}\t{a['set_utc']}")
    finally:
        store.close()
