"""`auditor report`, `auditor verify` and `auditor provenance`: the evidence PDF, its check,
and a clip's provenance."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from ..errors import UsageError
from .common import Lang, LangOpt, PassphraseOpt, RedactOpt, SignOpt, app, err, handle_errors
from .scan import report_args


@app.command()
@handle_errors
def report(
    evidence: Path = typer.Argument(..., help="An evidence JSON written by auditor scan (its .frames folder beside it)."),
    out: Path | None = typer.Option(None, "--out", help="PDF to write (default: beside the evidence, <clip>.report[.ja].pdf)."),
    lang: Lang = LangOpt,
    redact_references: bool = RedactOpt,
    sign: Path | None = SignOpt,
    passphrase_file: Path | None = PassphraseOpt,
    reviews: Path | None = typer.Option(
        None, "--reviews", help="Review database (results/reviews.sqlite): adds the review trail."),
) -> None:
    """Render the evidence PDF for one clip from its evidence JSON alone."""
    from ..evidence.files import read_evidence
    from ..report.pdf import render_report

    if out is not None and out.is_dir():
        raise UsageError(f"--out {out}: is a folder; name the PDF to write")
    trail = None
    if reviews is not None:
        from ..review.store import trail_for_report

        if not reviews.is_file():
            raise UsageError(f"--reviews {reviews}: no such review database")
        trail = trail_for_report(reviews, read_evidence(evidence).query_id)
    path = render_report(evidence, out, **report_args(lang, redact_references, sign, passphrase_file), reviews=trail)
    typer.echo(f"report written: {path}")


@app.command()
@handle_errors
def verify(
    pdf: Path = typer.Argument(..., help="An evidence PDF written by auditor report or scan --pdf, or a case bundle (.zip)."),
    clip: Path | None = typer.Option(None, "--clip", help="Also check that this file is the clip the report is about."),
    trust: Path | None = typer.Option(None, "--trust", help="Certificate (PEM/DER) the signature must chain to."),
) -> None:
    """Check a report (attached evidence vs printed hashes, the clip's SHA-256, the signature) or
    a case bundle (every file vs its manifest, signed reports' signatures). Exit 0 only if all hold."""
    import zipfile

    from ..report.bundle import verify_bundle
    from ..report.check import check_report

    bundle = pdf.suffix.lower() == ".zip" or (pdf.is_file() and zipfile.is_zipfile(pdf) and not _is_pdf(pdf))
    if bundle and clip is not None:
        raise UsageError("--clip checks a report, not a bundle")
    result = verify_bundle(pdf, trust) if bundle else check_report(pdf, clip, trust)
    for c in result.checks:
        typer.echo(f"{'note' if c.note else 'ok  ' if c.ok else 'FAIL'}  {c.name}: {c.detail}")
    what = "bundle" if bundle else "report"
    if not result.ok:
        err(f"{pdf}: {what} does NOT verify")
        raise typer.Exit(1)
    unseen = any(c.name == "pages" and c.note for c in result.checks)
    if unseen:
        err(f"{pdf}: its pages were NOT compared with its evidence (see the note above)")
    if bundle:
        typer.echo(f"{pdf}: bundle verifies")
    elif result.signers:
        typer.echo(f"{pdf}: report verifies; signed by {', '.join(result.signers)}")
    else:
        typer.echo(f"{pdf}: report verifies, UNSIGNED (consistent with itself; nothing says who made it)")


def _is_pdf(path: Path) -> bool:
    with open(path, "rb") as f:
        return f.read(5) == b"%PDF-"


@app.command()
@handle_errors
def summary(
    results: Path = typer.Argument(..., help="A results folder written by auditor scan."),
    lang: Lang = LangOpt,
) -> None:
    """Write the case summary into the results folder: summary.pdf, summary.html (self-contained) and summary.xlsx
    (in Japanese summary.ja.pdf, .html, .xlsx, beside the English ones)."""
    from ..report.summary import write_summary

    for path in write_summary(results, str(lang), warn=lambda line: err(f"warning: {line}")):
        typer.echo(f"written: {path}")


@app.command()
@handle_errors
def bundle(
    results: Path = typer.Argument(..., help="A results folder written by auditor scan."),
    out: Path = typer.Option(..., "--out", help="The zip to write (outside the results folder), e.g. case.zip."),
    only_flagged: bool = typer.Option(False, "--only-flagged", help="Only the flagged clips' evidence, frames and reports."),
    lang: Lang = typer.Option(Lang.en, "--lang", help="A language the bundle's summary is written in (besides any the "
                                                      "folder already has a summary in)."),
    case: str | None = typer.Option(None, "--case", help="The case's id, recorded in the manifest."),
    by: str | None = typer.Option(None, "--by", help="Who makes the bundle (default: this machine's user name)."),
    with_clips: bool = typer.Option(False, "--with-clips", help="Also pack each clip (from the path its evidence "
                                                                 "names, when its SHA-256 still matches)."),
) -> None:
    """Pack a case into one zip: reports, evidence, exhibit frames, summaries, the review trail, context files,
    optionally the clips, and a manifest of SHA-256 hashes with when, by whom and with what it was made."""
    from ..report.bundle import build_bundle

    path, n = build_bundle(results, out, only_flagged, str(lang), warn=lambda line: err(f"warning: {line}"),
                           case=case, made_by=by, with_clips=with_clips)
    typer.echo(f"bundle written: {path} ({n} files; check it: auditor verify {path})")


@app.command("provenance")
@handle_errors
def provenance_(
    clip: Path = typer.Argument(..., help="A video or image file."),
    context: Path | None = typer.Option(
        None, "--context", help="Generation context TOML (default: CLIP.context.toml if present)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a clip's provenance: Content Credentials (C2PA), container metadata, generation context."""
    from ..errors import InputError
    from ..media.provenance import provenance

    if not clip.is_file():
        raise InputError(clip, "file not found")
    p = provenance(clip, context)
    if as_json:
        typer.echo(json.dumps(p, indent=2, ensure_ascii=False))
        return
    cc, box, ctx = p["content_credentials"], p["container"], p["context"]
    typer.echo(f"file        {clip}")
    typer.echo(f"credentials {cc['summary']}")
    m = cc.get("active_manifest")
    if m:
        typer.echo(f"  generator {m['claim_generator']}; signed by {m['signer']} (issuer {m['certificate_issuer']})"
                   + (f" at {m['signing_time']}" if m.get("signing_time") else ""))
        for a in m["actions"]:
            source_type = f" ({a['digital_source_type'].rsplit('/', 1)[-1]})" if a.get("digital_source_type") else ""
            typer.echo(f"  action    {a.get('action')}" + source_type)
        typer.echo(f"  AI-generated (IPTC digital source type): {'yes' if m['ai_generated'] else 'not stated'}")
        for ing in m["ingredients"]:
            typer.echo(f"  ingredient {ing.get('title')} ({ing.get('relationship', '')})")
    if box.get("readable"):
        typer.echo(f"container   {box['codec']}, {box['width']}x{box['height']}, {box['fps']:g} fps, {box['duration_s']} s; "
                   f"encoder {box['encoder'] or 'not recorded'}; created {box['creation_time'] or 'not recorded'}")
    else:
        typer.echo("container   not readable by OpenCV/FFmpeg")
    if ctx:
        typer.echo(f"context     user-supplied, from {ctx['source']} (sha256 {ctx['sha256'][:16]}…)")
        for k, v in ctx["fields"].items():
            typer.echo(f"  {k:18} {v}")
    else:
        typer.echo("context     none supplied")
