"""Crawls of hostile input through the CLI: pages that would stall or exhaust extraction,
names and addresses that lead into the machine itself, and a crawl killed mid-run."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from storage import Store

from .test_crawl import ROOT, citecache, crawl

NORMAL = ["/article/first", "/article/second", "/article/third"]


def outcomes(mockserver, db_path, paths: list[str]) -> dict[str, tuple[str, str | None]]:
    """Path -> (outcome, error) of the last fetch of ``mockserver.url(path)``."""
    found = {}
    with Store(db_path) as store:
        for path in paths:
            [last, *_] = store.fetch_log(store.get(mockserver.url(path))["id"])
            found[path] = (last["outcome"], last["error"])
    return found


def crawl_pages(mockserver, db_path, paths: list[str], *settings: str) -> tuple[dict, float]:
    with Store(db_path) as store:
        for path in paths:
            store.register(mockserver.url(path))
    started = time.monotonic()
    args = ["--all", "-s", "CITECACHE_EXTRACT_WORKERS=1"]
    for setting in settings:
        args += ["-s", setting]
    summary = crawl(db_path, *args)
    return summary, time.monotonic() - started


# -- extraction limits (crawler/pipelines.py, crawler/extract_worker.py) -----------------


@pytest.mark.slow
def test_a_page_over_the_time_limit_is_recorded_and_the_run_goes_on(mockserver, db_path):
    # 8 MB in one table: some 30 s of extraction here, stopped after 1 s.
    table = "/pathological/table?mb=8"
    summary, seconds = crawl_pages(
        mockserver, db_path, [table, *NORMAL], "CITECACHE_EXTRACT_TIMEOUT=1"
    )
    assert seconds < 20
    found = outcomes(mockserver, db_path, [table, *NORMAL])
    assert found.pop(table) == ("extraction_failed", "time limit: extraction took over 1 s")
    assert {outcome for outcome, _ in found.values()} == {"ok"}
    assert summary["stored"] == 4


@pytest.mark.slow
def test_a_page_over_the_memory_limit_is_recorded_and_its_process_replaced(mockserver, db_path):
    # 10 MB of tiny elements: 1.7 GB and 30 s to extract here, stopped at 400 MB (a
    # process needs about 100 MB at rest).
    tags = "/pathological/tags?mb=10"
    summary, _ = crawl_pages(
        mockserver, db_path, [tags, *NORMAL], "CITECACHE_EXTRACT_MEMORY_MB=400"
    )
    found = outcomes(mockserver, db_path, [tags, *NORMAL])
    assert found.pop(tags) == ("extraction_failed", "memory limit: extraction needed over 400 MB")
    assert {outcome for outcome, _ in found.values()} == {"ok"}
    assert summary["stored"] == 4


@pytest.mark.slow
def test_a_stored_url_over_scrapys_length_limit_is_recorded_as_failed(mockserver, db_path):
    # Registration refuses them now; one stored before was dropped by Scrapy without a
    # fetch-log row, pending for ever and filling every `crawl --due --limit`.
    long_url = mockserver.url("/article/first?q=" + "a" * 2100)
    with Store(db_path) as store:
        resource_id = store.register(mockserver.url("/article/long")).resource["id"]
        store.sql.execute("UPDATE resources SET url = ? WHERE id = ?", [long_url, resource_id])
    summary = crawl(db_path, "--all")
    with Store(db_path) as store:
        [last] = store.fetch_log(resource_id)
        assert store.get(resource_id)["fetch_status"] != "pending"
    assert (last["outcome"], last["error"]) == (
        "error",
        f"URL too long: {len(long_url)} characters, over URLLENGTH_LIMIT 2083",
    )
    assert summary["stored"] == 1


# -- addresses: where the connection gets its own (crawler/resolver.py) ------------------

# Without SafeURLMiddleware's early check (and robots.txt), what the resolver alone keeps.
WITHOUT_EARLY_CHECK = [
    "-s",
    'DOWNLOADER_MIDDLEWARES={"crawler.middlewares.SafeURLMiddleware": null}',
    "-s",
    "ROBOTSTXT_OBEY=False",
]


def fetched_paths(mockserver, paths: list[str]) -> list[str]:
    with urllib.request.urlopen(mockserver.url("/requests"), timeout=5) as r:
        served = {entry["path"] for entry in json.load(r)}
    return [path for path in paths if path in served]


@pytest.mark.slow
def test_the_connection_itself_refuses_every_spelling_of_loopback(mockserver, db_path):
    port = mockserver.base.rsplit(":", 1)[1]
    hosts = ["localhost", "0177.0.0.1", "0x7f.0.0.1", "127.1", "0.0.0.0", "[::ffff:127.0.0.1]"]
    urls = {f"http://{host}:{port}/article/loopback-{n}": host for n, host in enumerate(hosts)}
    with Store(db_path) as store:
        for url in urls:
            store.register(url)
    citecache(db_path, "crawl", "--all", *WITHOUT_EARLY_CHECK)
    assert fetched_paths(mockserver, [f"/article/loopback-{n}" for n in range(len(hosts))]) == []
    with Store(db_path) as store:
        for url in urls:
            [last, *_] = store.fetch_log(store.get(url)["id"])
            assert last["outcome"] == "dns_error", (url, last)
    # --allow-private lets the very same through
    citecache(db_path, "crawl", "--all", "--allow-private", *WITHOUT_EARLY_CHECK)
    assert len(fetched_paths(mockserver, [f"/article/loopback-{n}" for n in range(6)])) == 6


# A name server that answers a public address for the first look-up of a name under
# the domain given as first argument and 127.0.0.1 for every later one (DNS rebinding),
# in the crawl's process; the other arguments are citecache's.
REBINDING_CRAWL = """
import socket, sys
domain = sys.argv.pop(1)
lookups = {}
real_getaddrinfo, real_gethostbyname = socket.getaddrinfo, socket.gethostbyname

def rebinds(host):
    return host == domain or str(host).endswith("." + domain)

def answer(host):
    lookups[host] = lookups.get(host, 0) + 1
    return "93.184.215.14" if lookups[host] == 1 else "127.0.0.1"

def getaddrinfo(host, port, *args, **kwargs):
    if not rebinds(host):
        return real_getaddrinfo(host, port, *args, **kwargs)
    return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", (answer(host), int(port or 0)))]

def gethostbyname(host):
    return answer(host) if rebinds(host) else real_gethostbyname(host)

socket.getaddrinfo, socket.gethostbyname = getaddrinfo, gethostbyname
from citecache.cli import cli
cli()
"""


@pytest.mark.slow
def test_a_name_that_turns_private_after_the_check_is_not_fetched(mockserver, db_path):
    port = mockserver.base.rsplit(":", 1)[1]
    url = f"http://site.rebind.test:{port}/article/rebound"
    with Store(db_path) as store:
        resource_id = store.register(url).resource["id"]
    done = subprocess.run(
        [sys.executable, "-c", REBINDING_CRAWL, "rebind.test", "--db", str(db_path)]
        + ["crawl", "--all"]
        + ["-s", "ROBOTSTXT_OBEY=False"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert fetched_paths(mockserver, ["/article/rebound"]) == []
    with Store(db_path) as store:
        [last, *_] = store.fetch_log(resource_id)
    assert last["outcome"] == "dns_error"
    assert (
        "no connection to site.rebind.test: refused site.rebind.test: resolves to "
        "non-public address 127.0.0.1" in done.stderr
    )


# -- a crawl killed mid-run (crawler/extract_worker.py) --------------------------------


def session_processes(session: int) -> dict[int, int]:
    """pid -> parent pid of the live (not zombie) processes of ``session`` (Linux /proc)."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        with contextlib.suppress(OSError):
            # after "pid (name)": state, ppid, pgrp, session, ...
            state, ppid, _pgrp, sid = (entry / "stat").read_text().rsplit(")", 1)[1].split()[:4]
            if int(sid) == session and state != "Z":
                found[int(entry.name)] = int(ppid)
    return found


def wait_for(predicate, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def served(mockserver, prefix: str) -> int:
    with urllib.request.urlopen(mockserver.url(f"/requests?prefix={prefix}"), timeout=5) as r:
        return len(json.load(r))


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc; the parent-death signal")
@pytest.mark.parametrize("command", [["crawl", "--all"], ["worker"]], ids=["crawl", "worker"])
def test_a_killed_crawl_leaves_no_extraction_process_behind(mockserver, db_path, command):
    # Pages of some 30 s of extraction each: both processes are busy in C code when the
    # crawl is killed, where no Python code of theirs may run to notice.
    post = urllib.request.Request(mockserver.url("/control/reset"), method="POST")
    urllib.request.urlopen(post, timeout=5).read()
    with Store(db_path) as store:
        for n in range(3):
            store.register(mockserver.url(f"/pathological/table?mb=8&n={n}"))
    crawl = subprocess.Popen(
        [sys.executable, "-m", "citecache", "--db", str(db_path), *command, "--allow-private"]
        + ["-s", "CITECACHE_EXTRACT_WORKERS=2"],
        cwd=ROOT,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    session = crawl.pid
    try:

        def extracting() -> bool:  # the workers: the children of the crawl's forkserver
            processes = session_processes(session)
            workers = [pid for pid, ppid in processes.items() if processes.get(ppid) == session]
            return len(workers) == 2 and served(mockserver, "/pathological/") >= 2

        assert wait_for(extracting, 90), session_processes(session)
        time.sleep(0.5)  # the pages reach the workers
        os.kill(crawl.pid, signal.SIGKILL)
        crawl.wait(10)
        left = wait_for(lambda: not session_processes(session), 10)
        assert left, f"still running: {session_processes(session)}"
    finally:
        crawl.kill()
        crawl.wait()
        for pid in session_processes(session):
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)


# -- the service's re-fetch runs past their limit (api/worker.py) ----------------------

# A python that starts a process in a session of its own holding the run's pipes (as
# the orphaned extraction processes of issue 14 did, 16 min 42 s), and gives the
# crawl three extraction processes: each slow page has one, the normal page another.
ESCAPING_PYTHON = """#!/bin/sh
setsid sleep 300 &
echo $! > {pidfile}
exec {python} "$@" -s CITECACHE_EXTRACT_WORKERS=3 {settings}
"""


def escaping_python(tmp_path: Path, settings: str = "") -> tuple[str, Path]:
    pidfile = tmp_path / "escaped.pid"
    python = tmp_path / "python"
    python.write_text(
        ESCAPING_PYTHON.format(pidfile=pidfile, python=sys.executable, settings=settings)
    )
    python.chmod(0o755)
    return str(python), pidfile


def kill_escaped(pidfile: Path) -> None:
    if pidfile.exists():
        with contextlib.suppress(ProcessLookupError, ValueError):
            os.kill(int(pidfile.read_text()), signal.SIGKILL)


def queue_slow_and_normal(mockserver, db_path, tag: str) -> tuple[list[str], list[int]]:
    """Two pages slow to extract (about a minute each) and a normal one, each with an
    editor's request; and a fourth resource, for a request made later."""
    slow = [mockserver.url(f"/pathological/table?mb=12&run={tag}{n}") for n in range(2)]
    urls = [*slow, mockserver.url(f"/article/first?run={tag}"), mockserver.url("/article/second")]
    with Store(db_path) as store:
        ids = [store.register(url).resource["id"] for url in urls]
        requests = [store.request_refetch(i, by="test") for i in ids[:3]]
    return ids, requests


def request_status(db_path, request_id: int) -> str:
    with Store(db_path, readonly=True) as store:
        return store.request(request_id)["status"]


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc; setsid")
def test_a_oneshot_run_over_its_limit_is_killed_whole_and_fails_only_its_unfinished_requests(
    mockserver, db_path, tmp_path
):
    from api.worker import RefetchWorker

    python, pidfile = escaping_python(tmp_path)
    ids, requests = queue_slow_and_normal(mockserver, db_path, "oneshot")
    worker = RefetchWorker(
        db_path, allow_private=True, mode="oneshot", run_timeout=10, poll_seconds=0.5
    )
    worker.python = python
    worker.start()
    try:
        assert wait_for(lambda: worker.status()["running"], 30)
        session = worker.pid
        assert wait_for(lambda: request_status(db_path, requests[0]) == "failed", 90), (
            worker.status()
        )
        # the run's whole group is gone, its pipes left to the escaped process
        assert wait_for(lambda: not session_processes(session), 10)
        assert worker.status()["lastError"] == "run killed after 10 s"
        with Store(db_path, readonly=True) as store:
            done = {r: store.request(r) for r in requests}
        assert [done[r]["status"] for r in requests] == ["failed", "failed", "done"]
        assert done[requests[0]]["outcome"] == "error: run killed after 10 s"
        # not wedged: the next request is served by the next run
        with Store(db_path) as store:
            later = store.request_refetch(ids[3], by="test")
        assert wait_for(lambda: request_status(db_path, later) == "done", 60), worker.status()
    finally:
        worker.stop()
        kill_escaped(pidfile)


@pytest.mark.slow
@pytest.mark.skipif(sys.platform != "linux", reason="reads /proc; setsid")
def test_the_service_worker_bounds_each_page_and_goes_on_serving(mockserver, db_path, tmp_path):
    # The long-running worker has no run limit: each page's extraction has its own
    # (CITECACHE_EXTRACT_TIMEOUT), so slow pages end as failures of their own.
    from api.worker import RefetchWorker

    python, pidfile = escaping_python(tmp_path, "-s CITECACHE_EXTRACT_TIMEOUT=3")
    ids, requests = queue_slow_and_normal(mockserver, db_path, "worker")
    worker = RefetchWorker(db_path, allow_private=True, grace_seconds=10)
    worker.python = python
    worker.start()
    try:
        finished = ("done", "failed")
        assert wait_for(
            lambda: all(request_status(db_path, r) in finished for r in requests), 90
        ), worker.status()
        with Store(db_path, readonly=True) as store:
            assert store.request(requests[2])["status"] == "done"
            for resource_id in ids[:2]:
                [last] = store.fetch_log(resource_id)
                assert (last["outcome"], last["error"]) == (
                    "extraction_failed",
                    "time limit: extraction took over 3 s",
                )
        with Store(db_path) as store:
            later = store.request_refetch(ids[3], by="test")
        assert wait_for(lambda: request_status(db_path, later) == "done", 30), worker.status()
        session = worker.pid
        started = time.monotonic()
    finally:
        worker.stop()
        kill_escaped(pidfile)
    assert time.monotonic() - started < 30  # a stop never waits on the escaped pipes
    assert wait_for(lambda: not session_processes(session), 10)
