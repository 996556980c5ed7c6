"""The desk's gate: who may talk to it and what it may serve, checked before any page runs.

The Host check (DNS rebinding), the body cap and content type (before a byte is parsed), secrets
compared in constant time, and which files of the results folder `/files/` may serve.
"""

from __future__ import annotations

import hmac
from pathlib import Path

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_BODY = 64 * 1024  # bytes: a decision form is a few hundred; a bulk one a few thousand
ANY_ADDRESS = ("0.0.0.0", "::", "")
# never served, wherever they lie: the review trail, and an index's catalogue and manifest
NOT_SERVED = ("reviews.sqlite", "catalogue.sqlite", "manifest.json")


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


def served_names(host: str) -> frozenset[str] | None:
    """The Host names a request may give for a desk listening on `host` (None: any, on a
    wildcard address, which needs a token)."""
    if host in LOCAL_HOSTS:
        return frozenset(LOCAL_HOSTS)
    if host in ANY_ADDRESS:
        return None
    return frozenset({_host_name(host), host.strip("[]").lower()})


class Gate:
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


def served_file(rel: str) -> bool:
    """Whether /files/ may serve this path of the results folder: not the review trail (or its
    journal), no index file, nothing hidden (temporary files of atomic writes)."""
    parts = Path(rel).parts
    return bool(parts) and not any(p.startswith(".") for p in parts) and not parts[-1].startswith(NOT_SERVED)


def inside(path: Path, roots: list[Path]) -> bool:
    try:
        real = path.resolve(strict=True)
    except (OSError, RuntimeError):
        return False
    return real.is_file() and any(real.is_relative_to(r) for r in roots)
