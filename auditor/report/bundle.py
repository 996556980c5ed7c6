"""`auditor bundle RESULTS --out case.zip` and `auditor verify case.zip`: a case as one file a
lawyer can send, and its check.

The bundle holds the case: each clip's evidence JSON, its exhibit frames (`<clip>.frames/`), its
reports, its context file (`context/`) and, with `--with-clips`, the clip (`clips/`); the case
summary in each language (summary.pdf/html/xlsx, summary.ja.*: made afresh for the bundle, never
written over the user's), the review trail (reviews.csv, and under reviewed/ the reports of
reviewed clips with their trail printed), summary.csv and matches.csv; and two manifests of every
other file's SHA-256: `manifest.json` (`auditor.bundle/1`, with the case id, when and by whom it
was made, and the tool's version and commit) and `SHA256SUMS` (the format `sha256sum -c` reads,
so anyone can check it without auditor). The zip is written atomically, in a fixed order, its
entries dated when it was made (SOURCE_DATE_EPOCH, when set, for a reproducible bundle).

`verify_bundle` hashes every member as it streams out of the zip (nothing is extracted to
disk, so member names cannot write anywhere), compares each with the manifest, names every file
that differs, is missing or is not listed, checks each report as `verify` checks one, and checks
the evidence and exhibit frames beside a report against the very bytes it carries. A
manifest is not a signature: an unsigned bundle is said to be consistent with itself, no more.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import stat
import zipfile
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from reference_index.store import atomic_path

from ..errors import InputError, UsageError
from ..evidence.files import SUFFIX, parse_evidence, read_evidence
from ..evidence.records import Evidence
from ..evidence.wording import LANGS
from .case import report_name
from .check import Check, ReportCheck
from .story import ATTACHMENT_NAME
from .summary import summary_names, write_summary

FORMAT = "auditor.bundle/1"
MANIFEST, SUMS = "manifest.json", "SHA256SUMS"
# Caps on what verify reads of a member (a zip bomb declares gigabytes in a few kilobytes): the
# manifest, a report read whole for its signatures, any member hashed as a stream
MAX_MANIFEST, MAX_PDF, MAX_MEMBER = 64 << 20, 512 << 20, 2 << 30


def _clip_files(folder: Path, evidence: Path, ev: Evidence) -> list[Path]:
    qid = ev.query_id
    files = [evidence]
    frames = folder / f"{qid}.frames"
    if frames.is_dir():  # its own files only: a link out of the folder is not packed
        files += sorted(p for p in frames.rglob("*") if p.is_file() and not p.is_symlink()
                        and p.resolve().is_relative_to(folder.resolve()))
    for lang in ("en", "ja"):
        name = report_name(folder, qid, lang)
        if name and folder / name not in files:
            files.append(folder / name)
    return files


def _made_with() -> dict:
    """The tool that made the bundle: its version and, from a git checkout, its commit."""
    import subprocess

    from .. import __version__

    commit = "unknown"
    try:
        out = subprocess.run(["git", "-C", str(Path(__file__).resolve().parent), "rev-parse", "HEAD"],
                             capture_output=True, text=True, timeout=10, check=False)
        if out.returncode == 0:
            commit = out.stdout.strip()
    except (OSError, subprocess.SubprocessError):
        pass
    return {"name": "auditor", "version": __version__, "commit": commit}


def _created() -> datetime:
    """Now, or SOURCE_DATE_EPOCH (a reproducible build's clock), in UTC to the second."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH", "")
    when = datetime.fromtimestamp(int(epoch), UTC) if epoch.isdigit() else datetime.now(UTC)
    return when.replace(microsecond=0)


def _case_files(folder: Path, ev: Evidence, with_clips: bool, said: Callable[[str], None]) -> dict[str, Path]:
    """(name in the bundle -> file) of a clip's context file and, with `with_clips`, the clip itself:
    each only when it still has the SHA-256 its evidence states."""
    from reference_index.store import sha256_file

    out: dict[str, Path] = {}
    wanted = []
    ctx = ev.provenance.context if ev.provenance else None
    if ctx is not None:
        wanted.append((f"context/{ev.query_id}.context.toml", Path(ctx.source), ctx.sha256, "context file"))
    if with_clips:
        wanted.append((f"clips/{ev.query_id}{Path(ev.clip.path).suffix}", Path(ev.clip.path), ev.clip.sha256, "suspect clip"))
    for name, path, sha, what in wanted:
        if not path.is_absolute():
            path = folder / path
        try:
            ok = path.is_file() and sha256_file(path) == sha
        except OSError:
            ok = False
        if ok:
            out[name] = path
        else:
            said(f"{ev.query_id}: its {what} {path.name} is not where its evidence found it, or has changed: not packed")
    return out


def build_bundle(results: str | Path, out: str | Path, only_flagged: bool = False, lang: str = "en",
                 warn: Callable[[str], None] | None = None, case: str | None = None, made_by: str | None = None,
                 with_clips: bool = False) -> tuple[Path, int]:
    """Write the case bundle; (its path, files in it besides the manifests). Evidence that cannot
    be read is left out, and `warn` hears of it (one line each). Nothing in the results folder is
    written: summaries (in `lang` and every language the folder has one in) and the review trail's
    CSV and reviewed reports are made afresh for the bundle alone."""
    import getpass
    import tempfile

    def said(line: str) -> None:
        if warn is not None:
            warn(line)

    folder = Path(results)
    if not folder.is_dir():
        raise UsageError(f"{folder}: no such results folder")
    out = Path(out)
    if out.resolve().is_relative_to(folder.resolve()):
        raise UsageError(f"--out {out}: write the bundle outside the results folder it packs")
    created = _created()
    with tempfile.TemporaryDirectory() as tmp:
        made = Path(tmp)
        packed: dict[str, Path] = {}
        langs = [lang] + [x for x in LANGS if x != lang and any((folder / n).is_file() for n in summary_names(x))]
        for i, x in enumerate(langs):  # derived from the folder: made afresh, so they list what is packed
            for p in write_summary(folder, x, said if i == 0 else None, out_dir=made):
                packed[p.name] = p
        evidence_files = []
        for evidence in sorted(folder.glob(f"*{SUFFIX}")):
            try:
                ev = read_evidence(evidence)
            except InputError:
                continue  # the summary said so, and lists it among the failures
            if only_flagged and not ev.verdict.flagged:
                continue
            evidence_files.append((evidence, ev))
            packed.update({f.relative_to(folder).as_posix(): f for f in _clip_files(folder, evidence, ev)})
            packed.update(_case_files(folder, ev, with_clips, said))
        packed.update(_review_trail(folder, evidence_files, made))
        packed.update({n: folder / n for n in ("summary.csv", "matches.csv") if (folder / n).is_file()})
        hashes: dict[str, str] = {}
        date = created.timetuple()[:6]
        with atomic_path(out) as tmp_zip, zipfile.ZipFile(tmp_zip, "w", compression=zipfile.ZIP_DEFLATED) as zf:
            for name in sorted(packed, key=_order):
                data = packed[name].read_bytes()
                hashes[name] = hashlib.sha256(data).hexdigest()
                _write(zf, name, data, date)
            manifest = {"format": FORMAT, "case": case, "created_utc": created.isoformat(),
                        "made_by": made_by or getpass.getuser(), "tool": _made_with(), "only_flagged": only_flagged,
                        "files": hashes}
            _write(zf, MANIFEST, (json.dumps(manifest, indent=2, ensure_ascii=False) + "\n").encode(), date)
            _write(zf, SUMS, "".join(f"{h}  {n}\n" for n, h in hashes.items()).encode(), date)
    return out, len(hashes)


def _order(name: str) -> tuple:
    """Clips' files first (as the folder lists them), then the case's: summaries, trail, CSVs."""
    return (name.startswith(("summary", "reviews", "reviewed/", "matches.csv")), name)


def _review_trail(folder: Path, evidence_files: list, made: Path) -> dict[str, Path]:
    """The review trail as CSV and, for each packed clip a reviewer decided on, its report with the
    trail printed (as `auditor report --reviews` makes it), under reviewed/."""
    db = folder / "reviews.sqlite"
    if not db.is_file():
        return {}
    from ..review.export import export_reviews
    from ..review.store import trail_for_report
    from .pdf import render_report

    out: dict[str, Path] = {}
    (made / "reviews.csv").write_text(export_reviews(folder), encoding="utf-8")
    out["reviews.csv"] = made / "reviews.csv"
    (made / "reviewed").mkdir()
    for evidence, ev in evidence_files:
        trail = trail_for_report(db, ev.query_id)
        if not trail:
            continue
        for lang in ("en", "ja"):
            if lang == "en" or report_name(folder, ev.query_id, "ja").endswith(".ja.pdf"):
                name = f"{ev.query_id}.report{'' if lang == 'en' else '.' + lang}.pdf"
                out[f"reviewed/{name}"] = render_report(evidence, made / "reviewed" / name, lang=lang, reviews=trail)
    return out


def read_evidence_bytes(raw: bytes, where: str) -> Evidence:
    return parse_evidence(raw, f"{where} ({ATTACHMENT_NAME})")


def _write(zf: zipfile.ZipFile, name: str, data: bytes, date: tuple) -> None:
    info = zipfile.ZipInfo(name, date_time=date)
    info.compress_type = zipfile.ZIP_DEFLATED
    info.external_attr = 0o644 << 16
    zf.writestr(info, data)


def _sha(zf: zipfile.ZipFile, info: zipfile.ZipInfo) -> str:
    h = hashlib.sha256()
    with zf.open(info) as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def _unsafe_members(zf: zipfile.ZipFile, result: ReportCheck) -> set[str]:
    """Members no bundle of auditor holds, each a failed check: a name that would land outside the
    folder it is unpacked in (absolute, '..', a drive, backslashes), a link, a name given twice
    (a reader would check one copy and unpack another)."""
    bad: set[str] = set()
    seen: dict[str, int] = {}
    for info in zf.infolist():
        seen[info.filename] = seen.get(info.filename, 0) + 1
    for name, n in sorted(seen.items()):
        if n > 1:
            result.add("file", False, f"{name}: in the bundle {n} times (twice or more under one name: which copy "
                                      "is read depends on the tool)")
            bad.add(name)
    for info in zf.infolist():
        name = info.filename
        parts = name.replace("\\", "/").split("/")
        if name.startswith(("/", "\\")) or "\\" in name or ".." in parts or ":" in parts[0] or "\0" in name:
            result.add("file", False, f"{name}: a name that leaves the folder the bundle is unpacked in")
            bad.add(name)
        elif info.create_system == 3 and stat.S_ISLNK(info.external_attr >> 16):
            result.add("file", False, f"{name}: a symbolic link, which no bundle of auditor holds")
            bad.add(name)
    return bad


def _read_capped(zf: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int) -> bytes | None:
    """The member's bytes, or None when it holds more than `cap` (read no further than that)."""
    if info.file_size > cap:
        return None
    with zf.open(info) as f:
        data = f.read(cap + 1)
    return None if len(data) > cap else data


def _reports(zf: zipfile.ZipFile, members: dict, listed: dict, unsafe: set[str], result: ReportCheck,
             trust: str | Path | None) -> int:
    """Each report checked as `verify` checks one (its printed hashes, its pages, its signature),
    and the files beside it checked against what it carries: its evidence JSON and exhibit frames
    must be the very bytes it attached and prints the hash of. A manifest rebuilt over edited
    evidence agrees with itself; the reports made before the edit do not. Returns how many are signed."""
    import tempfile

    from .check import check_report
    from .pdf import FRAME_PREFIX
    from .rerender import _attachments

    signed, reported = 0, set()
    summaries = {n for x in LANGS for n in summary_names(x)}
    reports = sorted(n for n in listed if n.endswith(".pdf") and n not in summaries and n in members and n not in unsafe)
    for name in reports:
        data = _read_capped(zf, members[name], MAX_PDF)
        if data is None:
            result.add("report", False, f"{name}: too large to check (over {MAX_PDF} bytes)")
            continue
        from pyhanko.pdf_utils.reader import PdfFileReader

        pdf = PdfFileReader(io.BytesIO(data), strict=False)
        with tempfile.TemporaryDirectory() as tmp:
            one = Path(tmp) / "report.pdf"
            one.write_bytes(data)
            try:  # --trust is for the signed reports; an unsigned one is said once for the bundle
                check = check_report(one, trust=trust if pdf.embedded_signatures else None)
            except InputError as exc:
                result.add("report", False, f"{name}: {exc.reason}")
                continue
        for c in check.checks:
            if c.name == "signature" and c.note:
                continue  # unsigned: said once for the bundle
            result.checks.append(Check(f"{c.name} {name}", c.ok, c.detail, note=c.note, signer=c.signer))
        signed += bool(check.signers)
        carried = _attachments(pdf)
        raw = carried.get(ATTACHMENT_NAME)
        if raw is None:
            continue  # the report's own check said so
        try:
            qid = read_evidence_bytes(raw, name).query_id
        except InputError:
            continue
        beside = f"{qid}{SUFFIX}"
        reported.add(beside)
        for member, expected in [(beside, raw)] + [(a[len(FRAME_PREFIX):], b) for a, b in sorted(carried.items())
                                                     if a.startswith(FRAME_PREFIX)]:
            if member not in members or member in unsafe:
                continue
            actual = _sha(zf, members[member])
            if actual != hashlib.sha256(expected).hexdigest():
                result.add("against report", False, f"{member}: differs from what {name} carries and prints "
                                                    f"(SHA-256 {actual}, the report's {hashlib.sha256(expected).hexdigest()})"
                                                    ": changed after the report was made")
            else:
                result.add("against report", True, f"{member}: the very bytes {name} carries")
    for name in sorted(n for n in listed if n.endswith(SUFFIX) and n in members and n not in unsafe and n not in reported):
        result.add("against report", True, f"{name}: no report in the bundle carries it; it agrees with the manifest "
                                           "only", note=True)
    return signed


def verify_bundle(path: str | Path, trust: str | Path | None = None) -> ReportCheck:
    """Check every file of a bundle against its manifest, and the signatures of signed reports."""
    path = Path(path)
    result = ReportCheck(str(path))
    try:
        zf = zipfile.ZipFile(path)
    except (OSError, zipfile.BadZipFile) as exc:
        raise InputError(path, f"not a readable zip file ({exc})") from None
    with zf:
        members = {i.filename: i for i in zf.infolist() if not i.is_dir()}
        unsafe = _unsafe_members(zf, result)
        if MANIFEST not in members:
            result.add("manifest", False, f"no {MANIFEST}: not an auditor case bundle")
            return result
        try:
            if members[MANIFEST].file_size > MAX_MANIFEST:
                raise ValueError(f"{members[MANIFEST].file_size} bytes, over {MAX_MANIFEST}")
            manifest = json.loads(zf.read(members[MANIFEST]).decode("utf-8"))
            listed = manifest["files"]
            if manifest.get("format") != FORMAT or not isinstance(listed, dict):
                raise ValueError(f"format {manifest.get('format')!r}")
        except (ValueError, KeyError, TypeError, zipfile.BadZipFile, RecursionError) as exc:
            why = "nested too deeply" if isinstance(exc, RecursionError) else exc
            result.add("manifest", False, f"{MANIFEST} cannot be read ({why})")
            return result
        result.add("manifest", True, f"{MANIFEST} lists {len(listed)} files")
        for name, expected in listed.items():
            info = members.get(name)
            if info is None:
                result.add("file", False, f"{name}: listed in the manifest but missing from the bundle")
                continue
            if name in unsafe:
                continue  # said above; never read
            if info.file_size > MAX_MEMBER:
                result.add("file", False, f"{name}: too large to check ({info.file_size} bytes unpacked, over "
                                          f"{MAX_MEMBER}): no bundle auditor writes holds such a file")
                unsafe.add(name)
                continue
            try:
                actual = _sha(zf, info)
            except (zipfile.BadZipFile, OSError, EOFError, ValueError) as exc:  # a corrupt or altered member
                result.add("file", False, f"{name}: cannot be read ({exc})")
                continue
            if actual != expected:
                result.add("file", False, f"{name}: differs from the manifest (SHA-256 {actual}, manifest {expected})")
        for name in sorted(set(members) - set(listed) - {MANIFEST, SUMS}):
            result.add("file", False, f"{name}: in the bundle but not in the manifest")
        if SUMS in members:
            raw = _read_capped(zf, members[SUMS], MAX_MANIFEST) or b""
            sums = {line[66:]: line[:64] for line in raw.decode("utf-8", "replace").splitlines()}
            if sums != listed:
                result.add("manifest", False, f"{SUMS} and {MANIFEST} disagree")
        bad = [c for c in result.checks if not c.ok]
        if not bad:
            result.add("files", True, f"every one of the {len(listed)} files has the SHA-256 the manifest states")
        signed = _reports(zf, members, listed, unsafe, result, trust)
        if not signed:
            result.add("signature", True, "no report in the bundle is signed: the manifest shows that the files agree "
                                          "with it, not who made them (anyone could rebuild both)", note=True)
    return result
