"""The browser fallback: a page that needs a browser is fetched again, rendered in Chromium.

Extraction says when a page looks script-rendered (extraction/script_shell.py); sources
an operator marks (``citecache browser REF``) or whose hosts are listed
(CITECACHE_BROWSER_HOSTS) are always rendered. The render is
one more request through the crawl's downloader (its middlewares, politeness and
address checks), with ``meta={"playwright": True}``: only that request goes to
scrapy-playwright's handler (crawler/browser_handler.py), which renders at most
CITECACHE_BROWSER_PAGES pages at once, each within CITECACHE_BROWSER_TIMEOUT. The
rendered HTML goes through the same extraction, and its snapshot records
``fetch_method`` "browser".

Without Chromium or scrapy-playwright the fallback says so once (a warning and the stat
``citecache/browser/unavailable``) and the crawl goes on with what plain HTTP gave.
"""

from __future__ import annotations

import dataclasses
import importlib.util
import logging
import os
import weakref

import scrapy
from scrapy.core.downloader.handlers.http11 import HTTP11DownloadHandler

from crawler.items import FetchedPage
from storage.ids import host_of

logger = logging.getLogger(__name__)

HANDLER = "crawler.browser.BrowserDownloadHandler"
LAUNCH_ARGS = [
    # Debian's chromium as root (CI, containers) runs only without its sandbox.
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


def unavailable_reason(executable: str) -> str | None:
    """Why pages cannot be rendered here, or None when they can."""
    for module in ("playwright", "scrapy_playwright"):
        if importlib.util.find_spec(module) is None:
            return f"{module.replace('_', '-')} is not installed"
    if not os.access(executable, os.X_OK):
        return f"no browser at {executable} (apt-get install chromium)"
    return None


def enabled(settings) -> bool:
    """Whether the fallback is on. Never in a run from a mirror (CITECACHE_MIRROR_URL):
    a rendered page would fetch its scripts' requests from the live web, not the mirror."""
    return settings.getbool("CITECACHE_BROWSER_ENABLED") and not settings.get(
        "CITECACHE_MIRROR_URL"
    )


def configure(settings) -> None:
    """Install the rendering download handler and its browser settings in a crawl's
    (unfrozen) settings, when the fallback is on and can work."""
    if not enabled(settings):
        return
    executable = settings.get("CITECACHE_BROWSER_PATH")
    if unavailable_reason(executable):
        return  # BrowserFallback reports it, once the crawl has stats
    settings.set("DOWNLOAD_HANDLERS", {"http": HANDLER, "https": HANDLER}, priority="project")
    settings.set(
        "PLAYWRIGHT_LAUNCH_OPTIONS",
        {"executable_path": executable, "headless": True, "args": LAUNCH_ARGS},
        priority="project",
    )
    settings.set(
        "PLAYWRIGHT_CONTEXTS",
        # Service workers fetch on their own, unseen by the handler's routes.
        {"default": {"service_workers": "block", "user_agent": settings.get("USER_AGENT")}},
        priority="project",
    )


class BrowserDownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP handler, but a request with ``meta={"playwright": True}`` goes to the
    rendering handler (crawler/browser_handler.py). That one is built, and Playwright
    imported (0.7 s), with the first page to render: a crawl that renders nothing pays
    nothing. Scrapy builds a handler per scheme; http and https share one renderer, so
    one browser and one page limit."""

    def __init__(self, crawler):
        super().__init__(crawler)
        self.crawler = crawler

    async def download_request(self, request):
        if not request.meta.get("playwright"):
            return await super().download_request(request)
        renderer = _RENDERERS.get(self.crawler)
        if renderer is None:
            from crawler.browser_handler import RenderingHandler

            renderer = _RENDERERS[self.crawler] = RenderingHandler(self.crawler)
        return await renderer.download_request(request)

    async def close(self) -> None:
        await super().close()
        renderer = _RENDERERS.pop(self.crawler, None)  # the first handler closed closes it
        if renderer is not None:
            await renderer.close()


_RENDERERS: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()
"""Per crawl, the rendering handler its download handlers share."""


class BrowserFallback:
    """Renders the pages that need a browser; used by crawler.pipelines.ExtractPipeline."""

    def __init__(self, crawler, *, hosts: list[str], timeout: float):
        self.crawler = crawler
        self.hosts = frozenset(h.lower().removeprefix("www.") for h in hosts)
        self.timeout = timeout
        self.available = False

    @classmethod
    def from_crawler(cls, crawler) -> BrowserFallback:
        settings = crawler.settings
        fallback = cls(
            crawler,
            hosts=settings.getlist("CITECACHE_BROWSER_HOSTS"),
            timeout=settings.getfloat("CITECACHE_BROWSER_TIMEOUT"),
        )
        if not enabled(settings):
            return fallback
        reason = unavailable_reason(settings.get("CITECACHE_BROWSER_PATH"))
        handlers = settings.getdict("DOWNLOAD_HANDLERS")
        if reason is None and handlers.get("https") != HANDLER:
            reason = "the crawl's settings lack its download handler (crawler.browser.configure)"
        if reason:
            logger.warning("browser fallback unavailable: %s; pages are not rendered", reason)
            crawler.stats.set_value("citecache/browser/unavailable", reason)
        fallback.available = reason is None
        return fallback

    def wanted(self, page: FetchedPage, shell: str | None) -> bool:
        """Whether ``page`` (fetched over plain HTTP) should be rendered."""
        if not self.available or page.fetch_method == "browser":
            return False
        return bool(shell) or page.needs_browser or host_of(page.url) in self.hosts

    async def render(self, page: FetchedPage) -> FetchedPage | None:
        """``page`` fetched again in the browser, or None if that failed (logged)."""
        url = page.final_url or page.url
        request = scrapy.Request(
            url,
            meta={
                "playwright": True,
                "playwright_page_methods": [_settle(self.timeout)],
                "handle_httpstatus_all": True,
                "dont_retry": True,
            },
            dont_filter=True,
        )
        stats = self.crawler.stats
        try:
            response = await self.crawler.engine.download_async(request)
        except Exception as exc:
            logger.warning("rendering %s in the browser failed: %s", url, exc)
            stats.inc_value("citecache/browser/failed")
            return None
        if response.status != 200:
            logger.info("rendering %s in the browser: HTTP %s", url, response.status)
            stats.inc_value("citecache/browser/failed")
            return None
        stats.inc_value("citecache/browser/rendered")
        return dataclasses.replace(
            page,
            body=response.body,
            bytes=len(response.body),
            final_url=response.url,
            content_type="text/html",
            fetch_method="browser",
        )


def _settle(timeout: float):
    from scrapy_playwright.page import PageMethod

    from crawler.browser_handler import settle

    return PageMethod(settle, timeout * 1000)
