"""`auditor scan` and `auditor demo`: scan suspect clips, with progress, a table and a tally."""

from __future__ import annotations

from pathlib import Path

import typer

from ..errors import UsageError
from ..scan.batch import ClipStatus
from .common import (
    ClipModelOpt,
    ClipPretrainedOpt,
    ConfigOpt,
    DeviceOpt,
    Lang,
    LangOpt,
    PassphraseOpt,
    RedactOpt,
    SignOpt,
    app,
    folder,
    handle_errors,
    resolve_config,
)
from .progress import ScanProgress


def _render_table(outcomes) -> None:
    headers = ("clip", "status", "flagged", "level", "score", "work")
    rows = []
    for o in outcomes:
        v = o.verdict
        ok = o.status != ClipStatus.ERROR and v is not None
        rows.append((
            o.query_id,
            str(o.status),
            ("yes" if v.flagged else "no") if ok else "-",
            str(v.level) if ok else (o.error or "")[:60],
            f"{v.score:.3f}" if ok else "-",
            o.top_work or "-",
        ))
    widths = [max(len(str(r[i])) for r in rows + [headers]) for i in range(len(headers))]
    for r in [headers] + rows:
        typer.echo("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())


@app.command()
@handle_errors
def scan(
    paths: list[str] | None = typer.Argument(None, help="Suspect clips: files, folders (searched recursively) or glob patterns."),
    index: Path = typer.Option(..., "--index", help="Index folder."),
    out: Path = typer.Option(..., "--out", help="Folder for evidence JSON, matches.csv and summary.csv."),
    from_list: str | None = typer.Option(None, "--from-list", help="File with one path a line ('-': standard input)."),
    force: bool = typer.Option(
        False, "--force", help="Scan again clips whose evidence exists for the same clip, index and parameters."),
    workers: int = typer.Option(
        1, "--workers", min=1, help="Worker processes, or Ray actors (each loads the index and models once)."),
    engine: str = typer.Option(
        "local", "--engine",
        help="local, or ray: spread clips over a Ray cluster (pip install 'auditor[ray]'; paths must be shared)."),
    address: str | None = typer.Option(None, "--address", help="Ray cluster address (default: start Ray on this machine)."),
    shard_cpus: int = typer.Option(
        1, "--shard-cpus", min=1,
        help="With --engine ray on a sharded index: CPUs each shard actor takes (its search threads)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output (failures are still reported)."),
    context: Path | None = typer.Option(
        None, "--context", help="Generation context (TOML) for every clip: generator, prompt, date, who. "
                                "Default: each clip's CLIP.context.toml if present."),
    config: Path | None = ConfigOpt,
    clip_model: str | None = ClipModelOpt,
    clip_pretrained: str | None = ClipPretrainedOpt,
    device: str | None = DeviceOpt,
    pdf: bool = typer.Option(False, "--pdf", help="Also write an evidence PDF beside the evidence of every flagged clip."),
    lang: Lang = LangOpt,
    redact_references: bool = RedactOpt,
    sign: Path | None = SignOpt,
    passphrase_file: Path | None = PassphraseOpt,
    playable: bool = typer.Option(
        False, "--playable", help="Also make the review desk's playable copies (VP8) of clips browsers cannot play "
                                  "(up to 30 minutes and 4 GiB each), so the desk shows them at once."),
) -> None:
    """Scan suspect clips against an index (every channel it holds) and write evidence.

    Re-runs skip clips already done; a bad clip is reported and the batch goes on (exit code 1)."""
    from ..scan.batch import run_batch
    from ..scan.engines import engine_for
    from ..scan.inputs import expand_inputs

    folder("--index", index)
    folder("--out", out)
    cfg = resolve_config(config, clip_model, clip_pretrained, device)
    inputs = expand_inputs(paths or [], from_list)
    if not inputs:
        raise UsageError("no clips to scan: give files, folders, patterns or --from-list")
    pdf_args = report_args(lang, redact_references, sign, passphrase_file) if pdf else None
    chosen = engine_for(engine, workers, address, shard_cpus)
    with ScanProgress(len(inputs), quiet) as progress:
        report = run_batch(inputs, index, out, cfg, chosen, force=force, pdf=pdf_args, context_file=context,
                           progress=progress)
    if not quiet:
        _render_table(report.outcomes)
    if playable:
        _make_playable(report, quiet)
    typer.echo(f"{report.count(ClipStatus.OK)} scanned, {report.count(ClipStatus.SKIPPED)} already done, "
               f"{report.count(ClipStatus.ERROR)} failed; "
               f"evidence in {report.out_dir}  (matches.csv, summary.csv)")
    if report.failed:
        raise typer.Exit(1)


def _make_playable(report, quiet: bool) -> None:
    """The desk's playable copies of the clips just scanned that browsers cannot play."""
    from ..evidence.files import read_evidence
    from ..review.prepare import make_playable

    clips = []
    for o in report.outcomes:
        if o.evidence_path and o.status != ClipStatus.ERROR:
            clips.append((Path(o.path), read_evidence(o.evidence_path).clip.sha256))
    for r in make_playable(report.out_dir, clips):
        if r["state"] in ("too long", "failed") or (not quiet and r["state"] == "ready"):
            why = {"ready": "playable copy made", "failed": f"no playable copy: {r['error']}",
                   "too long": f"no playable copy: over {r['limit_s'] // 60} minutes or {r['limit_bytes'] // 1024 ** 3} GiB"}
            typer.echo(f"{r['path']}: {why[r['state']]}", err=True)


def report_args(lang: str, redact: bool, sign: Path | None, passphrase_file: Path | None) -> dict:
    """Check report options before any work starts (a missing font fails now, not per clip)."""
    from ..evidence.wording import check_lang
    from ..report.fonts import japanese_font_path

    lang = check_lang(str(lang))
    if lang == "ja":
        japanese_font_path()
    if sign is not None and not sign.is_file():
        raise UsageError(f"--sign {sign}: no such file")
    passphrase = None
    if passphrase_file is not None:
        try:
            passphrase = passphrase_file.read_text(encoding="utf-8").splitlines()[0].encode()
        except (OSError, IndexError) as exc:
            raise UsageError(f"--passphrase-file {passphrase_file}: cannot read a passphrase ({exc})") from None
    return {"lang": lang, "redact_references": redact, "sign": sign, "passphrase": passphrase}


@app.command()
@handle_errors
def demo(out: Path = typer.Option(Path("demo-out"), "--out", help="Folder for the demo's footage, index and results.")) -> None:
    """Make a small drawn catalogue and two suspect clips, index, scan and show the verdicts."""
    from ..demo import run_demo

    folder("--out", out)
    typer.echo(f"making demo footage, index and scan in {out} ...", err=True)
    run = run_demo(out)
    _render_table(run.scan.outcomes)
    for o in run.scan.outcomes:
        if o.verdict:
            typer.echo(f"- {o.verdict.summary}")
    typer.echo(f"catalogue  {run.folder / 'catalogue'}")
    typer.echo(f"index      {run.index}")
    typer.echo(f"evidence   {run.results}  (*.evidence.json, matches.csv, summary.csv)")
    for o in run.scan.outcomes:
        if o.report_path:
            typer.echo(f"report     {o.report_path}  (check it: auditor verify {o.report_path})")
    typer.echo(f"next       auditor summary {run.results}   (summary.pdf, .html, .xlsx)")
    typer.echo(f"           auditor bundle {run.results} --out case.zip   (a case to send; auditor verify case.zip)")
