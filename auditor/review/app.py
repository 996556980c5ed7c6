"""The review desk (FastAPI, server-rendered pages, no front-end build).

Pages: the queue of scanned clips (sort and filter by level, work, owner, review state; failed
clips listed too) and one page per clip (the clip playing with its segments on a timeline,
frame pairs with the local-feature matches drawn, p-values, the verdict, the review trail and a
form to record a decision).

Safety:
- listens on 127.0.0.1 unless told otherwise; any other address needs an access token, given
  once as `?token=` (kept in an HttpOnly cookie) or as `Authorization: Bearer` (create_app
  refuses to build a desk for another address without one); tokens are compared as bytes in
  constant time, whatever characters they hold;
- a request naming another host than the address served (DNS rebinding: a page of another site
  whose name resolves to 127.0.0.1) is refused; redirects are paths, never built from Host;
- request bodies are capped (`MAX_BODY`) and only URL-encoded forms are accepted: a multipart
  upload is refused before anything parses it;
- serves only files under the results folder (not its review trail) and the clip folders the
  desk plays from: anything else, including `..` tricks, symlinks out, the index's catalogue
  and manifest, is a 404;
- forms carry a CSRF token bound to a SameSite=Strict cookie, and cross-origin posts are refused;
- every text from evidence or reviewers goes through Jinja2's autoescaping.
"""

from __future__ import annotations

import csv
import hmac
import secrets
import tempfile
from pathlib import Path
from urllib.parse import quote, unquote

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import FileResponse, HTMLResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ..errors import InputError, UsageError
from ..evidence.files import SUFFIX, read_evidence, unescape_cell
from ..evidence.records import Evidence
from ..evidence.rules import Level
from ..evidence.wording import rule_text
from .store import DECISIONS, ReviewStore

TEMPLATES = Path(__file__).parent / "templates"
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
STATES = ("unreviewed",) + DECISIONS
LEVELS = tuple(str(level) for level in Level)


MAX_BODY = 64 * 1024  # bytes: a decision form is a few hundred
ANY_ADDRESS = ("0.0.0.0", "::", "")


def same_secret(given: str | None, expected: str) -> bool:
    """Constant-time comparison of two secrets as UTF-8 bytes (a str holding anything but ASCII
    makes hmac.compare_digest raise TypeError)."""
    if given is None:
        return False
    return hmac.compare_digest(given.encode("utf-8", "surrogatepass"), expected.encode("utf-8", "surrogatepass"))


def _host_name(header: str) -> str:
    """The host of a Host header, without its port, brackets or case."""
    header = header.strip().lower()
    if header.startswith("["):
        return header[1:].split("]", 1)[0]
    return header.rsplit(":", 1)[0] if header.count(":") == 1 else header


def _served_names(host: str) -> frozenset[str] | None:
    """The Host names a request may give for a desk listening on `host` (None: any, on a
    wildcard address, which needs a token)."""
    if host in LOCAL_HOSTS:
        return frozenset(LOCAL_HOSTS)
    if host in ANY_ADDRESS:
        return None
    return frozenset({_host_name(host), host.strip("[]").lower()})


class _Gate:
    """Plain ASGI middleware, outermost: the Host check, and the body cap and content type, before
    anything reads a byte of the body."""

    def __init__(self, app, names: frozenset[str] | None):
        self.app, self.names = app, names

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope.get("headers", [])}
        if self.names is not None and _host_name(headers.get("host", "")) not in self.names:
            return await _refuse(send, 400, "this desk answers only requests addressed to it (Host header refused)")
        if scope["method"] in ("GET", "HEAD", "OPTIONS"):
            return await self.app(scope, receive, send)
        kind = headers.get("content-type", "").split(";", 1)[0].strip().lower()
        if kind and kind != "application/x-www-form-urlencoded":
            return await _refuse(send, 415, "only URL-encoded forms are accepted (no uploads)")
        length = headers.get("content-length")
        if length is not None and (not length.strip().isdigit() or int(length) > MAX_BODY):
            return await _refuse(send, 413, f"request body over {MAX_BODY} bytes")
        seen = 0
        refused = False

        async def capped():
            # a body without Content-Length (chunked) is counted as it arrives; past the cap the
            # client is answered 413 and the app is told the client went away
            nonlocal seen, refused
            if refused:
                return {"type": "http.disconnect"}
            message = await receive()
            if message["type"] == "http.request":
                seen += len(message.get("body", b""))
                if seen > MAX_BODY:
                    refused = True
                    await _refuse(send, 413, f"request body over {MAX_BODY} bytes")
                    return {"type": "http.disconnect"}
            return message

        async def answered(message):
            if not refused:  # once refused, whatever the app still says is not sent
                await send(message)

        await self.app(scope, capped, answered)


async def _refuse(send, status: int, text: str) -> None:
    body = text.encode()
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", str(len(body)).encode())]})
    await send({"type": "http.response.body", "body": body})


def _served_file(rel: str) -> bool:
    """Whether /files/ may serve this path of the results folder: not the review trail (or its
    journal), nothing hidden (temporary files of atomic writes)."""
    parts = Path(rel).parts
    return bool(parts) and not any(p.startswith(".") for p in parts) and not parts[-1].startswith("reviews.sqlite")


def _inside(path: Path, roots: list[Path]) -> bool:
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    return real.is_file() and any(real.is_relative_to(r) for r in roots)


class Results:
    """The clips of a results folder: evidence JSON files and the failures in summary.csv."""

    def __init__(self, folder: Path):
        self.folder = folder

    def load(self) -> tuple[dict[str, Evidence], list[dict]]:
        clips: dict[str, Evidence] = {}
        for f in sorted(self.folder.glob(f"*{SUFFIX}")):
            try:
                ev = read_evidence(f)
            except InputError:
                continue
            clips[ev.query_id] = ev
        errors = []
        summary = self.folder / "summary.csv"
        if summary.is_file():
            with open(summary, newline="", encoding="utf-8") as fh:
                for row in csv.DictReader(fh):
                    row = {k: unescape_cell(v) if isinstance(v, str) else v for k, v in row.items()}
                    if row.get("status") == "error" and row.get("query_id") not in clips:
                        errors.append(row)
        return clips, errors


def create_app(index: str | Path, results: str | Path, token: str | None = None,
               clip_roots: list[str | Path] | None = None, host: str = "127.0.0.1") -> FastAPI:
    """The desk over a results folder, for serving on `host` (requests naming another host are
    refused). A `host` other than this machine's loopback needs a `token` (UsageError). Nothing
    of `index`, the index the results were scanned against, is served."""
    if host not in LOCAL_HOSTS and not token:
        raise UsageError(f"--host {host}: listening beyond this machine needs an access token")
    results = Path(results).resolve()
    if not results.is_dir():
        raise FileNotFoundError(f"{results}: no such results folder")
    roots = [results] + [Path(r).resolve() for r in clip_roots or []]  # where a clip may be played from
    store = ReviewStore(results / "reviews.sqlite")
    data = Results(results)
    templates = Jinja2Templates(directory=str(TEMPLATES))  # autoescape on for .html
    # a segment's or verdict's rule, rendered from its outcomes (files before rules were data: their words)
    templates.env.filters["rule"] = lambda rec: rule_text(rec.rules, "en") if rec.rules else rec.rule
    app = FastAPI(title="auditor review desk", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store = store
    app.add_middleware(_Gate, names=_served_names(host))

    @app.middleware("http")
    async def guard(request: Request, call_next):
        if token:
            given = request.query_params.get("token")
            if same_secret(given, token):
                # a path, never an absolute URL built from the Host header; "//x" would leave the site
                url = request.url.remove_query_params("token")
                location = "/" + url.path.lstrip("/\\") + (f"?{url.query}" if url.query else "")
                resp = RedirectResponse(location, status_code=303)
                # percent-encoded: a cookie holds ASCII only, a token may hold any character
                resp.set_cookie("auditor_token", quote(token, safe=""), httponly=True, samesite="strict")
                return resp
            cookie = unquote(request.cookies.get("auditor_token", ""), errors="surrogateescape")
            bearer = request.headers.get("authorization", "").removeprefix("Bearer ").strip()
            if not (same_secret(cookie, token) or same_secret(bearer, token)):
                return HTMLResponse("<h1>401</h1><p>An access token is needed: open the address the server printed.</p>", 401)
        response = await call_next(request)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    def csrf(request: Request) -> str:
        return request.cookies.get("auditor_csrf") or secrets.token_urlsafe(24)

    def page(request: Request, name: str, context: dict) -> Response:
        token_value = csrf(request)
        resp = templates.TemplateResponse(request, name, {**context, "csrf": token_value, "levels": LEVELS})
        resp.set_cookie("auditor_csrf", token_value, httponly=True, samesite="strict")
        return resp

    def clip_or_404(query_id: str) -> Evidence:
        """One clip's evidence, read alone (not the whole folder, as the queue does)."""
        path = results / f"{query_id}{SUFFIX}"
        if "/" in query_id or "\\" in query_id or not _inside(path, [results]):
            raise HTTPException(404)
        try:
            ev = read_evidence(path)
        except InputError:
            raise HTTPException(404) from None
        if ev.query_id != query_id:
            raise HTTPException(404)
        return ev

    @app.get("/", response_class=HTMLResponse)
    def queue(request: Request, sort: str = "level", level: str = "", work: str = "", owner: str = "", state: str = ""):
        clips, errors = data.load()
        latest = store.latest()
        rows = []
        for qid, ev in clips.items():
            review = latest.get(qid)
            rows.append({
                "query_id": qid, "level": ev.verdict.level, "score": ev.verdict.score,
                "flagged": ev.verdict.flagged, "works": [w.work for w in ev.works],
                "owners": sorted({w.owner for w in ev.works}), "p_value": ev.verdict.p_value,
                "state": review["decision"] if review else "unreviewed", "review": review,
            })
        all_works = sorted({w for r in rows for w in r["works"]})
        all_owners = sorted({o for r in rows for o in r["owners"]})
        if level:
            rows = [r for r in rows if r["level"] == level]
        if work:
            rows = [r for r in rows if work in r["works"]]
        if owner:
            rows = [r for r in rows if owner in r["owners"]]
        if state:
            rows = [r for r in rows if r["state"] == state]
        keys = {
            "level": lambda r: (r["level"].rank, -r["score"]),
            "score": lambda r: -r["score"],
            "name": lambda r: r["query_id"],
            "state": lambda r: (STATES.index(r["state"]), r["level"].rank),
        }
        rows.sort(key=keys.get(sort, keys["level"]))
        return page(request, "queue.html", {
            "rows": rows, "errors": errors, "works": all_works, "owners": all_owners, "states": STATES,
            "filters": {"sort": sort, "level": level, "work": work, "owner": owner, "state": state},
            "results": str(results),
        })

    @app.get("/clip/{query_id}", response_class=HTMLResponse)
    def clip_page(request: Request, query_id: str, error: str = ""):
        ev = clip_or_404(query_id)
        duration = float(ev.clip.duration_s or 0) or max([f.t for f in ev.frames] + [1.0])
        playable = _inside(Path(ev.clip.path), roots)
        pdf = next((p for p in (results / f"{query_id}.report.pdf", results / f"{query_id}.report.ja.pdf") if p.is_file()), None)
        return page(request, "clip.html", {
            "ev": ev, "qid": query_id, "duration": duration, "playable": playable,
            "trail": store.trail(query_id), "decisions": DECISIONS, "error": error,
            "pdf": pdf.name if pdf else None,
        })

    @app.post("/clip/{query_id}/decision")
    def decide(request: Request, query_id: str, decision: str = Form(...), reviewer: str = Form(...),
               note: str = Form(""), csrf_token: str = Form(...)):
        ev = clip_or_404(query_id)
        cookie = request.cookies.get("auditor_csrf", "")
        if not cookie or not same_secret(csrf_token, cookie):
            raise HTTPException(403, "the form's CSRF token does not match: reload the page")
        origin = request.headers.get("origin")
        if origin and origin.split("://", 1)[-1] != request.headers.get("host"):
            raise HTTPException(403, "cross-origin form posts are refused")
        try:
            store.add(query_id, ev.clip.sha256, decision, reviewer, note)
        except ValueError as exc:
            return RedirectResponse(f"/clip/{quote(query_id)}?error={quote(str(exc))}", status_code=303)
        return RedirectResponse(f"/clip/{quote(query_id)}", status_code=303)

    @app.get("/clip/{query_id}/video")
    def video(query_id: str):
        path = Path(clip_or_404(query_id).clip.path)
        if not _inside(path, roots) or path.name.startswith("reviews.sqlite"):
            raise HTTPException(404)
        return FileResponse(path)

    @app.get("/clip/{query_id}/pair/{seg}/{pair}.png")
    def pair_png(query_id: str, seg: int, pair: int):
        from ..report.pictures import exhibit_picture, png

        segments = clip_or_404(query_id).segments()
        try:
            s = segments[seg]
            ex = s.exhibits[pair]
        except IndexError:
            raise HTTPException(404) from None
        files = [ex.query_image.file] + ([ex.ref_image.file] if ex.ref_image else [])
        if not all(_inside(results / f, [results]) for f in files):
            raise HTTPException(404)
        pic, _ = exhibit_picture(s, ex, lambda name: (results / name).read_bytes())
        return Response(png(pic), media_type="image/png")

    @app.get("/clip/{query_id}/region/{seg}.png")
    def region_png(query_id: str, seg: int):
        """The still a segment matches, with the region of it the segment shows."""
        from ..report.pictures import png, region_picture

        segments = clip_or_404(query_id).segments()
        if not 0 <= seg < len(segments) or segments[seg].still_image is None:
            raise HTTPException(404)
        s = segments[seg]
        files = [s.still_image.file]
        if not all(_inside(results / f, [results]) for f in files):
            raise HTTPException(404)
        return Response(png(region_picture(s, lambda name: (results / name).read_bytes())), media_type="image/png")

    @app.get("/clip/{query_id}/evidence.json")
    def evidence(query_id: str):
        clip_or_404(query_id)
        return FileResponse(results / f"{query_id}{SUFFIX}", media_type="application/json")

    @app.get("/clip/{query_id}/report.pdf")
    def report(query_id: str, lang: str = "en"):
        """The evidence PDF with the review trail as it stands now."""
        from ..errors import AuditorError
        from ..report.pdf import render_report

        clip_or_404(query_id)
        with tempfile.TemporaryDirectory() as tmp:
            try:
                out = render_report(results / f"{query_id}{SUFFIX}", Path(tmp) / "r.pdf", lang=lang,
                                    reviews=store.trail(query_id))
            except AuditorError as exc:
                raise HTTPException(500, str(exc)) from None
            data_bytes = out.read_bytes()
        return Response(data_bytes, media_type="application/pdf",
                        headers={"Content-Disposition": f'inline; filename="{query_id}.report.pdf"'})

    @app.get("/files/{rel:path}")
    def files(rel: str):
        # the results folder only: exhibit frames, reports, evidence, CSVs; never the review trail,
        # nor anything of the index (its catalogue and manifest are the rights holder's, not evidence)
        path = results / rel
        if _served_file(rel) and _inside(path, [results]):
            return FileResponse(path)
        raise HTTPException(404)

    return app
