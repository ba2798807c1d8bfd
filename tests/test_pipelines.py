"""The crawl's item pipelines and task source, built as Scrapy builds them (get_crawler)."""

from __future__ import annotations

import asyncio
import sqlite3
import threading
import time

import pytest
from scrapy.spiders import Spider
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

from crawler.frontier import (
    ClaimingTaskSource,
    StoreResultSink,
    StoreTaskSource,
    results_stored,
)
from crawler.items import FetchedPage
from crawler.pipelines import ExtractPipeline, StorePipeline
from storage import FetchResult, Store
from storage.health import HealthPolicy
from storage.lock import FetchRun

ARTICLE = (
    b"<html><head><title>A cited report</title></head><body><article>"
    + b"<p>The report finds that cached copies keep citations useful for years. </p>" * 12
    + b"</article></body></html>"
)


def page(outcome: str = "fetched", body: bytes = b"", **kw) -> FetchedPage:
    return FetchedPage(
        resource_id="r1",
        url="https://example.org/report",
        started_at="2026-01-01T00:00:00Z",
        outcome=outcome,
        http_status=kw.pop("http_status", 200),
        body=body,
        **kw,
    )


# ---- ExtractPipeline ------------------------------------------------------------------------


def test_extract_pipeline_reads_its_settings():
    crawler = get_crawler(Spider, {"CITECACHE_EXTRACT_WORKERS": 3})
    pipeline = build_from_crawler(ExtractPipeline, crawler)
    assert (pipeline.workers, pipeline.max_pending) == (3, 12)  # 4 waiting per worker
    crawler = get_crawler(
        Spider, {"CITECACHE_EXTRACT_WORKERS": 1, "CITECACHE_EXTRACT_MAX_PENDING": 2}
    )
    assert build_from_crawler(ExtractPipeline, crawler).max_pending == 2


def test_a_failed_fetch_becomes_a_result_without_starting_the_pool():
    pipeline = build_from_crawler(ExtractPipeline, get_crawler(Spider))
    result = asyncio.run(
        pipeline.process_item(page("http_error", http_status=404, error="HTTP 404"))
    )
    assert isinstance(result, FetchResult)
    assert (result.outcome, result.http_status, result.error) == ("http_error", 404, "HTTP 404")
    assert pipeline.pool is None  # a re-crawl of failures and 304s never pays for it


def test_a_fetched_page_is_extracted_in_a_worker_process_and_its_body_dropped():
    pipeline = build_from_crawler(
        ExtractPipeline, get_crawler(Spider, {"CITECACHE_EXTRACT_WORKERS": 1})
    )
    item = page(body=ARTICLE)
    try:
        result = asyncio.run(pipeline.process_item(item))
    finally:
        pipeline.close_spider()
    assert result.outcome == "ok"
    assert "cached copies keep citations useful" in result.text
    assert result.title == "A cited report"
    assert result.content_hash and len(result.content_hash) == 64
    assert item.body == b""  # memory stays flat: the bytes are not kept after extraction
    assert pipeline.stats.get_value("citecache/extract/seconds") > 0


def test_a_page_with_no_text_is_an_extraction_failure_with_a_reason():
    pipeline = build_from_crawler(
        ExtractPipeline, get_crawler(Spider, {"CITECACHE_EXTRACT_WORKERS": 1})
    )
    try:
        result = asyncio.run(pipeline.process_item(page(body=b"<html><body></body></html>")))
    finally:
        pipeline.close_spider()
    assert result.outcome == "extraction_failed"
    assert result.error


# ---- StorePipeline --------------------------------------------------------------------------


class RecordingSink:
    """A result sink that keeps what it is given; ``fail_batches`` refuses batches > 1."""

    batches: list[list[str]] = []
    closed = False
    fail_batches = False

    @classmethod
    def from_settings(cls, settings):
        return cls()

    def write(self, results):
        if RecordingSink.fail_batches and len(results) > 1:
            raise RuntimeError("batch refused")
        RecordingSink.batches.append([r.resource_id for r in results])
        return ["ok" if r.resource_id != "bad" else "store_error" for r in results]

    def close(self):
        RecordingSink.closed = True


@pytest.fixture
def sink():
    RecordingSink.batches, RecordingSink.closed, RecordingSink.fail_batches = [], False, False
    return RecordingSink


def result(resource_id: str) -> FetchResult:
    return FetchResult(resource_id, "https://example.org/", "2026-01-01T00:00:00Z", "ok")


def store_pipeline(**settings) -> StorePipeline:
    crawler = get_crawler(
        Spider,
        {
            "CITECACHE_RESULT_SINK": f"{__name__}.RecordingSink",
            "CITECACHE_WRITE_INTERVAL": 3600,
            **settings,
        },
    )
    return build_from_crawler(StorePipeline, crawler)


def run_through(pipeline: StorePipeline, ids: list[str]) -> None:
    async def go():
        pipeline.open_spider()
        for resource_id in ids:
            await pipeline.process_item(result(resource_id))
        await pipeline.close_spider()

    asyncio.run(go())


def test_results_are_written_in_batches_and_the_rest_on_close(sink):
    pipeline = store_pipeline(CITECACHE_WRITE_BATCH_SIZE=2)
    run_through(pipeline, ["a", "b", "c"])
    assert sink.batches == [["a", "b"], ["c"]]
    assert sink.closed
    assert pipeline.stats.get_value("citecache/stored") == 3
    assert pipeline.stats.get_value("citecache/status/ok") == 3


def test_a_partial_batch_is_written_once_the_interval_has_passed(sink):
    pipeline = store_pipeline(CITECACHE_WRITE_BATCH_SIZE=50, CITECACHE_WRITE_INTERVAL=0)
    run_through(pipeline, ["a", "b"])
    assert sink.batches == [["a"], ["b"]]


def test_a_partial_batch_is_written_after_the_interval_without_new_items(sink):
    pipeline = store_pipeline(CITECACHE_WRITE_BATCH_SIZE=50, CITECACHE_WRITE_INTERVAL=0.3)
    stored_signals = []

    def heard(results, statuses):
        stored_signals.append(statuses)

    pipeline.signals.connect(heard, signal=results_stored)  # weakly held: keep `heard`

    async def go():
        pipeline.open_spider()
        await pipeline.process_item(result("a"))
        await pipeline.process_item(result("b"))
        assert sink.batches == []  # held for the interval
        await asyncio.sleep(1.0)  # a quiet period: no new item comes
        assert sink.batches == [["a", "b"]]
        await pipeline.close_spider()

    asyncio.run(go())
    assert stored_signals == [["ok", "ok"]]  # the task source hears of each write


def test_an_editors_result_is_written_at_once(sink):
    pipeline = store_pipeline(CITECACHE_WRITE_BATCH_SIZE=50)
    waited_for = result("e")
    waited_for.request_id = 7

    async def go():
        pipeline.open_spider()
        await pipeline.process_item(result("a"))
        assert sink.batches == []
        await pipeline.process_item(waited_for)
        assert sink.batches == [["a", "e"]]
        await pipeline.close_spider()

    asyncio.run(go())


def test_a_refused_batch_is_written_one_by_one(sink):
    sink.fail_batches = True
    pipeline = store_pipeline(CITECACHE_WRITE_BATCH_SIZE=3)
    run_through(pipeline, ["a", "bad", "c"])
    assert sink.batches == [["a"], ["bad"], ["c"]]
    assert pipeline.stats.get_value("citecache/status/store_error") == 1


def test_a_result_not_stored_is_not_counted_as_stored(db_path):
    # issue 14: the summary said "stored 800" when 367 were store_error.
    with Store(db_path) as store:
        known = store.register("https://example.org/known").resource["id"]
    pipeline = store_pipeline(
        CITECACHE_RESULT_SINK="crawler.frontier.StoreResultSink",
        CITECACHE_DB=str(db_path),
        CITECACHE_WRITE_BATCH_SIZE=10,
    )
    run_through(pipeline, [known, "no-such-resource", known])
    assert pipeline.stats.get_value("citecache/status/store_error") == 1
    assert pipeline.stats.get_value("citecache/stored") == 2


def test_a_batch_meeting_a_busy_database_waits_its_turn_and_is_stored(db_path, monkeypatch):
    # Another writer holds the database past the sink's busy timeout: the batch is tried
    # again (StoreResultSink.RETRY_PAUSES), not recorded as store_error.
    monkeypatch.setattr(StoreResultSink, "RETRY_PAUSES", (0.2,) * 20)
    with Store(db_path) as store:
        ids = [store.register(f"https://example.org/{n}").resource["id"] for n in range(3)]
    sink = StoreResultSink(str(db_path), preview_max_chars=500, policy=HealthPolicy())
    sink.store.sql.db.execute("PRAGMA busy_timeout = 50")
    holder = sqlite3.connect(db_path, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")
    release = threading.Timer(1.0, lambda: holder.execute("COMMIT"))
    release.start()
    try:
        started = time.monotonic()
        statuses = sink.write([result(i) for i in ids])
        assert time.monotonic() - started >= 0.9  # it did wait for the other writer
        assert len(statuses) == 3 and "store_error" not in statuses
        assert sink.store.sql.scalar("SELECT count(*) FROM fetch_log") == 3
    finally:
        release.join()
        holder.close()
        sink.close()


# ---- StoreTaskSource -------------------------------------------------------------------------


def test_the_task_source_claims_requests_for_the_run_it_is_given(db_path):
    with Store(db_path) as store:
        store.register("https://example.org/a")
        request_id = store.request_refetch("https://example.org/b", by="ed")
    settings = get_crawler(
        Spider,
        {"CITECACHE_DB": str(db_path), "CITECACHE_RUN_ID": "run-7", "CITECACHE_CRAWL_LIMIT": 5},
    ).settings
    with FetchRun(db_path, "run-7"):  # as the crawl command registers it
        tasks = StoreTaskSource.from_settings(settings).tasks()
        assert [t.url for t in tasks] == ["https://example.org/b", "https://example.org/a"]
        with Store(db_path) as store:
            assert store.request(request_id)["claimed_by"] == "run-7"
        # a second source while run-7 runs: the request is taken, the resource still due
        again = StoreTaskSource.from_settings(settings).tasks()
        assert [t.request_id for t in again] == [None, None]
    # run-7 is gone: its unfinished request goes back to the queue for the next run
    again = StoreTaskSource.from_settings(settings).tasks()
    assert again[0].request_id == request_id


def test_without_a_run_the_task_source_registers_its_own(db_path):
    with Store(db_path) as store:
        request_id = store.request_refetch("https://example.org/b")
    source = StoreTaskSource(str(db_path), mode="requests")
    assert [t.request_id for t in source.tasks()] == [request_id]
    with Store(db_path) as store:
        # its run is alive while this process holds it: not requeued as orphaned
        assert store.requeue_orphaned_requests() == 0
        assert store.request(request_id)["claimed_by"] == source.run_id


def test_the_one_shot_source_streams_its_whole_list_as_one_batch(db_path):
    with Store(db_path) as store:
        store.register("https://example.org/a")
        store.register("https://example.org/b")

    async def batches():
        return [batch async for batch in StoreTaskSource(str(db_path)).stream()]

    found = asyncio.run(batches())
    assert [[t.url for t in batch] for batch in found] == [
        ["https://example.org/a", "https://example.org/b"]
    ]


def stored(store: Store, tasks) -> list[str]:
    """Record an ok result for each task, as the store pipeline would; their ids."""
    store.record_results(
        [
            FetchResult(t.resource_id, t.url, "2026-01-01T00:00:00Z", "ok", text="Some text.")
            for t in tasks
        ]
    )
    return [t.resource_id for t in tasks]


def test_the_claiming_source_bounds_its_tasks_in_flight_and_never_claims_them_twice(db_path):
    with Store(db_path) as store:
        for i in range(5):
            store.register(f"https://example.org/{i}")
    source = ClaimingTaskSource(
        str(db_path), run_id="w-1", batch=2, max_in_flight=2, idle=0.05, due_interval=0.05
    )

    async def go():
        stream = source.stream()
        first = await anext(stream)
        assert [t.url for t in first] == ["https://example.org/0", "https://example.org/1"]
        # Full: nothing more is claimed while they are in flight, however long it waits.
        waiting = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        # An editor's request goes beyond the bound (by one batch at most)...
        with Store(db_path) as store:
            request_id = store.request_refetch("https://example.org/1", by="ed")
        editors = await asyncio.wait_for(waiting, 5)
        assert [(t.url, t.request_id) for t in editors] == [("https://example.org/1", request_id)]
        assert source.in_flight[editors[0].resource_id] == 2  # twice: due and requested
        # ...and as results are stored, room frees up for the next due ones, not those.
        with Store(db_path) as store:
            source.settled(stored(store, first + editors))
        nxt = await asyncio.wait_for(anext(stream), 5)
        assert [t.url for t in nxt] == ["https://example.org/2", "https://example.org/3"]
        assert set(source.in_flight) == {t.resource_id for t in nxt}
        source.settled([t.resource_id for t in nxt], stored=False)  # never recorded
        last = await asyncio.wait_for(anext(stream), 5)
        # cooled down, not fetched again in a loop: the last one is next
        assert [t.url for t in last] == ["https://example.org/4"]
        await stream.aclose()
        return request_id

    with FetchRun(db_path, "w-1"):  # as the worker command registers it
        try:
            request_id = asyncio.run(go())
        finally:
            source.close()
    with Store(db_path) as store:
        assert store.request(request_id)["claimed_by"] == "w-1"


def test_a_leasing_source_holds_no_more_hosts_than_it_can_fetch(db_path):
    """Hosts leased and left waiting in one worker's queue are hosts the rest of the fleet
    cannot fetch: at most ``max_hosts`` hosts with tasks not yet fetched."""
    with Store(db_path) as store:
        for host in range(4):
            for page in range(2):
                store.register(f"https://h{host}.example.org/{page}")
    source = ClaimingTaskSource(
        str(db_path), run_id="w-4", leases=True, per_host=2, max_hosts=2, idle=0.05
    )

    def hosts(tasks) -> set[str]:
        return {t.url.split("/")[2] for t in tasks}

    async def go():
        stream = source.stream()
        first = await anext(stream)
        assert len(hosts(first)) == 2 and len(first) == 4  # room for 8 tasks, not for hosts
        waiting = asyncio.ensure_future(anext(stream))
        await asyncio.sleep(0.3)
        assert not waiting.done()
        # One host's tasks answered (their results not stored yet): room for one host more.
        done_host = sorted(hosts(first))[0]
        for task in first:
            if hosts([task]) == {done_host}:
                source.fetched(task.resource_id)
        more = await asyncio.wait_for(waiting, 5)
        assert len(hosts(more)) == 1 and not hosts(more) & hosts(first)
        await stream.aclose()

    with FetchRun(db_path, "w-4"):
        try:
            asyncio.run(go())
        finally:
            source.close()


def test_the_claiming_source_ends_at_its_deadline(db_path):
    with Store(db_path):
        pass
    source = ClaimingTaskSource(str(db_path), run_id="w-2", idle=0.05, runtime=0.3)

    async def drain():
        return [batch async for batch in source.stream()]

    started = time.monotonic()
    try:
        assert asyncio.run(asyncio.wait_for(drain(), 10)) == []
    finally:
        source.close()
    assert 0.3 <= time.monotonic() - started < 5


def test_the_claiming_source_outlives_a_failed_claim(db_path, monkeypatch, caplog):
    with Store(db_path) as store:
        store.register("https://example.org/a")
    source = ClaimingTaskSource(str(db_path), run_id="w-3", idle=0.05)
    monkeypatch.setattr(source, "FAILURE_PAUSE_SECONDS", 0.05)
    real_claim, failures = source._claim, []

    def locked_once(*args):
        if not failures:
            failures.append(1)
            raise RuntimeError("database is locked")
        return real_claim(*args)

    monkeypatch.setattr(source, "_claim", locked_once)

    async def first_batch():
        stream = source.stream()
        try:
            return await asyncio.wait_for(anext(stream), 10)
        finally:
            await stream.aclose()

    with FetchRun(db_path, "w-3"):
        try:
            assert [t.url for t in asyncio.run(first_batch())] == ["https://example.org/a"]
        finally:
            source.close()
    assert "could not claim tasks" in caplog.text
