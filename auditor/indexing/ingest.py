"""Adding a rights holder's catalogue to a reference index.

Each file is sampled and embedded in full before anything is written, so a bad file costs
that file alone; the index is committed every `commit_every` files and when the run ends or is
interrupted, so a long build loses at most the file in hand.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path

import reference_index
from reference_index import CatalogueConflict, ReferenceIndex
from reference_index.store import sha256_file

from ..channels import Channel, create_channel, open_for_index
from ..errors import AuditorError, InputError, UsageError
from ..names import is_text, printable
from ..scan.engines import stops_the_run, unexpected
from ..scan.pipeline import embed_file, running_count
from ..settings import Configuration

CATALOGUE_REQUIRED = ("path", "work", "owner")
CATALOGUE_OPTIONAL = ("episode", "title", "first_published", "ref_id", "notes")


@dataclass
class CatalogueItem:
    """One file of the catalogue with its rights metadata."""

    path: Path
    work: str
    owner: str
    ref_id: str | None = None
    episode: str | None = None
    title: str | None = None
    first_published: str | None = None
    notes: str | None = None

    @property
    def effective_ref_id(self) -> str:
        return self.ref_id or self.path.stem

    def video_metadata(self) -> dict:
        return {k: getattr(self, k) for k in ("episode", "title", "first_published", "notes")}


class IngestStatus(StrEnum):
    ADDED = "added"
    SKIPPED = "skipped"  # already in the index (same bytes)
    ERROR = "error"


@dataclass
class IngestResult:
    path: str
    status: IngestStatus
    ref_id: str | None = None
    frames: int = 0
    message: str = ""


@dataclass
class IngestReport:
    index_path: str
    results: list[IngestResult] = field(default_factory=list)
    interrupted: bool = False
    notes: list[str] = field(default_factory=list)  # what became of the index's structure

    @property
    def failed(self) -> list[IngestResult]:
        return [r for r in self.results if r.status == IngestStatus.ERROR]


def read_catalogue_csv(csv_path: str | Path) -> list[CatalogueItem]:
    """Rows of a catalogue CSV (`path,work,owner` + optional columns); paths relative to the CSV."""
    csv_path = Path(csv_path)
    try:
        text = csv_path.read_text(encoding="utf-8-sig")
    except OSError as exc:
        raise UsageError(f"{csv_path}: cannot read catalogue: {exc.strerror or exc}") from exc
    except UnicodeDecodeError as exc:
        raise UsageError(f"{csv_path}: catalogue is not UTF-8 text") from exc
    reader = csv.DictReader(text.splitlines())
    columns = [c.strip() for c in (reader.fieldnames or [])]
    missing = [c for c in CATALOGUE_REQUIRED if c not in columns]
    if missing:
        raise UsageError(f"{csv_path}: catalogue lacks column(s) {', '.join(missing)} (needs {','.join(CATALOGUE_REQUIRED)})")
    unknown = [c for c in columns if c not in CATALOGUE_REQUIRED + CATALOGUE_OPTIONAL]
    if unknown:
        raise UsageError(f"{csv_path}: unknown column(s) {', '.join(unknown)}")
    items = []
    for line, row in enumerate(reader, start=2):
        row = {(k or "").strip(): (v or "").strip() for k, v in row.items()}
        if not any(row.values()):
            continue
        for c in CATALOGUE_REQUIRED:
            if not row.get(c):
                raise UsageError(f"{csv_path}:{line}: empty '{c}'")
        p = Path(row["path"])
        items.append(
            CatalogueItem(
                path=p if p.is_absolute() else (csv_path.parent / p),
                work=row["work"],
                owner=row["owner"],
                **{k: (row.get(k) or None) for k in CATALOGUE_OPTIONAL},
            )
        )
    if not items:
        raise UsageError(f"{csv_path}: catalogue has no rows")
    return items


def structure_settings(config: Configuration) -> dict:
    """The keyword arguments of IndexWriter.optimize from the [index] configuration: exact-search
    limits and nprobe by kind of vectors, and the structure of large local-feature channels."""
    ix = config.index
    if ix.local_structure not in ("ivf", "words"):
        raise UsageError(f"index.local_structure {ix.local_structure!r}: choose ivf or words")
    return {
        "exact_max": {"ip": int(ix.exact_max_float), "hamming": int(ix.exact_max_binary),
                      "local": int(ix.exact_max_local)},
        "nprobe": {"ip": int(ix.nprobe_float), "hamming": int(ix.nprobe_binary)},
        "local": str(ix.local_structure),
    }


def prepare_index(index_path: str | Path, channel_names: list[str] | None, config: Configuration):
    """Open (or create) the index and the channels it needs; refuse mismatches before any work."""
    index_path = Path(index_path)
    if index_path.exists() and not index_path.is_dir():
        raise UsageError(f"--index {index_path}: is a file, not an index folder")
    if reference_index.exists(index_path):
        index = ReferenceIndex.open(index_path)
        try:
            if channel_names is not None:
                index.check_channels(channel_names)
            return index, open_for_index(index, config)
        except BaseException:
            index.close()
            raise
    names = channel_names or list(config.channels.default)
    channels = {name: create_channel(name, config) for name in names}
    specs = {
        n: {"metric": c.metric, "dim": c.dim, "per_frame": c.per_frame, "fingerprint": c.fingerprint()}
        for n, c in channels.items()
    }
    try:
        return ReferenceIndex.create(index_path, specs), channels
    except CatalogueConflict:
        if not reference_index.exists(index_path):
            raise
        # another `index add` created it since we looked (two first adds at once): add to that one
        return prepare_index(index_path, channel_names, config)


def add_items(
    index_path: str | Path,
    items: list[CatalogueItem],
    config: Configuration,
    channel_names: list[str] | None = None,
    commit_every: int = 20,
    progress: Callable[[IngestResult], None] | None = None,
    on_frames: Callable[[str, int], None] | None = None,
    on_structure: Callable[[str], None] | None = None,
) -> IngestReport:
    """Sample, embed and add every item; per-file errors are recorded, not raised.
    `progress(result)` after each file; `on_frames(file, frames)` inside one, as frames are embedded;
    `on_structure(line)` before a channel's structure is rebuilt at the end (it can take minutes)."""
    index, channels = prepare_index(index_path, channel_names, config)
    index.close()
    fps = float(config.sampling.reference.fps)
    report = IngestReport(str(index_path))
    stopped: BaseException | None = None
    with index.writer() as writer:
        try:
            for item in items:
                result = _add_one(writer, item, channels, fps, config, on_frames)
                report.results.append(result)
                if progress:
                    progress(result)
                if writer.pending >= commit_every:
                    writer.checkpoint()
            report.notes += _keep_structure(writer, config, on_structure)
        except KeyboardInterrupt:
            # Every file added so far is complete: keep them (the writer commits on a clean exit).
            report.interrupted = True
        except _WriterFailed:
            raise  # the writer itself failed mid-file: what it holds is not to be trusted, nothing is committed
        except Exception as exc:  # a failure that stops the run (a model, the index): keep what was added
            stopped = exc
    if report.interrupted:
        raise KeyboardInterrupt
    if stopped is not None:
        raise stopped
    return report


def _keep_structure(writer, config: Configuration, on_structure: Callable[[str], None] | None = None) -> list[str]:
    """Move channels that grew past their limit to the next kind of structure, and inverted lists
    to four times as many when their size calls for that (no ritual); say in one line where
    `index optimize` would pay (a vocabulary sized for a much smaller index: training one costs
    minutes at a million frames)."""
    notes = []
    for name, what in writer.optimize(**structure_settings(config), only_new_kinds=True, before=on_structure).items():
        if what.startswith("rebuilt"):
            notes.append(f"{name}: {what}")
    for name in writer.channels:
        vec = writer.vectors(name)
        if vec.vocabulary_outgrown():
            notes.append(f"{name}: {vec.ntotal} descriptors in a vocabulary of {vec.index.vocabulary.size} words; "
                         f"`auditor index optimize` would train {vec.words_wanted()}")
    return notes


class _WriterFailed(AuditorError):
    """The index writer failed while adding one file (not the file's fault): the run stops and
    nothing since the last commit is kept, since the writer's state is then unknown."""


def _add_one(writer, item: CatalogueItem, channels: dict[str, Channel], fps: float, config: Configuration,
             on_frames: Callable[[str, int], None] | None = None) -> IngestResult:
    path = printable(item.path)
    ref_id = printable(item.effective_ref_id)
    try:
        if not is_text(item.path):
            # the catalogue keeps the path to read the file again for verification: it must be text
            raise InputError(item.path, "the file name is not valid UTF-8 (shown with \\x escapes): rename the file "
                                        "to index it")
        if writer.ref_id_taken(ref_id):
            # Same bytes under the same id: a re-run. Different bytes: a clash the user must settle.
            try:
                digest = sha256_file(item.path)
            except OSError as exc:
                raise InputError(item.path, f"cannot read: {exc.strerror or exc}") from exc
            found = writer.find_sha256(digest)
            if found and found[0] == ref_id:
                return IngestResult(path, IngestStatus.SKIPPED, ref_id, 0, f"already indexed as '{ref_id}'")
            raise InputError(item.path, f"ref_id '{ref_id}' is already used by another file; give it a ref_id")
        embedded = embed_file(item.path, fps, channels, config, on_frames=running_count(on_frames, path))
        found = writer.find_sha256(embedded.info.sha256)
        if found:
            return IngestResult(path, IngestStatus.SKIPPED, found[0], 0,
                                f"same bytes already indexed as '{found[0]}' ({found[1]})")
        if embedded.n_frames == 0:
            raise InputError(item.path, "no frames could be sampled")
        info = embedded.info.to_dict() | {"sampling_fps": fps, "path": str(Path(item.path).resolve())}
        vectors = {n: e.rows_and_vectors() for n, e in embedded.embeddings.items()}
        try:
            n = writer.add_video(
                work=item.work,
                owner=item.owner,
                ref_id=ref_id,
                info=info,
                times=embedded.times,
                vectors=vectors,
                video_metadata=item.video_metadata(),
                boxes=embedded.boxes,
            )
        except CatalogueConflict:
            raise  # refused whole, nothing written: this file's error
        except Exception as exc:
            raise _WriterFailed(f"{printable(item.path)}: the index writer failed: {unexpected(exc)}") from exc
        kept = {name: int(e.keep.sum()) for name, e in embedded.embeddings.items()}
        note = ", ".join(f"{name} {k}/{n}" for name, k in kept.items())
        return IngestResult(path, IngestStatus.ADDED, ref_id, n, f"frames per channel: {note}")
    except InputError as exc:
        return IngestResult(path, IngestStatus.ERROR, ref_id, 0, exc.reason)
    except CatalogueConflict as exc:
        return IngestResult(path, IngestStatus.ERROR, ref_id, 0, str(exc))
    except _WriterFailed:
        raise
    except Exception as exc:
        if stops_the_run(exc):
            raise  # a model or the index: every file would fail alike
        # Whatever one file does to a decoder or a library, the rest of the catalogue goes on.
        return IngestResult(path, IngestStatus.ERROR, ref_id, 0, unexpected(exc))
