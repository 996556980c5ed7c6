"""The command line: each command parses, calls one library function, renders.

Exit codes: 0 success; 1 some inputs failed (each reported); 2 usage error (bad option, bad
config, wrong or mismatched index); 3 a missing dependency or missing model weights; 130 Ctrl-C.
"""

from __future__ import annotations

import functools
import json
import sys
from pathlib import Path
from typing import List, Optional

import typer

from reference_index import (
    CatalogueConflict,
    ChannelMismatch,
    FingerprintMismatch,
    IndexCorrupt,
    IndexLocked,
    IndexNotFound,
    ReferenceIndex,
    ReferenceIndexError,
)

from . import __version__
from .config import load_config
from .errors import AuditorError, UsageError

app = typer.Typer(no_args_is_help=True, add_completion=False, help="Output-similarity auditor for generated video.")
index_app = typer.Typer(no_args_is_help=True, help="Build and inspect a reference index of a catalogue.")
app.add_typer(index_app, name="index")

_INDEX_EXIT = {
    IndexNotFound: 2,
    FingerprintMismatch: 2,
    ChannelMismatch: 2,
    CatalogueConflict: 2,
    IndexCorrupt: 1,
    IndexLocked: 1,
}


def err(message: str) -> None:
    typer.echo(f"auditor: {message}", err=True)


def handle_errors(fn):
    """Turn the library's typed errors into one message and an exit code."""

    @functools.wraps(fn)
    def wrapper(*args, **kwargs):
        try:
            return fn(*args, **kwargs)
        except KeyboardInterrupt:
            err("interrupted; everything finished before the interruption is kept")
            raise typer.Exit(130)
        except AuditorError as exc:
            err(f"error: {exc}")
            raise typer.Exit(exc.exit_code)
        except ReferenceIndexError as exc:
            err(f"error: {exc}")
            raise typer.Exit(next((c for t, c in _INDEX_EXIT.items() if isinstance(exc, t)), 1))

    return wrapper


def _config(config: Optional[Path], clip_model=None, clip_pretrained=None, device=None, batch_size=None) -> dict:
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
LangOpt = typer.Option("en", "--lang", help="Report language: en or ja.")
RedactOpt = typer.Option(False, "--redact-references", help="Downsample and watermark reference frames (reports that leave the rights holder).")
SignOpt = typer.Option(None, "--sign", help="Sign the PDF with this PKCS#12 key (.p12/.pfx).")
PassphraseOpt = typer.Option(None, "--passphrase-file", help="File holding the PKCS#12 passphrase (first line).")


@app.command()
@handle_errors
def version() -> None:
    """Print the version."""
    typer.echo(f"auditor {__version__}")


@app.command()
@handle_errors
def channels(
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    config: Optional[Path] = ConfigOpt,
    clip_model: Optional[str] = ClipModelOpt,
    clip_pretrained: Optional[str] = ClipPretrainedOpt,
) -> None:
    """List the registered channels with their fingerprints (or why one cannot load)."""
    from .channels import create_channel, registered

    cfg = _config(config, clip_model, clip_pretrained)
    out = {}
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


class ScanProgress:
    """Progress of a batch scan on stderr: a live line on a terminal (clips done, frames per
    second, time left), one plain line per clip otherwise, nothing with --quiet. Failures are
    always printed, one line each."""

    def __init__(self, total: int, quiet: bool = False, live: bool | None = None):
        import time

        self.total, self.quiet = total, quiet
        self.live = sys.stderr.isatty() if live is None else live
        self.done = self.frames = self.scanned = 0
        self.clock = time.monotonic
        self.start = self.clock()

    def __call__(self, o) -> None:
        self.done += 1
        self.frames += o.frames
        self.scanned += o.status == "ok"
        failed, text = _describe_scan(o)
        elapsed = max(1e-9, self.clock() - self.start)
        if failed:
            self._clear()
            typer.echo(f"auditor: [{self.done}/{self.total}] {text}", err=True)
        if self.quiet:
            return
        if not self.live:
            if not failed:
                typer.echo(f"[{self.done}/{self.total}] {text}", err=True)
            return
        rate = self.scanned / elapsed
        left = (self.total - self.done) / rate if rate > 0 else float("nan")
        eta = f"{int(left // 60)}:{int(left % 60):02d}" if left == left else "-"
        width = 24
        filled = int(width * self.done / max(1, self.total))
        line = (f"[{'#' * filled}{'.' * (width - filled)}] {self.done}/{self.total} clips  "
                f"{self.frames / elapsed:.1f} frames/s  {eta} left  {o.query_id[:30]}")
        sys.stderr.write("\r" + line[:120].ljust(120))
        sys.stderr.flush()
        if self.done == self.total:
            sys.stderr.write("\n")

    def _clear(self) -> None:
        if self.live and not self.quiet:
            sys.stderr.write("\r" + " " * 120 + "\r")


def _progress(total: int, describe):
    """A progress callback printing `[done/total] ...` to stderr; `describe(item)` gives
    (failed, text) for one finished file."""
    done = [0]

    def show(item) -> None:
        done[0] += 1
        failed, text = describe(item)
        typer.echo(f"{'auditor: ' if failed else ''}[{done[0]}/{total}] {text}", err=True)

    return show


def _describe_ingest(r) -> tuple[bool, str]:
    if r.status == "error":
        return True, f"error: {r.path}: {r.message}"
    return False, f"{r.status} {r.ref_id}: {r.frames} frames ({r.message})"


@index_app.command("calibrate")
@handle_errors
def index_calibrate(
    index: Path = typer.Option(..., "--index", help="Index folder."),
    background: Optional[List[Path]] = typer.Option(None, "--background", help="Footage known to contain none of the catalogue (repeatable)."),
    frames_per_work: int = typer.Option(400, "--frames-per-work", help="Leave-one-work-out: frames sampled per work."),
    seed: int = typer.Option(0, "--seed", help="Seed for the frames sampled (reproducible p-values)."),
    config: Optional[Path] = ConfigOpt,
    clip_model: Optional[str] = ClipModelOpt,
    clip_pretrained: Optional[str] = ClipPretrainedOpt,
    device: Optional[str] = DeviceOpt,
) -> None:
    """Build null score distributions (background footage, or leave-one-work-out) for p-values."""
    from .calibrate import calibrate

    cfg = _config(config, clip_model, clip_pretrained, device)
    data = calibrate(index, cfg, background or None, frames_per_work, seed, progress=lambda m: typer.echo(m, err=True))
    for name, ch in data["channels"].items():
        xs = ch["samples"]
        mid = xs[len(xs) // 2] if xs else float("nan")
        typer.echo(f"{name:6} {len(xs)} null frames by {data['method']}, median best score {mid:g}")
    typer.echo(f"calibration stored in {index}")


def _describe_scan(o) -> tuple[bool, str]:
    if o.status == "error":
        return True, f"error: {o.path}: {o.error}"
    v = o.verdict
    return False, f"{o.query_id}: {'flagged' if v['flagged'] else 'not flagged'}, {v['level']} ({v['score']:.3f})"


def _finish_ingest(report) -> None:
    added = sum(r.status == "added" for r in report.results)
    skipped = sum(r.status == "skipped" for r in report.results)
    typer.echo(f"{added} added, {skipped} skipped, {len(report.failed)} failed -> {report.index_path}")
    if report.failed:
        raise typer.Exit(1)


@index_app.command("add")
@handle_errors
def index_add(
    paths: List[Path] = typer.Argument(..., help="Videos or stills of one work."),
    index: Path = typer.Option(..., "--index", help="Index folder (created if absent)."),
    work: str = typer.Option(..., "--work", help="Title of the work these files belong to."),
    owner: str = typer.Option(..., "--owner", help="Rights holder of the work."),
    channels_: Optional[str] = typer.Option(None, "--channels", help="Comma-separated channels (new index only)."),
    ref_id: Optional[str] = typer.Option(None, "--ref-id", help="Reference id (one PATH only; default: file stem)."),
    config: Optional[Path] = ConfigOpt,
    clip_model: Optional[str] = ClipModelOpt,
    clip_pretrained: Optional[str] = ClipPretrainedOpt,
    device: Optional[str] = DeviceOpt,
) -> None:
    """Add files of one work to an index."""
    from .channels import parse_channel_list
    from .ingest import CatalogueItem, add_items

    if ref_id and len(paths) != 1:
        raise typer.BadParameter("--ref-id needs exactly one PATH")
    cfg = _config(config, clip_model, clip_pretrained, device)
    names = parse_channel_list(channels_, cfg["channels"]["default"]) if channels_ else None
    items = [CatalogueItem(path=p, work=work, owner=owner, ref_id=ref_id) for p in paths]
    _finish_ingest(add_items(index, items, cfg, names, progress=_progress(len(items), _describe_ingest)))


@index_app.command("build")
@handle_errors
def index_build(
    catalogue: Path = typer.Option(..., "--catalogue", help="CSV: path,work,owner[,episode,title,first_published,ref_id,notes]."),
    index: Path = typer.Option(..., "--index", help="Index folder (created if absent)."),
    channels_: Optional[str] = typer.Option(None, "--channels", help="Comma-separated channels (new index only)."),
    config: Optional[Path] = ConfigOpt,
    clip_model: Optional[str] = ClipModelOpt,
    clip_pretrained: Optional[str] = ClipPretrainedOpt,
    device: Optional[str] = DeviceOpt,
) -> None:
    """Index every file a catalogue CSV lists (paths relative to the CSV). Re-runs skip what is in."""
    from .channels import parse_channel_list
    from .ingest import add_items, read_catalogue_csv

    cfg = _config(config, clip_model, clip_pretrained, device)
    names = parse_channel_list(channels_, cfg["channels"]["default"]) if channels_ else None
    items = read_catalogue_csv(catalogue)
    _finish_ingest(add_items(index, items, cfg, names, progress=_progress(len(items), _describe_ingest)))


@index_app.command("info")
@handle_errors
def index_info(
    index: Path = typer.Option(..., "--index", help="Index folder."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    verify: bool = typer.Option(False, "--verify", help="Also check every file against its SHA-256."),
) -> None:
    """Show what an index holds: channels, fingerprints, counts, works."""
    with ReferenceIndex.open(index) as idx:
        info = idx.info()
        problems = idx.verify() if verify else None
    if problems is not None:
        info["verified"] = not problems
        info["problems"] = problems
    if as_json:
        typer.echo(json.dumps(info, indent=2, ensure_ascii=False))
    else:
        c = info["counts"]
        typer.echo(f"index      {info['path']}")
        typer.echo(f"id         {info['index_id']}  (generation {info['generation']}, {info['format']})")
        typer.echo(f"manifest   sha256 {info['manifest_sha256']}")
        typer.echo(f"catalogue  {c['works']} works, {c['videos']} videos/stills, {c['frames']} frames")
        typer.echo("calibrated " + ("yes (p-values in evidence)" if info["calibrated"] else "no (run: auditor index calibrate)"))
        for name, ch in info["channels"].items():
            typer.echo(
                f"channel    {name}: {ch['vectors']} vectors, {ch['metric']}, dim {ch['dim']}, "
                f"{ch['structure']}, fingerprint {ch['fingerprint']['id']}"
            )
        for w in info["works"]:
            typer.echo(f"work       {w['work']} ({w['owner']}): {w['videos']} files, {w['frames']} frames")
        if problems is not None:
            typer.echo("verified   all files match their SHA-256" if not problems else "PROBLEMS:")
            for p in problems:
                typer.echo(f"  {p}")
    if problems:
        raise typer.Exit(1)


def _index_settings(config: Optional[Path]) -> tuple[dict, dict]:
    ix = load_config(config)["index"]
    exact = {"ip": int(ix["exact_max_float"]), "hamming": int(ix["exact_max_binary"])}
    nprobe = {"ip": int(ix["nprobe_float"]), "hamming": int(ix["nprobe_binary"])}
    return exact, nprobe


@index_app.command("optimize")
@handle_errors
def index_optimize(
    index: Path = typer.Option(..., "--index", help="Index folder."),
    retrain: bool = typer.Option(False, "--retrain", help="Retrain inverted lists even when their size still fits."),
    config: Optional[Path] = ConfigOpt,
) -> None:
    """Rebuild each channel in the structure its size calls for ([index] in the configuration)."""
    from reference_index import IndexWriter

    exact, nprobe = _index_settings(config)
    with IndexWriter(index) as w:
        done = w.optimize(exact, nprobe, retrain)
    for name, what in done.items():
        typer.echo(f"{name:6} {what}")


@index_app.command("remove")
@handle_errors
def index_remove(
    index: Path = typer.Option(..., "--index", help="Index folder."),
    work: str = typer.Option(..., "--work", help="Title of the work to remove, exactly as indexed."),
) -> None:
    """Remove a work: its files and frames from the catalogue and their vectors from every channel."""
    from reference_index import IndexWriter

    with IndexWriter(index) as w:
        gone = w.remove_work(work)
    per = ", ".join(f"{n} {c}" for c, n in gone["vectors"].items())
    typer.echo(f"removed {work!r}: {gone['videos']} files, {gone['frames']} frames, vectors: {per}")
    if gone["frames"]:
        typer.echo("calibration dropped: run auditor index calibrate again for p-values")


def _render_table(outcomes) -> None:
    headers = ("clip", "status", "flagged", "level", "score", "work")
    rows = []
    for o in outcomes:
        v = o.verdict or {}
        rows.append(
            (
                o.query_id,
                o.status,
                ("yes" if v.get("flagged") else "no") if o.status == "ok" else "-",
                v.get("level", "-") if o.status == "ok" else (o.error or "")[:60],
                f"{v.get('score', 0):.3f}" if o.status == "ok" else "-",
                o.top_work or "-",
            )
        )
    widths = [max(len(str(r[i])) for r in rows + [headers]) for i in range(len(headers))]
    for r in [headers] + rows:
        typer.echo("  ".join(str(c).ljust(w) for c, w in zip(r, widths)).rstrip())


@app.command()
@handle_errors
def scan(
    paths: Optional[List[str]] = typer.Argument(None, help="Suspect clips: files, folders (searched recursively) or glob patterns."),
    index: Path = typer.Option(..., "--index", help="Index folder."),
    out: Path = typer.Option(..., "--out", help="Folder for evidence JSON, matches.csv and summary.csv."),
    from_list: Optional[str] = typer.Option(None, "--from-list", help="File with one path a line ('-': standard input)."),
    force: bool = typer.Option(False, "--force", help="Scan again clips whose evidence exists for the same clip, index and parameters."),
    workers: int = typer.Option(1, "--workers", min=1, help="Worker processes, or Ray actors (each loads the index and models once)."),
    engine: str = typer.Option("local", "--engine", help="local, or ray: spread clips over a Ray cluster (pip install 'auditor[ray]'; paths must be shared)."),
    address: Optional[str] = typer.Option(None, "--address", help="Ray cluster address (default: start Ray on this machine)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No progress output (failures are still reported)."),
    context: Optional[Path] = typer.Option(None, "--context", help="Generation context (TOML) for every clip: generator, prompt, date, who. Default: each clip's CLIP.context.toml if present."),
    config: Optional[Path] = ConfigOpt,
    clip_model: Optional[str] = ClipModelOpt,
    clip_pretrained: Optional[str] = ClipPretrainedOpt,
    device: Optional[str] = DeviceOpt,
    pdf: bool = typer.Option(False, "--pdf", help="Also write an evidence PDF beside the evidence of every flagged clip."),
    lang: str = LangOpt,
    redact_references: bool = RedactOpt,
    sign: Optional[Path] = SignOpt,
    passphrase_file: Optional[Path] = PassphraseOpt,
) -> None:
    """Scan suspect clips against an index (every channel it holds) and write evidence.

    Re-runs skip clips already done; a bad clip is reported and the batch goes on (exit code 1)."""
    from .batch import expand_inputs
    from .scan import scan_paths

    cfg = _config(config, clip_model, clip_pretrained, device)
    inputs = expand_inputs(paths or [], from_list)
    if not inputs:
        raise UsageError("no clips to scan: give files, folders, patterns or --from-list")
    pdf_args = _report_args(lang, redact_references, sign, passphrase_file) if pdf else None
    report = scan_paths(inputs, index, out, cfg, progress=ScanProgress(len(inputs), quiet), pdf=pdf_args,
                        force=force, workers=workers, engine=engine, address=address, context_file=context)
    if not quiet:
        _render_table(report.outcomes)
    counts = {s: sum(o.status == s for o in report.outcomes) for s in ("ok", "skipped", "error")}
    typer.echo(f"{counts['ok']} scanned, {counts['skipped']} already done, {counts['error']} failed; "
               f"evidence in {report.out_dir}  (matches.csv, summary.csv)")
    if report.failed:
        raise typer.Exit(1)


def _report_args(lang: str, redact: bool, sign: Optional[Path], passphrase_file: Optional[Path]) -> dict:
    """Check report options before any work starts (a missing font fails now, not per clip)."""
    from .report import japanese_font_path
    from .report_text import LANGS

    if lang not in LANGS:
        raise UsageError(f"--lang {lang!r}: choose one of {', '.join(LANGS)}")
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
def report(
    evidence: Path = typer.Argument(..., help="An evidence JSON written by auditor scan (its .frames folder beside it)."),
    out: Optional[Path] = typer.Option(None, "--out", help="PDF to write (default: beside the evidence, <clip>.report[.ja].pdf)."),
    lang: str = LangOpt,
    redact_references: bool = RedactOpt,
    sign: Optional[Path] = SignOpt,
    passphrase_file: Optional[Path] = PassphraseOpt,
    reviews: Optional[Path] = typer.Option(None, "--reviews", help="Review database (results/reviews.sqlite): adds the review trail."),
) -> None:
    """Render the evidence PDF for one clip from its evidence JSON alone."""
    from .report import render_report

    trail = None
    if reviews is not None:
        from .review.store import trail_for_report

        if not reviews.is_file():
            raise UsageError(f"--reviews {reviews}: no such review database")
        trail = trail_for_report(reviews, json.loads(evidence.read_text(encoding="utf-8")).get("query_id", ""))
    path = render_report(evidence, out, **_report_args(lang, redact_references, sign, passphrase_file), reviews=trail)
    typer.echo(f"report written: {path}")


@app.command()
@handle_errors
def verify(
    pdf: Path = typer.Argument(..., help="An evidence PDF written by auditor report or scan --pdf."),
    clip: Optional[Path] = typer.Option(None, "--clip", help="Also check that this file is the clip the report is about."),
    trust: Optional[Path] = typer.Option(None, "--trust", help="Certificate (PEM/DER) the signature must chain to."),
) -> None:
    """Check a report: attached evidence vs printed hashes, the clip's SHA-256, the signature. Exit 0 only if all hold."""
    from .report_check import verify_report

    result = verify_report(pdf, clip, trust)
    for c in result.checks:
        typer.echo(f"{'ok  ' if c.ok else 'FAIL'}  {c.name}: {c.detail}")
    if not result.ok:
        err(f"{pdf}: report does NOT verify")
        raise typer.Exit(1)
    typer.echo(f"{pdf}: report verifies")


@app.command("provenance")
@handle_errors
def provenance_(
    clip: Path = typer.Argument(..., help="A video or image file."),
    context: Optional[Path] = typer.Option(None, "--context", help="Generation context TOML (default: CLIP.context.toml if present)."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Show a clip's provenance: Content Credentials (C2PA), container metadata, generation context."""
    from .errors import InputError
    from .provenance import provenance

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
            typer.echo(f"  action    {a.get('action')}" + (f" ({a['digital_source_type'].rsplit('/', 1)[-1]})" if a.get("digital_source_type") else ""))
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


@app.command()
@handle_errors
def serve(
    index: Path = typer.Option(..., "--index", help="Index folder (its reference files may be served)."),
    results: Path = typer.Option(..., "--results", help="Results folder of auditor scan."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on; other than localhost needs a token."),
    port: int = typer.Option(8765, "--port"),
    token: Optional[str] = typer.Option(None, "--token", envvar="AUDITOR_TOKEN", help="Access token (required off localhost)."),
    clips: Optional[List[Path]] = typer.Option(None, "--clips", help="Folder of suspect clips the desk may play (repeatable)."),
) -> None:
    """The review desk: a local web app to confirm or dismiss matches, with an audit trail."""
    import secrets

    from .review.app import LOCAL_HOSTS, create_app

    if not results.is_dir():
        raise UsageError(f"--results {results}: no such folder")
    if host not in LOCAL_HOSTS and not token:
        raise UsageError(f"--host {host}: listening beyond this machine needs an access token "
                         f"(--token or AUDITOR_TOKEN; for example {secrets.token_urlsafe(16)})")
    import uvicorn

    app_ = create_app(index, results, token, clips or [])
    shown = "localhost" if host in LOCAL_HOSTS else host
    typer.echo(f"review desk on http://{shown}:{port}/" + (f"?token={token}" if token else "") + "  (Ctrl-C stops it)", err=True)
    uvicorn.run(app_, host=host, port=port, log_level="warning")


@app.command("eval")
@handle_errors
def eval_(
    matches: Path = typer.Option(..., "--matches", help="matches.csv from a scan (VSC 2022 format)."),
    truth: Path = typer.Option(..., "--truth", help="Truth CSV: query_id,ref_id,query_start,query_end,ref_start,ref_end[,transform]."),
    evidence: Optional[Path] = typer.Option(None, "--evidence", help="Folder of evidence JSON: clip decisions use their verdicts."),
    iou: float = typer.Option(0.5, "--iou", help="Overlap IoU a predicted segment needs to count as found."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Score matches against a truth file.

    Segment AP (micro, VSC-style): predictions ranked by score are matched one to one to truth
    segments of the same query and reference when the IoU of their [query interval] x [reference
    interval] boxes is at least --iou (query intervals alone for stills). Clip recall and
    false-positive rate: a clip is detected when its evidence verdict is flagged (with
    --evidence) or when matches.csv has a row for it. Recall per transform when the truth has a
    transform column. A query with no copy is a truth row with an empty ref_id.
    """
    from .evaluate import evaluate

    r = evaluate(matches, truth, evidence, iou)
    if as_json:
        typer.echo(json.dumps(r.to_dict(), indent=2))
        return
    typer.echo(f"segment AP        {r.segment_ap:.3f}  (IoU >= {r.iou:g}; {r.segments_found}/{r.truth_segments} truth segments found, {r.predicted_segments} predicted)")
    typer.echo(f"clip recall       {r.clip_recall:.3f}  ({r.positives} clips with copies; decision: {r.decision})")
    typer.echo(f"clip FP rate      {r.clip_fpr:.3f}  ({len(r.false_positives)} of {r.negatives} clips without copies)")
    if r.per_transform:
        typer.echo("per transform     clips  clip recall  segment recall")
        for name, t in r.per_transform.items():
            seg = "-" if t["segment_recall"] is None else f"{t['segment_recall']:.2f}"
            typer.echo(f"  {name:16} {t['clips']:5}  {t['clip_recall']:11.2f}  {seg:>14}")
    if r.missed:
        typer.echo(f"missed            {', '.join(r.missed)}")
    if r.false_positives:
        typer.echo(f"false positives   {', '.join(r.false_positives)}")


@app.command()
@handle_errors
def demo(out: Path = typer.Option(Path("demo-out"), "--out", help="Folder for the demo's footage, index and results.")) -> None:
    """Make a small drawn catalogue and two suspect clips, index, scan and show the verdicts."""
    from .demo import run_demo

    typer.echo(f"making demo footage, index and scan in {out} ...", err=True)
    run = run_demo(out)
    _render_table(run.scan.outcomes)
    for o in run.scan.outcomes:
        if o.verdict:
            typer.echo(f"- {o.verdict['summary']}")
    typer.echo(f"catalogue  {run.folder / 'catalogue'}")
    typer.echo(f"index      {run.index}")
    typer.echo(f"evidence   {run.results}  (*.evidence.json, matches.csv, summary.csv)")
    for o in run.scan.outcomes:
        if o.report_path:
            typer.echo(f"report     {o.report_path}  (check it: auditor verify {o.report_path})")


def main() -> None:
    app()


if __name__ == "__main__":
    main()
