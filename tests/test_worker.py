"""``citecache worker`` as a real process against the mock server: it fetches what is due,
idles, serves editors within a second, stops cleanly on SIGTERM and keeps cron out."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import statistics
import subprocess
import sys
import time
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from storage import Store
from storage.lock import CrawlLock

ROOT = Path(__file__).resolve().parent.parent
START_TIMEOUT = 90.0  # a loaded 2-core box: Scrapy and the extraction pool start slowly
STOP_TIMEOUT = 60.0


class Worker:
    """A ``citecache worker`` subprocess in a process group of its own."""

    def __init__(self, db: Path | str, *args: str):
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "citecache", "--db", str(db), "worker", "--allow-private"]
            + ["--json", *args],
            cwd=ROOT,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            start_new_session=True,
        )

    def stop(self, timeout: float = STOP_TIMEOUT) -> tuple[int, dict, str]:
        """SIGTERM, then its exit code, JSON summary and stderr."""
        self.proc.send_signal(signal.SIGTERM)
        out, err = self.proc.communicate(timeout=timeout)
        return self.proc.returncode, json.loads(out) if out.strip() else {}, err

    def kill(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.communicate()


@pytest.fixture
def start_worker() -> Iterator:
    started: list[Worker] = []

    def start(db: Path, *args: str) -> Worker:
        started.append(Worker(db, *args))
        return started[-1]

    yield start
    for worker in started:
        worker.kill()


def citecache(db: Path, *args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "citecache", "--db", str(db), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def wait_for(predicate, timeout: float, step: float = 0.02) -> float | None:
    """Seconds until ``predicate()`` held, or None if it did not within ``timeout``."""
    started = time.monotonic()
    while time.monotonic() - started < timeout:
        if predicate():
            return time.monotonic() - started
        time.sleep(step)
    return None


def statuses(db: Path, ids: list[str]) -> list[str]:
    with Store(db, readonly=True) as store:
        return [store.get(i)["fetch_status"] for i in ids]


def request_status(db: Path, request_id: int) -> str:
    with Store(db, readonly=True) as store:
        return store.request(request_id)["status"]


def server_paths(mockserver, token: str) -> list[str]:
    with urllib.request.urlopen(mockserver.url("/requests?prefix=/slow"), timeout=5) as r:
        return [e["path"] for e in json.load(r) if token in e["path"]]


def test_worker_fetches_what_is_due_idles_and_serves_editors_within_a_second(
    mockserver, db_path, saved_pages, start_worker
):
    with Store(db_path) as store:
        ids = [
            store.register(mockserver.url(f"/pages/{page['name']}.html")).resource["id"]
            for page in saved_pages[:4]
        ]
        ids.append(store.register(mockserver.url("/status/404")).resource["id"])
    worker = start_worker(db_path)

    # Everything due is fetched and recorded, the last results too, although no new
    # result comes after them to push them out (the write timer does).
    assert wait_for(lambda: "pending" not in statuses(db_path, ids), START_TIMEOUT, 0.2)
    assert statuses(db_path, ids) == ["ok"] * 4 + ["error"]
    time.sleep(1.0)
    assert worker.proc.poll() is None  # nothing due: it waits, it does not exit

    # Editors' requests, queued as the API queues them, are picked up within a second.
    picked, done = [], []
    for n in range(5):
        time.sleep(n / 10)  # out of step with the worker's polling
        with Store(db_path) as store:
            request_id = store.request_refetch(ids[n % 4], by="editor", reason=f"check {n}")
        queued_at = time.monotonic()
        assert wait_for(lambda r=request_id: request_status(db_path, r) != "queued", 10)
        picked.append(time.monotonic() - queued_at)
        assert wait_for(lambda r=request_id: request_status(db_path, r) == "done", 10)
        done.append(time.monotonic() - queued_at)
    print(f"\npick-up s: {[round(t, 3) for t in picked]}; done s: {[round(t, 3) for t in done]}")
    assert statistics.median(picked) < 1.0, picked
    assert max(picked) < 2.0 and max(done) < 5.0, (picked, done)

    # The worker replaces the cron crawl: one meanwhile is refused at once...
    cron = citecache(db_path, "crawl", "--due", "--allow-private", timeout=60)
    assert cron.returncode != 0
    assert "another crawl" in cron.stderr and str(worker.proc.pid) in cron.stderr
    # ...while an editor's refetch runs beside it.
    refetch = citecache(db_path, "refetch", ids[0], "--allow-private", "--force")
    assert refetch.returncode == 0, refetch.stderr
    assert refetch.stdout.split("\t")[:2] == ["unchanged", "200"]  # fetched (forced, no 304)

    code, summary, err = worker.stop()
    assert code == 0, err
    assert summary["stored"] == summary["tasks"] == 5 + 5  # the due ones and the requests
    assert summary["requeued"] == 0


def test_an_idle_worker_sees_a_source_registered_by_another_process_at_once(
    mockserver, db_path, saved_pages, start_worker
):
    """Its look for due work is 30 s away, but on SQLite another connection's commit
    (an import, the API) wakes it within its next poll (PRAGMA data_version)."""
    with Store(db_path) as store:
        first = store.register(mockserver.url(f"/pages/{saved_pages[0]['name']}.html"))
    worker = start_worker(db_path, "--due-every", "30")
    assert wait_for(lambda: statuses(db_path, [first.resource["id"]]) == ["ok"], START_TIMEOUT)
    time.sleep(1.0)  # idle now, everything done
    with Store(db_path) as store:
        new = store.register(mockserver.url(f"/pages/{saved_pages[1]['name']}.html"))
    took = wait_for(lambda: statuses(db_path, [new.resource["id"]]) == ["ok"], 15, 0.05)
    print(f"\nregistered to stored: {took} s")
    assert took is not None and took < 5.0
    code, summary, err = worker.stop()
    assert code == 0 and summary["stored"] == 2, err


def test_sigterm_finishes_and_records_the_fetches_in_flight(mockserver, db_path, start_worker):
    token = uuid.uuid4().hex[:8]
    urls = [
        f"{base}/slow?delay=2&n={token}-{i}"
        for base in (mockserver.base, mockserver.localhost_base)
        for i in range(4)
    ]
    with Store(db_path) as store:
        ids = [store.register(url).resource["id"] for url in urls]
        # Editors' requests too: claimed first; those not started when it stops go back.
        requests = [store.request_refetch(i, by="editor") for i in ids[:2] + ids[4:6]]
    worker = start_worker(db_path)
    # Two at a time per host: 4 fetches in flight, 4 waiting in Scrapy's queues.
    assert wait_for(lambda: len(server_paths(mockserver, token)) >= 4, START_TIMEOUT, 0.1)
    code, summary, err = worker.stop()
    assert code == 0, err

    started = server_paths(mockserver, token)
    with Store(db_path, readonly=True) as store:
        fetched = {r["id"]: store.fetch_log(r["id"]) for r in map(store.get, ids)}
        rows = [store.request(i) for i in requests]
    recorded = sorted(path_of(urls[ids.index(i)]) for i, log in fetched.items() if log)
    # every fetch that reached the server is recorded, once; the rest were never sent
    assert recorded == sorted(started), (started, recorded)
    assert summary["stored"] == len(started) >= 4
    # nothing left running: done, or back in the queue for the next run
    assert {row["status"] for row in rows} <= {"done", "queued"}
    assert summary["requeued"] == sum(row["status"] == "queued" for row in rows)


def path_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}"


def test_a_worker_cannot_start_while_another_crawl_holds_the_lock(db_path):
    with Store(db_path):
        pass
    with CrawlLock(db_path):
        started = time.monotonic()
        refused = citecache(db_path, "worker", timeout=60)
    assert refused.returncode == 1
    assert "another crawl" in refused.stderr
    assert time.monotonic() - started < 30  # refused before Scrapy loads


def test_a_worker_with_max_runtime_stops_by_itself(db_path):
    with Store(db_path):
        pass
    done = citecache(db_path, "worker", "--max-runtime", "2s", "--json", timeout=120)
    assert done.returncode == 0, done.stderr
    summary = json.loads(done.stdout)
    assert summary["tasks"] == 0 and summary["requeued"] == 0
