"""Reviewers who are who they say: accounts, passwords and sessions for a desk served beyond this
machine.

On loopback a name typed once is enough (one person's machine). Beyond it, each reviewer signs in
and the trail records the signed-in name, whatever a form says. Accounts are made with
`auditor reviewer add NAME --results DIR` and kept in the review trail's own table (append-only:
a new password or a removal is a new row; the latest row of a name counts), so they are never
served, bundled or exported with it. Passwords are stored as scrypt hashes (standard library),
salted per account, with the cost in the stored string so it can be raised later. A session is a
random token in a cookie that is HttpOnly, SameSite=Strict and, behind TLS, Secure; the desk keeps
only its SHA-256, for 12 hours or until the account changes. Failed sign-ins of a name are limited
(`MAX_FAILS` per `LOCKOUT_S`), and an unknown name costs the same hash as a known one.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import threading
import time
from dataclasses import dataclass

from .store import MAX_NAME, ReviewStore

SCRYPT_N, SCRYPT_R, SCRYPT_P = 2 ** 15, 8, 1  # 32 MiB and about 0.1 s per try on one core
MIN_PASSWORD = 10
MAX_PASSWORD = 1024
SESSION_S = 12 * 3600
MAX_FAILS = 5
LOCKOUT_S = 15 * 60
COOKIE = "auditor_session"


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode("ascii").rstrip("=")


def _unb64(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _scrypt(password: str, salt: bytes, n: int, r: int, p: int) -> bytes:
    return hashlib.scrypt(password.encode("utf-8", "surrogatepass"), salt=salt, n=n, r=r, p=p,
                          maxmem=256 * n * r + 1024 * 1024, dklen=32)


def hash_password(password: str) -> str:
    """`scrypt$N$r$p$salt$hash` of a password (ValueError when it is too short or too long)."""
    if not MIN_PASSWORD <= len(password) <= MAX_PASSWORD:
        raise ValueError(f"a password of {MIN_PASSWORD} to {MAX_PASSWORD} characters")
    salt = secrets.token_bytes(16)
    return f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(salt)}${_b64(_scrypt(password, salt, SCRYPT_N, SCRYPT_R, SCRYPT_P))}"


_DUMMY = f"scrypt${SCRYPT_N}${SCRYPT_R}${SCRYPT_P}${_b64(b'0' * 16)}${_b64(b'0' * 32)}"


def check_password(password: str, stored: str) -> bool:
    """Whether `password` gives `stored` (constant time; False for anything malformed)."""
    try:
        kind, n, r, p, salt, digest = stored.split("$")
        if kind != "scrypt" or len(password) > MAX_PASSWORD:
            return False
        got = _scrypt(password, _unb64(salt), int(n), int(r), int(p))
        return hmac.compare_digest(got, _unb64(digest))
    except (ValueError, TypeError):
        return False


def add_account(store: ReviewStore, name: str, password: str) -> None:
    """Create a reviewer's account, or set a new password for it."""
    name = name.strip()
    if not name or len(name) > MAX_NAME:
        raise ValueError(f"a reviewer's name of 1 to {MAX_NAME} characters")
    store.add_account(name, hash_password(password))


@dataclass
class _Session:
    name: str
    account: int  # the account row it was opened with: a new password or a removal ends it
    expires: float


class Sessions:
    """Signed-in reviewers of one desk (in memory: a restart signs everyone out)."""

    def __init__(self, store: ReviewStore):
        self.store = store
        self._sessions: dict[str, _Session] = {}
        self._fails: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    @staticmethod
    def _key(token: str) -> str:
        return hashlib.sha256(token.encode("utf-8", "surrogatepass")).hexdigest()

    def sign_in(self, name: str, password: str) -> str:
        """A new session token for `name`, or ValueError saying why not (the same for an unknown
        name and a wrong password)."""
        name = name.strip()
        now = time.monotonic()
        with self._lock:
            recent = [t for t in self._fails.get(name, []) if now - t < LOCKOUT_S]
            self._fails[name] = recent
            if len(recent) >= MAX_FAILS:
                raise ValueError(f"too many failed sign-ins for this name: try again in {LOCKOUT_S // 60} minutes")
        account = self.store.account(name) if name else None
        ok = check_password(password, account[1] if account else _DUMMY)  # an unknown name costs the same
        if not ok or account is None or not account[1]:
            with self._lock:
                self._fails.setdefault(name, []).append(now)
            raise ValueError("wrong name or password")
        token = secrets.token_urlsafe(32)
        with self._lock:
            self._fails.pop(name, None)
            self._sessions[self._key(token)] = _Session(name, account[0], now + SESSION_S)
        return token

    def who(self, token: str | None) -> str | None:
        """The signed-in name of a session token, or None (unknown, expired, or its account changed)."""
        if not token:
            return None
        key = self._key(token)
        with self._lock:
            session = self._sessions.get(key)
        if session is None or session.expires < time.monotonic():
            return None
        account = self.store.account(session.name)
        if account is None or account[0] != session.account or not account[1]:
            with self._lock:
                self._sessions.pop(key, None)
            return None
        return session.name

    def sign_out(self, token: str | None) -> None:
        if token:
            with self._lock:
                self._sessions.pop(self._key(token), None)
