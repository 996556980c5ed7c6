"""Readers' leases on generations: a writer never deletes a generation a reader still uses.

A reader (a scan, a Ray actor, a calibration) that opens generation N creates a lease file
`DIR/readers/gen-N.<host>.<pid>.<random>.lease` and holds a shared `flock` on it for as long as
it keeps the index open. After a commit, the writer deletes a superseded generation only when
no lease on it is held: it tries an exclusive lock on each lease file, and a lock it gets means
the reader is gone (closed, crashed, killed: the kernel drops a dead process's locks), so that
lease file is removed. A lease file is created under a temporary name, locked, then renamed, so
a writer never sees a lease file that is not yet locked.

On a shared file system the same holds where the system honours `flock` across machines (NFSv4
and most cluster file systems do; Linux maps it to POSIX locks on NFS). A reader that cannot
write to the index folder (a read-only mount) takes no lease: no writer can reach it either. Nor
does one where no lease file can be written (a full disk): it reads on, and says once (a warning
of the `reference_index` logger) that a writer could remove its generation meanwhile.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import logging
import os
import socket
import time
import uuid
from pathlib import Path

from .manifest import gen_dir

READERS = "readers"
NO_ROOM = (errno.ENOSPC, errno.EDQUOT)  # no lease file can be written: read on without one (said once)
_told: set[str] = set()
SUFFIX = ".lease"
STALE_TMP_S = 3600  # a temporary lease file this old, and not locked, was left by a crash


class Lease:
    """A held lease on one generation of the index at `path`."""

    def __init__(self, path: Path, generation: int, fd: int, file: Path):
        self.path, self.generation, self._fd, self.file = path, generation, fd, file

    @classmethod
    def take(cls, path: Path, generation: int) -> Lease | None:
        """Lease `generation`; None where the index folder cannot be written (read-only)."""
        folder = path / READERS
        name = f"{gen_dir(generation)}.{socket.gethostname()}.{os.getpid()}.{uuid.uuid4().hex[:12]}{SUFFIX}"
        tmp = folder / f".{name}.tmp"
        try:
            folder.mkdir(exist_ok=True)
            fd = os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o644)
        except OSError as exc:
            if exc.errno in (errno.EROFS, errno.EACCES, errno.EPERM):
                return None
            if exc.errno in NO_ROOM:
                _without_lease(path, exc)
                return None
            raise
        try:
            fcntl.flock(fd, fcntl.LOCK_SH)
            info = {"generation": generation, "host": socket.gethostname(), "pid": os.getpid(), "since": time.time()}
            os.write(fd, json.dumps(info).encode())
            os.rename(tmp, folder / name)
        except BaseException as exc:
            os.close(fd)
            with contextlib.suppress(OSError):
                tmp.unlink()
            if isinstance(exc, OSError) and exc.errno in NO_ROOM:
                _without_lease(path, exc)
                return None
            raise
        return cls(path, generation, fd, folder / name)

    def release(self) -> None:
        if self._fd < 0:
            return
        with contextlib.suppress(OSError):
            self.file.unlink()
        os.close(self._fd)
        self._fd = -1

    def __del__(self):  # a reader that was never closed still lets go when collected
        with contextlib.suppress(Exception):
            self.release()


def _without_lease(path: Path, exc: OSError) -> None:
    """No lease where none can be written (a full disk): the index is still read; a writer could
    then remove the generation in use, so this is said, once per index and process."""
    key = str(path)
    if key not in _told:
        _told.add(key)
        logging.getLogger("reference_index").warning(
            "%s: reading without a lease on the generation in use (%s); an index writer could remove it meanwhile",
            path, exc.strerror or exc)


def _generation_of_lease(name: str) -> int | None:
    head = name.split(".", 1)[0]
    if head.startswith("gen-") and head[4:].isdigit():
        return int(head[4:])
    return None


def held_generations(path: Path) -> set[int]:
    """Generations some reader holds now. Lease files whose reader is gone are removed."""
    folder = path / READERS
    held: set[int] = set()
    if not folder.is_dir():
        return held
    for f in folder.iterdir():
        tmp = f.name.startswith(".") and f.name.endswith(".tmp")
        gen = _generation_of_lease(f.name.lstrip(".")) if (tmp or f.name.endswith(SUFFIX)) else None
        if gen is None:
            continue
        try:
            fd = os.open(f, os.O_RDONLY)
        except OSError:
            continue  # released meanwhile
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                held.add(gen)  # a live reader
                continue
            if not tmp or time.time() - f.stat().st_mtime > STALE_TMP_S:
                with contextlib.suppress(OSError):
                    f.unlink()  # its reader is gone
            elif tmp:
                held.add(gen)  # a reader between creating and locking its lease: keep its generation
        finally:
            os.close(fd)
    return held
