"""Scrapy's downloader with its per-host concurrency limit actually enforced.

In Scrapy 2.19 under the asyncio reactor, ``Downloader._process_queue`` starts each
download as an asyncio task and only the task, once running, counts the request as
transferring. The loop that fills free slots therefore sees every slot still free and
starts the whole queue at once: CONCURRENT_REQUESTS_PER_DOMAIN = 2 let 7 requests hit
one host together (tests/test_link_health.py measures it). Here a request counts as
transferring from the moment it is taken from the queue.

It also keeps a run's deadline (CITECACHE_MAX_RUNTIME): once it has passed, requests
still queued are not sent but failed with RunDeadline, which the spider drops without
a trace, so that those resources stay due for the next run.
"""

from __future__ import annotations

from time import monotonic

from scrapy.core.downloader import Downloader
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.asyncio import call_later
from scrapy.utils.defer import _schedule_coro


class RunDeadline(IgnoreRequest):
    """The run's --max-runtime passed before this request was sent."""


class PoliteDownloader(Downloader):
    def __init__(self, crawler):
        super().__init__(crawler)
        runtime = crawler.settings.getfloat("CITECACHE_MAX_RUNTIME")
        self.deadline = monotonic() + runtime if runtime > 0 else None

    def _process_queue(self, slot) -> None:
        if slot.latercall:
            return
        now = monotonic()
        if self.deadline is not None and now >= self.deadline:
            while slot.queue:
                _, queue_dfd = slot.queue.popleft()
                queue_dfd.errback(RunDeadline("max runtime reached"))
            return
        delay = slot.download_delay()
        if delay:
            penalty = delay - now + slot.lastseen
            if penalty > 0:
                slot.latercall = call_later(penalty, self._latercall, slot)
                return
        while slot.queue and slot.free_transfer_slots() > 0:
            slot.lastseen = now
            request, queue_dfd = slot.queue.popleft()
            # Counted now; _download() adds it again (a set) and removes it when done.
            slot.transferring.add(request)
            _schedule_coro(self._wait_for_download(slot, request, queue_dfd))
            if delay:
                self._process_queue(slot)
                break
