"""File locks on a database: one ``tracker run`` per database, and runs that take turns.

``fcntl.flock`` is held until released, and released by the operating system
however the process ends (even ``kill -9``), so a stale lock file never
blocks a restart.

* :class:`ServiceLock` -- ``<database>.lock``, non-blocking: a second
  ``tracker run`` is refused; the file keeps the holder's pid for the message.
* :func:`take_turns` -- ``<database>.<name>.lock``, blocking: runs of one job
  on one database (the service's and a CLI's) wait for each other.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
from pathlib import Path
from typing import Iterator

from tracker.errors import LockError


def process_alive(pid: int | None) -> bool:
    """Whether a process with this pid exists (on this machine)."""
    if not pid:
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # exists, owned by another user
        return True
    return True


@contextlib.contextmanager
def take_turns(db_file: str | None, name: str) -> Iterator[None]:
    """Hold ``<db_file>.<name>.lock`` exclusively (waiting for it); no-op for an
    in-memory database (``db_file`` empty: one process only)."""
    if not db_file:
        yield
        return
    with open(f"{db_file}.{name}.lock", "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def lock_path_for(db_path: str | Path) -> Path:
    path = Path(db_path).resolve()
    return path.with_name(path.name + ".lock")


def read_lock_pid(db_path: str | Path) -> int | None:
    """The pid written by the last holder (it may have ended since)."""
    try:
        text = lock_path_for(db_path).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return int(text) if text.isdigit() else None


class ServiceLock:
    """``with ServiceLock(db_path):`` — raises :class:`LockError` if already held."""

    def __init__(self, db_path: str | Path):
        self.db_path = Path(db_path)
        self.path = lock_path_for(db_path)
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            pid = read_lock_pid(self.db_path)
            holder = f"pid {pid}" if pid else "another process"
            raise LockError(
                f"another tracker run ({holder}) is using {self.db_path}; "
                f"stop it first (lock file {self.path})"
            ) from None
        # Never unlink the file: a process waiting on the old inode would then
        # hold a lock nobody else sees.
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode("ascii"))
        os.fsync(fd)
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> "ServiceLock":
        self.acquire()
        return self

    def __exit__(self, *exc_info) -> None:
        self.release()
