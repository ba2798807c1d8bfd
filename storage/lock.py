"""Who is fetching on a database: advisory locks, files beside a SQLite file or
PostgreSQL's own advisory locks for a ``postgresql://`` database.

One discipline for every process that fetches (a cron crawl, an editor's ``refetch``,
the service's worker):

- it registers a :class:`FetchRun` (a lock file named by its run id) for as long as it
  runs, and claims the editor requests it serves in one write transaction, stamped
  with that run id, so no two processes fetch the same request;
- a request left ``running`` is put back in the queue only when the run that claimed
  it is gone (its lock is free), never while that run is still working on it;
- scheduled crawls (``crawl --due/--all/--url``) and the long-running ``worker`` also
  hold the :class:`CrawlLock`, so there is one scheduler per database at a time;
  editors' re-fetches do not take it, so that a long crawl never delays them.

The kernel drops a file lock when its process dies, even by SIGKILL, and PostgreSQL
drops a session's advisory lock when its connection goes (storage/postgres.py), so a
killed process never blocks the next one, and its claims are recognised as orphaned.
"""

from __future__ import annotations

import fcntl
import os
import re
import secrets
from pathlib import Path
from typing import Protocol

from .backend import is_postgres, open_backend

_RUN_ID = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")


CRAWL_LOCK_NAME = "citecache:crawl"
"""The crawl lock's name where locks have names (PostgreSQL's advisory locks)."""


def valid_run_id(run_id: str) -> bool:
    return bool(_RUN_ID.match(run_id))


def run_lock_name(run_id: str) -> str:
    """The name of a run's lock where locks have names."""
    return f"citecache:run:{run_id}"


class LockHeld(RuntimeError):
    """Another process holds the crawl lock of this database."""


class _Lock(Protocol):
    where: str
    """Where the lock lives, for messages."""

    def try_acquire(self) -> bool: ...
    def holder(self) -> str: ...
    def release(self) -> None: ...


def _lock(db: str | Path, name: str, path: Path) -> _Lock:
    """The lock ``name`` of a PostgreSQL database, else the lock file ``path``."""
    if is_postgres(db):
        from .postgres import AdvisoryLock

        return AdvisoryLock(str(db), name)
    return _FileLock(path)


class _FileLock:
    def __init__(self, path: Path):
        self.path = path
        self.where = f"lock file {path}"
        self._fd: int | None = None

    def try_acquire(self) -> bool:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd
        return True

    def holder(self) -> str:
        try:
            return self.path.read_text(errors="replace").strip() or "unknown"
        except OSError:
            return "unknown"

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None


class CrawlLock:
    """Held by a scheduled crawl: at most one per database."""

    def __init__(self, db_path: str | Path):
        self._lock = _lock(db_path, CRAWL_LOCK_NAME, Path(f"{db_path}.crawl.lock"))

    def acquire(self) -> None:
        if not self._lock.try_acquire():
            raise LockHeld(
                f"another crawl (pid {self._lock.holder()}) is running on this database; "
                f"{self._lock.where}"
            )

    def release(self) -> None:
        self._lock.release()

    def __enter__(self) -> CrawlLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def runs_dir(db_path: str | Path) -> Path:
    return Path(f"{db_path}.runs")


class FetchRun:
    """Held by every process that fetches, for as long as it runs; see the module doc.

    ``run_id`` is stamped on the editor requests the run claims. A supervisor may choose
    it (so that it can fail exactly its child's requests if it has to kill the child).
    """

    def __init__(self, db_path: str | Path, run_id: str | None = None):
        run_id = run_id or f"{os.getpid()}-{secrets.token_hex(4)}"
        if not valid_run_id(run_id):
            raise ValueError(f"invalid run id {run_id!r}: want 1-64 of [A-Za-z0-9_.-]")
        self.run_id = run_id
        self._lock = _run_lock(db_path, run_id)

    def acquire(self) -> None:
        if not self._lock.try_acquire():
            raise LockHeld(f"run {self.run_id} is already registered by pid {self._lock.holder()}")

    def release(self) -> None:
        self._lock.release()
        if isinstance(self._lock, _FileLock):
            self._lock.path.unlink(missing_ok=True)

    def __enter__(self) -> FetchRun:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()


def _run_lock(db_path: str | Path, run_id: str) -> _Lock:
    return _lock(db_path, run_lock_name(run_id), runs_dir(db_path) / f"{run_id}.lock")


def run_alive(db_path: str | Path, run_id: str) -> bool:
    """True while the process that registered ``run_id`` on this database is running."""
    if not valid_run_id(run_id):
        return False
    if is_postgres(db_path):
        backend = open_backend(db_path, readonly=True, busy_timeout_ms=0)
        try:
            return backend.run_alive(run_id)
        finally:
            backend.close()
    probe = _FileLock(runs_dir(db_path) / f"{run_id}.lock")
    if not probe.path.exists():
        return False
    if probe.try_acquire():
        probe.release()
        probe.path.unlink(missing_ok=True)  # a dead run's file: tidy it away
        return False
    return True
