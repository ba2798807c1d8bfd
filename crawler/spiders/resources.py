"""The spider: fetch each resource it is given and report what the server said.

It extracts nothing and stores nothing; the pipelines do. Every task ends in exactly
one item, success or failure, so that every fetch attempt is logged.
"""

from __future__ import annotations

import time
from collections.abc import AsyncIterator
from urllib.parse import urlsplit

import scrapy
from scrapy import signals
from scrapy.exceptions import (
    CannotResolveHostError,
    DownloadCancelledError,
    DownloadConnectionRefusedError,
    DownloadFailedError,
    DownloadTimeoutError,
    IgnoreRequest,
    ResponseDataLossError,
)
from scrapy.http import Response
from scrapy.utils.misc import load_object
from twisted.internet.error import (
    ConnectError,
    ConnectionLost,
    DNSLookupError,
    TCPTimedOutError,
    TimeoutError,
)
from twisted.python.failure import Failure
from w3lib.url import safe_url_string

from crawler.downloader import RunDeadline
from crawler.frontier import TaskSource, results_stored
from crawler.items import FetchedPage
from crawler.middlewares import BodyTooLarge, TooManyRedirects
from crawler.retry import retry_after_seconds
from crawler.robots import ForbiddenByRobots
from crawler.warc import exchange_of
from crawler.wayback import any_failure_asks_archive, is_archived
from extraction.page_status import challenge_reason
from storage import FetchResult, FetchTask, iso, utc_now
from storage.ids import host_of
from storage.urlsafety import UnsafeURL


class ResourcesSpider(scrapy.Spider):
    name = "resources"
    source: TaskSource
    """Where the tasks come from (CITECACHE_TASK_SOURCE)."""
    html_types: tuple[str, ...]
    """Content types handed to extraction (CITECACHE_HTML_TYPES)."""
    url_length_limit: int = 0
    """URLLENGTH_LIMIT, read once: a longer URL is recorded as failed, never requested."""

    @classmethod
    def from_crawler(cls, crawler, *args, **kwargs):
        spider = super().from_crawler(crawler, *args, **kwargs)
        source_cls = load_object(
            crawler.settings.get("CITECACHE_TASK_SOURCE", "crawler.frontier.StoreTaskSource")
        )
        spider.source = source_cls.from_settings(crawler.settings)
        spider.html_types = tuple(crawler.settings.getlist("CITECACHE_HTML_TYPES"))
        spider.url_length_limit = crawler.settings.getint("URLLENGTH_LIMIT")
        # Every task ends here, stored or not, so that a source that claims in rounds
        # knows what is no longer in flight.
        crawler.signals.connect(spider._results_stored, signal=results_stored)
        crawler.signals.connect(spider._not_stored, signal=signals.item_dropped)
        crawler.signals.connect(spider._not_stored, signal=signals.item_error)
        crawler.signals.connect(spider._spider_error, signal=signals.spider_error)
        return spider

    async def start(self) -> AsyncIterator[scrapy.Request | FetchedPage]:
        try:
            async for tasks in self.source.stream():
                self.crawler.stats.inc_value("citecache/tasks", len(tasks))
                for task in tasks:
                    yield self._too_long(task) or self.request_for(task)
        except Exception as exc:
            # No tasks (an unknown id, the database locked): the run could not run, which
            # crawler.run reports in one line, rather than Scrapy with a traceback.
            self.logger.debug("the task source failed", exc_info=True)
            self.crawler.stats.set_value("citecache/start_error", str(exc) or repr(exc))

    def closed(self, reason: str) -> None:
        self.source.close()

    def _results_stored(self, results: list, statuses: list[str]) -> None:
        for result, status in zip(results, statuses, strict=True):
            if not is_archived(result):  # an archive's copy comes after its task settled
                self.source.settled([result.resource_id], stored=status != "store_error")

    def _not_stored(self, item, **kwargs) -> None:
        if isinstance(item, FetchedPage | FetchResult) and not is_archived(item):
            self.source.settled([item.resource_id], stored=False)

    def _spider_error(self, failure: Failure, response: Response | None, **kwargs) -> None:
        task = response.meta.get("task") if response is not None else None
        if isinstance(task, FetchTask):
            self.source.settled([task.resource_id], stored=False)

    def _too_long(self, task: FetchTask) -> FetchedPage | None:
        """A failed fetch for a URL that Scrapy's UrlLengthMiddleware would drop without
        a trace (registered before registration refused them), else None."""
        limit = self.url_length_limit
        length = len(safe_url_string(task.url))
        if not limit or length <= limit:
            return None
        page = self._page(task, {}, outcome="error")
        page.error = f"URL too long: {length} characters, over URLLENGTH_LIMIT {limit}"
        return page

    def request_for(self, task: FetchTask) -> scrapy.Request:
        headers = {}
        if task.etag:
            headers["If-None-Match"] = task.etag
        if task.last_modified:
            headers["If-Modified-Since"] = task.last_modified
        return scrapy.Request(
            task.url,
            callback=self.parse,
            errback=self.failed,
            headers=headers,
            meta={"task": task, "sent_at": time.time()},
            dont_filter=True,
            # An editor is waiting: ahead of the due work already queued (a worker's).
            priority=1 if task.request_id is not None else 0,
        )

    def parse(self, response: Response):
        task: FetchTask = response.meta["task"]
        page = self._page(task, response.meta, outcome="fetched")
        page.http_status = response.status
        page.final_url = response.url
        page.content_type = _content_type(response)
        page.bytes = len(response.body)
        page.etag = _header(response, "ETag")
        page.last_modified = _header(response, "Last-Modified")
        page.redirect_chain = list(response.meta.get("redirect_urls", []))
        page.exchange = exchange_of(response, response.url, page.started_at)
        if response.status in (429, 503):  # the host rests as long as it asks
            page.host_delay = retry_after_seconds(response.headers.get("Retry-After"))
        moved = _judge_redirect(task.url, response.url) if page.redirect_chain else None
        if response.status == 304:
            page.outcome = "not_modified"
        elif response.status >= 400:
            page.outcome, page.error = _judge_error_page(response)
        elif moved == "home":
            page.outcome = "soft_404"
            page.error = f"redirected to the home page {response.url}"
        elif not self._extractable(page.content_type, response.body):
            page.outcome = "not_html"
            page.error = f"content type {page.content_type or 'unknown'} is not a document"
        else:
            page.body = response.body
            page.cross_host = moved == "other_host"
        yield page

    def failed(self, failure: Failure):
        request = failure.request  # type: ignore[attr-defined]  # set by Scrapy
        if failure.check(RunDeadline):
            # Never sent: not a fetch attempt. The resource stays due for the next run.
            self.crawler.stats.inc_value("citecache/left_for_next_run")
            self.source.settled([request.meta["task"].resource_id], stored=False)
            return
        page = self._page(request.meta["task"], request.meta, outcome="error")
        page.outcome, page.error = _classify_failure(failure)
        response = getattr(failure.value, "response", None)
        if response is not None:
            page.http_status = response.status
            page.final_url = response.url
        yield page

    def _page(self, task: FetchTask, meta: dict, *, outcome: str) -> FetchedPage:
        # (an optional hook: sources written for earlier versions may not have it)
        fetched = getattr(self.source, "fetched", None)
        if fetched is not None:
            fetched(task.resource_id)
        sent_at = meta.get("sent_at", time.time())
        latency = meta.get("download_latency")
        return FetchedPage(
            resource_id=task.resource_id,
            url=task.url,
            started_at=iso(utc_now()) if latency is None else _iso_epoch(time.time() - latency),
            outcome=outcome,
            duration_ms=int((latency if latency is not None else time.time() - sent_at) * 1000),
            request_id=task.request_id,
            lease_token=task.lease_token,
            archive_fallback=any_failure_asks_archive(task),
            needs_browser=task.needs_browser,
        )

    def _extractable(self, content_type: str | None, body: bytes) -> bool:
        if body[:5] == b"%PDF-":
            return True
        if not content_type:
            return b"<" in body[:1024]
        return content_type.startswith(self.html_types)


def _judge_error_page(response: Response) -> tuple[str, str]:
    """Outcome and reason for a 4xx/5xx answer."""
    status = response.status
    # the challenge markers are extraction's (page_status), shared with 200 pages
    challenge = challenge_reason(response.body) if status in (403, 429, 503) else None
    if challenge:
        server = _header(response, "Server") or "the server"
        return "blocked", f"HTTP {status}: bot challenge from {server} ({challenge})"
    if status == 429:
        return "http_error", "HTTP 429: rate limited (retries exhausted)"
    return "http_error", f"HTTP {status}"


def _judge_redirect(requested: str, final: str) -> str | None:
    """ "home" when a redirect ended on a site's home page, "other_host" when it left the
    host it was asked of, else None (same host: https, www, a moved path are fine)."""
    asked, landed = urlsplit(requested), urlsplit(final)
    if landed.path in ("", "/") and asked.path not in ("", "/") and not landed.query:
        return "home"
    if host_of(requested) != host_of(final):
        return "other_host"
    return None


def _header(response: Response, name: str) -> str | None:
    value = response.headers.get(name)
    return value.decode("latin-1") if value else None


def _content_type(response: Response) -> str | None:
    value = _header(response, "Content-Type")
    return value.split(";")[0].strip().lower() if value else None


def _iso_epoch(seconds: float) -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def _classify_failure(failure: Failure) -> tuple[str, str]:
    """The outcome name and a one-line reason for a request that got no usable response."""
    exc = failure.value
    text = str(exc) or type(exc).__name__
    if failure.check(UnsafeURL):
        return "unsafe_url", text
    if failure.check(TooManyRedirects):
        return "redirect_loop", "redirect loop, or more redirects than REDIRECT_MAX_TIMES"
    if failure.check(BodyTooLarge, DownloadCancelledError):
        # Scrapy cancels a download past DOWNLOAD_MAXSIZE; BodyTooLarge is a compressed
        # body that inflates past it.
        return "too_large", text
    if failure.check(ForbiddenByRobots):
        return "blocked_by_robots", "forbidden by robots.txt"
    if failure.check(IgnoreRequest):
        return "error", f"ignored: {text}"
    if failure.check(CannotResolveHostError, DNSLookupError):
        return "dns_error", text
    if failure.check(DownloadTimeoutError, TimeoutError, TCPTimedOutError):
        return "timeout", f"timed out: {text}"
    if failure.check(
        DownloadConnectionRefusedError,
        DownloadFailedError,
        ResponseDataLossError,
        ConnectError,
        ConnectionLost,
    ):
        return "connection_error", text
    return "error", f"{type(exc).__name__}: {text}"[:500]
