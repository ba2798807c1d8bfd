"""One crawl at a time per database: an advisory file lock beside the SQLite file.

The kernel drops the lock when its process dies, even by SIGKILL, so a killed crawl
never blocks the next one.
"""

from __future__ import annotations

import fcntl
import os
from pathlib import Path


class LockHeld(RuntimeError):
    """Another process holds the crawl lock of this database."""


class CrawlLock:
    def __init__(self, db_path: str | Path, name: str = "crawl"):
        # Editor requests take their own lock: a long cron crawl must not delay them.
        self.path = Path(f"{db_path}.{name}.lock")
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.read(fd, 32).decode(errors="replace").strip() or "unknown"
            os.close(fd)
            raise LockHeld(
                f"another crawl (pid {holder}) is running on this database; lock file {self.path}"
            ) from None
        os.ftruncate(fd, 0)
        os.write(fd, str(os.getpid()).encode())
        self._fd = fd

    def release(self) -> None:
        if self._fd is not None:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
            os.close(self._fd)
            self._fd = None

    def __enter__(self) -> CrawlLock:
        self.acquire()
        return self

    def __exit__(self, *exc) -> None:
        self.release()
