"""The fleet server's figures, checked with known timings; then a real crawl over its hosts."""

from __future__ import annotations

import json
import socket
import subprocess
import sys
import threading
import time
import urllib.request
from pathlib import Path

import pytest

from storage import Store
from tests.conftest import TESTS_DIR
from tests.fleetserver import page_html

ROOT = TESTS_DIR.parent
# Timing tolerance of the figures: threads on 2 shared cores start a few ms late.
SLACK = 0.06


def get(url: str) -> bytes:
    with urllib.request.urlopen(url, timeout=10) as resp:
        return resp.read()


def fire(schedule: list[tuple[float, str]]) -> None:
    """GET each URL at its offset (seconds from now), each from a thread of its own."""
    t0 = time.monotonic()

    def one(offset: float, url: str) -> None:
        time.sleep(max(0.0, t0 + offset - time.monotonic()))
        get(url)

    threads = [threading.Thread(target=one, args=item) for item in schedule]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


@pytest.fixture(autouse=True)
def _reset(fleetserver):
    fleetserver.reset()


def test_hosts_are_distinct_addresses_on_one_port(fleetserver):
    assert len(fleetserver.hosts) == len(set(fleetserver.hosts)) >= 10
    assert fleetserver.hosts[0] == f"http://127.0.0.2:{fleetserver.port}"
    assert all(h.endswith(f":{fleetserver.port}") for h in fleetserver.hosts)
    assert json.loads(get(fleetserver.url(0, "/control/hosts")))["hosts"] == fleetserver.hosts
    # The same page on two hosts: identical bytes, counted on each host separately.
    assert get(fleetserver.url(3, "/page/7")) == get(fleetserver.url(4, "/page/7"))
    assert get(fleetserver.url(3, "/page/7")) == page_html("7")
    hosts = fleetserver.stats()["hosts"]
    assert hosts[fleetserver.hosts[3]]["requests"] == 2
    assert hosts[fleetserver.hosts[4]]["requests"] == 1
    assert hosts[fleetserver.hosts[5]]["requests"] == 0


def test_in_flight_and_gaps_per_host_and_in_total(fleetserver):
    a, b = fleetserver.hosts[1], fleetserver.hosts[2]
    # Host a: [0, 0.3], [0.2, 0.5], [0.6, 0.9] -> at most 2 at once, starts 0.2 and 0.4 apart.
    # Host b: 3 at once over [0, 0.3]. Together 5 at once during [0.2, 0.3].
    fire(
        [
            (0.0, f"{a}/page/1?latency=0.3"),
            (0.2, f"{a}/page/2?latency=0.3"),
            (0.6, f"{a}/page/3?latency=0.3"),
        ]
        + [(0.0, f"{b}/page/{i}?latency=0.3") for i in range(3)]
    )
    stats = fleetserver.stats()
    host_a, host_b = stats["hosts"][a], stats["hosts"][b]
    assert host_a["requests"] == 3 and host_a["max_in_flight"] == 2
    assert 0.2 - SLACK < host_a["min_gap"] < 0.2 + SLACK
    assert host_b["requests"] == 3 and host_b["max_in_flight"] == 3
    assert host_b["min_gap"] < SLACK
    assert host_a["in_flight"] == host_b["in_flight"] == 0
    totals = stats["totals"]
    assert totals["max_in_flight"] == 5 and totals["max_host_in_flight"] == 3
    assert totals["requests"] == 6 and totals["hosts_hit"] == 2
    assert totals["min_gap"] == host_b["min_gap"]


def test_sequential_requests_are_one_in_flight(fleetserver):
    host = fleetserver.hosts[6]
    fire([(0.0, f"{host}/page/1?latency=0.1"), (0.3, f"{host}/page/2?latency=0.1")])
    figures = fleetserver.stats()["hosts"][host]
    assert figures["max_in_flight"] == 1
    assert 0.3 - SLACK < figures["min_gap"] < 0.3 + SLACK
    log = json.loads(get(fleetserver.url(0, "/control/log")))
    assert list(log) == [host]
    (start1, end1, path1, agent1), (start2, end2, path2, _) = log[host]
    assert (path1, path2) == ("/page/1", "/page/2")
    assert agent1.startswith("Python-urllib")  # the client's User-Agent
    assert end1 - start1 >= 0.1 and end2 - start2 >= 0.1  # the latency is in flight
    assert round(start2 - start1, 6) == pytest.approx(figures["min_gap"], abs=1e-5)


def test_a_response_is_in_flight_until_fully_written(fleetserver):
    host, port = fleetserver.hosts[7].removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as conn:
        # 10 MB, far beyond the socket buffers: the server blocks writing until we read.
        conn.sendall(f"GET /page/big?kb=10240 HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
        time.sleep(0.3)
        assert fleetserver.stats()["hosts"][fleetserver.hosts[7]]["in_flight"] == 1
        received = 0
        while received < 10 * 1024 * 1024:
            chunk = conn.recv(1 << 20)
            assert chunk
            received += len(chunk)
    time.sleep(0.1)
    assert fleetserver.stats()["hosts"][fleetserver.hosts[7]]["in_flight"] == 0


def test_duplicates_robots_and_reset(fleetserver):
    host = fleetserver.hosts[8]
    for path in ("/page/a", "/page/a", "/page/a?kb=3", "/page/b", "/robots.txt", "/robots.txt"):
        get(host + path)
    get(host + "/stats")  # control requests are not counted
    figures = fleetserver.stats()["hosts"][host]
    assert figures["requests"] == 6 and figures["robots"] == 2
    assert figures["duplicates"] == 2  # /page/a three times; the query does not matter

    fleetserver.reset()
    figures = fleetserver.stats()["hosts"][host]
    assert figures == {
        "requests": 0,
        "robots": 0,
        "in_flight": 0,
        "max_in_flight": 0,
        "min_gap": None,
        "duplicates": 0,
    }
    get(host + "/page/a")  # no gap to a start from before the reset, no duplicate
    figures = fleetserver.stats()["hosts"][host]
    assert figures["requests"] == 1 and figures["min_gap"] is None
    assert figures["duplicates"] == 0


def test_command_line_options():
    started = time.monotonic()
    proc = subprocess.Popen(
        [
            sys.executable,
            str(TESTS_DIR / "fleetserver.py"),
            "--hosts=3",
            "--latency=0.2",
            "--crawl-delay=1.5",
            "--page-kb=8",
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        info = json.loads(proc.stdout.readline())
        assert time.monotonic() - started < 2.0
        assert len(info["hosts"]) == 3 and info["hosts"][2].endswith(f".4:{info['port']}")
        assert b"Crawl-delay: 1.5\n" in get(info["hosts"][2] + "/robots.txt")
        t0 = time.monotonic()
        page = get(info["hosts"][1] + "/page/1")
        assert time.monotonic() - t0 >= 0.2  # the default latency
        assert len(page) >= 8 * 1024 and page == page_html("1", 8)
        t0 = time.monotonic()
        get(info["hosts"][1] + "/page/1?latency=0")  # the query overrides it
        assert time.monotonic() - t0 < 0.2
    finally:
        proc.terminate()
        proc.wait(timeout=5)
        proc.stdout.close()


# -- a real crawl -----------------------------------------------------------------------

CRAWL_HOSTS = 10
PAGES_PER_HOST = 4
PER_DOMAIN = 2  # crawler/settings.py CONCURRENT_REQUESTS_PER_DOMAIN


# With a delay, Scrapy's own downloader sends one request per delay and keeps the limit
# anyway; without one it let 3-4 of a host's 4 pages through at once (the Scrapy 2.19 bug
# crawler/downloader.py works around), so only the 0 case guards that workaround.
@pytest.mark.parametrize("delay", ["0.2", "0"])
def test_crawl_keeps_per_host_limit_and_fetches_each_page_once(
    fleetserver, db_path: Path, delay: str
):
    hosts = fleetserver.hosts[10 : 10 + CRAWL_HOSTS]
    with Store(db_path) as store:
        for k, host in enumerate(hosts):
            for i in range(PAGES_PER_HOST):
                # Answers slower than the delay, so that 2 requests per host can overlap.
                store.register(f"{host}/page/{k}-{i}?latency=0.3")
    done = subprocess.run(
        [sys.executable, "-m", "citecache", "--db", str(db_path), "crawl", "--all"]
        + ["--allow-private", "--json"]
        + ["-s", "AUTOTHROTTLE_ENABLED=0", "-s", f"DOWNLOAD_DELAY={delay}"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["tasks"] == summary["stored"] == CRAWL_HOSTS * PAGES_PER_HOST
    assert summary["byStatus"] == {"ok": CRAWL_HOSTS * PAGES_PER_HOST}

    stats = fleetserver.stats()
    for host in hosts:
        figures = stats["hosts"][host]
        assert figures["max_in_flight"] <= PER_DOMAIN, (host, figures)
        assert figures["requests"] - figures["robots"] == PAGES_PER_HOST, (host, figures)
        assert figures["duplicates"] == 0, (host, figures)
        assert figures["robots"] == 1, (host, figures)
    assert stats["totals"]["hosts_hit"] == CRAWL_HOSTS
    # Not vacuous: the limit was reached, and hosts were separate slots (more than 2 at once).
    assert stats["totals"]["max_host_in_flight"] == PER_DOMAIN
    assert stats["totals"]["max_in_flight"] > PER_DOMAIN
