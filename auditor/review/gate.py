"""The desk's gate: who may talk to it and what it may serve, checked before any page runs.

The Host check (DNS rebinding), the body cap and content type (before a byte is parsed), secrets
compared in constant time, and which files of the results folder `/files/` may serve.
"""

from __future__ import annotations

import hmac
import os
import threading
from pathlib import Path

LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")
MAX_BODY = 64 * 1024  # bytes: a decision form is a few hundred; a bulk one a few thousand
ANY_ADDRESS = ("0.0.0.0", "::", "")
# never served, wherever they lie: the review trail, and an index's catalogue and manifest
NOT_SERVED = ("reviews.sqlite", "catalogue.sqlite", "manifest.json")
TRAIL = "reviews.sqlite"
INDEX_DEPTH = 3  # index/shard/gen-N/file
TRAIL_FILES = (TRAIL, f"{TRAIL}-wal", f"{TRAIL}-shm", f"{TRAIL}-journal")


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


class Shield:
    """The files the desk must never open other than through its trail's own connection: the trail
    (and its WAL, shared memory, journal) and every file of the index, known by device and inode,
    so that no symlink or hard link under another name reaches them.

    Why not merely refuse to serve them: SQLite's locks are POSIX locks, held per process and
    file; closing *any* descriptor of the trail's file in this process (a response streaming it, an
    evidence reader trying it as JSON) drops every lock the desk's connection holds, and another
    desk or reader then writes over its commits. So a file is checked by `stat` (which opens
    nothing) before it is opened for any purpose."""

    def __init__(self, results: Path, index: Path | None = None):
        self.results, self.index = results, index
        self._index_ids: frozenset[tuple[int, int]] = frozenset()
        self._index_key: tuple | None = None
        self._lock = threading.Lock()

    def _ids_of_index(self) -> frozenset[tuple[int, int]]:
        if self.index is None:
            return frozenset()
        try:
            st = os.stat(self.index)
        except OSError:
            return frozenset()
        # a new generation or manifest changes the index folder's own mtime: walk it again then
        key = (st.st_dev, st.st_ino, st.st_mtime_ns)
        with self._lock:
            if key != self._index_key:
                ids = set()
                results, top = os.path.realpath(self.results), os.path.realpath(self.index)
                for dirpath, dirs, files in os.walk(top):
                    # an index is shallow (generations; shards of generations): not the results folder
                    # when it lies inside, nor whatever else the folder holds deeper down
                    deep = dirpath.count(os.sep) - top.count(os.sep) >= INDEX_DEPTH
                    dirs[:] = [] if deep else [d for d in dirs if os.path.join(dirpath, d) != results]
                    for name in files:
                        try:
                            f = os.stat(os.path.join(dirpath, name))
                        except OSError:
                            continue
                        ids.add((f.st_dev, f.st_ino))
                self._index_ids, self._index_key = frozenset(ids), key
            return self._index_ids

    def blocks(self, path: Path) -> bool:
        """Whether `path` (followed through links) is the trail or a file of the index, or cannot be
        checked."""
        try:
            st = os.stat(path)
        except OSError:
            return True
        me = (st.st_dev, st.st_ino)
        for name in TRAIL_FILES:
            try:
                t = os.stat(self.results / name)
            except OSError:
                continue
            if (t.st_dev, t.st_ino) == me:
                return True
        return me in self._ids_of_index()

    def may_open(self, path: Path, roots: list[Path]) -> bool:
        """`inside(path, roots)`, and neither the trail nor an index file under any name."""
        return inside(path, roots) and not self.blocks(path) and not Path(path).resolve().name.startswith(NOT_SERVED)
