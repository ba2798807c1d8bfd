"""Shared fixtures: the mock HTTP server, databases (a SQLite path; a PostgreSQL URL on
a private server), the saved-page manifest."""

from __future__ import annotations

import json
import os
import selectors
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from storage import Store

from .pgserver import DatabasePool, PostgresServer, unavailable_reason

# No test asks the real Internet Archive: the Wayback fallback (on by default) is off in
# every crawl a test starts, in this process and its subprocesses, unless the test sets
# CITECACHE_WAYBACK_ENABLED (and a local CITECACHE_WAYBACK_URL) itself.
os.environ["CITECACHE_WAYBACK_ENABLED"] = "0"

TESTS_DIR = Path(__file__).resolve().parent
PAGES_DIR = TESTS_DIR / "pages"
MOCKSERVER_START_TIMEOUT = 10.0


@dataclass(frozen=True)
class MockServer:
    """A running ``tests/mockserver.py``; see its docstring for the endpoints."""

    base: str
    """``http://127.0.0.1:PORT``"""
    localhost_base: str
    """The same server as ``http://localhost:PORT``, a second host for cross-host cases."""

    def url(self, path: str) -> str:
        """Absolute URL of ``path`` on ``base``."""
        return self.base + "/" + path.lstrip("/")


@pytest.fixture(scope="session", autouse=True)
def warc_dir_for_postgres(tmp_path_factory: pytest.TempPathFactory) -> Iterator[None]:
    """Crawls on PostgreSQL keep their WARC files in the user's data folder by default
    (storage/warc.py): the tests' crawls write to a temp dir instead (tests/test_warc.py
    unsets it where it checks the defaults)."""
    os.environ.setdefault("CITECACHE_WARC_DIR", str(tmp_path_factory.mktemp("warc")))
    yield


@pytest.fixture(scope="session")
def mockserver() -> Iterator[MockServer]:
    """Start the mock server once per session and stop it at the end."""
    proc = subprocess.Popen(
        [sys.executable, str(TESTS_DIR / "mockserver.py")],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            if not sel.select(MOCKSERVER_START_TIMEOUT):
                raise RuntimeError("mockserver did not print its URL in time")
        base = proc.stdout.readline().strip()
        if not base.startswith("http://127.0.0.1:"):
            raise RuntimeError(f"mockserver failed to start (first line: {base!r})")
        port = base.rsplit(":", 1)[1]
        yield MockServer(base=base, localhost_base=f"http://localhost:{port}")
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


@pytest.fixture
def db_path(tmp_path: Path) -> Path:
    """Path of a fresh (not yet created) SQLite file in this test's temp dir."""
    return tmp_path / "citecache.db"


@pytest.fixture(scope="session")
def saved_pages() -> list[dict]:
    """``tests/pages/manifest.json``: name, original_url, title, must_contain, must_not_contain."""
    return json.loads((PAGES_DIR / "manifest.json").read_text(encoding="utf-8"))


FLEET_HOSTS = 20


@dataclass(frozen=True)
class FleetServer:
    """A running ``tests/fleetserver.py``: many hosts (127.0.0.2, .3, ...) on one port."""

    port: int
    hosts: list[str]
    """Base URLs ``http://127.0.0.K:PORT``, one per host; distinct download slots to Scrapy."""

    def url(self, host: int, path: str) -> str:
        """Absolute URL of ``path`` on host number ``host`` (0-based)."""
        return self.hosts[host] + "/" + path.lstrip("/")

    def stats(self) -> dict:
        """``GET /stats``: {"hosts": {base: figures}, "totals": figures}."""
        import urllib.request  # here, not at the top: this section of the file is appended

        with urllib.request.urlopen(self.hosts[0] + "/stats", timeout=5) as resp:
            return json.load(resp)

    def log(self) -> dict:
        """``GET /control/log``: {base: [[start, end, path, agent], ...]} since the last reset."""
        import urllib.request

        with urllib.request.urlopen(self.hosts[0] + "/control/log", timeout=5) as resp:
            return json.load(resp)

    def reset(self) -> None:
        """``POST /control/reset``: clear the figures."""
        import urllib.request

        request = urllib.request.Request(self.hosts[0] + "/control/reset", method="POST")
        urllib.request.urlopen(request, timeout=5).read()


@pytest.fixture(scope="session")
def fleetserver() -> Iterator[FleetServer]:
    """Start the fleet server with FLEET_HOSTS hosts and no default latency; stop it at the end.

    Figures accumulate over the session: call ``reset()`` before measuring.
    """
    proc = subprocess.Popen(
        [sys.executable, str(TESTS_DIR / "fleetserver.py"), "--hosts", str(FLEET_HOSTS)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        with selectors.DefaultSelector() as sel:
            sel.register(proc.stdout, selectors.EVENT_READ)
            if not sel.select(MOCKSERVER_START_TIMEOUT):
                raise RuntimeError("fleetserver did not print its hosts in time")
        first = proc.stdout.readline()
        try:
            started = json.loads(first)
        except ValueError:
            raise RuntimeError(f"fleetserver failed to start (first line: {first!r})") from None
        yield FleetServer(port=started["port"], hosts=started["hosts"])
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        proc.stdout.close()


# ---- a database of each backend ---------------------------------------------------------

BACKENDS = ("sqlite", "postgres")
PG_TEMPLATE = "citecache_template"


@pytest.fixture(scope="session")
def pg_server() -> Iterator[PostgresServer]:
    """A private PostgreSQL server for the session (tests/pgserver.py); skips the test
    when PostgreSQL is not installed."""
    reason = unavailable_reason()
    if reason:
        pytest.skip(reason)
    server = PostgresServer()
    try:
        server.start()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pg_template(pg_server: PostgresServer) -> str:
    """A database with the schema and the bundled venues, made once: each test's
    database is a copy of it (CREATE DATABASE ... TEMPLATE), so migrations run once."""
    pg_server.admin(f"CREATE DATABASE {PG_TEMPLATE} TEMPLATE template0")
    with Store(pg_server.url(PG_TEMPLATE)):
        pass
    return PG_TEMPLATE


@pytest.fixture(scope="session")
def pg_databases(pg_server: PostgresServer, pg_template: str) -> Iterator[DatabasePool]:
    """Copies of the template, made ahead while tests run."""
    pool = DatabasePool(pg_server, pg_template)
    try:
        yield pool
    finally:
        pool.close()


@pytest.fixture
def pg_url(pg_databases: DatabasePool) -> Iterator[str]:
    """URL of a fresh PostgreSQL database for this test, dropped after it."""
    url = pg_databases.take()
    yield url
    pg_databases.give_back(url)


@pytest.fixture(params=BACKENDS)
def db(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh database, once per backend: a SQLite file path (not yet created) or the
    URL of a PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "citecache.db")
    return request.getfixturevalue("pg_url")
