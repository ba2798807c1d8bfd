"""scrapy-playwright's download handler, fenced in: renders the requests with
``meta={"playwright": True}`` in Chromium (crawler.browser.BrowserDownloadHandler
builds it, and so imports Playwright, with the first of them). It

- starts Playwright and the browser with the first page to render, not with the crawl;
- sees every request a rendered page makes (subresources, fetch/XHR, frames, its own
  navigation) and lets out only those storage/urlsafety.py allows. Redirects are
  followed here, hop by hop, each hop checked: Chromium does not show a page's
  redirected requests to Playwright's routes, so letting it follow them itself would
  let a public URL redirect into the intranet. Under CITECACHE_ALLOW_PRIVATE only the
  page's own origin may be private: the crawl was allowed to fetch that page, not
  whatever its scripts point at. WebSockets to private addresses are refused, service
  workers (whose requests no route sees) blocked, and images, media and fonts, which
  text does not need, not fetched at all.

A known gap: the check resolves a host and Playwright's fetch resolves it again, so a
name server that answers public then private (DNS rebinding) is not stopped here as
crawler/resolver.py stops it for plain fetches.
"""

from __future__ import annotations

import asyncio
import logging
from contextlib import suppress
from urllib.parse import urljoin, urlsplit

from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Route, WebSocketRoute
from playwright.async_api import Request as PlaywrightRequest
from playwright.async_api import TimeoutError as PlaywrightTimeout
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

from storage.urlsafety import UnresolvableHost, UnsafeURL, check_url_safety_async

logger = logging.getLogger(__name__)

SKIPPED_RESOURCES = frozenset({"image", "media", "font"})
"""Resource types a rendered page does not fetch: its text needs none of them."""
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})


class AddressGuard:
    """Which URLs the requests of one rendered page may reach."""

    def __init__(self, page_url: str, *, allow_private: bool):
        self.allow_private = allow_private
        self.page_origin = _origin(page_url)
        self._verdicts: dict[tuple[str, str, int | None], bool] = {}

    async def allows(self, url: str) -> bool:
        parts = urlsplit(url)
        if parts.scheme in ("data", "blob", "about"):
            return True  # nothing leaves the browser
        origin = _origin(url)
        if self.allow_private and origin == self.page_origin:
            return True
        if origin not in self._verdicts:
            try:
                await check_url_safety_async(url)
                self._verdicts[origin] = True
            except (UnsafeURL, UnresolvableHost, ValueError) as exc:
                logger.info("rendered page of %s: refused %s (%s)", self.page_origin[1], url, exc)
                self._verdicts[origin] = False
        return self._verdicts[origin]


def _origin(url: str) -> tuple[str, str, int | None]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = -1
    return parts.scheme, (parts.hostname or ""), port


class RenderingHandler(ScrapyPlaywrightDownloadHandler):
    """See the module's docstring. Settings: CITECACHE_BROWSER_TIMEOUT, CITECACHE_BROWSER_PAGES."""

    def __init__(self, crawler) -> None:
        super().__init__(crawler)
        settings = crawler.settings
        self.allow_private = settings.getbool("CITECACHE_ALLOW_PRIVATE")
        self.max_redirects = settings.getint("REDIRECT_MAX_TIMES")
        self.config.navigation_timeout_ms = settings.getfloat("CITECACHE_BROWSER_TIMEOUT") * 1000
        self.config.max_pages_per_context = settings.getint("CITECACHE_BROWSER_PAGES")
        self._started: asyncio.Task | None = None

    async def _maybe_launch_in_thread(self) -> None:
        """Not at engine start: with the first page to render (``_download_request``)."""

    async def _download_request(self, request, spider=None):
        if self._started is None:
            self._started = asyncio.ensure_future(self._launch())
        await asyncio.shield(self._started)
        return await super()._download_request(request, spider)

    async def _create_browser_context(self, name, context_kwargs, spider=None):
        wrapper = await super()._create_browser_context(name, context_kwargs, spider)
        await wrapper.context.route_web_socket("**", self._guard_websocket)
        return wrapper

    async def _guard_websocket(self, socket: WebSocketRoute) -> None:
        guard = AddressGuard(socket.url, allow_private=False)
        if await guard.allows(socket.url.replace("ws", "http", 1)):
            socket.connect_to_server()
        else:
            await socket.close(code=1008, reason="refused address")

    def _make_request_handler(self, *, url: str, headers, **_kwargs):
        """The route of every request of the page rendering ``url`` (GET only: the
        crawl renders nothing else)."""
        guard = AddressGuard(url, allow_private=self.allow_private)
        user_agent = headers.get("User-Agent")
        extra = {"User-Agent": user_agent.decode("latin-1")} if user_agent else {}

        async def handle(route: Route, request: PlaywrightRequest) -> None:
            try:
                if request.resource_type in SKIPPED_RESOURCES:
                    self.stats.inc_value("citecache/browser/requests_skipped")
                    await route.abort("blockedbyclient")
                elif not await guard.allows(request.url):
                    self.stats.inc_value("citecache/browser/requests_refused")
                    await route.abort("blockedbyclient")
                else:
                    await self._fetch_checked(route, request, guard, extra)
            except Exception as exc:  # the page closed meanwhile, a network error: closed
                logger.debug("rendered request %s failed: %s", request.url, exc)
                await _abort_quietly(route)

        return handle

    async def _fetch_checked(
        self, route: Route, request: PlaywrightRequest, guard: AddressGuard, extra: dict
    ) -> None:
        """Fetch the request, following redirects here, each hop checked; fulfill the
        page's request with the final answer."""
        headers = {**await request.all_headers(), **extra}
        url = request.url
        for _hop in range(self.max_redirects + 1):
            response = await route.fetch(
                url=url, headers=headers, max_redirects=0, timeout=self.config.navigation_timeout_ms
            )
            location = response.headers.get("location")
            if response.status not in REDIRECT_CODES or not location:
                await route.fulfill(response=response)
                return
            url = urljoin(url, location)
            if not await guard.allows(url):
                self.stats.inc_value("citecache/browser/requests_refused")
                await route.abort("blockedbyclient")
                return
        await route.abort("failed")  # more redirects than REDIRECT_MAX_TIMES


async def settle(page: Page, timeout_ms: float) -> None:
    """Wait for the page's scripts to finish loading its text: the network idle, within
    the time limit; a page that never settles is read as it is then."""
    try:
        await page.wait_for_load_state("networkidle", timeout=timeout_ms)
    except PlaywrightTimeout:
        logger.info("%s did not settle within %g ms; read as it is", page.url, timeout_ms)


async def _abort_quietly(route: Route) -> None:
    with suppress(PlaywrightError):  # already handled, or the page closed
        await route.abort("failed")
