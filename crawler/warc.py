"""WARC capture in the crawl: what each response was on the wire, kept as WARC records.

``WarcCaptureMiddleware`` keeps each response as it came from the downloader, before
decompression and redirects; the spider hands the final one over with its page, and
``WarcPipeline`` writes it (storage/warc.py) on a thread of its own, before extraction,
so the reactor never waits on the disk. An unchanged re-fetch (the payload digest of a
body this resource gave before) becomes a revisit record. Off with
CITECACHE_WARC_ENABLED = False.
"""

from __future__ import annotations

import asyncio
import logging
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress

from scrapy.exceptions import NotConfigured
from scrapy.http import Headers, Request, Response

from citecache import __version__
from crawler.items import FetchedPage
from storage import Store
from storage.results import WarcRef
from storage.warc import Exchange, WarcFiles, warc_dir
from storage.warc_read import WarcReadError, original

logger = logging.getLogger(__name__)

EXCHANGE_META = "citecache_exchange"
"""Request meta key under which the capture middleware leaves the raw exchange."""


class WarcCaptureMiddleware:
    """Keeps each response's status, headers and body as received (still compressed)
    and the request's headers as sent, in ``request.meta[EXCHANGE_META]``.

    It sits next to the downloader (priority 950): it sees every hop before the
    compression and redirect middlewares change it; the final hop's capture is the one
    left when the spider gets the response.
    """

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("CITECACHE_WARC_ENABLED"):
            raise NotConfigured
        return cls()

    def process_response(self, request: Request, response: Response) -> Response:
        request.meta[EXCHANGE_META] = Exchange(
            url=response.url,
            date="",  # the spider sets both as its page records them
            method=request.method,
            request_headers=_header_list(request.headers),
            status=response.status,
            # a copy: the compression middleware edits the headers in place
            response_headers=_header_list(response.headers),
            body=response.body,
            protocol=response.protocol or "HTTP/1.1",
        )
        return response


def exchange_of(response: Response, url: str, date: str) -> Exchange | None:
    """The capture of ``response`` under the URL and date its page records, if any."""
    exchange = response.meta.get(EXCHANGE_META)
    if not isinstance(exchange, Exchange) or not exchange.body:
        return None
    exchange.url, exchange.date = url, date
    return exchange


class WarcPipeline:
    """Writes each page's captured exchange to the WARC files and notes where
    (``FetchedPage.warc``), then lets the page go on to extraction."""

    def __init__(self, files: WarcFiles, db: str, stats):
        self.files = files
        self.db = db
        self.stats = stats
        self.store: Store | None = None
        self.thread = ThreadPoolExecutor(1, thread_name_prefix="citecache-warc")

    @classmethod
    def from_crawler(cls, crawler):
        settings = crawler.settings
        if not settings.getbool("CITECACHE_WARC_ENABLED"):
            raise NotConfigured
        db = settings.get("CITECACHE_DB")
        folder = warc_dir(db, settings.get("CITECACHE_WARC_DIR"))
        files = WarcFiles(
            folder, settings.getint("CITECACHE_WARC_MAX_SIZE"), f"citecache/{__version__}"
        )
        return cls(files, db, crawler.stats)

    def open_spider(self):
        # Its own read-only connection, on the thread that uses it, to find the earlier
        # record of an unchanged body.
        self.store = self.thread.submit(Store, self.db, readonly=True).result()

    async def process_item(self, item):
        if not isinstance(item, FetchedPage) or item.exchange is None:
            return item
        exchange, item.exchange = item.exchange, None
        future = self.thread.submit(self._write, exchange, item.resource_id)
        item.warc = await asyncio.wrap_future(future)
        return item

    def _write(self, exchange: Exchange, resource_id: str) -> WarcRef | None:
        try:
            earlier = self._original(resource_id, exchange.digest)
            written = self.files.written
            ref = self.files.write(exchange, earlier)
        except Exception as exc:
            # A full disk must not stop the crawl: the page is still extracted and stored.
            # The file may end in a torn record: the next pair starts a new one. The
            # first failure is logged with its traceback, the others (the same cause,
            # mostly) in a line each.
            with suppress(OSError):
                self.files.close()
            first = not self.stats.get_value("citecache/warc/errors")
            self.stats.inc_value("citecache/warc/errors")
            if first:
                logger.exception("could not write the WARC records of %s", exchange.url)
            else:
                logger.error("could not write the WARC records of %s: %s", exchange.url, exc)
            return None
        self.stats.inc_value("citecache/warc/revisits" if earlier else "citecache/warc/responses")
        self.stats.inc_value("citecache/warc/bytes", self.files.written - written)
        return ref

    def _original(self, resource_id: str, digest: str):
        assert self.store is not None, "open_spider() opens the store"
        ref = self.store.warc_original(resource_id, digest)
        if ref is None:
            return None
        try:
            return original(self.files.folder, ref)
        except WarcReadError as exc:  # kept on another machine, or lost: a full copy
            logger.info("earlier WARC record unreadable (%s); writing the body again", exc)
            return None

    def close_spider(self):
        def close() -> None:
            self.files.close()
            if self.store is not None:
                self.store.close()

        self.thread.submit(close).result()
        self.thread.shutdown(wait=True)


def _header_list(headers: Headers) -> list[tuple[str, str]]:
    return [
        (name.decode("latin-1"), value.decode("latin-1"))
        for name, values in headers.items()
        for value in values
    ]
