"""Item pipelines: extraction in worker processes, then batched storage."""

from __future__ import annotations

import asyncio
import logging
import multiprocessing
import os
import re
import time
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from contextlib import suppress

from pebble import ProcessExpired, ProcessPool
from scrapy.utils.misc import load_object

from crawler import extract_worker
from crawler.browser import BrowserFallback
from crawler.frontier import ResultSink, results_stored
from crawler.items import FetchedPage
from crawler.wayback import is_archived
from storage import FetchResult

logger = logging.getLogger(__name__)


class ExtractPipeline:
    """Runs extraction for fetched pages in a pool of processes, one per core by default.

    The reactor only ships bytes out and results back. At most ``max_pending`` pages
    wait on the pool, which bounds memory however fast pages arrive. A page may take at
    most ``timeout`` seconds and its process ``memory_mb`` of address space (0: no
    limit); a page over either is recorded as extraction_failed with the limit it hit,
    and its process is replaced (pebble's pool: a task of its own can be killed, which
    concurrent.futures cannot do).
    """

    def __init__(
        self,
        workers: int,
        max_pending: int,
        stats,
        *,
        eager: bool = False,
        timeout: float = 0,
        memory_mb: int = 0,
        browser: BrowserFallback | None = None,
    ):
        self.workers = workers
        self.max_pending = max_pending
        self.stats = stats
        # The pool starts with the first page to extract: a re-crawl that only meets
        # 304s and failures never pays for it. A long-running worker starts it at once
        # (eager), so that an editor's first request does not wait for it.
        self.eager = eager
        self.timeout = timeout
        self.memory_mb = memory_mb
        self.browser = browser or BrowserFallback(None, hosts=[], timeout=0)
        self.pool: ProcessPool | None = None
        self._slots = asyncio.Semaphore(max_pending)

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        workers = settings.getint("CITECACHE_EXTRACT_WORKERS") or os.cpu_count() or 1
        return cls(
            workers,
            settings.getint("CITECACHE_EXTRACT_MAX_PENDING") or 4 * workers,
            crawler.stats,
            eager=settings.getbool("CITECACHE_EXTRACT_EAGER"),
            timeout=settings.getfloat("CITECACHE_EXTRACT_TIMEOUT"),
            memory_mb=settings.getint("CITECACHE_EXTRACT_MEMORY_MB"),
            browser=BrowserFallback.from_crawler(crawler),
        )

    def open_spider(self):
        if self.eager and self.pool is None:
            self.pool = self._new_pool()
            self.pool.schedule(extract_worker.warm_up)  # starts the processes now

    def _new_pool(self) -> ProcessPool:
        # Forking this process (a running reactor, threads) is not safe; a forkserver
        # is a clean process that imports trafilatura once, then forks the workers from
        # that state, so each worker does not pay the ~1 s import again.
        context = multiprocessing.get_context("forkserver")
        context.set_forkserver_preload(["crawler.extract_worker"])
        return ProcessPool(
            self.workers,
            initializer=extract_worker.start,
            initargs=(os.getpid(), self.memory_mb),
            context=context,
        )

    def close_spider(self):
        if self.pool:
            self.pool.close()
            self.pool.join()

    async def process_item(self, item):
        if not isinstance(item, FetchedPage):
            return item
        if item.outcome != "fetched":
            return _result(item, outcome=item.outcome)
        try:
            found = await self._extract_pooled(item)
            # A page that needs a browser is rendered (outside the pool's slots: a
            # render takes seconds) and extracted again; if it cannot be, what plain
            # HTTP gave stands.
            if self.browser.wanted(item, found["script_shell"]):
                rendered = await self.browser.render(item)
                if rendered is not None:
                    item = rendered
                    found = await self._extract_pooled(item)
        except ExtractionFailed as exc:
            return _result(item, outcome="extraction_failed", error=str(exc))
        return _result(item, found=found)

    async def _extract_pooled(self, item: FetchedPage) -> dict:
        async with self._slots:
            if self.pool is None or not self.pool.active:
                self.pool = self._new_pool()
            started = time.perf_counter()
            try:
                return await self._extract(item)
            finally:
                item.body = b""
                self.stats.inc_value("citecache/extract/seconds", time.perf_counter() - started)

    async def _extract(self, item: FetchedPage) -> dict:
        """The worker's findings on ``item``; ExtractionFailed with the reason if none."""
        assert self.pool is not None
        url = item.final_url or item.url
        future = self.pool.schedule(
            extract_worker.process_page, args=(item.body, url), timeout=self.timeout or None
        )
        try:
            return await asyncio.wrap_future(future)
        except TimeoutError:
            logger.warning("extraction of %s took over %g s; process replaced", url, self.timeout)
            raise ExtractionFailed(f"time limit: extraction took over {self.timeout:g} s") from None
        except ProcessExpired as exc:
            if exc.exitcode == extract_worker.MEMORY_LIMIT_EXIT:
                logger.warning("extraction of %s went over %d MB", url, self.memory_mb)
                raise ExtractionFailed(
                    f"memory limit: extraction needed over {self.memory_mb} MB"
                ) from None
            logger.error("extraction process died on %s (exit code %s)", url, exc.exitcode)
            raise ExtractionFailed("extraction process crashed") from None
        except BrokenProcessPool:
            logger.error("extraction pool broke on %s; starting a new one", url)
            self.pool.stop()
            self.pool = self._new_pool()
            raise ExtractionFailed("extraction process crashed") from None
        except Exception as exc:
            logger.exception("extraction failed on %s", url)
            raise ExtractionFailed(f"extraction error: {exc!r}"[:300]) from None


class ExtractionFailed(Exception):
    """A page's extraction gave no findings: over a limit, a crashed process, an error."""


def _result(
    page: FetchedPage,
    *,
    outcome: str | None = None,
    error: str | None = None,
    found: dict | None = None,
) -> FetchResult:
    result = FetchResult(
        resource_id=page.resource_id,
        url=page.url,
        started_at=page.started_at,
        outcome=outcome or page.outcome,
        duration_ms=page.duration_ms,
        http_status=page.http_status,
        final_url=page.final_url,
        content_type=page.content_type,
        bytes=page.bytes,
        error=error or page.error,
        etag=page.etag,
        last_modified=page.last_modified,
        request_id=page.request_id,
        lease_token=page.lease_token,
        host_delay=page.host_delay,
        redirect_chain=page.redirect_chain,
        warc=page.warc,
        archive_fallback=page.archive_fallback,
        fetch_method=page.fetch_method,
        archived_at=page.archived_at,
        archive_url=page.archive_url,
    )
    if found is not None:
        result.text = found["text"]
        result.title = found["title"]
        result.metadata = found["metadata"]
        result.content_hash = found["content_hash"]
        result.canonical_url = found["metadata"].get("canonical_url")
        result.shell_reason = found.get("script_shell")
        if found["page_status"] != "ok":
            result.outcome = found["page_status"]
            result.error = found["failure_reason"] or f"the page looks {found['page_status']}"
        elif not found["text"].strip():
            result.outcome = "extraction_failed"
            result.error = found["failure_reason"] or "no main text found"
        elif looks_not_found(found["title"], found["text"]):
            result.outcome = "soft_404"
            result.error = f"the page says it is not found ({found['title']!r})"
        elif page.cross_host:
            result.outcome = "redirected"
            result.error = f"redirected to another host: {page.final_url}"
        else:
            result.outcome = "ok"
    return result


_NOT_FOUND = re.compile(
    r"\b(404|page not found|not found|no longer available|does not exist|"
    r"seite nicht gefunden|page introuvable|página no encontrada)\b",
    re.IGNORECASE,
)


def looks_not_found(title: str | None, text: str) -> bool:
    """A 200 page that says it is not there: a short text whose title or start says so."""
    if len(text) > 2_000:
        return False
    return bool(_NOT_FOUND.search(title or "") or _NOT_FOUND.search(text[:300]))


NOT_STORED = frozenset({"store_error", "stale_lease"})
"""Statuses of results that were not written (see Store.record_results)."""


class StorePipeline:
    """Collects results and writes them in batches, off the reactor, one batch per transaction.

    A batch is written when it is full or ``interval`` seconds after the last write,
    also when no new result comes (a worker's quiet period), and on close. A result not
    yet written when the process dies is simply not recorded: its resource is still due
    and the next crawl fetches it again.
    """

    def __init__(self, sink_factory, batch_size: int, interval: float, stats, signals=None):
        self.sink_factory = sink_factory
        self.batch_size = batch_size
        self.interval = interval
        self.stats = stats
        self.signals = signals
        self.buffer: list[FetchResult] = []
        self.sink: ResultSink | None = None
        self.writer = ThreadPoolExecutor(1, thread_name_prefix="citecache-writer")
        self._last_flush = time.monotonic()
        self._closing: asyncio.Event | None = None
        self._timer: asyncio.Task | None = None

    @classmethod
    def from_crawler(cls, crawler):
        sink_cls = load_object(
            crawler.settings.get("CITECACHE_RESULT_SINK", "crawler.frontier.StoreResultSink")
        )
        return cls(
            lambda: sink_cls.from_settings(crawler.settings),
            crawler.settings.getint("CITECACHE_WRITE_BATCH_SIZE"),
            crawler.settings.getfloat("CITECACHE_WRITE_INTERVAL"),
            crawler.stats,
            crawler.signals,
        )

    def open_spider(self):
        # The sink is created on the writer thread, which is the only one that uses it.
        self.sink = self.writer.submit(self.sink_factory).result()

    async def _flush_on_time(self) -> None:
        assert self._closing is not None
        while not self._closing.is_set():
            wait = self.interval
            if self.buffer:  # due `interval` after the last write
                wait = max(self._last_flush + self.interval - time.monotonic(), 0.01)
            with suppress(TimeoutError):  # woken early by close_spider, which flushes the rest
                await asyncio.wait_for(self._closing.wait(), wait)
            # Never cancelled while it writes: a cancelled write could lose its batch.
            if self.buffer and time.monotonic() - self._last_flush >= self.interval:
                await self.flush()

    async def process_item(self, item):
        if not isinstance(item, FetchResult):
            return item
        self.buffer.append(item)
        if self._timer is None and self.interval > 0:  # started here, in the running loop
            self._closing = asyncio.Event()
            self._timer = asyncio.get_running_loop().create_task(self._flush_on_time())
        # An editor waiting for this result does not wait for the batch to fill.
        due = item.request_id is not None or time.monotonic() - self._last_flush >= self.interval
        if len(self.buffer) >= self.batch_size or due:
            await self.flush()
        return item

    async def flush(self):
        if not self.buffer:
            return
        batch, self.buffer = self.buffer, []
        self._last_flush = time.monotonic()
        statuses = await asyncio.wrap_future(self.writer.submit(self._write, batch))
        for result, status in zip(batch, statuses, strict=True):
            # an archive's copy is not a fetch of its source: counted apart
            kind = "wayback/stored" if is_archived(result) else "citecache/status"
            self.stats.inc_value(f"{kind}/{status}")
        if self.signals is not None:
            self.signals.send_catch_log(results_stored, results=batch, statuses=statuses)

    def _write(self, batch: list[FetchResult]) -> list[str]:
        sink = self.sink
        assert sink is not None, "open_spider() opens the sink"
        try:
            statuses = sink.write(batch)
        except Exception:
            # One bad result must not lose the batch: store them one by one.
            logger.exception("batch write failed; writing %d results one by one", len(batch))
            statuses = []
            for result in batch:
                try:
                    statuses += sink.write([result])
                except Exception:
                    logger.exception("could not store the result for %s", result.url)
                    statuses.append("store_error")
        # What was lost (or refused) is counted apart, never as stored; nor are archived
        # copies, which are not the tasks' results (crawler/wayback.py).
        stored = [
            s not in NOT_STORED and not is_archived(r) for r, s in zip(batch, statuses, strict=True)
        ]
        self.stats.inc_value("citecache/stored", sum(stored))
        return statuses

    async def close_spider(self):
        if self._timer is not None:
            assert self._closing is not None
            self._closing.set()
            await self._timer
        await self.flush()
        if self.sink is not None:
            self.writer.submit(self.sink.close).result()
        self.writer.shutdown(wait=True)
