"""scrapy-playwright's download handler, fenced in: renders the requests with
``meta={"playwright": True}`` in Chromium (crawler.browser.BrowserDownloadHandler
builds it, and so imports Playwright, with the first of them). It

- starts Playwright and the browser with the first page to render, not with the crawl;
- sees every request a rendered page makes (subresources, fetch/XHR, frames, its own
  navigation), lets out only those storage/urlsafety.py allows, and fetches them
  itself, in Python (aiohttp), fulfilling the page's request with the answer. The
  connection of that fetch gets its addresses from crawler/resolver.py's check, as the
  crawl's own connections do: the addresses checked are the addresses connected to, so
  a name that turns private after the first check (DNS rebinding) is refused, not
  fetched. Neither Chromium nor Playwright's own fetch (``route.fetch``) sends them:
  both would resolve the name again. Bodies are bounded by DOWNLOAD_MAXSIZE (decoded),
  each hop by the time limit.
- follows redirects here, hop by hop, each hop checked: Chromium does not show a
  page's redirected requests to Playwright's routes, so letting it follow them itself
  would let a public URL redirect into the intranet.

Under CITECACHE_ALLOW_PRIVATE only the page's own origin may be private: the crawl was
allowed to fetch that page, not whatever its scripts point at. WebSockets are refused
(Chromium would connect them itself, resolving the name again), service workers (whose
requests no route sees) blocked, and images, media and fonts, which text does not need,
not fetched at all.
"""

from __future__ import annotations

import asyncio
import logging
import socket
from contextlib import suppress
from urllib.parse import urljoin, urlsplit

import aiohttp
import yarl
from aiohttp.abc import AbstractResolver, ResolveResult
from playwright.async_api import Error as PlaywrightError
from playwright.async_api import Page, Route, WebSocketRoute
from playwright.async_api import Request as PlaywrightRequest
from playwright.async_api import TimeoutError as PlaywrightTimeout
from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

from crawler.resolver import SafeResolver
from storage.urlsafety import UnresolvableHost, UnsafeURL, check_url_safety_async

logger = logging.getLogger(__name__)

SKIPPED_RESOURCES = frozenset({"image", "media", "font"})
"""Resource types a rendered page does not fetch: its text needs none of them."""
REDIRECT_CODES = frozenset({301, 302, 303, 307, 308})
# Request headers the fetch sets itself (aiohttp decodes only the encodings it offers),
# and response headers that describe the bytes on the wire, not the decoded body.
NOT_FORWARDED = frozenset({"host", "connection", "content-length", "accept-encoding"})
NOT_RETURNED = frozenset({"connection", "content-length", "content-encoding", "transfer-encoding"})


class TooLarge(Exception):
    """An answer's body over DOWNLOAD_MAXSIZE."""


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
        if self.private_allowed(url):
            return True
        origin = _origin(url)
        if origin not in self._verdicts:
            try:
                await check_url_safety_async(url)
                self._verdicts[origin] = True
            except (UnsafeURL, UnresolvableHost, ValueError) as exc:
                logger.info("rendered page of %s: refused %s (%s)", self.page_origin[1], url, exc)
                self._verdicts[origin] = False
        return self._verdicts[origin]

    def private_allowed(self, url: str) -> bool:
        """Whether ``url`` may be on a private address: the page's own origin, under
        CITECACHE_ALLOW_PRIVATE."""
        return self.allow_private and _origin(url) == self.page_origin


class CheckedResolver(AbstractResolver):
    """aiohttp's name resolver for a rendered page's fetches: the connection gets exactly
    the addresses crawler/resolver.py's check passed, or none (UnsafeURL)."""

    def __init__(self, *, allow_private: bool):
        self.checker = SafeResolver(None, allow_private=allow_private)

    async def resolve(
        self, host: str, port: int = 0, family: socket.AddressFamily = socket.AF_INET
    ) -> list[ResolveResult]:
        loop = asyncio.get_running_loop()
        sockaddrs = await loop.run_in_executor(None, self.checker.checked_addresses, host)
        results = []
        for sockaddr in sockaddrs:
            found = socket.AF_INET6 if len(sockaddr) == 4 else socket.AF_INET
            if family in (socket.AF_UNSPEC, found):
                results.append(
                    ResolveResult(
                        hostname=host,
                        host=sockaddr[0],
                        port=port,
                        family=found,
                        proto=0,
                        flags=socket.AI_NUMERICHOST,
                    )
                )
        return results

    async def close(self) -> None:
        pass


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
        self.maxsize = settings.getint("DOWNLOAD_MAXSIZE")
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
        await wrapper.context.route_web_socket("**", self._refuse_websocket)
        return wrapper

    async def _refuse_websocket(self, websocket: WebSocketRoute) -> None:
        self.stats.inc_value("citecache/browser/requests_refused")
        await websocket.close(code=1008, reason="no WebSockets in rendered pages")

    def _make_request_handler(self, *, url: str, headers, **_kwargs):
        """The route of every request of the page rendering ``url``."""
        guard = AddressGuard(url, allow_private=self.allow_private)
        user_agent = headers.get("User-Agent")
        extra = {"user-agent": user_agent.decode("latin-1")} if user_agent else {}

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
            except UnsafeURL as exc:  # the name turned private after the guard's check
                logger.warning("rendered page of %s: refused %s (%s)", url, request.url, exc)
                self.stats.inc_value("citecache/browser/requests_refused")
                await _abort_quietly(route, "blockedbyclient")
            except TooLarge as exc:
                logger.info("rendered page of %s: %s", url, exc)
                self.stats.inc_value("citecache/browser/requests_too_large")
                await _abort_quietly(route)
            except Exception as exc:  # the page closed meanwhile, a network error: closed
                logger.debug("rendered request %s failed: %s", request.url, exc)
                await _abort_quietly(route)

        return handle

    async def _fetch_checked(
        self, route: Route, request: PlaywrightRequest, guard: AddressGuard, extra: dict
    ) -> None:
        """Fetch the request, following redirects here, each hop checked; fulfill the
        page's request with the final answer."""
        # all_headers(): lower-case names, as ``extra``'s
        all_headers = {**await request.all_headers(), **extra}
        headers = {k: v for k, v in all_headers.items() if k not in NOT_FORWARDED}
        method, body, url = request.method, request.post_data_buffer, request.url
        for _hop in range(self.max_redirects + 1):
            status, answer_headers, answer = await self._fetch(method, url, headers, body, guard)
            location = answer_headers.get("location")
            if status not in REDIRECT_CODES or not location:
                await route.fulfill(status=status, headers=answer_headers, body=answer)
                return
            url = urljoin(url, location)
            if status == 303 or (status in (301, 302) and method == "POST"):
                method, body = "GET", None  # as browsers do
            if not await guard.allows(url):
                self.stats.inc_value("citecache/browser/requests_refused")
                await route.abort("blockedbyclient")
                return
        await route.abort("failed")  # more redirects than REDIRECT_MAX_TIMES

    async def _fetch(
        self, method: str, url: str, headers: dict, body: bytes | None, guard: AddressGuard
    ) -> tuple[int, dict[str, str], bytes]:
        """One hop: status, headers and decoded body. A client of its own, whose resolver
        is the check (CheckedResolver), so nothing is shared or left open."""
        connector = aiohttp.TCPConnector(
            resolver=CheckedResolver(allow_private=guard.private_allowed(url)),
            use_dns_cache=False,
            force_close=True,
        )
        async with (
            aiohttp.ClientSession(
                connector=connector,
                timeout=aiohttp.ClientTimeout(total=self.config.navigation_timeout_ms / 1000),
                cookie_jar=aiohttp.DummyCookieJar(),  # the browser keeps the cookies
            ) as session,
            session.request(
                method,
                yarl.URL(url, encoded=True),
                headers=headers,
                data=body,
                allow_redirects=False,
            ) as response,
        ):
            answer = await _read_bounded(response, self.maxsize)
            return response.status, _returned_headers(response.headers), answer


async def _read_bounded(response: aiohttp.ClientResponse, maxsize: int) -> bytes:
    chunks, size = [], 0
    async for chunk in response.content.iter_any():
        size += len(chunk)
        if maxsize and size > maxsize:
            raise TooLarge(f"{response.url}: body over DOWNLOAD_MAXSIZE ({maxsize} bytes)")
        chunks.append(chunk)
    return b"".join(chunks)


def _returned_headers(headers) -> dict[str, str]:
    """The answer's headers for the page: repeated ones joined (Set-Cookie by newlines,
    as Playwright expects), those of the encoded body left out."""
    returned: dict[str, list[str]] = {}
    for name, value in headers.items():
        if name.lower() not in NOT_RETURNED:
            returned.setdefault(name.lower(), []).append(value)
    return {
        name: ("\n" if name == "set-cookie" else ", ").join(values)
        for name, values in returned.items()
    }


async def settle(page: Page, timeout_ms: float) -> None:
    """Wait for the page's scripts to finish loading its text: the network idle, within
    the time limit; a page that never settles is read as it is then."""
    try:
        await page.wait_for_load_state("networkidle", timeout=timeout_ms)
    except PlaywrightTimeout:
        logger.info("%s did not settle within %g ms; read as it is", page.url, timeout_ms)


async def _abort_quietly(route: Route, error: str = "failed") -> None:
    with suppress(PlaywrightError):  # already handled, or the page closed
        await route.abort(error)
