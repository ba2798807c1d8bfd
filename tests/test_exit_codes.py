"""What the crawl commands' exit codes say, through the real CLI: 0 it ran, 1 it could
not run, 2 usage error, and for ``refetch`` 3 a fresh copy was not obtained. A run
that cannot run says why in one line and changes nothing."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from storage import Store
from tests.test_crawl import server_paths

ROOT = Path(__file__).resolve().parent.parent
TIMEOUT = 120


def citecache(db: Path, *args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "citecache", "--db", str(db), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=TIMEOUT,
    )


def one_line_error(done: subprocess.CompletedProcess) -> str:
    """The error line of a refused run, checked to be its only message."""
    assert "Traceback" not in done.stderr and done.stdout == ""
    lines = [line for line in done.stderr.splitlines() if line.startswith("Error:")]
    assert len(lines) == 1, done.stderr
    return lines[0]


@pytest.fixture
def store(db_path):
    with Store(db_path) as opened:
        yield opened


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ("DOWNLOAD_TIMEOUT=abc", "DOWNLOAD_TIMEOUT='abc': expected a number"),
        ("AUTOTHROTTLE_ENABLED=yes", "AUTOTHROTTLE_ENABLED='yes': expected true or false"),
        ("CITECACHE_TTL_OVERRIDES=type:paper", "expected a JSON object"),
        (
            "CITECACHE_TTL_DAY=7",
            "unknown setting CITECACHE_TTL_DAY; did you mean CITECACHE_TTL_DAYS?",
        ),
        ("CITECACHE_TYPO=1", "unknown setting CITECACHE_TYPO; known: CITECACHE_ALLOW_PRIVATE, "),
    ],
)
def test_a_bad_setting_is_a_usage_error_before_anything_runs(db_path, store, setting, message):
    store.register("https://example.org/a-source")
    done = citecache(db_path, "crawl", "--all", "-s", setting)
    assert done.returncode == 2
    assert message in one_line_error(done)
    assert store.db["fetch_log"].count == 0


def test_the_worker_checks_its_settings_too(db_path):
    done = citecache(db_path, "worker", "-s", "CITECACHE_WORKER_BACH=4")
    assert done.returncode == 2
    assert "did you mean CITECACHE_WORKER_BATCH?" in one_line_error(done)


@pytest.mark.parametrize(
    "flags", [("--all", "--due"), ("--due", "--requests"), ("--all", "--url", "x")]
)
def test_conflicting_modes_are_a_usage_error(db_path, flags):
    done = citecache(db_path, "crawl", *flags)
    assert done.returncode == 2
    assert "do not go together" in one_line_error(done)


def test_an_unknown_id_is_one_line_and_exit_1(db_path, store):
    done = citecache(db_path, "crawl", "--url", "ffffffffffffffff")
    assert done.returncode == 1
    assert one_line_error(done) == "Error: no resource for 'ffffffffffffffff'"


def test_a_crawl_that_cannot_start_exits_1_in_one_line(db_path, store):
    # A value of the right type that a component refuses once Scrapy builds it.
    done = citecache(db_path, "crawl", "-s", "CITECACHE_TASK_SOURCE=crawler.frontier.Nothing")
    assert done.returncode == 1
    assert one_line_error(done).startswith("Error: the crawl could not start: ")


@pytest.mark.parametrize(
    ("mirror", "allow_private", "message"),
    [
        (None, False, "non-public address 127.0.0.1 (--allow-private allows a mirror"),
        ("notaurl", True, "--mirror notaurl: expected an http(s) URL"),
        ("http://127.0.0.1:1", True, "cannot connect to 127.0.0.1:1"),
    ],
)
def test_a_mirror_mistake_is_refused_before_any_request_and_changes_no_source(
    mockserver, db_path, store, mirror, allow_private, message
):
    url = mockserver.url("/article/mirror-config")
    resource_id = store.register(url).resource["id"]
    before = store.get(resource_id)
    args = ["crawl", "--all", "--mirror", mirror or mockserver.base]
    done = citecache(db_path, *args, *(["--allow-private"] if allow_private else []))
    assert done.returncode == 1
    assert message in one_line_error(done)
    assert store.get(resource_id) == before  # status, failure count, next check
    assert store.fetch_log(resource_id) == []
    assert server_paths(mockserver, "/article/mirror-config") == []


def test_refetch_says_by_its_exit_code_whether_the_fresh_copy_was_obtained(mockserver, db_path):
    fine, gone = mockserver.url("/article/refetch-exit"), mockserver.url("/status/404?exit=3")
    assert citecache(db_path, "init").returncode == 0  # refetch makes no database itself
    done = citecache(db_path, "refetch", fine, "--allow-private")
    assert done.returncode == 0, done.stderr
    done = citecache(db_path, "refetch", fine, gone, "--allow-private")
    assert done.returncode == 3, done.stderr
    # the same text again is a fresh copy too; the 404 is not
    assert [line.split("\t")[:2] for line in done.stdout.splitlines()] == [
        ["unchanged", "200"],
        ["error", "404"],
    ]
    queued = citecache(db_path, "refetch", gone, "--queue")
    assert queued.returncode == 0 and "\tqueued\t" in queued.stdout
    unknown = citecache(db_path, "refetch", "ffffffffffffffff")
    assert unknown.returncode == 1
    assert one_line_error(unknown) == "Error: no resource for 'ffffffffffffffff'"
