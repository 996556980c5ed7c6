"""The review desk (FastAPI, server-rendered pages, no front-end build).

Pages: the queue of scanned clips (thumbnails, counts per level and review state, filters that
apply at once, sort by level, p-value or score, pages of 50, decisions and assignments for a
selection; failed clips and unreadable evidence listed as such) and one page per clip (the
decision form beside the suspect clip and the reference at the matched time, keys j/k/c/d/s/?,
the segments on a timeline, frame pairs with the local-feature matches drawn, p-values, the
verdict, a form for a match the scan missed, and the review trail). English and Japanese
(`?lang=ja`, remembered). `/reviews.csv` exports the trail.

Safety (see gate.py):
- listens on 127.0.0.1 unless told otherwise; any other address needs an access token, given
  once as `?token=` (kept in an HttpOnly cookie) or as `Authorization: Bearer` (create_app
  refuses to build a desk for another address without one); tokens are compared as bytes in
  constant time, whatever characters they hold;
- a request naming another host than the address served (DNS rebinding: a page of another site
  whose name resolves to 127.0.0.1) is refused; redirects are paths, never built from Host;
- request bodies are capped (`MAX_BODY`) and only URL-encoded forms are accepted: a multipart
  upload is refused before anything parses it;
- serves only files under the results folder (not its review trail, under any name: a link to it
  is known by device and inode, gate.Shield) and the clip and reference
  folders the desk plays from: anything else, including `..` tricks, symlinks out, the index's
  catalogue and manifest, is a 404;
- every form (decision, bulk, missed match) carries a CSRF token bound to a SameSite=Strict
  cookie, and cross-origin posts are refused;
- every text from evidence or reviewers goes through Jinja2's autoescaping.
"""

from __future__ import annotations

import secrets
import sqlite3
from collections.abc import Sequence
from html import escape
from pathlib import Path
from typing import Literal, overload
from urllib.parse import quote, unquote, urlencode

from fastapi import FastAPI, Form, HTTPException, Request
from fastapi.responses import HTMLResponse, JSONResponse, RedirectResponse, Response
from fastapi.templating import Jinja2Templates

from ..errors import UsageError
from ..evidence.files import check_writable
from ..evidence.wording import level_name, rule_text
from . import strings
from .accounts import COOKIE as SESSION_COOKIE
from .accounts import Sessions
from .catalogue import Catalogue
from .gate import LOCAL_HOSTS, MAX_BODY, TRAIL, Gate, Shield, same_secret, served_names
from .playback import proxy_path
from .player import gallery_views, segment_views
from .prepare import Preparer
from .queue import LEVELS, PAGE, SORTS, STATES, Results, counts, neighbours, ordered, select
from .serve import Desk, add_file_routes
from .signin import SIGN_IN_PATHS, add_sign_in_routes, refuse_unsigned
from .store import DECISIONS, ReviewStore

__all__ = ["create_app", "LOCAL_HOSTS", "MAX_BODY", "same_secret"]

FILTERS = ("sort", "level", "work", "owner", "state", "reviewer")  # the queue's, carried from page to page
MAX_FILTER = 200

TEMPLATES = Path(__file__).parent / "templates"


@overload
def _number(text: str, name: str, optional: Literal[False] = False) -> float: ...
@overload
def _number(text: str, name: str, optional: bool) -> float | None: ...


def _number(text: str, name: str, optional: bool = False) -> float | None:
    text = text.strip()
    if optional and not text:
        return None
    try:
        value = float(text)
    except ValueError:
        raise ValueError(f"{name}: a number of seconds") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError(f"{name}: a number of seconds")
    return value


def cc_status_words(status: str, lang: str) -> str:
    """Content Credentials' outcome in the reader's language (the evidence keeps an English sentence)."""
    from ..report.text import TABLES

    return TABLES[lang]["cc_status"].get(status, status)


def verdict_words(ev, lang: str) -> str:
    """The verdict's sentence in the reader's language (the evidence keeps the English one)."""
    if lang == "en":
        return ev.verdict.summary
    from ..evidence.wording import verdict_sentence
    from ..report.kit import catalogue_words
    from ..report.story import _best

    work, best = _best(ev)
    words = catalogue_words(ev, best.ref_id, lang) if best is not None and hasattr(best, "ref_id") else None
    return verdict_sentence(Path(ev.clip.path).name, best, work and work.work, work and work.owner, len(ev.segments()),
                            ev.verdict.p_value, ev.verdict.p_value_at_floor, ev.verdict.expected_false_matches, lang,
                            words=words)


def create_app(index: str | Path, results: str | Path, token: str | None = None,
               clip_roots: Sequence[str | Path] | None = None, host: str = "127.0.0.1",
               reference_roots: Sequence[str | Path] | None = None, prepare_ahead: bool = False) -> FastAPI:
    """The desk over a results folder, for serving on `host` (requests naming another host are
    refused). A `host` other than this machine's loopback needs a `token` (UsageError). Nothing
    of `index`, the index the results were scanned against, is served; reference videos are
    played only from `reference_roots`. `prepare_ahead`: make playable copies in the background
    from the start, newest clips first (`auditor serve`)."""
    if host not in LOCAL_HOSTS and not token:
        raise UsageError(f"--host {host}: listening beyond this machine needs an access token")
    results = Path(results).resolve()
    if not results.is_dir():
        raise FileNotFoundError(f"{results}: no such results folder")
    roots = [results] + [Path(r).resolve() for r in clip_roots or []]  # where a clip may be played from
    check_writable(results, "--results", "the desk keeps its review trail (reviews.sqlite) here")
    shield = Shield(results, Path(index).resolve())
    data = Results(results, shield.blocks)

    def named_works() -> list[tuple[str, str]]:
        rows = data.load().rows
        return sorted({(w, "") for r in rows for w in r.works})

    desk = Desk(results, roots, [Path(r).resolve() for r in reference_roots or []],
                ReviewStore(results / TRAIL), data, shield, Catalogue(Path(index).resolve(), named_works), Preparer(results))
    if prepare_ahead:
        desk.prepare_ahead()
    app = FastAPI(title="auditor review desk", docs_url=None, redoc_url=None, openapi_url=None)
    app.state.store, app.state.desk = desk.store, desk
    app.add_middleware(Gate, names=served_names(host))

    @app.exception_handler(sqlite3.Error)
    async def trail_failed(request: Request, exc: sqlite3.Error):
        # never a 303 for a decision that is not in the trail: the reviewer sees it was not kept
        return HTMLResponse(f"<h1>503</h1><p>The review trail could not be written or read ({escape(str(exc))}): "
                            "nothing was recorded; go back and send it again.</p>", 503)
    sessions = Sessions(desk.store) if host not in LOCAL_HOSTS else None  # beyond loopback, reviewers sign in
    _guard(app, token, sessions)
    pages = Pages(desk)
    add_sign_in_routes(app, pages, sessions)
    _queue_routes(app, desk, pages)
    _clip_routes(app, desk, pages)
    add_file_routes(app, desk)
    return app


def _guard(app: FastAPI, token: str | None, sessions: Sessions | None) -> None:
    """The access token (when one is set), the reviewer's session (beyond loopback) and the
    headers every response carries."""

    @app.middleware("http")
    async def guard(request: Request, call_next):
        response = await _admit(request, call_next)
        response.headers["X-Content-Type-Options"] = "nosniff"
        response.headers["X-Frame-Options"] = "DENY"
        response.headers["Referrer-Policy"] = "same-origin"
        return response

    async def _admit(request: Request, call_next):
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
        request.state.reviewer = None
        if sessions is not None:
            request.state.reviewer = sessions.who(request.cookies.get(SESSION_COOKIE))
            if request.state.reviewer is None and request.url.path not in SIGN_IN_PATHS:
                return refuse_unsigned(request)
        return await call_next(request)


class Pages:
    """Rendering pages in the reader's language, forms' CSRF tokens, and where to go next."""

    def __init__(self, desk: Desk):
        self.desk = desk
        self.templates = Jinja2Templates(directory=str(TEMPLATES))  # autoescape on for .html

    @staticmethod
    def csrf(request: Request) -> str:
        return request.cookies.get("auditor_csrf") or secrets.token_urlsafe(24)

    @staticmethod
    def check_post(request: Request, csrf_token: str) -> None:
        cookie = request.cookies.get("auditor_csrf", "")
        if not cookie or not same_secret(csrf_token, cookie):
            raise HTTPException(403, "the form's CSRF token does not match: reload the page")
        origin = request.headers.get("origin")
        if origin and origin.split("://", 1)[-1] != request.headers.get("host"):
            raise HTTPException(403, "cross-origin form posts are refused")

    @staticmethod
    def reviewer(request: Request, given: str) -> str:
        """Who a form is recorded under: the signed-in reviewer beyond loopback, else the name given."""
        signed = getattr(request.state, "reviewer", None)
        return signed if signed else given

    def page(self, request: Request, name: str, context: dict) -> Response:
        lang = strings.pick(request.query_params.get("lang"), request.cookies.get(strings.COOKIE))
        words = strings.STRINGS[lang]
        token_value = self.csrf(request)
        resp = self.templates.TemplateResponse(request, name, {
            **context, "csrf": token_value, "levels": LEVELS, "lang": lang, "t": words,
            "lv": lambda level: level_name(level, lang),
            "st": lambda state: words.get(f"state_{state}", state),
            "rule": lambda rec: rule_text(rec.rules, lang) if rec.rules else rec.rule,
            "verdict_words": lambda ev: verdict_words(ev, lang),
            "signed_in": getattr(request.state, "reviewer", None),
            "cc_words": lambda cc: cc.summary if lang == "en" else cc_status_words(cc.status, lang),
        })
        resp.set_cookie("auditor_csrf", token_value, httponly=True, samesite="strict")
        if request.query_params.get("lang") in strings.LANGS:
            resp.set_cookie(strings.COOKIE, lang, samesite="strict", max_age=365 * 86400)
        return resp

    @staticmethod
    def filters(request: Request) -> dict[str, str]:
        """The queue's filters and sort a clip page was opened with (carried by its links)."""
        kept = {k: request.query_params.get(k, "") for k in FILTERS}
        return {k: v[:MAX_FILTER] for k, v in kept.items() if v and not (k == "sort" and v == "level")}

    def order(self, filters: dict[str, str]) -> tuple[list, dict]:
        """The queue's clips in its order under `filters` (what j/k walk), and the latest decisions."""
        listing = self.desk.data.load()
        latest = self.desk.store.latest()
        rows = ordered(listing.rows, latest, filters.get("sort", "level"))
        chosen = {k: v for k, v in filters.items() if k != "sort"}
        return select(rows, latest, self.desk.store.assigned(), **chosen), latest

    def after(self, query_id: str | None, filters: dict[str, str] | None = None, **extra) -> str:
        """Where to go once a clip is decided: the queue's next unreviewed clip (under the queue's
        filters), else the queue."""
        filters = filters or {}
        rows, latest = self.order(filters)
        _, _, todo = neighbours(rows, query_id or "", latest)
        query = f"?{urlencode({**filters, **extra})}" if filters or extra else ""
        return (f"/clip/{quote(todo, safe='')}" if todo else "/") + query


def _queue_routes(app: FastAPI, desk: Desk, pages: Pages) -> None:
    """The queue, the next unreviewed clip, and decisions or assignments for a selection."""
    store, data = desk.store, desk.data

    @app.get("/", response_class=HTMLResponse)
    def queue(request: Request, sort: str = "level", level: str = "", work: str = "", owner: str = "",
              state: str = "", reviewer: str = "", page_no: int = 1, done: str = ""):
        listing = data.load()
        latest, assigned = store.latest(), store.assigned()
        everything = ordered(listing.rows, latest, sort)
        rows = select(everything, latest, assigned, level=level, work=work, owner=owner, state=state, reviewer=reviewer)
        pages_n = max(1, -(-len(rows) // PAGE))
        page_no = min(max(page_no, 1), pages_n)
        shown = rows[(page_no - 1) * PAGE: page_no * PAGE]
        filters = {"sort": sort, "level": level, "work": work, "owner": owner, "state": state, "reviewer": reviewer}
        kept = {k: v for k, v in filters.items() if v and not (k == "sort" and v == "level")}
        return pages.page(request, "queue.html", {
            "rows": shown, "latest": latest, "assigned": assigned, "errors": listing.failed,
            "unreadable": listing.unreadable, "states": STATES, "sorts": SORTS,
            "works": sorted({w for r in listing.rows for w in r.works}),
            "owners": sorted({o for r in listing.rows for o in r.owners}),
            "reviewers": sorted(set(assigned.values())),
            "counts": counts(listing.rows, latest), "total": len(listing.rows), "matching": len(rows),
            "page_no": page_no, "pages": pages_n, "first": (page_no - 1) * PAGE + 1 if rows else 0,
            "last": (page_no - 1) * PAGE + len(shown), "filters": filters,
            "query": urlencode(kept), "page_url": lambda n: "/?" + urlencode({**kept, "page_no": n}),
            "results": str(desk.results), "done": done, "decisions": DECISIONS,
        })

    @app.get("/next")
    def next_unreviewed():
        return RedirectResponse(pages.after(None), status_code=303)

    @app.post("/bulk")
    def bulk(request: Request, csrf_token: str = Form(...), qid: list[str] = Form([]), action: str = Form(...),
             decision: str = Form(""), reviewer: str = Form(""), assignee: str = Form(""), note: str = Form(""),
             back: str = Form("")):
        pages.check_post(request, csrf_token)
        back = "/?" + back.lstrip("?") if back and not back.startswith(("/", "\\")) else "/"
        chosen = []
        for q in dict.fromkeys(qid):
            chosen.append((q, desk.clip(q).clip.sha256))
        try:
            if not chosen:
                raise ValueError("no clip selected")
            if action == "decide":
                store.add_many(chosen, decision, pages.reviewer(request, reviewer), note)
            elif action == "assign":
                store.assign([q for q, _ in chosen], assignee, pages.reviewer(request, reviewer))
            else:
                raise ValueError("unknown action")
        except ValueError as exc:
            return RedirectResponse(back + ("&" if "?" in back[1:] else "?") + urlencode({"done": f"! {exc}"}), status_code=303)
        return RedirectResponse(back + ("&" if "?" in back[1:] else "?") + urlencode({"done": f"{action}:{len(chosen)}"}),
                                status_code=303)


def _clip_routes(app: FastAPI, desk: Desk, pages: Pages) -> None:
    """A clip's page, its decision, and a match the scan missed."""
    store, results = desk.store, desk.results

    @app.get("/clip/{query_id}", response_class=HTMLResponse)
    def clip_page(request: Request, query_id: str, error: str = "", done: str = "", d: str = ""):
        ev = desk.clip(query_id)
        duration = float(ev.clip.duration_s or 0) or max([f.t for f in ev.frames] + [1.0])
        clip_file = Path(ev.clip.path)
        playable = desk.shield.may_open(clip_file, desk.roots)
        proxy = desk.unplayable(clip_file, ev.clip.sha256) if playable else None
        # asked for now, before any other copy, so it is under way before the page is shown
        making = desk.playable_status(clip_file, ev.clip.sha256) if proxy else None
        pdf = next((p for p in (results / f"{query_id}.report.pdf", results / f"{query_id}.report.ja.pdf") if p.is_file()), None)
        filters = pages.filters(request)
        rows, latest = pages.order(filters)
        prev_id, next_id, todo = neighbours(rows, query_id, latest)
        segs = ev.segments()
        best = segs[0] if segs else None

        def ref_url(ref_id: str) -> str | None:
            if desk.reference(ev, ref_id) is None:
                return None
            return f"/clip/{quote(query_id, safe='')}/ref/{quote(ref_id, safe='')}/video"
        return pages.page(request, "clip.html", {
            "ev": ev, "qid": query_id, "duration": duration, "playable": playable, "proxy": proxy, "making": making,
            "proxy_file": proxy_path(results, ev.clip.sha256).relative_to(results).as_posix() if proxy else None,
            "trail": store.trail(query_id), "missed": store.missed(query_id), "decisions": DECISIONS,
            "error": error, "done": done, "done_decision": d, "pdf": pdf.name if pdf else None,
            "prev_id": prev_id, "next_id": next_id, "todo": todo, "best": best,
            "keep": ("?" + urlencode(filters)) if filters else "",
            "views": segment_views(ev, query_id, ref_url), "gallery": gallery_views(ev),
            "assigned": store.assigned().get(query_id),
        })

    @app.post("/clip/{query_id}/decision")
    def decide(request: Request, query_id: str, decision: str = Form(""), reviewer: str = Form(""),
               note: str = Form(""), csrf_token: str = Form(...)):
        ev = desk.clip(query_id)
        pages.check_post(request, csrf_token)
        try:
            store.add(query_id, ev.clip.sha256, decision, pages.reviewer(request, reviewer), note)
        except ValueError as exc:
            return RedirectResponse(f"/clip/{quote(query_id, safe='')}?error={quote(str(exc))}", status_code=303)
        return RedirectResponse(pages.after(query_id, pages.filters(request), done=query_id, d=decision.strip().lower()),
                                status_code=303)

    @app.get("/catalogue")
    def catalogue_search(q: str = ""):
        """Works and reference files of the catalogue matching `q` (for the missed-match form)."""
        return JSONResponse({"results": desk.catalogue.search(q[:200]), "unreadable": desk.catalogue.unreadable})

    @app.post("/clip/{query_id}/missed")
    def missed(request: Request, query_id: str, work: str = Form(""), ref_id: str = Form(""), query_start: str = Form(""),
               query_end: str = Form(""), ref_start: str = Form(""), ref_end: str = Form(""), reviewer: str = Form(""),
               note: str = Form(""), csrf_token: str = Form(...)):
        ev = desk.clip(query_id)
        pages.check_post(request, csrf_token)
        try:
            start, end = _number(query_start, "from"), _number(query_end, "to")
            ref_id, work = desk.catalogue.resolve(ref_id, work)
            store.add_missed(query_id, ev.clip.sha256, work, start, end, _number(ref_start, "reference from", True),
                             pages.reviewer(request, reviewer), note, ref_end=_number(ref_end, "reference to", True),
                             ref_id=ref_id)
        except ValueError as exc:
            return RedirectResponse(f"/clip/{quote(query_id, safe='')}?error={quote(str(exc))}#missed", status_code=303)
        return RedirectResponse(f"/clip/{quote(query_id, safe='')}#trail", status_code=303)
