"""Shared fixtures: the mock HTTP server, a database path, the saved-page manifest."""

from __future__ import annotations

import json
import selectors
import subprocess
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

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
