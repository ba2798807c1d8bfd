"""Real crawls through the CLI against the local mock server: what gets stored, and how.

The first one runs on each backend (a SQLite file, a PostgreSQL database); the others on
SQLite."""

from __future__ import annotations

import json
import subprocess
import sys
import time
import urllib.request
from datetime import datetime
from pathlib import Path

import pytest

from citecache import __version__
from storage import Store, content_hash
from storage.previews import PREVIEW_MAX_CHARS

ROOT = Path(__file__).resolve().parent.parent
CRAWL_TIMEOUT = 120


def citecache(db: Path | str, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    done = subprocess.run(
        [sys.executable, "-m", "citecache", "--db", str(db), *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=CRAWL_TIMEOUT,
    )
    if check and done.returncode != 0:
        raise AssertionError(f"citecache {args} exited {done.returncode}:\n{done.stderr}")
    return done


def crawl(db: Path | str, *args: str) -> dict:
    done = citecache(db, "crawl", "--allow-private", "--json", *args)
    return json.loads(done.stdout)


def post(url: str) -> None:
    urllib.request.urlopen(urllib.request.Request(url, method="POST"), timeout=5).read()


def server_paths(mockserver, prefix: str) -> list[str]:
    with urllib.request.urlopen(mockserver.url(f"/requests?prefix={prefix}"), timeout=5) as r:
        return [entry["path"] for entry in json.load(r)]


@pytest.fixture
def store(db_path):
    with Store(db_path) as opened:
        yield opened


def count(store: Store, table: str) -> int:
    return store.sql.scalar(f"SELECT count(*) FROM {table}")


@pytest.fixture
def db_store(db):
    """A store on :func:`db`: once per backend."""
    with Store(db) as opened:
        yield opened


def test_saved_pages_are_extracted_stored_and_recrawled_cheaply(
    mockserver, db, saved_pages, db_store
):
    store = db_store
    urls = {page["name"]: mockserver.url(f"/pages/{page['name']}.html") for page in saved_pages}
    for url in urls.values():
        store.register(url)

    summary = crawl(db, "--all")

    assert summary["tasks"] == len(saved_pages) == summary["stored"]
    assert summary["byStatus"] == {"ok": len(saved_pages)}
    for page in saved_pages:
        resource = store.get(urls[page["name"]])
        snapshot = store.current_snapshot(resource["id"])
        text = snapshot["full_text"]
        for snippet in page["must_contain"]:
            assert snippet in text, (page["name"], snippet)
        for snippet in page["must_not_contain"]:
            assert snippet not in text, (page["name"], snippet)
        assert resource["content_hash"] == snapshot["content_hash"] == content_hash(text)
        assert snapshot["content_length"] == len(text)
        assert len(snapshot["preview"]) <= PREVIEW_MAX_CHARS
        assert text.startswith(snapshot["preview"])
        assert resource["http_status"] == 200 and resource["last_fetched_at"].endswith("Z")

    # The second crawl of unchanged pages: conditional requests, no new snapshots.
    again = crawl(db, "--all")
    assert again["byStatus"] == {"unchanged": len(saved_pages)}
    assert count(store, "snapshots") == len(saved_pages)
    assert count(store, "fetch_log") == 2 * len(saved_pages)
    outcomes = {row["outcome"] for row in store.sql.rows("SELECT outcome FROM fetch_log")}
    assert outcomes == {"ok", "not_modified"}
    # the search index followed the crawler's writes
    page = saved_pages[0]
    words = page["must_contain"][0].split()[:3]
    hits = [hit["id"] for hit in store.search(" ".join(words))]
    assert store.get(urls[page["name"]])["id"] in hits


def test_changed_content_makes_a_new_snapshot_and_old_content_is_reused(mockserver, db_path, store):
    url = mockserver.url("/mutable/essay")
    post(mockserver.url("/control/mutable/essay?v=1"))
    resource_id = store.register(url).resource["id"]
    crawl(db_path, "--all")
    first = store.get(resource_id)["content_hash"]

    post(mockserver.url("/control/mutable/essay?v=2"))
    crawl(db_path, "--all", "-s", "CITECACHE_FORCE=1")
    second = store.get(resource_id)["content_hash"]
    assert second != first
    assert len(store.snapshots(resource_id)) == 2

    post(mockserver.url("/control/mutable/essay?v=1"))
    crawl(db_path, "--all", "-s", "CITECACHE_FORCE=1")
    resource = store.get(resource_id)
    assert resource["content_hash"] == first
    assert len(store.snapshots(resource_id)) == 2  # A -> B -> A reuses A
    assert store.db["fetch_log"].count == 3


def test_markup_noise_does_not_change_the_hash(mockserver, db_path, store):
    resource_id = store.register(mockserver.url("/mutable/noisy?noise=1&validators=none")).resource[
        "id"
    ]
    crawl(db_path, "--all")
    crawl(db_path, "--all")
    assert len(store.snapshots(resource_id)) == 1
    assert store.db["fetch_log"].count == 2


def test_failures_are_recorded_and_the_crawl_goes_on(mockserver, db_path, store):
    cases = {
        "/status/404": ("error", 404),
        "/status/410": ("error", 410),
        "/status/500": ("error", 500),
        "/files/image.png": ("error", 200),
        "/files/data.json": ("error", 200),
        "/slow?delay=4": ("error", None),
        "/big?mb=3": ("error", None),
        "/gzip-bomb?mb=64": ("error", None),
        "/pages/mdavis-supermarket.html": ("ok", 200),
    }
    ids = {path: store.register(mockserver.url(path)).resource["id"] for path in cases}
    refused = store.register("http://127.0.0.1:1/nothing-listens-here").resource["id"]

    summary = crawl(
        db_path,
        "--all",
        "-s",
        "DOWNLOAD_TIMEOUT=1",
        "-s",
        "DOWNLOAD_MAXSIZE=2000000",
        "-s",
        "RETRY_TIMES=0",
    )

    assert summary["stored"] == len(cases) + 1
    for path, (status, http_status) in cases.items():
        resource = store.get(ids[path])
        assert resource["fetch_status"] == status, (path, resource["status_reason"])
        assert resource["http_status"] == http_status, path
    reasons = {path: store.fetch_log(ids[path])[0] for path in cases}
    assert reasons["/files/image.png"]["outcome"] == "not_html"
    assert "image/png" in reasons["/files/image.png"]["error"]
    assert reasons["/slow?delay=4"]["outcome"] == "timeout"
    assert reasons["/big?mb=3"]["outcome"] == "too_large"
    assert reasons["/gzip-bomb?mb=64"]["outcome"] == "too_large"
    assert reasons["/status/404"]["error"] == "HTTP 404"
    # One 404 is not death: it takes 3, a day apart.
    assert "gone (1 of 3 checks" in store.get(ids["/status/404"])["status_reason"]
    assert store.fetch_log(refused)[0]["outcome"] == "connection_error"
    assert store.db["snapshots"].count == 1


def test_a_failed_fetch_never_replaces_the_last_good_snapshot(mockserver, db_path, store):
    resource = store.register(mockserver.url("/pages/pythonspeed-docker.html")).resource
    crawl(db_path, "--all")
    good = store.get(resource["id"])
    assert good["fetch_status"] == "ok"

    # The source moves away: its URL is edited to one that now fails.
    store.update_url(resource["id"], mockserver.url("/status/404"))
    crawl(db_path, "--all")

    after = store.get(resource["id"])
    assert after["fetch_status"] == "error"
    assert after["failure_count"] == 1
    assert after["content_hash"] == good["content_hash"]
    assert after["current_snapshot_id"] == good["current_snapshot_id"]
    assert after["stable_id"] == good["stable_id"]
    assert after["last_fetched_at"] == good["last_fetched_at"]
    # The old URL still finds it.
    assert store.get(mockserver.url("/pages/pythonspeed-docker.html"))["id"] == resource["id"]


def test_private_addresses_are_refused_without_allow_private(mockserver, db_path, store):
    resource_id = store.register(mockserver.url("/article/ssrf-target")).resource["id"]
    done = citecache(db_path, "crawl", "--all", "--json")
    assert json.loads(done.stdout)["byStatus"] == {"unsafe_url": 1}
    resource = store.get(resource_id)
    assert "non-public address 127.0.0.1" in resource["status_reason"]
    assert server_paths(mockserver, "/article/ssrf-target") == []


def test_refetch_registers_unknown_urls_and_prints_the_status(mockserver, db_path):
    Store(db_path).close()  # refetch registers URLs, but creates no database
    url = mockserver.url("/article/fresh-one")
    done = citecache(db_path, "refetch", url, "--allow-private", "--by", "ed", "--reason", "new")
    status, http_status, printed_url = done.stdout.strip().split("\t")[:3]
    assert (status, http_status, printed_url) == ("ok", "200", url)
    with Store(db_path) as store:
        [request] = store.requests()
        assert (request["status"], request["requested_by"], request["reason"]) == (
            "done",
            "ed",
            "new",
        )


def test_scrapy_crawl_works_from_the_repo_root(mockserver, db_path, store):
    resource_id = store.register(mockserver.url("/article/via-scrapy")).resource["id"]
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "scrapy",
            "crawl",
            "resources",
            "-s",
            f"CITECACHE_DB={db_path}",
            "-s",
            "CITECACHE_ALLOW_PRIVATE=1",
            "-s",
            "LOG_LEVEL=WARNING",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=CRAWL_TIMEOUT,
    )
    assert done.returncode == 0, done.stderr
    assert store.get(resource_id)["fetch_status"] == "ok"


def test_crawl_json_is_one_line_per_run_for_a_log(mockserver, db_path, store):
    store.register(mockserver.url("/article/logged-run"))
    log = ""
    for _ in range(2):
        log += citecache(db_path, "crawl", "--all", "--allow-private", "--json").stdout
    lines = log.splitlines()
    assert len(lines) == 2  # JSON Lines: `crawl --json >> citecache.jsonl`
    first, second = (json.loads(line) for line in lines)
    assert first["byStatus"] == {"ok": 1} and second["byStatus"] == {"unchanged": 1}
    assert (first["version"], first["database"]) == (__version__, str(db_path))
    for run in (first, second):
        started = datetime.strptime(run["startedAt"], "%Y-%m-%dT%H:%M:%SZ")
        finished = datetime.strptime(run["finishedAt"], "%Y-%m-%dT%H:%M:%SZ")
        assert started <= finished
        assert {"runId", "tasks", "stored", "seconds", "pagesPerSecond"} <= run.keys()
    assert first["finishedAt"] <= second["startedAt"] and first["runId"] != second["runId"]


def test_max_runtime_is_held_within_a_few_seconds_and_the_rest_stays_due(
    mockserver, db_path, store
):
    # Pages that answer after 20 s: the first two are sent at once (two per host) and
    # would hold the run 20 s past its 2 s; a short grace, then they are given up.
    fast = store.register(mockserver.localhost_base + "/article/fast-one").resource["id"]
    slow = [
        store.register(mockserver.url(f"/slow?delay=20&n={i}")).resource["id"] for i in range(6)
    ]
    started = time.monotonic()
    summary = crawl(db_path, "--all", "--max-runtime", "2s")
    elapsed = time.monotonic() - started  # start-up, 2 s, a 1 s grace, closing
    assert elapsed < 8, summary
    assert summary["stored"] == 1 and store.get(fast)["fetch_status"] == "ok"
    due = {task.resource_id for task in store.tasks(mode="due")}
    assert due == set(slow)  # never fetched: no attempt recorded, due for the next run
    assert all(store.fetch_log(rid) == [] for rid in slow)


def test_editors_refetches_beside_a_crawl_all_wait_their_turn_and_lose_nothing(
    mockserver, db_path, store
):
    # Two kinds of writers on one file: a crawl writing a result per transaction, and
    # editors' refetch processes started while it runs. Each must wait for the write
    # lock ("database is locked" is a lost result), and every result must be recorded.
    # 240 answers of 0.75 s, 4 at a time per host, 2 hosts: over 20 s of steady writes,
    # while the editors' processes take a few seconds each (start-up, mostly)
    pages = [
        store.register(f"{base}/slow?delay=0.75&busy={i}").resource["id"]
        for i in range(120)
        for base in (mockserver.base, mockserver.localhost_base)
    ]
    edited = [mockserver.url(f"/article/edited-{i}") for i in range(12)]
    cron = subprocess.Popen(
        [
            sys.executable, "-m", "citecache", "--db", str(db_path), "crawl", "--all",
            "--allow-private", "--json", "-s", "CITECACHE_WRITE_BATCH_SIZE=1",
            "-s", "AUTOTHROTTLE_ENABLED=0", "-s", "CONCURRENT_REQUESTS_PER_DOMAIN=4",
        ],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        deadline = time.monotonic() + 60
        while store.db["fetch_log"].count < 10:  # the crawl is writing
            assert time.monotonic() < deadline and cron.poll() is None, "the crawl never wrote"
            time.sleep(0.1)
        editors = [
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "citecache",
                    "--db",
                    str(db_path),
                    "refetch",
                    *edited[i : i + 2],
                    "--allow-private",
                    "--by",
                    f"editor-{i}",
                ],
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=subprocess.PIPE,
                text=True,
            )  # fmt: skip
            for i in range(0, len(edited), 2)
        ]
        outputs = [(p, *p.communicate(timeout=CRAWL_TIMEOUT)) for p in editors]
        cron_out, cron_err = cron.communicate(timeout=CRAWL_TIMEOUT)
    finally:
        for proc in (cron, *locals().get("editors", [])):
            if proc.poll() is None:
                proc.kill()
                proc.wait()
    for proc, out, err in [*outputs, (cron, cron_out, cron_err)]:
        assert "database is locked" not in out + err, err
        assert proc.returncode == 0, err
    summary = json.loads(cron_out)
    assert summary["stored"] == summary["tasks"] == len(pages)
    assert all(store.get(rid)["fetch_status"] == "ok" for rid in pages)
    requests = store.requests()
    assert len(requests) == len(edited) and {r["status"] for r in requests} == {"done"}
    assert all(store.get(url)["fetch_status"] == "ok" for url in edited)
    assert store.db["fetch_log"].count == len(pages) + len(edited)
    # and the two kinds of writers did take turns: crawl results before and after
    order = [
        r["resource_id"] for r in store.db.query("SELECT resource_id FROM fetch_log ORDER BY rowid")
    ]
    assert order[0] in pages and order[-1] in pages, "the crawl ended before the editors wrote"
