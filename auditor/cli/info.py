"""`auditor version`, `channels`, `schema`, `eval`, `serve` and `reviews`."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from .. import __version__
from ..errors import AuditorError, UsageError
from .common import ClipModelOpt, ClipPretrainedOpt, ConfigOpt, app, folder, handle_errors, resolve_config


@app.command()
@handle_errors
def serve(
    index: Path = typer.Option(..., "--index", help="Index folder the results were scanned against."),
    results: Path = typer.Option(..., "--results", help="Results folder of auditor scan."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; other than localhost needs a token."),
    port: int = typer.Option(8765, "--port"),
    token: str | None = typer.Option(None, "--token", envvar="AUDITOR_TOKEN", help="Access token (required off localhost)."),
    clips: list[Path] | None = typer.Option(None, "--clips", help="Folder of suspect clips the desk may play (repeatable)."),
    references: list[Path] | None = typer.Option(
        None, "--references", help="Folder of reference videos the desk may play beside a clip (repeatable)."),
    tls_cert: Path | None = typer.Option(None, "--tls-cert", help="Serve over TLS with this certificate (PEM)."),
    tls_key: Path | None = typer.Option(None, "--tls-key", help="The certificate's private key (PEM)."),
) -> None:
    """The review desk: a local web app to confirm or dismiss matches, with an audit trail."""
    import secrets

    from ..extras import require

    require("desk")
    from ..review.app import LOCAL_HOSTS, create_app

    folder("--index", index)
    for clip_folder in clips or []:
        folder("--clips", clip_folder)
    for ref_folder in references or []:
        folder("--references", ref_folder)
    if not folder("--results", results).is_dir():
        raise UsageError(f"--results {results}: no such folder")
    if host not in LOCAL_HOSTS and not token:
        raise UsageError(f"--host {host}: listening beyond this machine needs an access token "
                         f"(--token or AUDITOR_TOKEN; for example {secrets.token_urlsafe(16)})")
    if (tls_cert is None) != (tls_key is None):
        raise UsageError("--tls-cert and --tls-key go together")
    for option, path in (("--tls-cert", tls_cert), ("--tls-key", tls_key)):
        if path is not None and not path.is_file():
            raise UsageError(f"{option} {path}: no such file")
    import uvicorn

    app_ = create_app(index, results, token, clips or [], host=host, reference_roots=references or [], prepare_ahead=True)
    shown = f"[{host}]" if ":" in host else host  # the address it is bound to, as a URL names it
    scheme = "https" if tls_cert else "http"
    typer.echo(f"review desk on {scheme}://{shown}:{port}/" + (f"?token={token}" if token else "") + "  (Ctrl-C stops it)",
               err=True)
    if host not in LOCAL_HOSTS:
        accounts = len(app_.state.store.accounts())
        typer.echo(f"beyond this machine every reviewer signs in ({accounts} account(s); add one with "
                   f"auditor reviewer add NAME --results {results})", err=True)
    uvicorn.run(app_, host=host, port=port, log_level="warning",
                ssl_certfile=str(tls_cert) if tls_cert else None, ssl_keyfile=str(tls_key) if tls_key else None)


@app.command()
@handle_errors
def reviews(
    results: Path = typer.Option(..., "--results", help="Results folder the desk reviewed (holds reviews.sqlite)."),
    out: Path | None = typer.Option(None, "--out", help="Write the CSV here (default: print it)."),
) -> None:
    """The review trail as CSV: query_id (the clip), decision, reviewer, time, note, work (as /reviews.csv on the desk)."""
    from ..review.export import export_reviews

    if not folder("--results", results).is_dir():
        raise UsageError(f"--results {results}: no such folder")
    if not (results / "reviews.sqlite").is_file():
        raise UsageError(f"--results {results}: no review trail (reviews.sqlite) in this folder")
    text = export_reviews(results)
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
        typer.echo(f"wrote {out}", err=True)


@app.command("eval")
@handle_errors
def eval_(
    matches: Path = typer.Option(..., "--matches", help="matches.csv from a scan (VSC 2022 format)."),
    truth: Path = typer.Option(
        ..., "--truth", help="Truth CSV: query_id,ref_id,query_start,query_end,ref_start,ref_end[,transform]."),
    evidence: Path | None = typer.Option(None, "--evidence", help="Folder of evidence JSON: clip decisions use their verdicts."),
    iou: float = typer.Option(0.5, "--iou", help="Overlap IoU a predicted segment needs to count as found."),
    split: str | None = typer.Option(
        None, "--split", help="Only the queries of this split (the truth's split column), e.g. report."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Score matches against a truth file.

    Segment AP (micro, VSC-style): predictions ranked by score are matched one to one to truth
    segments of the same query and reference when the IoU of their [query interval] x [reference
    interval] boxes is at least --iou (query intervals alone for stills). VSC matching AP: the
    VSC 2022 matching track's metric on the same predictions (facebookresearch/vsc2022,
    vsc/metrics.py), whose precision and recall are lengths of overlap along both timelines,
    with no IoU threshold (query intervals alone for stills). Clip recall and false-positive
    rate: a clip is detected when its evidence verdict is flagged (with --evidence) or when
    matches.csv has a row for it. Recall per transform when the truth has a transform column. A
    query with no copy is a truth row with an empty ref_id.
    """
    from ..evaluate import evaluate

    r = evaluate(matches, truth, evidence, iou, split)
    if as_json:
        typer.echo(json.dumps(r.to_dict(), indent=2))
        return
    typer.echo(f"segment AP        {r.segment_ap:.3f}  (IoU >= {r.iou:g}; {r.segments_found}/{r.truth_segments} "
               f"truth segments found, {r.predicted_segments} predicted)")
    typer.echo(f"VSC matching AP   {r.vsc_matching_ap:.3f}  (VSC 2022 matching track: overlap along both timelines)")
    typer.echo(f"clip recall       {r.clip_recall:.3f}  ({r.positives} clips with copies; decision: {r.decision})")
    typer.echo(f"clip FP rate      {r.clip_fpr:.3f}  ({len(r.false_positives)} of {r.negatives} clips without copies)")
    if r.per_transform:
        typer.echo("per transform     clips  clip recall  segment recall")
        for name, t in r.per_transform.items():
            seg = "-" if t["segment_recall"] is None else f"{t['segment_recall']:.2f}"
            typer.echo(f"  {name:16} {t['clips']:5}  {t['clip_recall']:11.2f}  {seg:>14}")
    if r.negatives_per_kind and list(r.negatives_per_kind) != ["negative"]:
        typer.echo("negatives         flagged / clips")
        for name, (flagged, clips) in r.negatives_per_kind.items():
            typer.echo(f"  {name:16} {flagged:3} / {clips}")
    if r.missed:
        typer.echo(f"missed            {', '.join(r.missed)}")
    if r.false_positives:
        typer.echo(f"false positives   {', '.join(r.false_positives)}")


@app.command()
@handle_errors
def schema(
    what: str = typer.Argument("evidence", help="Which schema: evidence (auditor.evidence/1)."),
) -> None:
    """Print the JSON Schema of a file format auditor writes (a public contract)."""
    from ..evidence.records import json_schema

    if what != "evidence":
        raise UsageError(f"no schema named {what!r} (known: evidence)")
    typer.echo(json.dumps(json_schema(), indent=2, ensure_ascii=False))


@app.command()
@handle_errors
def channels(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Path | None = ConfigOpt,
    clip_model: str | None = ClipModelOpt,
    clip_pretrained: str | None = ClipPretrainedOpt,
) -> None:
    """List the registered channels with their fingerprints (or why one cannot load)."""
    from ..channels import create_channel, registered

    cfg = resolve_config(config, clip_model, clip_pretrained)
    out: dict[str, dict] = {}  # channel -> what is shown of it (JSON)
    for name, target in registered().items():
        try:
            ch = create_channel(name, cfg)
            out[name] = {"class": target, "status": "ok", "metric": ch.metric, "dim": ch.dim, "fingerprint": ch.fingerprint()}
        except AuditorError as exc:
            out[name] = {"class": target, "status": "unavailable", "reason": str(exc)}
    if as_json:
        typer.echo(json.dumps(out, indent=2))
        return
    for name, entry in out.items():
        if entry["status"] == "ok":
            fp = entry["fingerprint"]
            detail = ", ".join(
                f"{k}={v}" for k, v in fp.items() if k not in ("id", "name", "source", "metric", "dim", "preprocess")
            )
            typer.echo(f"{name:6} {entry['metric']:8} dim={entry['dim']:<5} fingerprint={fp['id']}  {detail}")
        else:
            typer.echo(f"{name:6} unavailable: {entry['reason'].splitlines()[0]}")


@app.command()
@handle_errors
def version() -> None:
    """Print the version."""
    typer.echo(f"auditor {__version__}")
