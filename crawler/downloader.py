"""Scrapy's downloader with its per-host concurrency limit actually enforced.

In Scrapy 2.19 under the asyncio reactor, ``Downloader._process_queue`` starts each
download as an asyncio task and only the task, once running, counts the request as
transferring. The loop that fills free slots therefore sees every slot still free and
starts the whole queue at once: CONCURRENT_REQUESTS_PER_DOMAIN = 2 let 6 of 8 requests
hit one host together (docs/scrapy-bugs.md). Here a request counts as transferring from
the moment it is taken from the queue.

The override reaches into Scrapy's private downloader API; ``check_scrapy_internals``
refuses to start a crawl when a name it uses is gone, rather than let it misbehave.

Requests of a higher priority (editors' requests) go first in a host's queue too.

It also keeps a run's deadline (CITECACHE_MAX_RUNTIME): once it has passed, requests
still queued are not sent but failed with RunDeadline, which the spider drops without
a trace, so that those resources stay due for the next run. Downloads in flight get a
short grace to finish; past it they are cancelled the same way, so that a slow server
(a DOWNLOAD_TIMEOUT of 30 s) cannot hold the run far beyond its limit.
"""

from __future__ import annotations

import inspect
from time import monotonic

import scrapy
from scrapy.core.downloader import Downloader, Slot
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.asyncio import CallLaterResult, call_later
from scrapy.utils.defer import deferred_from_coro
from twisted.internet.defer import Deferred

# The private names _process_queue below relies on, as of Scrapy 2.19.
DOWNLOADER_INTERNALS = ("_process_queue", "_latercall", "_wait_for_download")
SLOT_INTERNALS = (
    "queue",
    "transferring",
    "lastseen",
    "latercall",
    "free_transfer_slots",
    "download_delay",
)


GRACE_SECONDS = 5.0
"""How long downloads in flight at the deadline may still take (at most half the run)."""


class RunDeadline(IgnoreRequest):
    """The run's --max-runtime passed before this request was sent, or before its
    download finished."""


def check_scrapy_internals() -> None:
    """Raise RuntimeError naming every private Scrapy name PoliteDownloader needs but lacks."""
    missing = [f"Downloader.{n}" for n in DOWNLOADER_INTERNALS if not hasattr(Downloader, n)]
    missing += [f"Slot.{n}" for n in SLOT_INTERNALS if not hasattr(Slot, n)]
    wait = getattr(Downloader, "_wait_for_download", None)
    if wait is not None and list(inspect.signature(wait).parameters) != [
        "self",
        "slot",
        "request",
        "queue_dfd",
    ]:
        missing.append("Downloader._wait_for_download(slot, request, queue_dfd)")
    if missing:
        raise RuntimeError(
            f"crawler.downloader.PoliteDownloader works around a Scrapy 2.19 bug through "
            f"private Scrapy names that Scrapy {scrapy.__version__} does not have: "
            f"{', '.join(missing)}. See docs/scrapy-bugs.md: check whether the bug is fixed "
            f"in this Scrapy (then drop DOWNLOADER from crawler/settings.py) or port the "
            f"workaround."
        )


class PoliteDownloader(Downloader):
    def __init__(self, crawler):
        check_scrapy_internals()
        super().__init__(crawler)
        runtime = crawler.settings.getfloat("CITECACHE_MAX_RUNTIME")
        self.deadline = monotonic() + runtime if runtime > 0 else None
        self.grace = min(GRACE_SECONDS, runtime / 2)
        self._downloading: dict[scrapy.Request, tuple[Deferred, Deferred]] = {}
        self._cutter: CallLaterResult | None = None

    def _process_queue(self, slot) -> None:
        if slot.latercall:
            return
        now = monotonic()
        if self.deadline is not None and self._cutter is None and now < self.deadline:
            # scheduled here, not in __init__: the event loop runs by now
            self._cutter = call_later(self.deadline + self.grace - now, self._cut_downloads)
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
        _urgent_first(slot.queue)
        while slot.queue and slot.free_transfer_slots() > 0:
            slot.lastseen = now
            request, queue_dfd = slot.queue.popleft()
            # Counted now; _download() adds it again (a set) and removes it when done.
            slot.transferring.add(request)
            self._start_download(slot, request, queue_dfd)
            if delay:
                self._process_queue(slot)
                break

    def _start_download(self, slot, request, queue_dfd: Deferred) -> None:
        # Kept, unlike Scrapy's own, so that _cut_downloads can cancel it.
        download = deferred_from_coro(self._wait_for_download(slot, request, queue_dfd))
        self._downloading[request] = (download, queue_dfd)
        download.addBoth(lambda _: self._downloading.pop(request, None))  # cancelled: quiet

    def _cut_downloads(self) -> None:
        """The grace after the deadline is over: what is still downloading is given up
        as never fetched (RunDeadline), and its connection closed."""
        for download, queue_dfd in list(self._downloading.values()):
            if not queue_dfd.called:
                queue_dfd.errback(RunDeadline("max runtime reached while downloading"))
            download.cancel()

    def close(self) -> None:
        if self._cutter is not None:
            self._cutter.cancel()
        super().close()


def _urgent_first(queue) -> None:
    """Move higher-priority requests (an editor's, in a worker) ahead of those already
    waiting for the same host: Scrapy's slot queue is first in, first out, and a worker
    keeps up to CONCURRENT_REQUESTS requests queued there. Stable, so the order of the
    rest is kept; free when nothing is urgent."""
    if len(queue) > 1 and any(request.priority > queue[0][0].priority for request, _ in queue):
        ordered = sorted(queue, key=lambda entry: -entry[0].priority)
        queue.clear()
        queue.extend(ordered)
