"""The desk's files: the clip (or its playable copy), thumbnails, the reference at the matched
time, exhibit pictures, evidence, reports, the review trail as CSV, and `/files/`.

Every path served is checked to lie inside the folders the desk was given (`gate.inside`), after
symlinks are resolved; nothing of the index is served.
"""

from __future__ import annotations

import tempfile
import threading
from dataclasses import dataclass, field
from pathlib import Path

from fastapi import FastAPI, HTTPException
from fastapi.responses import FileResponse, Response

from ..errors import InputError
from ..evidence.files import SUFFIX, read_evidence
from ..evidence.records import Evidence
from .catalogue import Catalogue
from .export import reviews_csv
from .gate import Shield, served_file
from .playback import make_proxy, needs_proxy, thumbnail
from .prepare import Preparer
from .queue import Results
from .store import ReviewStore, report_trail
from .strings import LANGS

PLACEHOLDER = (b'<svg xmlns="http://www.w3.org/2000/svg" width="160" height="90" viewBox="0 0 160 90">'
               b'<rect width="160" height="90" fill="#d9d9d6"/><path d="M66 30v30l26-15z" fill="#9a9a96"/></svg>')


@dataclass
class Desk:
    """What the desk's routes share."""

    results: Path
    roots: list[Path]  # where a suspect clip may be played from (the results folder, --clips)
    ref_roots: list[Path]  # where a reference video may be played from (--references)
    store: ReviewStore
    data: Results
    shield: Shield  # the trail and the index, by device and inode: never opened here but by the store
    catalogue: Catalogue  # the index's works and reference files, for naming a missed match
    preparer: Preparer  # playable copies, made in the background
    _codecs: dict[str, str | None] = field(default_factory=dict)

    def clip(self, query_id: str) -> Evidence:
        """One clip's evidence, read alone (not the whole folder, as the queue does)."""
        path = self.results / f"{query_id}{SUFFIX}"
        if "/" in query_id or "\\" in query_id or not self.shield.may_open(path, [self.results]):
            raise HTTPException(404)
        try:
            ev = read_evidence(path)
        except InputError:
            raise HTTPException(404) from None
        if ev.query_id != query_id:
            raise HTTPException(404)
        return ev

    def unplayable(self, path: Path, sha256: str) -> str | None:
        """The codec of a file browsers cannot play (remembered per file), else None."""
        key = f"{sha256}:{path}"
        if key not in self._codecs:
            self._codecs[key] = needs_proxy(path)
        return self._codecs[key]

    def playable_status(self, path: Path, sha256: str) -> dict:
        """The state of a clip's playable copy, asking for it first (before any other) if needed."""
        status = self.preparer.status(path, sha256)
        if status is None or status["state"] == "queued":
            self.preparer.want([(path, sha256)], urgent=True)
            status = self.preparer.status(path, sha256)
        assert status is not None
        return status

    def prepare_ahead(self) -> None:
        """Queue the playable copies of every clip (and the references it cites), newest evidence
        first, in a background thread (`serve` at start)."""

        def walk():
            files = sorted(self.results.glob(f"*{SUFFIX}"), key=lambda f: f.stat().st_mtime, reverse=True)
            for f in files:
                try:
                    ev = self.clip(f.name[: -len(SUFFIX)])
                except HTTPException:
                    continue
                items = [(Path(ev.clip.path), ev.clip.sha256)] if self.shield.may_open(Path(ev.clip.path), self.roots) else []
                for ref_id in dict.fromkeys(s.ref_id for s in ev.segments()):
                    ref = self.reference(ev, ref_id)
                    if ref is not None:
                        items.append((ref, ev.references[ref_id].sha256 or ref_id))
                self.preparer.want(items)

        threading.Thread(target=walk, name="playable-walk", daemon=True).start()

    def reference(self, ev: Evidence, ref_id: str) -> Path | None:
        """A reference video the desk may play, or None."""
        ref = ev.references.get(ref_id) if ev.references else None
        if not self.ref_roots or ref is None or not ref.path or ref.kind == "still":
            return None
        path = Path(ref.path)
        return path if self.shield.may_open(path, self.ref_roots) else None


def _playable_response(desk: Desk, path: Path, sha256: str) -> Response:
    if desk.unplayable(path, sha256) is None:
        return FileResponse(path)
    status = desk.preparer.status(path, sha256)
    if status is not None and status["state"] == "too long":
        raise HTTPException(415, f"no playable copy is made of a clip over {status['limit_s'] // 60} minutes "
                                 f"or {status['limit_bytes'] // 1024 ** 3} GiB")
    try:
        return FileResponse(make_proxy(path, desk.results, sha256), media_type="video/webm")
    except (RuntimeError, OSError) as exc:
        raise HTTPException(415, f"no playable copy could be made: {exc}") from None


def add_file_routes(app: FastAPI, desk: Desk) -> None:
    results = desk.results

    def clip_file(query_id: str) -> tuple[Path, str]:
        """The suspect clip, as served (404 when it may not be opened): its path and SHA-256."""
        ev = desk.clip(query_id)
        path = Path(ev.clip.path)
        if not desk.shield.may_open(path, desk.roots):
            raise HTTPException(404)
        return path, ev.clip.sha256

    @app.get("/clip/{query_id}/video")
    def video(query_id: str):
        return _playable_response(desk, *clip_file(query_id))

    @app.get("/clip/{query_id}/playable")
    def playable(query_id: str):
        """How far the clip's playable copy is (the page polls this while it is made)."""
        path, sha = clip_file(query_id)
        if desk.unplayable(path, sha) is None:
            return {"state": "original"}
        return desk.playable_status(path, sha)

    def reference_file(query_id: str, ref_id: str) -> tuple[Path, str]:
        """A reference the clip cites, as served (404 when it is not): its path and SHA-256."""
        ev = desk.clip(query_id)
        path = desk.reference(ev, ref_id)
        if path is None:
            raise HTTPException(404)
        return path, ev.references[ref_id].sha256 or ref_id

    @app.get("/clip/{query_id}/ref/{ref_id}/playable")
    def ref_playable(query_id: str, ref_id: str):
        """How far the reference's playable copy is (the page polls this before it plays it)."""
        path, sha = reference_file(query_id, ref_id)
        codec = desk.unplayable(path, sha)
        if codec is None:
            return {"state": "original"}
        return desk.playable_status(path, sha) | {"codec": codec}

    @app.get("/clip/{query_id}/ref/{ref_id}/video")
    def ref_video(query_id: str, ref_id: str):
        return _playable_response(desk, *reference_file(query_id, ref_id))

    @app.get("/clip/{query_id}/thumb.jpg")
    def thumb(query_id: str):
        """The first exhibit picture, else a frame of the clip, else a blank picture."""
        known = desk.data.row(query_id)
        if known is None:  # not listed yet (a clip scanned since the queue was shown)
            desk.data.load()
            known = desk.data.row(query_id)
        if known is None:
            raise HTTPException(404)
        if known.thumb and desk.shield.may_open(results / known.thumb, [results]):
            return FileResponse(results / known.thumb, headers={"Cache-Control": "max-age=3600"})
        ev = desk.clip(query_id)
        src = Path(ev.clip.path)
        if desk.shield.may_open(src, desk.roots):
            try:
                out = thumbnail(src, results, ev.clip.sha256, (ev.clip.duration_s or 0) / 2)
            except OSError:
                out = None
            if out is not None:
                return FileResponse(out, media_type="image/jpeg", headers={"Cache-Control": "max-age=3600"})
        return Response(PLACEHOLDER, media_type="image/svg+xml")

    @app.get("/clip/{query_id}/pair/{seg}/{pair}.png")
    def pair_png(query_id: str, seg: int, pair: int):
        from ..report.pictures import exhibit_picture, png

        segments = desk.clip(query_id).segments()
        try:
            s = segments[seg]
            ex = s.exhibits[pair]
        except IndexError:
            raise HTTPException(404) from None
        files = [ex.query_image.file] + ([ex.ref_image.file] if ex.ref_image else [])
        if not all(desk.shield.may_open(results / f, [results]) for f in files):
            raise HTTPException(404)
        pic, _ = exhibit_picture(s, ex, lambda name: (results / name).read_bytes())
        return Response(png(pic), media_type="image/png")

    @app.get("/clip/{query_id}/region/{seg}.png")
    def region_png(query_id: str, seg: int):
        """The still a segment matches, with the region of it the segment shows."""
        from ..report.pictures import png, region_picture

        segments = desk.clip(query_id).segments()
        if not 0 <= seg < len(segments):
            raise HTTPException(404)
        s = segments[seg]
        if s.still_image is None or not desk.shield.may_open(results / s.still_image.file, [results]):
            raise HTTPException(404)
        picture = region_picture(s, lambda name: (results / name).read_bytes())
        assert picture is not None  # the segment has a still (above)
        return Response(png(picture), media_type="image/png")

    @app.get("/clip/{query_id}/evidence.json")
    def evidence(query_id: str):
        desk.clip(query_id)
        return FileResponse(results / f"{query_id}{SUFFIX}", media_type="application/json")

    @app.get("/clip/{query_id}/report.pdf")
    def report(query_id: str, lang: str = "en"):
        """The evidence PDF with the review trail as it stands now."""
        from ..errors import AuditorError
        from ..report.pdf import pictures, render_report

        ev = desk.clip(query_id)
        if lang not in LANGS:
            raise HTTPException(400, f"lang: one of {', '.join(LANGS)}")
        if not all(desk.shield.may_open(results / img.file, [results]) for img in pictures(ev)):
            raise HTTPException(404)  # an exhibit that is the trail (or an index file) under another name
        with tempfile.TemporaryDirectory() as tmp:
            try:
                out = render_report(results / f"{query_id}{SUFFIX}", Path(tmp) / "r.pdf", lang=lang,
                                    reviews=report_trail(desk.store, query_id))
            except AuditorError as exc:
                raise HTTPException(500, str(exc)) from None
            data_bytes = out.read_bytes()
        return Response(data_bytes, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{query_id}.report.pdf"'})

    @app.get("/reviews.csv")
    def reviews():
        desk.data.load()  # the works of clips scanned since the queue was last shown
        return Response(reviews_csv(desk.store, desk.data.works_of), media_type="text/csv; charset=utf-8",
                        headers={"Content-Disposition": 'attachment; filename="reviews.csv"'})

    @app.get("/files/{rel:path}")
    def files(rel: str):
        # the results folder only: exhibit frames, reports, evidence, CSVs, playable copies; never
        # the review trail, nor anything of an index (its catalogue and manifest are the rights
        # holder's, not evidence)
        path = results / rel
        if served_file(rel) and desk.shield.may_open(path, [results]):
            return FileResponse(path)
        raise HTTPException(404)
