"""Signing in and out on a desk served beyond loopback (accounts.py says why and how).

Every page but the sign-in page needs a session there: a page asked for without one is sent to
sign in (and back afterwards, to a path of this desk only); any other request (a decision, a
missed match, a bulk form) is refused with 401 and nothing is recorded.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from fastapi import FastAPI, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from .accounts import COOKIE, SESSION_S, Sessions

SIGN_IN_PATHS = ("/signin",)


def _local_path(target: str) -> str:
    """`target` when it is a path of this desk, else "/" (never another site: "//x", "/\\x", "http:")."""
    if not target.startswith("/") or target.startswith(("//", "/\\")) or any(c in target for c in "\r\n"):
        return "/"
    return target


def refuse_unsigned(request: Request) -> Response:
    if request.method in ("GET", "HEAD"):
        here = request.url.path + (f"?{request.url.query}" if request.url.query else "")
        return RedirectResponse("/signin?next=" + quote(_local_path(here), safe=""), status_code=303)
    return HTMLResponse("<h1>401</h1><p>Sign in first: this desk records decisions under the signed-in reviewer's "
                        "name. Nothing was recorded.</p>", 401)


def add_sign_in_routes(app: FastAPI, pages: Any, sessions: Sessions | None) -> None:
    """GET/POST /signin and POST /signout (on loopback: /signin says a name is enough)."""

    @app.get("/signin", response_class=HTMLResponse)
    def sign_in_page(request: Request, next: str = "/"):
        return pages.page(request, "signin.html", {"next": _local_path(next), "error": "", "needed": sessions is not None,
                                                   "accounts": bool(sessions and sessions.store.accounts())})

    @app.post("/signin")
    def sign_in(request: Request, name: str = Form(""), password: str = Form(""), next: str = Form("/"),
                csrf_token: str = Form(...)):
        pages.check_post(request, csrf_token)
        if sessions is None:
            return RedirectResponse(_local_path(next), status_code=303)
        try:
            token = sessions.sign_in(name, password)
        except ValueError as exc:
            resp = pages.page(request, "signin.html", {"next": _local_path(next), "error": str(exc), "needed": True,
                                                       "accounts": bool(sessions.store.accounts()), "name": name})
            resp.status_code = 401
            return resp
        resp = RedirectResponse(_local_path(next), status_code=303)
        resp.set_cookie(COOKIE, token, max_age=SESSION_S, httponly=True, samesite="strict",
                        secure=request.url.scheme == "https")
        return resp

    @app.post("/signout")
    def sign_out(request: Request, csrf_token: str = Form(...)):
        pages.check_post(request, csrf_token)
        if sessions is not None:
            sessions.sign_out(request.cookies.get(COOKIE))
        resp = RedirectResponse("/signin", status_code=303)
        resp.delete_cookie(COOKIE, httponly=True, samesite="strict", secure=request.url.scheme == "https")
        return resp
