"""`auditor index ...`: add, build, info, optimize, remove, calibrate, shard."""

from __future__ import annotations

import json
from pathlib import Path

import typer

from reference_index import IndexWriter
from reference_index.store import open_reader

from ..config import load_config
from ..indexing.ingest import IngestStatus
from .common import (
    ClipModelOpt,
    ClipPretrainedOpt,
    ConfigOpt,
    DeviceOpt,
    folder,
    handle_errors,
    index_app,
    resolve_config,
)
from .progress import FileProgress, progress_printer


def _describe_ingest(r) -> tuple[bool, str]:
    if r.status == IngestStatus.ERROR:
        return True, f"error: {r.path}: {r.message}"
    return False, f"{r.status} {r.ref_id}: {r.frames} frames ({r.message})"


@index_app.command("calibrate")
@handle_errors
def index_calibrate(
    index: Path = typer.Option(..., "--index", help="Index folder."),
    background: list[Path] | None = typer.Option(
        None, "--background", help="Footage known to contain none of the catalogue (repeatable)."),
    frames_per_work: int | None = typer.Option(
        None, "--frames-per-work", min=1,
        help="Leave-one-work-out: frames sampled per work (default: calibration.frames_per_work)."),
    seed: int | None = typer.Option(
        None, "--seed", help="Seed for the frames sampled, for reproducible p-values (default: calibration.seed)."),
    config: Path | None = ConfigOpt,
    clip_model: str | None = ClipModelOpt,
    clip_pretrained: str | None = ClipPretrainedOpt,
    device: str | None = DeviceOpt,
) -> None:
    """Build null score distributions (background footage, or leave-one-work-out) for p-values."""
    from ..indexing.calibrate import calibrate

    folder("--index", index)
    cfg = resolve_config(config, clip_model, clip_pretrained, device)
    inside = FileProgress()
    try:
        data = calibrate(index, cfg, background or None, frames_per_work, seed, progress=inside.print,
                         on_frames=inside.on_frames)
    finally:
        inside.close()
    from ..match.calibration import shortfall

    for name, ch in data["channels"].items():
        xs = ch["samples"]
        mid = xs[len(xs) // 2] if xs else float("nan")
        typer.echo(f"{name:6} {len(xs)} null frames by {data['method']}, median best score {mid:g}")
    got = data["amount"]
    if data["method"] == "background":
        typer.echo(f"background: {got['clips']} clip(s), {got['minutes']:g} minutes, {got['frames']} frames")
    else:
        typer.echo(f"left out: {got['works']} works, {got['frames']} frames")
    short = shortfall(data, cfg)
    if short:
        typer.echo(f"warning: {short}", err=True)
    typer.echo(f"calibration stored in {index}")


def _ingest(index: Path, items, cfg, names) -> None:
    """Add catalogue items with progress on stderr, then say what was added (add and build)."""
    from ..indexing.ingest import add_items

    inside = FileProgress()
    try:
        report = add_items(index, items, cfg, names, progress=progress_printer(len(items), _describe_ingest, inside),
                           on_frames=inside.on_frames, on_structure=lambda line: inside.print(f"index structure: {line} ..."))
    finally:
        inside.close()
    _finish_ingest(report)


def _finish_ingest(report) -> None:
    added = sum(r.status == IngestStatus.ADDED for r in report.results)
    skipped = sum(r.status == IngestStatus.SKIPPED for r in report.results)
    for note in report.notes:
        typer.echo(f"index structure: {note}")
    typer.echo(f"{added} added, {skipped} skipped, {len(report.failed)} failed -> {report.index_path}")
    if report.failed:
        raise typer.Exit(1)


@index_app.command("add")
@handle_errors
def index_add(
    paths: list[Path] = typer.Argument(..., help="Videos or stills of one work."),
    index: Path = typer.Option(..., "--index", help="Index folder (created if absent)."),
    work: str = typer.Option(..., "--work", help="Title of the work these files belong to."),
    owner: str = typer.Option(..., "--owner", help="Rights holder of the work."),
    channels_: str | None = typer.Option(None, "--channels", help="Comma-separated channels (new index only)."),
    ref_id: str | None = typer.Option(None, "--ref-id", help="Reference id (one PATH only; default: file stem)."),
    config: Path | None = ConfigOpt,
    clip_model: str | None = ClipModelOpt,
    clip_pretrained: str | None = ClipPretrainedOpt,
    device: str | None = DeviceOpt,
) -> None:
    """Add files of one work to an index."""
    from ..channels import parse_channel_list
    from ..indexing.ingest import CatalogueItem

    if ref_id and len(paths) != 1:
        raise typer.BadParameter("--ref-id needs exactly one PATH")
    folder("--index", index)
    cfg = resolve_config(config, clip_model, clip_pretrained, device)
    names = parse_channel_list(channels_, cfg.channels.default) if channels_ else None
    items = [CatalogueItem(path=p, work=work, owner=owner, ref_id=ref_id) for p in paths]
    _ingest(index, items, cfg, names)


@index_app.command("build")
@handle_errors
def index_build(
    catalogue: Path = typer.Option(..., "--catalogue", help="CSV: path,work,owner[,episode,title,first_published,ref_id,notes]."),
    index: Path = typer.Option(..., "--index", help="Index folder (created if absent)."),
    channels_: str | None = typer.Option(None, "--channels", help="Comma-separated channels (new index only)."),
    config: Path | None = ConfigOpt,
    clip_model: str | None = ClipModelOpt,
    clip_pretrained: str | None = ClipPretrainedOpt,
    device: str | None = DeviceOpt,
) -> None:
    """Index every file a catalogue CSV lists (paths relative to the CSV). Re-runs skip what is in."""
    from ..channels import parse_channel_list
    from ..indexing.ingest import read_catalogue_csv

    folder("--index", index)
    cfg = resolve_config(config, clip_model, clip_pretrained, device)
    names = parse_channel_list(channels_, cfg.channels.default) if channels_ else None
    items = read_catalogue_csv(catalogue)
    _ingest(index, items, cfg, names)


@index_app.command("info")
@handle_errors
def index_info(
    index: Path = typer.Option(..., "--index", help="Index folder."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    verify: bool = typer.Option(False, "--verify", help="Also check every file against its SHA-256."),
) -> None:
    """Show what an index holds: channels, fingerprints, counts, works."""
    folder("--index", index)
    # --verify reads every file again and lists every problem; without it, opening refuses the
    # first problem it finds (and trusts checksums remembered for files that have not changed)
    with open_reader(index, verify=not verify) as idx:
        problems = idx.check_integrity() if verify else None
        info = idx.info() if not problems else {"path": str(index), "manifest_sha256": idx.manifest_sha256}
    if problems is not None:
        info["verified"] = not problems
        info["problems"] = problems
    if problems:
        if as_json:
            typer.echo(json.dumps(info, indent=2, ensure_ascii=False))
        else:
            typer.echo(f"index      {info['path']}")
            typer.echo("PROBLEMS:")
            for p in problems:
                typer.echo(f"  {p}")
        raise typer.Exit(2)
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
                f"{ch['structure']}" + (f" (FAISS factory '{ch['factory']}')" if ch.get("factory") else "")
                + f", fingerprint {ch['fingerprint']['id']}"
            )
        for w in info["works"]:
            typer.echo(f"work       {w['work']} ({w['owner']}): {w['videos']} files, {w['frames']} frames")
        if "sharded" in info:
            sh = info["sharded"]
            typer.echo(f"sharded    {len(sh['shards'])} shards by {sh['by']}, from index {sh['source']['index_id']} "
                       f"(generation {sh['source']['generation']}, manifest sha256 {sh['source']['manifest_sha256']})")
            for e in sh["shards"]:
                typer.echo(f"shard      {e['path']}: {e['counts']['works']} works, {e['counts']['videos']} videos/stills, "
                           f"{e['counts']['frames']} frames, {e['bytes'] / 2**20:.1f} MB, manifest sha256 {e['manifest_sha256']}")
        if problems is not None:
            typer.echo("verified   every file matches its SHA-256 and the manifest's counts")


@index_app.command("shard")
@handle_errors
def index_shard(
    index: Path = typer.Option(..., "--index", help="Index folder to split (left as it is)."),
    shards: int = typer.Option(..., "--shards", help="Number of shards (at least 2, at most one a video)."),
    out: Path | None = typer.Option(None, "--out", help="New folder for the sharded index (default: INDEX-shards)."),
    by: str = typer.Option("work", "--by", help="work: a work's videos stay together (cut only when larger than a "
                                                "shard); video: runs of consecutive videos."),
) -> None:
    """Split an index into shards (each a complete index of some videos) under one manifest."""
    from reference_index.store import shard_index

    folder("--index", index)
    out = out or index.with_name(index.name + "-shards")
    folder("--out", out)
    top = shard_index(index, out, shards, by, progress=lambda line: typer.echo(line, err=True))
    per = ", ".join(f"{e['path']} {e['counts']['frames']} frames {e['bytes'] / 2**20:.1f} MB" for e in top["shards"])
    typer.echo(f"{len(top['shards'])} shards by {by} of {top['counts']['frames']} frames -> {out}: {per}")


def _index_settings(config: Path | None) -> dict:
    from ..indexing.ingest import structure_settings

    return structure_settings(load_config(config))


@index_app.command("optimize")
@handle_errors
def index_optimize(
    index: Path = typer.Option(..., "--index", help="Index folder."),
    retrain: bool = typer.Option(False, "--retrain", help="Retrain inverted lists even when their size still fits."),
    config: Path | None = ConfigOpt,
) -> None:
    """Rebuild each channel in the structure its size calls for ([index] in the configuration)."""
    folder("--index", index)
    with IndexWriter(index) as w:
        done = w.optimize(**_index_settings(config), retrain=retrain,
                          before=lambda line: typer.echo(f"index structure: {line} ...", err=True))
    for name, what in done.items():
        typer.echo(f"{name:6} {what}")


@index_app.command("remove")
@handle_errors
def index_remove(
    index: Path = typer.Option(..., "--index", help="Index folder."),
    work: str = typer.Option(..., "--work", help="Title of the work to remove, exactly as indexed."),
) -> None:
    """Remove a work: its files and frames from the catalogue and their vectors from every channel."""
    folder("--index", index)
    with IndexWriter(index) as w:
        gone = w.remove_work(work)
    per = ", ".join(f"{n} {c}" for c, n in gone["vectors"].items())
    typer.echo(f"removed {work!r}: {gone['videos']} files, {gone['frames']} frames, vectors: {per}")
    if gone["frames"]:
        typer.echo("calibration dropped: run auditor index calibrate again for p-values")
