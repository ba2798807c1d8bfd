"""The service's re-fetch worker: one supervised, long-running ``citecache worker``.

Scrapy's reactor cannot restart inside one process, so the worker is a subprocess:
``python -m citecache --db DB worker``, which claims editors' requests (and whatever
falls due) within a second, for as long as the service runs. A supervisor thread starts
it, restarts it with backoff when it dies, and stops it with SIGTERM (SIGKILL after a
grace period) when the app stops. Each worker is named (``CITECACHE_RUN_ID``), so that
the requests of one that died are failed (an editor sees why) and those of one killed
at shutdown are put back in the queue.

The worker holds the crawl lock (storage/lock.py). When another process holds it (a
cron crawl, or a ``citecache worker`` run by systemd), the supervised one cannot start;
the supervisor then falls back to what the service did before it had a worker: one
``crawl --requests`` subprocess per batch of queued requests (it runs beside a crawl),
and tries the worker again every LOCK_RETRY_SECONDS.
"""

from __future__ import annotations

import collections
import logging
import os
import secrets
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

from storage import Store, iso, utc_now
from storage.backend import database_exists

logger = logging.getLogger(__name__)

POLL_SECONDS = 5.0
"""One-shot mode: how often to look for requests queued by someone else (the CLI)."""
RUN_TIMEOUT_SECONDS = 300.0
"""One-shot mode: a run that takes longer is killed; its requests are marked failed."""
RUN_LIMIT = 50
"""One-shot mode: at most this many requests per run, so one run stays short."""
FAILURE_BACKOFF_SECONDS = 5.0
"""One-shot mode: wait after a failed run before the next try, so a broken setup does
not spin; also after the supervisor loop itself crashed."""
RESTART_BACKOFF_SECONDS = (1.0, 60.0)
"""Wait before restarting a worker that died: the first, doubled up to the second. A
worker that ran longer than the second starts again at the first."""
STOP_GRACE_SECONDS = 20.0
"""After SIGTERM, the worker finishes and stores its fetches in flight; SIGKILL after this."""
LOCK_RETRY_SECONDS = 60.0
"""While another process holds the crawl lock, try the worker again this often."""
WORKER_LIFETIME = "1d"
"""The worker stops by itself after this long (--max-runtime) and is started afresh at
once: Scrapy keeps robots.txt files and DNS answers for as long as it runs."""
LOCK_HELD_MARK = "another crawl"
"""In the message of a worker refused by the crawl lock (storage.lock.CrawlLock)."""


class RefetchWorker:
    """Supervises the service's worker; ``mode="oneshot"`` runs one crawl per batch instead."""

    def __init__(
        self,
        db_path: str | Path,
        *,
        allow_private: bool = False,
        poll_seconds: float = POLL_SECONDS,
        run_timeout: float = RUN_TIMEOUT_SECONDS,
        grace_seconds: float = STOP_GRACE_SECONDS,
        mode: str = "worker",
        python: str = sys.executable,
    ):
        if mode not in ("worker", "oneshot"):
            raise ValueError(f"unknown worker mode {mode!r}")
        self.db_path = str(db_path)
        self.allow_private = allow_private
        self.poll_seconds = poll_seconds
        self.run_timeout = run_timeout
        self.grace_seconds = grace_seconds
        self.mode = mode
        self.python = python
        self._wake = threading.Event()
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._proc: subprocess.Popen | None = None
        self._guard = threading.Lock()
        self._spawning = threading.Lock()  # a process starts only while not stopping
        self.state = "stopped"
        """worker | one-shot (fallback or mode) | waiting (backoff) | stopped"""
        self.fallback_reason: str | None = None
        self.pid: int | None = None
        self.started_at: str | None = None
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
                logger.warning("re-fetch supervisor thread was dead; restarting it")
            self._stop.clear()
            self._thread = threading.Thread(
                target=self._supervise, name="refetch-worker", daemon=True
            )
            self._thread.start()

    def ensure_running(self) -> None:
        """Restart the supervisor thread if it died (called on every re-fetch request)."""
        if not self._stop.is_set():
            self.start()

    def wake(self) -> None:
        """A request was queued: a one-shot run starts now (a worker polls on its own)."""
        self.ensure_running()
        self._wake.set()

    def stop(self, timeout: float | None = None) -> None:
        """SIGTERM the worker, SIGKILL it after the grace period, and end the thread."""
        with self._spawning:
            self._stop.set()
            self._wake.set()
            proc = self._proc
        if proc and proc.poll() is None:
            proc.terminate()
            try:
                proc.wait(self.grace_seconds)
            except subprocess.TimeoutExpired:
                _kill_group(proc)
                self.last_error = f"killed {self.grace_seconds:.0f} s after SIGTERM"
                # Not the requests' fault: back to the queue for the next run.
                with Store(self.db_path) as store:
                    store.requeue_orphaned_requests()
        if self._thread:
            self._thread.join(self.grace_seconds + 5 if timeout is None else timeout)
        self.state = "stopped"

    @property
    def alive(self) -> bool:
        return bool(self._thread and self._thread.is_alive())

    def status(self) -> dict:
        proc = self._proc
        running = bool(proc and proc.poll() is None)
        return {
            "alive": self.alive,
            "mode": self.state if self.alive else "stopped",
            "running": running,
            "pid": self.pid if running else None,
            "startedAt": self.started_at if running else None,
            "fallbackReason": self.fallback_reason,
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
                if self.mode == "oneshot":
                    self.state = "one-shot"
                    self._oneshot_loop(until=None)
                else:
                    self._worker_loop()
            except Exception as exc:  # keep serving requests whatever went wrong
                self.last_error = f"worker loop crashed: {exc!r}"
                logger.exception("re-fetch supervisor loop crashed; restarting it")
                self.restarts += 1
                self._stop.wait(FAILURE_BACKOFF_SECONDS)

    def _worker_loop(self) -> None:
        first, most = RESTART_BACKOFF_SECONDS
        backoff = first
        while not self._stop.is_set():
            self.state, self.fallback_reason = "worker", None
            started = time.monotonic()
            outcome = self.run_worker()
            if self._stop.is_set():
                return
            if outcome == "locked":
                self.state = "one-shot"
                self.fallback_reason = self.last_error
                self._oneshot_loop(until=time.monotonic() + LOCK_RETRY_SECONDS)
                continue
            ran = time.monotonic() - started
            if outcome == "exited" and ran > most:
                continue  # its lifetime is over (or someone stopped it): a fresh one now
            self.restarts += 1
            if ran > most:
                backoff = first
            self.state = "waiting"
            logger.warning("re-fetch worker ended (%s); restarting in %.0f s", outcome, backoff)
            self._stop.wait(backoff)
            backoff = min(backoff * 2, most)

    def _citecache(self, *args: str) -> list[str]:
        """``python -m citecache ARGS... [--allow-private]``; the database goes in the
        environment (CITECACHE_DB, see _spawn), not on the command line, where anyone on
        the machine could read a PostgreSQL password in ``ps``."""
        cmd = [self.python, "-m", "citecache", *args]
        if self.allow_private:
            cmd.append("--allow-private")
        return cmd

    def worker_command(self) -> list[str]:
        return self._citecache("worker", "--max-runtime", WORKER_LIFETIME)

    def _spawn(self, cmd: list[str], run_id: str, **kwargs) -> subprocess.Popen | None:
        """Start ``cmd`` as run ``run_id``, unless stop() came first (then None)."""
        with self._spawning:
            if self._stop.is_set():
                return None
            self.runs += 1
            self.last_run_at = iso(utc_now())
            proc = subprocess.Popen(
                cmd,
                env={**os.environ, "CITECACHE_RUN_ID": run_id, "CITECACHE_DB": self.db_path},
                stdin=subprocess.DEVNULL,
                text=True,
                **kwargs,
            )
            self._proc, self.pid = proc, proc.pid
            return proc

    def run_worker(self) -> str:
        """Run the worker until it exits: ``stopped`` (by us), ``locked`` (another process
        holds the crawl lock), ``exited`` (0, someone else stopped it) or ``died``."""
        run_id = _new_run_id()
        tail: collections.deque[str] = collections.deque(maxlen=20)
        # Its own session: a Ctrl-C meant for the server does not reach it too (a second
        # signal would make Scrapy stop without finishing); the supervisor stops it.
        proc = self._spawn(
            self.worker_command(),
            run_id,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        if proc is None:
            return "stopped"
        self.started_at = self.last_run_at
        reader = threading.Thread(
            target=_pass_on, args=(proc, tail), name="refetch-worker-log", daemon=True
        )
        reader.start()
        code = proc.wait()
        reader.join(5)
        self.last_exit = code
        lines = [line for line in tail if line.strip()]
        if self._stop.is_set():
            return "stopped"
        if code == 0:
            self.last_error = None
            return "exited"
        self.last_error = lines[-1] if lines else f"exit {code}"
        if code == 1 and any(LOCK_HELD_MARK in line for line in lines):
            return "locked"  # not a failure: someone else is crawling
        self.failed_runs += 1
        # An editor waiting on a request it had claimed is told, rather than left waiting
        # on a worker that may die on it again.
        with Store(self.db_path) as store:
            store.fail_requests_of_run(run_id, f"re-fetch worker died (exit {code})")
        return "died"

    # ---- one-shot runs (fallback) ------------------------------------------------

    def _oneshot_loop(self, until: float | None) -> None:
        while not self._stop.is_set():
            left = None if until is None else until - time.monotonic()
            if left is not None and left <= 0:
                return
            if self.queued() == 0:
                self._wake.wait(self.poll_seconds if left is None else min(self.poll_seconds, left))
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

    def oneshot_command(self) -> list[str]:
        return self._citecache("crawl", "--requests", "--limit", str(RUN_LIMIT))

    def run_once(self) -> bool:
        """One crawl subprocess over the queued requests; True if it exited 0."""
        run_id = _new_run_id()
        proc = self._spawn(
            self.oneshot_command(),
            run_id,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            start_new_session=True,
        )
        if proc is None:
            return True
        self.started_at = self.last_run_at
        try:
            _, err = proc.communicate(timeout=self.run_timeout)
        except subprocess.TimeoutExpired:
            _kill_group(proc)
            # Not communicate() again: a process that escaped the group (started in a
            # session of its own) may hold the pipes open for as long as it lives.
            _close_pipes(proc)
            self.failed_runs += 1
            self.last_exit = None
            self.last_error = f"run killed after {self.run_timeout:.0f} s"
            with Store(self.db_path) as store:
                store.fail_requests_of_run(run_id, self.last_error)
            return False
        self.last_exit = proc.returncode
        if proc.returncode != 0:
            self.failed_runs += 1
            lines = [line for line in (err or "").strip().splitlines() if line.strip()]
            self.last_error = lines[-1] if lines else f"exit {proc.returncode}"
            logger.warning("re-fetch run failed: %s", self.last_error)
            return False
        self.last_error = None
        return True


def _pass_on(proc: subprocess.Popen, tail: collections.deque[str]) -> None:
    """The worker's stderr to the server's (its log), keeping the last lines for status."""
    assert proc.stderr is not None
    for line in proc.stderr:
        tail.append(line.rstrip("\n"))
        sys.stderr.write(f"[worker {proc.pid}] {line}")
    proc.stderr.close()


def _kill_group(proc: subprocess.Popen) -> None:
    """SIGKILL the worker and what it started (its extraction processes)."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)  # each is started in a session of its own
    except ProcessLookupError:
        proc.kill()
    proc.wait()


def _close_pipes(proc: subprocess.Popen) -> None:
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            pipe.close()


def _new_run_id() -> str:
    """A name for a run this service starts, so that it can fail exactly its requests."""
    return f"service-{os.getpid()}-{secrets.token_hex(4)}"
