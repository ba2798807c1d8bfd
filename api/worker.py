"""The supervised background re-fetch worker of the service.

Scrapy's reactor cannot restart inside one process, so each run is a subprocess:
``python -m citecache --db DB crawl --requests``, which claims the queued editor
requests and marks them done or failed. One run at a time (bounded), each with a time
limit; the thread that launches runs is restarted if it dies. Each run is named
(``CITECACHE_RUN_ID``), so that a run killed at its limit fails exactly its requests.
"""

from __future__ import annotations

import logging
import os
import secrets
import subprocess
import sys
import threading
from pathlib import Path

from storage import Store, iso, utc_now
from storage.backend import database_exists

logger = logging.getLogger(__name__)

POLL_SECONDS = 5.0
"""How often to look for requests queued by someone else (the CLI, another server)."""
RUN_TIMEOUT_SECONDS = 300.0
"""A run that takes longer is killed; its requests are marked failed."""
RUN_LIMIT = 50
"""At most this many requests per run, so one run stays short."""
FAILURE_BACKOFF_SECONDS = 5.0
"""Wait after a failed run before the next try, so a broken setup does not spin."""


class RefetchWorker:
    def __init__(
        self,
        db_path: str | Path,
        *,
        allow_private: bool = False,
        poll_seconds: float = POLL_SECONDS,
        run_timeout: float = RUN_TIMEOUT_SECONDS,
        python: str = sys.executable,
    ):
        self.db_path = str(db_path)
        self.allow_private = allow_private
        self.poll_seconds = poll_seconds
        self.run_timeout = run_timeout
        self.python = python
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen | None = None
        self._guard = threading.Lock()
        self.runs = 0
        self.failed_runs = 0
        self.restarts = 0
        self.last_run_at: str | None = None
        self.last_exit: int | None = None
        self.last_error: str | None = None

    # ---- control -----------------------------------------------------------------

    def start(self) -> None:
        with self._guard:
            if self._thread and self._thread.is_alive():
                return
            if self._thread is not None:
                self.restarts += 1
                logger.warning("re-fetch worker thread was dead; restarting it")
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._supervise, name="refetch-worker", daemon=True
            )
            self._thread.start()

    def ensure_running(self) -> None:
        """Restart the worker thread if it died (called on every re-fetch request)."""
        if not self._stop.is_set():
            self.start()

    def wake(self) -> None:
        self.ensure_running()
        self._wake.set()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        self._wake.set()
        proc = self._proc
        if proc and proc.poll() is None:
            proc.terminate()
        if self._thread:
            self._thread.join(timeout)

    @property
    def alive(self) -> bool:
        return bool(self._thread and self._thread.is_alive())

    def status(self) -> dict:
        proc = self._proc
        return {
            "alive": self.alive,
            "running": bool(proc and proc.poll() is None),
            "runs": self.runs,
            "failedRuns": self.failed_runs,
            "restarts": self.restarts,
            "lastRunAt": self.last_run_at,
            "lastExit": self.last_exit,
            "lastError": self.last_error,
        }

    # ---- the loop ----------------------------------------------------------------

    def _supervise(self) -> None:
        while not self._stop.is_set():
            try:
                self._loop()
            except Exception as exc:  # keep serving requests whatever went wrong
                self.last_error = f"worker loop crashed: {exc!r}"
                logger.exception("re-fetch worker loop crashed; restarting it")
                self.restarts += 1
                self._stop.wait(FAILURE_BACKOFF_SECONDS)

    def _loop(self) -> None:
        while not self._stop.is_set():
            if self.queued() == 0:
                self._wake.wait(self.poll_seconds)
                self._wake.clear()
                continue
            ok = self.run_once()
            if not ok:
                self._stop.wait(FAILURE_BACKOFF_SECONDS)

    def queued(self) -> int:
        if not database_exists(self.db_path):
            return 0
        with Store(self.db_path, readonly=True) as store:
            return store.queued_request_count()

    def command(self) -> list[str]:
        cmd = [self.python, "-m", "citecache", "--db", self.db_path, "crawl", "--requests"]
        cmd += ["--limit", str(RUN_LIMIT)]
        if self.allow_private:
            cmd.append("--allow-private")
        return cmd

    def run_once(self) -> bool:
        """One crawl subprocess over the queued requests; True if it exited 0."""
        self.runs += 1
        self.last_run_at = iso(utc_now())
        run_id = f"service-{os.getpid()}-{secrets.token_hex(4)}"
        self._proc = subprocess.Popen(
            self.command(),
            env={**os.environ, "CITECACHE_RUN_ID": run_id},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        try:
            _, err = self._proc.communicate(timeout=self.run_timeout)
        except subprocess.TimeoutExpired:
            self._proc.kill()
            self._proc.communicate()
            self.failed_runs += 1
            self.last_exit = None
            self.last_error = f"run killed after {self.run_timeout:.0f} s"
            with Store(self.db_path) as store:
                store.fail_requests_of_run(run_id, self.last_error)
            return False
        self.last_exit = self._proc.returncode
        if self._proc.returncode != 0:
            self.failed_runs += 1
            lines = [line for line in (err or "").strip().splitlines() if line.strip()]
            self.last_error = lines[-1] if lines else f"exit {self._proc.returncode}"
            logger.warning("re-fetch run failed: %s", self.last_error)
            return False
        self.last_error = None
        return True
