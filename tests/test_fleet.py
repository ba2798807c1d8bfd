"""Several ``citecache worker`` processes on one database, by host lease, against the
fleet server's many hosts: politeness holds fleet-wide, nothing is fetched twice,
nothing is lost when a worker dies, and a worker that lost its lease writes nothing."""

from __future__ import annotations

import os
import select
import signal
import time

import pytest

from storage import Store
from tests.test_worker import Worker

HOSTS, PAGES = 10, 6
FAST = [
    "--leases",
    "--idle",
    "0.2",
    "-s",
    "AUTOTHROTTLE_ENABLED=0",
    "-s",
    "DOWNLOAD_DELAY=0",
    "-s",
    "CITECACHE_WORKER_PER_HOST=3",
    "-s",
    "CITECACHE_WORKER_LEASE_SECONDS=4",
    "-s",
    "CITECACHE_WRITE_INTERVAL=0.2",
    # One extraction process per worker: the pages are tiny, and with one per core
    # (4 under 2 workers) the server's view of the gaps lagged on this 2-core machine.
    "-s",
    "CITECACHE_EXTRACT_WORKERS=1",
]


@pytest.fixture
def fleet_db(db: str) -> str:
    """One database per backend (SQLite file, PostgreSQL URL) shared by the workers."""
    return db


def register_pages(db: str, fleetserver, latency: float = 0.3, pages: int = PAGES) -> list[str]:
    with Store(db) as store:
        return [
            store.register(fleetserver.url(h, f"page/{h}-{p}?latency={latency}")).resource["id"]
            for h in range(HOSTS)
            for p in range(pages)
        ]


def wait_until_recorded(db: str, ids: list[str], timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with Store(db, readonly=True) as store:
            done = store.sql.scalar("SELECT count(DISTINCT resource_id) FROM fetch_log")
        if done >= len(ids):
            return
        assert time.monotonic() < deadline, f"{done} of {len(ids)} recorded in {timeout} s"
        time.sleep(0.2)


def queue_and_time_pickup(db: str, resource_id: str, timeout: float = 30.0) -> tuple[int, float]:
    """Queue an editor's request; its id and the seconds until a worker took it."""
    with Store(db) as store:
        queued = time.monotonic()
        request_id = store.request_refetch(resource_id, by="editor")
    while True:
        with Store(db, readonly=True) as store:
            if store.get_request(request_id)["status"] != "queued":
                return request_id, time.monotonic() - queued
        assert time.monotonic() < queued + timeout, "the request was never picked up"
        time.sleep(0.02)


def page_stats(fleetserver) -> dict:
    return {base: figures for base, figures in fleetserver.stats()["hosts"].items()}


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_share_hosts_politely_and_fetch_each_page_once(fleetserver, fleet_db, workers):
    fleetserver.reset()
    ids = register_pages(fleet_db, fleetserver)
    fleet = [Worker(fleet_db, *FAST) for _ in range(workers)]
    try:
        wait_until_recorded(fleet_db, ids)
        results = [w.stop() for w in fleet]
    finally:
        for w in fleet:
            w.kill()
    assert [code for code, _, _ in results] == [0] * workers, [err for _, _, err in results]
    stored = [summary["stored"] for _, summary, _ in results]
    assert sum(stored) == len(ids)
    # (how the hosts were shared out depends on which worker started first: under load
    # one may find nothing left; bench/fleet_bench.py shows the shares)
    stats = page_stats(fleetserver)
    assert max(s["max_in_flight"] for s in stats.values()) <= 2  # CONCURRENT_REQUESTS_PER_DOMAIN
    assert sum(s["duplicates"] for s in stats.values()) == 0
    assert sum(s["requests"] - s["robots"] for s in stats.values()) == len(ids)


def page_gaps(fleetserver) -> dict[str, list[float]]:
    """Seconds between the starts of consecutive page requests to a host, over every
    host: ``within`` one worker and at ``hand-overs`` from one worker to another (told
    apart by their User-Agent). robots.txt is left out: see tests/fleetserver.py on its
    start-up lag."""
    gaps: dict[str, list[float]] = {"within": [], "hand-overs": []}
    for entries in fleetserver.log().values():
        pages = sorted(
            (start, agent) for start, _, path, agent in entries if path.startswith("/page/")
        )
        for (a, agent_a), (b, agent_b) in zip(pages, pages[1:], strict=False):
            gaps["within" if agent_a == agent_b else "hand-overs"].append(b - a)
    return gaps


def wait_until_started(fleet: list[Worker], timeout: float = 60.0) -> None:
    """Until each worker has said it runs ("worker <run> on <db>: stop it with
    SIGTERM"): past its imports, holding its run."""
    for worker in fleet:
        ready, _, _ = select.select([worker.proc.stderr], [], [], timeout)
        assert ready, "a worker did not start"
        line = worker.proc.stderr.readline()  # type: ignore[union-attr]
        assert "stop it with SIGTERM" in line, line


def test_the_per_host_delay_holds_across_the_fleet_and_its_hand_overs(fleetserver, fleet_db):
    """Leases of 2 pages, so hosts change hands between workers many times (12 pages a
    host, registered once both workers run: under load one worker's start-up took as
    long as the whole run, and no host changed hands); fast answers, so a hand-over that
    came too soon would show."""
    delay, pages = 0.5, 12
    fleetserver.reset()
    with Store(fleet_db):  # the schema first: the workers start on an empty queue
        pass
    polite = [*FAST, "-s", f"DOWNLOAD_DELAY={delay}", "-s", "DOWNLOAD_DELAY_JITTER=0"]
    polite += ["-s", "CITECACHE_WORKER_PER_HOST=2", "-s", "CITECACHE_WRITE_INTERVAL=0"]
    fleet = [Worker(fleet_db, *polite, "-s", f"USER_AGENT=worker-{n}") for n in range(2)]
    try:
        wait_until_started(fleet)
        ids = register_pages(fleet_db, fleetserver, latency=0, pages=pages)
        wait_until_recorded(fleet_db, ids)
        results = [w.stop() for w in fleet]
    finally:
        for w in fleet:
            w.kill()
    assert [code for code, _, _ in results] == [0] * len(fleet), [err for _, _, err in results]
    gaps = page_gaps(fleetserver)
    assert len(gaps["within"]) + len(gaps["hand-overs"]) == HOSTS * (pages - 1)
    assert gaps["hand-overs"], "no host changed hands: the test shows nothing"
    # 0.1 s of slack for the lag between a request leaving Scrapy's slot and the server
    # reading it, which varies by up to 50 ms on this loaded 2-core machine (with the
    # rest rounded to the second, hand-overs came as soon as 0.18 s after a 0.3 s delay)
    assert min(gaps["hand-overs"]) >= delay - 0.1, sorted(gaps["hand-overs"])[:5]
    assert min(gaps["within"]) >= delay - 0.1, sorted(gaps["within"])[:5]


def test_a_killed_worker_loses_nothing(fleetserver, fleet_db):
    fleetserver.reset()
    ids = register_pages(fleet_db, fleetserver, latency=0.5)
    doomed = Worker(fleet_db, *FAST)
    try:
        deadline = time.monotonic() + 90
        while sum(s["requests"] - s["robots"] for s in page_stats(fleetserver).values()) < 3:
            assert time.monotonic() < deadline and doomed.proc.poll() is None
            time.sleep(0.05)
        os.killpg(doomed.proc.pid, signal.SIGKILL)  # its leases and fetches in flight die
        doomed.proc.communicate()
        survivor = Worker(fleet_db, *FAST)
        wait_until_recorded(fleet_db, ids)  # after the dead worker's leases expired
        code, summary, err = survivor.stop()
    finally:
        doomed.kill()
    assert code == 0, err
    stats = page_stats(fleetserver)
    # only what the killed worker had leased may have been fetched twice
    assert sum(s["duplicates"] for s in stats.values()) <= 3 * HOSTS
    assert max(s["max_in_flight"] for s in stats.values()) <= 2
    with Store(fleet_db, readonly=True) as store:
        assert {r["fetch_status"] for r in store.iter_resources()} == {"ok"}


def test_a_worker_paused_past_its_lease_has_its_writes_refused(fleetserver, fleet_db):
    fleetserver.reset()
    with Store(fleet_db) as store:
        (only,) = [store.register(fleetserver.url(0, "page/paused?latency=3")).resource["id"]]
    paused = Worker(fleet_db, *FAST)
    try:
        deadline = time.monotonic() + 90
        while not page_stats(fleetserver)[fleetserver.hosts[0]]["in_flight"]:
            assert time.monotonic() < deadline and paused.proc.poll() is None
            time.sleep(0.05)
        os.killpg(paused.proc.pid, signal.SIGSTOP)  # fetching, and now frozen past its lease
        time.sleep(5)
        other = Worker(fleet_db, *FAST)
        wait_until_recorded(fleet_db, [only])  # the other worker took the host over
        os.killpg(paused.proc.pid, signal.SIGCONT)
        time.sleep(4)  # the paused worker gets its answer and tries to write it
        code, summary, err = paused.stop()
        other_code, _, other_err = other.stop()
    finally:
        paused.kill()
    assert code == 0 and other_code == 0, (err, other_err)
    assert summary["byStatus"] == {"stale_lease": 1}
    with Store(fleet_db, readonly=True) as store:
        assert [r["outcome"] for r in store.fetch_log(only)] == ["ok"]  # the other's only


def test_an_editors_request_is_picked_up_within_a_second(fleetserver, fleet_db):
    fleetserver.reset()
    ids = register_pages(fleet_db, fleetserver, latency=0.05)
    with Store(fleet_db) as store:
        edited = store.register(fleetserver.url(HOSTS, "page/edited")).resource["id"]
    fleet = [Worker(fleet_db, *FAST) for _ in range(2)]
    try:
        wait_until_recorded(fleet_db, [*ids, edited])
        waits = []
        for _ in range(3):
            request_id, wait = queue_and_time_pickup(fleet_db, edited)
            waits.append(wait)
            deadline = time.monotonic() + 30
            status = "running"
            while status in ("queued", "running"):
                assert time.monotonic() < deadline, "the request never finished"
                time.sleep(0.05)
                with Store(fleet_db, readonly=True) as store:
                    status = store.get_request(request_id)["status"]
            assert status == "done"
        results = [w.stop() for w in fleet]
    finally:
        for w in fleet:
            w.kill()
    assert [code for code, _, _ in results] == [0, 0]
    assert sorted(waits)[1] < 1.0, waits  # the median pick-up


def test_the_fleet_survives_a_database_restart(fleetserver, pg_server, pg_url):
    fleetserver.reset()
    ids = register_pages(pg_url, fleetserver, latency=0.5)
    fleet = [Worker(pg_url, *FAST) for _ in range(2)]
    try:
        deadline = time.monotonic() + 90
        while True:
            with Store(pg_url, readonly=True) as store:
                done = store.sql.scalar("SELECT count(DISTINCT resource_id) FROM fetch_log")
            if done >= 5:
                break
            assert time.monotonic() < deadline
            time.sleep(0.1)
        pg_server.restart()  # every connection of every worker is dropped mid-run
        wait_until_recorded(pg_url, ids)
        assert all(w.proc.poll() is None for w in fleet), "a worker died with the database"
        results = [w.stop() for w in fleet]
    finally:
        for w in fleet:
            w.kill()
    assert [code for code, _, _ in results] == [0] * len(fleet), [err for _, _, err in results]
    with Store(pg_url, readonly=True) as store:
        assert {r["fetch_status"] for r in store.iter_resources()} == {"ok"}


def test_on_postgresql_a_request_wakes_an_idle_worker_at_once(fleetserver, pg_url):
    # The worker polls only every 5 s here: a pick-up within a second is the NOTIFY's.
    with Store(pg_url) as store:
        edited = store.register(fleetserver.url(0, "page/notify")).resource["id"]
    worker = Worker(pg_url, *FAST, "--idle", "5")
    try:
        wait_until_recorded(pg_url, [edited])  # fetched once as new; now it idles
        time.sleep(1)
        waits = []
        for _ in range(3):
            waits.append(queue_and_time_pickup(pg_url, edited)[1])
            time.sleep(2)  # done, and the host's rest is over
        code, _, err = worker.stop()
    finally:
        worker.kill()
    assert code == 0, err
    assert sorted(waits)[1] < 1.0, waits
