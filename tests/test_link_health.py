"""Crawling like a good citizen, against the fault-injecting server: the state each
misbehaving source is left in, and that a good copy always survives."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import urllib.request
from datetime import UTC, datetime, timedelta

import pytest

from storage import FetchResult, Store, iso
from storage.health import HealthPolicy, spaced_count
from tests.test_crawl import ROOT, crawl, post

FAST_RETRIES = ("-s", "CITECACHE_RETRY_BACKOFF_BASE=0.2", "-s", "DOWNLOAD_TIMEOUT=3")


@pytest.fixture
def store(db_path):
    with Store(db_path) as opened:
        yield opened


def request_log(mockserver, prefix: str) -> list[dict]:
    with urllib.request.urlopen(mockserver.url(f"/requests?prefix={prefix}"), timeout=5) as r:
        return json.load(r)


def test_each_kind_of_trouble_gets_its_state(mockserver, db_path, store):
    post(mockserver.url("/control/reset"))
    cases = {
        "/status/401": "paywalled",
        "/status/403": "blocked",
        "/challenge/403": "blocked",
        "/challenge/503": "blocked",
        "/soft404/some/article": "soft_404",
        "/redirect/home": "soft_404",
        "/redirect/cross-host": "soft_404",
        "/redirect/cross-host?path=/article/moved-away": "redirected",
        "/redirect/chain/3": "ok",
        "/redirect/loop/a": "error",
        "/private/members-only": "blocked_by_robots",
        "/flaky/twice?n=2": "ok",
        "/status/429?retry_after=1": "error",
        "/paywall": "paywalled",
        "/charset/cp1252-as-utf8": "ok",
    }
    ids = {path: store.register(mockserver.url(path)).resource["id"] for path in cases}

    summary = crawl(db_path, "--all", *FAST_RETRIES)
    assert summary["stored"] == len(cases)

    for path, state in cases.items():
        resource = store.get(ids[path])
        assert resource["fetch_status"] == state, (path, resource["status_reason"])

    def reason(path):
        return store.get(ids[path])["status_reason"]

    assert "bot challenge" in reason("/challenge/503")
    assert "home page" in reason("/redirect/cross-host")
    assert "another host" in reason("/redirect/cross-host?path=/article/moved-away")
    assert "redirect loop" in reason("/redirect/loop/a")
    assert "robots.txt" in reason("/private/members-only")
    assert "rate limited" in reason("/status/429?retry_after=1")
    # A paywall keeps its visible part (there was no earlier copy); a wrongly declared
    # charset still gives clean text.
    assert store.current_snapshot(ids["/paywall"])["full_text"]
    assert "Café crème" in store.current_snapshot(ids["/charset/cp1252-as-utf8"])["full_text"]

    # Redirects: the chain and the final URL are recorded.
    chained = store.get(ids["/redirect/chain/3"])
    assert chained["final_url"].endswith("/article/redirect-target")
    chain = json.loads(chained["redirect_chain"])
    assert chain[0] == chained["url"] and len(chain) >= 3
    # A cross-host move keeps its text, flagged; it is not silently the article.
    moved = store.get(ids["/redirect/cross-host?path=/article/moved-away"])
    assert moved["final_url"].startswith(mockserver.localhost_base)
    assert store.current_snapshot(moved["id"]) is not None

    # robots.txt: the disallowed page was never requested.
    assert request_log(mockserver, "/private/") == []
    # 503 twice then 200: retried with backoff and stored.
    assert len(request_log(mockserver, "/flaky/twice")) == 3
    # 429 with Retry-After: 1 s: each retry waited at least that long.
    hits = [entry["time"] for entry in request_log(mockserver, "/status/429")]
    assert len(hits) == 3
    assert all(b - a >= 0.95 for a, b in zip(hits, hits[1:], strict=False))
    # No retries for a 4xx other than 408/429.
    assert len(request_log(mockserver, "/status/403")) == 1


def test_a_good_copy_survives_every_kind_of_failure(mockserver, db_path, store):
    failures = [
        "/status/404",
        "/status/500",
        "/status/403",
        "/status/429?retry_after=1",
        "/challenge/503",
        "/soft404",
        "/redirect/home",
        "/redirect/loop/a",
        "/redirect/cross-host?path=/article/somewhere-else",
        "/private/now-disallowed",
        "/paywall",
        "/slow?delay=5",
        "/big?mb=3",
        "/gzip-bomb?mb=64",
        "/files/image.png",
    ]
    ids = [
        store.register(mockserver.url(f"/article/good-{i}")).resource["id"]
        for i in range(len(failures))
    ]
    crawl(db_path, "--all")
    good = {rid: store.get(rid) for rid in ids}
    assert all(r["fetch_status"] == "ok" for r in good.values())

    for rid, path in zip(ids, failures, strict=True):
        store.update_url(rid, mockserver.url(path))
    crawl(
        db_path,
        "--all",
        *("-s", "DOWNLOAD_TIMEOUT=1", "-s", "RETRY_TIMES=0", "-s", "DOWNLOAD_MAXSIZE=2000000"),
    )

    for rid, path in zip(ids, failures, strict=True):
        after = store.get(rid)
        assert after["fetch_status"] not in ("ok", "unchanged"), path
        assert after["current_snapshot_id"] == good[rid]["current_snapshot_id"], path
        assert after["content_hash"] == good[rid]["content_hash"], path
        assert store.current_snapshot(rid)["full_text"], path


def test_conditional_refetch_and_force(mockserver, db_path, store):
    post(mockserver.url("/control/reset"))
    url = mockserver.url("/mutable/cond")
    resource_id = store.register(url).resource["id"]
    crawl(db_path, "--all")
    assert store.get(resource_id)["etag"] == '"cond-v1"'

    assert crawl(db_path, "--all")["byStatus"] == {"unchanged": 1}
    second = request_log(mockserver, "/mutable/cond")[-1]["headers"]
    assert second.get("If-None-Match") == '"cond-v1"'
    assert "If-Modified-Since" in second
    assert [r["outcome"] for r in store.fetch_log(resource_id)] == ["not_modified", "ok"]
    assert len(store.snapshots(resource_id)) == 1

    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "citecache",
            "--db",
            str(db_path),
            "refetch",
            resource_id,
            "--force",
            "--allow-private",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    forced = request_log(mockserver, "/mutable/cond")[-1]["headers"]
    assert "If-None-Match" not in forced and "If-Modified-Since" not in forced
    assert store.fetch_log(resource_id)[0]["outcome"] == "ok"
    assert len(store.snapshots(resource_id)) == 1


def test_due_order_limit_and_queued_requests_first(mockserver, db_path, store):
    old = store.register(mockserver.url("/article/overdue")).resource["id"]
    crawl(db_path, "--all")
    store.db["resources"].update(old, {"next_fetch_at": "2000-01-01T00:00:00Z"})
    fresh = store.register(mockserver.url("/article/never-fetched")).resource["id"]
    requested = store.register(mockserver.url("/article/editor-wants-it")).resource["id"]
    store.db["resources"].update(requested, {"next_fetch_at": "2999-01-01T00:00:00Z"})
    store.request_refetch(requested, by="ed", reason="typo fixed upstream")

    order = [t.resource_id for t in store.tasks(mode="due")]
    assert order == [requested, fresh, old]

    summary = crawl(db_path, "--due", "--limit", "2")
    assert summary["tasks"] == 2
    assert store.get(requested)["last_attempt_at"] is not None
    assert store.get(fresh)["fetch_status"] == "ok"
    assert [r["status"] for r in store.requests()] == ["done"]
    assert len(store.fetch_log(old)) == 1  # the overdue one waits for the next run


def test_dead_only_after_repeated_gone_answers_days_apart(db_path, store):
    policy = HealthPolicy(dead_after=3, dead_spacing=timedelta(days=1))
    store.policy = policy
    rid = store.register("https://gone.example.org/post").resource["id"]
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def gone(at):
        return store.record_result(
            FetchResult(
                rid,
                "https://gone.example.org/post",
                iso(at),
                "http_error",
                http_status=404,
                error="HTTP 404",
            )
        )

    # Three 404s within an hour: still only an error.
    assert [gone(start + timedelta(minutes=m)) for m in (0, 20, 40)] == ["error"] * 3
    assert gone(start + timedelta(days=1, minutes=1)) == "error"
    assert gone(start + timedelta(days=2, minutes=2)) == "dead"
    assert "gone on 3 checks" in store.get(rid)["status_reason"]
    # A paywall or a bot wall is never dead, however often.
    assert (
        store.record_result(
            FetchResult(rid, "x", iso(start + timedelta(days=9)), "http_error", http_status=403)
        )
        == "blocked"
    )
    assert (
        spaced_count(
            [start, start + timedelta(hours=1), start + timedelta(days=1)], timedelta(days=1)
        )
        == 2
    )


def test_failures_back_off_and_successes_wait_the_ttl(db_path, store):
    rid = store.register("https://flaky.example.org/a").resource["id"]
    now = datetime.now(UTC)
    waits = []
    for _ in range(5):
        store.record_result(FetchResult(rid, "u", iso(now), "timeout", error="timed out"))
        next_at = datetime.fromisoformat(store.get(rid)["next_fetch_at"].replace("Z", "+00:00"))
        waits.append((next_at - now).total_seconds() / 3600)
    assert 0.85 <= waits[0] <= 1.15 and 5 <= waits[1] <= 7
    assert 21 <= waits[2] <= 27 and 64 <= waits[3] <= 80 and 64 <= waits[4] <= 80
    store.record_result(FetchResult(rid, "u", iso(now), "ok", text="Back online."))
    next_at = datetime.fromisoformat(store.get(rid)["next_fetch_at"].replace("Z", "+00:00"))
    # the TTL, jittered: 26 days +/- 10% (under the 30 days after which the wiki refetches)
    policy = HealthPolicy()
    wait = (next_at - now).total_seconds()
    ttl = policy.ttl.total_seconds()
    assert ttl * (1 - policy.jitter) - 1 <= wait <= ttl * (1 + policy.jitter) + 1
    assert wait < 30 * 86400


def test_a_crawl_killed_midway_leaves_a_sound_database_and_resumes(mockserver, db_path, store):
    urls = [mockserver.url(f"/slow?delay=0.3&n={i}") for i in range(30)]
    ids = [store.register(url).resource["id"] for url in urls]
    proc = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "citecache",
            "--db",
            str(db_path),
            "crawl",
            "--due",
            "--allow-private",
            "-s",
            "CITECACHE_WRITE_BATCH_SIZE=1",
            "-s",
            "AUTOTHROTTLE_ENABLED=0",
        ],
        cwd=ROOT,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while store.db["fetch_log"].count < 4:
            assert time.monotonic() < deadline, "the crawl stored nothing in 60 s"
            assert proc.poll() is None, "the crawl ended before it could be killed"
            time.sleep(0.1)
    finally:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait(timeout=10)

    conn = sqlite3.connect(db_path)
    assert conn.execute("PRAGMA integrity_check").fetchone() == ("ok",)
    conn.close()
    done_before = {r["resource_id"] for r in store.db.query("SELECT resource_id FROM fetch_log")}
    assert 4 <= len(done_before) < len(ids)
    for rid in done_before:  # every completed result is whole
        resource = store.get(rid)
        assert resource["fetch_status"] == "ok" and store.current_snapshot(rid) is not None

    summary = crawl(db_path, "--due")  # the lock died with the process
    assert summary["tasks"] == len(ids) - len(done_before)
    assert all(store.get(rid)["fetch_status"] == "ok" for rid in ids)
    assert store.db["fetch_log"].count == len(ids)


def test_max_runtime_stops_the_run_and_leaves_the_rest_due(mockserver, db_path, store):
    # Judged by what the server received, not by the clock: how many requests leave in
    # 3 s, and how long the crawler takes to start, depend on the machine's load.
    post(mockserver.url("/control/reset"))
    ids = {}
    for i in range(20):
        path = f"/slow?delay=1&m={i}"
        ids[path] = store.register(mockserver.url(path)).resource["id"]
    summary = crawl(db_path, "--due", "--max-runtime", "3s", "-s", "AUTOTHROTTLE_ENABLED=0")
    sent = {entry["path"] for entry in request_log(mockserver, "/slow?delay=1&m=")}
    # The run stopped sending: 20 answers of 1 s, 2 at a time, take 10 s, and no request
    # leaves after the 3 s deadline, so a slower machine only sends fewer. The first ones
    # leave a fraction of a second after the deadline is set (start-up comes before it).
    assert 0 < len(sent) < 20
    # Every request sent was answered and stored whole...
    fetched = {ids[path] for path in sent}
    assert summary["stored"] == len(fetched)
    logged = {row["resource_id"] for row in store.db.query("SELECT resource_id FROM fetch_log")}
    assert logged == fetched
    assert all(store.get(rid)["fetch_status"] == "ok" for rid in fetched)
    # ...and the rest were never sent nor recorded: still due, for the next run.
    due = {task.resource_id for task in store.tasks(mode="due")}
    assert due == set(ids.values()) - fetched
    assert all(store.get(rid)["last_attempt_at"] is None for rid in due)


def test_polite_two_requests_per_host_and_an_honest_user_agent(mockserver, db_path, store):
    post(mockserver.url("/control/reset"))
    for i in range(6):
        store.register(mockserver.url(f"/slow?delay=0.5&polite={i}"))
    crawl(db_path, "--all", "-s", "AUTOTHROTTLE_ENABLED=0")
    hits = request_log(mockserver, "/slow")
    times = sorted(entry["time"] for entry in hits)
    # Each request takes 0.5 s: no three may start within that time of each other.
    assert all(c - a >= 0.45 for a, c in zip(times, times[2:], strict=False)), times
    agent = hits[0]["headers"]["User-Agent"]
    assert agent.startswith("citecache/") and "(+http" in agent


def test_a_304_after_a_fetch_without_text_keeps_that_verdict(db_path, store):
    rid = store.register("https://empty.example.org/page").resource["id"]
    first = FetchResult(
        rid, "u", iso(datetime.now(UTC)), "extraction_failed", http_status=200,
        error="no main text found", etag='"e1"',
    )  # fmt: skip
    assert store.record_result(first) == "error"
    assert store.tasks(mode="all")[0].etag == '"e1"'  # the next check is conditional
    again = FetchResult(rid, "u", iso(datetime.now(UTC)), "not_modified", http_status=304)
    assert store.record_result(again) == "error"
    resource = store.get(rid)
    assert resource["status_reason"] == "not modified since: no main text found"
    assert resource["current_snapshot_id"] is None


def test_an_editors_refetch_and_a_cron_crawl_never_take_each_others_work(
    mockserver, db_path, store
):
    slow = mockserver.url("/slow?delay=3&n=editor")
    other = mockserver.url("/article/cron-only")
    slow_id = store.register(slow).resource["id"]
    store.register(other)
    # the editor's source was checked recently: only the editor's request makes it due
    store.db["resources"].update(slow_id, {"next_fetch_at": "2999-01-01T00:00:00Z"})
    editor = subprocess.Popen(
        [sys.executable, "-m", "citecache", "--db", str(db_path), "refetch", slow_id]
        + ["--allow-private", "--json"],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not any(r["status"] == "running" for r in store.requests()):
            assert time.monotonic() < deadline and editor.poll() is None, editor.stderr.read()
            time.sleep(0.05)
        # The cron crawl starts while the editor's fetch is in flight: it must neither
        # requeue nor fetch that request, and the editor's run never waits for its lock.
        summary = crawl(db_path, "--due")
        out, err = editor.communicate(timeout=60)
    finally:
        if editor.poll() is None:
            editor.kill()
    assert editor.returncode == 0, err
    assert summary["tasks"] == 1
    assert json.loads(out)[0]["request"] == "done"
    hits = [e for e in request_log(mockserver, "/slow") if "n=editor" in e["path"]]
    assert len(hits) == 1
    assert [r["outcome"] for r in store.fetch_log(slow_id)] == ["ok"]


def test_the_services_request_runs_beside_a_cron_crawl(mockserver, db_path, store):
    from storage.lock import CrawlLock

    resource_id = store.register(mockserver.url("/article/beside")).resource["id"]
    request_id = store.request_refetch(resource_id, by="editor")
    with CrawlLock(db_path):  # a cron crawl is running
        summary = crawl(db_path, "--requests")
    assert summary["tasks"] == 1
    assert store.request(request_id)["status"] == "done"
