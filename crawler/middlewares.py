"""Downloader middlewares of citecache."""

from __future__ import annotations

from urllib.parse import urlsplit

from scrapy.downloadermiddlewares.httpcompression import HttpCompressionMiddleware
from scrapy.downloadermiddlewares.redirect import MetaRefreshMiddleware, RedirectMiddleware
from scrapy.exceptions import CannotResolveHostError, IgnoreRequest, NotConfigured

from crawler import wayback
from crawler.wayback import WaybackEndpoints, endpoints_from
from storage.urlsafety import UnresolvableHost, check_url_safety_async

ALLOW_PRIVATE_HINT = " (set CITECACHE_ALLOW_PRIVATE=1 to allow)"


class SafeURLMiddleware:
    """Refuses non-http(s) URLs and hosts that resolve to private or local addresses.

    It sees every request, redirect hops included, so a public URL cannot redirect
    into the intranet (server-side request forgery). Off with CITECACHE_ALLOW_PRIVATE.
    A refusal is storage.urlsafety.UnsafeURL, a ValueError: the spider's errback gets it
    like any download error, and Scrapy logs nothing for an error the errback handles.
    A host that does not resolve fails here, as a DNS error. This is the early check,
    for a clear reason; crawler/resolver.py checks again what the connection gets.

    The archive's requests (crawler/wayback.py) to the base an operator set are
    trusted: that base may be local without opening local addresses to sources.
    """

    def __init__(self, archive: WaybackEndpoints | None = None):
        self.archive = archive

    @classmethod
    def from_crawler(cls, crawler):
        if crawler.settings.getbool("CITECACHE_ALLOW_PRIVATE"):
            raise NotConfigured  # tests and intranets: CITECACHE_ALLOW_PRIVATE
        return cls(endpoints_from(crawler.settings))

    async def process_request(self, request):
        if self.archive and wayback.META in request.meta and self.archive.owns(request.url):
            return
        try:
            await check_url_safety_async(request.url, hint=ALLOW_PRIVATE_HINT)
        except UnresolvableHost as exc:
            raise CannotResolveHostError(str(exc)) from exc


class MirrorMiddleware:
    """Fetches every URL from a local mirror laid out as ``MIRROR/host/path?query``.

    For offline runs: the demo, tests and replays of a saved site (``wget --mirror``
    writes this layout). Resources keep their real URLs; responses come back under
    them, so nothing downstream knows a mirror was used. Off unless CITECACHE_MIRROR_URL.
    """

    def __init__(self, mirror_url: str):
        self.mirror = mirror_url.rstrip("/")

    @classmethod
    def from_crawler(cls, crawler):
        mirror = crawler.settings.get("CITECACHE_MIRROR_URL")
        if not mirror:
            raise NotConfigured
        return cls(mirror)

    def process_request(self, request):
        if request.url.startswith(self.mirror + "/"):
            return None
        parts = urlsplit(request.url)
        mirrored = f"{self.mirror}/{parts.netloc}{parts.path or '/'}"
        if parts.query:
            mirrored += "?" + parts.query
        request.meta.setdefault("mirror_scheme", parts.scheme)
        return request.replace(url=mirrored)

    def process_response(self, request, response):
        if not response.url.startswith(self.mirror + "/"):
            return response
        original = response.url[len(self.mirror) + 1 :]
        scheme = request.meta.get("mirror_scheme", "https")
        return response.replace(url=f"{scheme}://{original}")


class TooManyRedirects(IgnoreRequest):
    """More redirects than REDIRECT_MAX_TIMES, a redirect loop most of the time."""


class BodyTooLarge(IgnoreRequest):
    """The body inflated past DOWNLOAD_MAXSIZE while being decompressed (a gzip bomb).

    A body that is too large on the wire fails with Scrapy's DownloadCancelledError.
    """


# Scrapy's redirect and compression middlewares give up with a plain IgnoreRequest, told
# apart only by its message. These raise the same error as a type of its own; in Scrapy
# 2.19 their process_response raises IgnoreRequest for nothing else.
# (type: ignore[override] below and in retry.py, robots.py: Scrapy 2.19 calls components
# without the deprecated ``spider`` argument, which its base classes still declare.)


class TypedRedirectMiddleware(RedirectMiddleware):
    def process_response(self, request, response):  # type: ignore[override]
        try:
            return super().process_response(request, response)
        except IgnoreRequest as exc:
            raise TooManyRedirects(str(exc)) from exc


class TypedMetaRefreshMiddleware(MetaRefreshMiddleware):
    # Scrapy reads a meta refresh in the first 4,096 characters, but decodes the whole
    # body to get them (w3lib, kept on the response): pages without the word in their
    # first bytes are passed on undecoded. 16 KiB hold 4,096 characters in any 8-bit or
    # UTF-8 encoding; a body with NUL bytes there (UTF-16) goes to Scrapy as before.
    HEAD_BYTES = 16384

    def process_response(self, request, response):  # type: ignore[override]
        head = response.body[: self.HEAD_BYTES]
        if b"\x00" not in head and b"refresh" not in head.lower():
            return response
        try:
            return super().process_response(request, response)
        except IgnoreRequest as exc:
            raise TooManyRedirects(str(exc)) from exc


class TypedHttpCompressionMiddleware(HttpCompressionMiddleware):
    def process_response(self, request, response):  # type: ignore[override]
        try:
            return super().process_response(request, response)
        except IgnoreRequest as exc:
            raise BodyTooLarge(str(exc)) from exc
