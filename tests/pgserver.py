"""A private PostgreSQL server for the tests: its own cluster in a temp dir, on a free
port of 127.0.0.1, stopped and removed at the end of the session.

PostgreSQL refuses to run as root: as root, the server runs as the ``postgres`` user
(``runuser``), and its directory is handed to that user.
"""

from __future__ import annotations

import glob
import itertools
import os
import queue
import shutil
import socket
import subprocess
import tempfile
import threading
import time
from pathlib import Path

import psycopg

START_TIMEOUT = 60
SERVER_USER = "postgres"


def _has_server_tools(bindir: Path) -> bool:
    return all(os.access(bindir / tool, os.X_OK) for tool in ("initdb", "pg_ctl", "postgres"))


def find_bindir() -> Path | None:
    """The directory of ``initdb`` and ``pg_ctl``: on PATH, else Debian's newest version
    (Debian keeps them in /usr/lib/postgresql/VERSION/bin, off PATH)."""
    on_path = shutil.which("pg_ctl")
    if on_path and _has_server_tools(Path(os.path.realpath(on_path)).parent):
        return Path(os.path.realpath(on_path)).parent
    found = [Path(p).parent for p in glob.glob("/usr/lib/postgresql/*/bin")]
    found = [p for p in found if p.name.isdigit() and _has_server_tools(p / "bin")]
    return max(found, key=lambda p: int(p.name)) / "bin" if found else None


def _runuser() -> str | None:
    return shutil.which("runuser", path=f"{os.environ.get('PATH', '')}:/usr/sbin:/sbin")


def unavailable_reason() -> str | None:
    """Why the server cannot run here, or None when it can."""
    if find_bindir() is None:
        return "PostgreSQL is not installed (no initdb/pg_ctl on PATH or in /usr/lib/postgresql)"
    if os.geteuid() == 0:
        if _runuser() is None:
            return "running as root without runuser: PostgreSQL refuses to run as root"
        try:
            import pwd

            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root and there is no {SERVER_USER!r} user to run PostgreSQL as"
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


class PostgresServer:
    """``start()`` runs ``initdb`` and ``pg_ctl start``; ``stop()`` stops it and removes
    the cluster. Databases are made from a template with ``create_database``."""

    def __init__(self) -> None:
        bindir = find_bindir()
        assert bindir is not None
        self.bindir = bindir
        self.as_root = os.geteuid() == 0
        # Not under pytest's tmp dir: its parents are 0700 root, which the server user
        # could not traverse.
        self.dir = Path(tempfile.mkdtemp(prefix="citecache-pg-"))
        self.data = self.dir / "data"
        self.port = 0
        self._names = itertools.count(1)
        self.timings: dict[str, float] = {}
        if self.as_root:
            shutil.chown(self.dir, SERVER_USER, SERVER_USER)

    def _run(self, *args: str, timeout: float = START_TIMEOUT) -> None:
        cmd = [str(self.bindir / args[0]), *args[1:]]
        if self.as_root:
            cmd = [str(_runuser()), "-u", SERVER_USER, "--", *cmd]
        done = subprocess.run(
            cmd, capture_output=True, text=True, timeout=timeout, cwd=self.dir, check=False
        )
        if done.returncode != 0:
            log = self.dir / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(
                f"{' '.join(args[:2])} failed ({done.returncode}):\n{done.stderr}{tail}"
            )

    def start(self) -> None:
        began = time.perf_counter()
        self._run(
            "initdb",
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            # A UTF-8 ctype, so that 'simple' folds the case of non-ASCII letters.
            "--locale=C.UTF-8",
            "--no-sync",
        )
        self.timings["initdb"] = time.perf_counter() - began
        for attempt in range(3):  # a free port may be taken before the server binds it
            self.port = _free_port()
            options = (
                f"-p {self.port} -k {self.dir} -c listen_addresses=127.0.0.1 "
                # A throwaway cluster: durability costs time and buys nothing.
                "-c fsync=off -c synchronous_commit=off -c full_page_writes=off "
                "-c max_connections=200"
            )
            began = time.perf_counter()
            try:
                self._run(
                    "pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"),
                    "-o", options, "-w", "-t", str(START_TIMEOUT), "start",
                )  # fmt: skip
            except RuntimeError:
                if attempt == 2:
                    raise
                continue
            self.timings["start"] = time.perf_counter() - began
            return

    def restart(self) -> None:
        """Stop the server (dropping every connection) and start it again, same port."""
        self._run(
            "pg_ctl", "-D", str(self.data), "-l", str(self.dir / "server.log"),
            "-m", "fast", "-w", "restart",
        )  # fmt: skip

    def stop(self) -> None:
        try:
            if self.port and (self.data / "postmaster.pid").exists():
                self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.dir, ignore_errors=True)

    def url(self, database: str) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/{database}"

    def admin(self, sql: str) -> None:
        with psycopg.connect(self.url("postgres"), autocommit=True) as conn:
            conn.execute(sql)

    def create_database(self, template: str = "template0") -> str:
        """A new database copied from ``template``; returns its URL."""
        name = f"test_{os.getpid()}_{next(self._names)}"
        self.admin(f"CREATE DATABASE {name} TEMPLATE {template}")
        return self.url(name)

    def drop_database(self, url: str) -> None:
        """Drop it, ending any connection a test left open."""
        self.admin(f"DROP DATABASE IF EXISTS {url.rsplit('/', 1)[1]} WITH (FORCE)")


class DatabasePool:
    """Fresh databases made ahead of time on a thread of their own, and dropped there.

    A CREATE DATABASE takes 0.1-0.3 s of the server's time: made while the previous
    test runs, it costs a test nothing.
    """

    def __init__(self, server: PostgresServer, template: str, ahead: int = 2):
        self.server = server
        self.template = template
        self._jobs: queue.Queue[str | None] = queue.Queue()
        self._ready: queue.Queue[str | BaseException] = queue.Queue()
        for _ in range(ahead):
            self._jobs.put("")
        self._thread = threading.Thread(target=self._work, name="pg-databases", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        while (job := self._jobs.get()) is not None:
            try:
                if job:
                    self.server.drop_database(job)
                else:
                    self._ready.put(self.server.create_database(self.template))
            except BaseException as exc:  # handed to the test that waits for a database
                self._ready.put(exc)

    def take(self) -> str:
        """URL of a new database; drop it with :meth:`give_back`."""
        self._jobs.put("")  # the next one
        got = self._ready.get(timeout=START_TIMEOUT)
        if isinstance(got, BaseException):
            raise got
        return got

    def give_back(self, url: str) -> None:
        self._jobs.put(url)

    def close(self) -> None:
        self._jobs.put(None)
        self._thread.join(timeout=START_TIMEOUT)
