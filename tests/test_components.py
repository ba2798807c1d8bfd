"""Each Scrapy component of the crawler on its own: built with ``get_crawler`` and fed
hand-built requests and responses, no network. The two ``slow`` tests at the end crawl a
local server to show the Scrapy bugs that crawler/downloader.py and crawler/robots.py
work around (docs/scrapy-bugs.md)."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket

import pytest
from scrapy import Request, signals
from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.extensions.remote_control import RemoteControl
from scrapy.extensions.telnet import TelnetConsole
from scrapy.settings import Settings
from scrapy.spiders import Spider
from scrapy.utils.misc import build_from_crawler
from scrapy.utils.test import get_crawler

import crawler.settings
from crawler.middlewares import SafeURLMiddleware
from crawler.run import crawl_settings
from crawler.spiders.resources import ResourcesSpider
from storage import FetchTask
from storage.urlsafety import UnsafeURL, check_url_safety, check_url_safety_async

OUR_SETTINGS = {key: value for key, value in vars(crawler.settings).items() if key.isupper()}


class ListSource:
    """A CITECACHE_TASK_SOURCE with the URLs of the TEST_URLS setting, in place of the store."""

    def __init__(self, urls: list[str]):
        self.urls = urls

    @classmethod
    def from_settings(cls, settings) -> ListSource:
        return cls(settings.getlist("TEST_URLS"))

    def tasks(self) -> list[FetchTask]:
        return [FetchTask(resource_id=f"r{i}", url=url) for i, url in enumerate(self.urls)]


def run_spider(urls: list[str], **overrides) -> list:
    """Crawl ``urls`` in this process with our settings, no pipelines; the items scraped."""
    settings = {
        **OUR_SETTINGS,
        "ITEM_PIPELINES": {},
        "EXTENSIONS": {},
        "CITECACHE_TASK_SOURCE": f"{__name__}.ListSource",
        "TEST_URLS": urls,
        **overrides,
    }
    crawler_ = get_crawler(ResourcesSpider, settings)
    items = []

    def collect(item):
        items.append(item)

    crawler_.signals.connect(collect, signal=signals.item_scraped)
    asyncio.run(crawler_.crawl_async())
    return items


@pytest.fixture
def resolver(monkeypatch):
    """DNS without the network: IP literals, a few names, the rest does not resolve."""
    names = {"public.example": "93.184.215.14", "ssrf.example": "127.0.0.1"}

    def getaddrinfo(host, port, *args, **kwargs):
        try:
            address = str(ipaddress.ip_address(host))
        except ValueError:
            if host not in names:
                raise socket.gaierror(socket.EAI_NONAME, "Name or service not known") from None
            address = names[host]
        family = socket.AF_INET6 if ":" in address else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (address, port or 0))]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


# -- settings ---------------------------------------------------------------------------


def consoles_enabled(settings: Settings) -> dict[str, bool]:
    """Which of Scrapy's two code-running consoles a crawler with ``settings`` would start."""

    async def build() -> dict[str, bool]:  # RemoteControl asks for a running asyncio loop
        crawler = Crawler(Spider, settings)
        enabled = {}
        for extension in (TelnetConsole, RemoteControl):
            try:
                extension.from_crawler(crawler)
            except NotConfigured:
                enabled[extension.__name__] = False
            else:
                enabled[extension.__name__] = True
        return enabled

    return asyncio.run(build())


def test_our_settings_start_neither_console():
    # Not get_crawler(): it turns both off itself, which would hide a missing setting.
    assert consoles_enabled(Settings()) == {"TelnetConsole": True, "RemoteControl": True}
    assert consoles_enabled(crawl_settings({})) == {"TelnetConsole": False, "RemoteControl": False}


# -- URL safety: storage/urlsafety.py and SafeURLMiddleware -----------------------------

REFUSED = {
    "ftp://public.example/file": "refused scheme 'ftp': only http and https URLs",
    "file:///etc/passwd": "refused scheme 'file': only http and https URLs",
    "http:///no-host": "URL has no host",
    "http://127.0.0.1:8080/admin": "refused 127.0.0.1: resolves to non-public address 127.0.0.1",
    "http://10.1.2.3/": "refused 10.1.2.3: resolves to non-public address 10.1.2.3",
    "http://[::1]/": "refused ::1: resolves to non-public address ::1",
    "http://169.254.169.254/latest/": "refused 169.254.169.254: resolves to non-public "
    "address 169.254.169.254",
    "https://ssrf.example/x": "refused ssrf.example: resolves to non-public address 127.0.0.1",
}
PASSING = [
    "https://public.example/page?q=1",
    "http://does-not-resolve.example/",  # the crawl records the DNS error
]


@pytest.mark.parametrize("url", REFUSED)
def test_the_service_and_the_crawl_refuse_alike(resolver, url):
    with pytest.raises(UnsafeURL) as sync:
        check_url_safety(url)
    with pytest.raises(UnsafeURL) as in_loop:
        asyncio.run(check_url_safety_async(url))
    assert str(sync.value) == str(in_loop.value) == REFUSED[url]
    assert isinstance(sync.value, ValueError)


@pytest.mark.parametrize("url", PASSING)
def test_public_and_unresolvable_hosts_pass(resolver, url):
    check_url_safety(url)
    asyncio.run(check_url_safety_async(url))


def test_allow_private_still_wants_an_http_url_with_a_host(resolver):
    check_url_safety("http://127.0.0.1/", allow_private=True)
    with pytest.raises(UnsafeURL, match="scheme"):
        check_url_safety("gopher://127.0.0.1/", allow_private=True)


def test_safe_url_middleware_is_off_with_allow_private():
    with pytest.raises(NotConfigured):
        build_from_crawler(
            SafeURLMiddleware, get_crawler(settings_dict={"CITECACHE_ALLOW_PRIVATE": True})
        )


def test_safe_url_middleware_refuses_with_a_hint(resolver):
    mw = build_from_crawler(SafeURLMiddleware, get_crawler())
    with pytest.raises(UnsafeURL, match="only http and https"):
        asyncio.run(mw.process_request(Request("ftp://public.example/file")))
    with pytest.raises(UnsafeURL) as refused:
        asyncio.run(mw.process_request(Request("https://ssrf.example/admin")))
    assert str(refused.value) == (
        "refused ssrf.example: resolves to non-public address 127.0.0.1 "
        "(set CITECACHE_ALLOW_PRIVATE=1 to allow)"
    )
    assert asyncio.run(mw.process_request(Request("https://public.example/"))) is None


def test_a_refused_url_is_recorded_quietly_as_unsafe_url(resolver, caplog):
    # UnsafeURL is a ValueError, not Scrapy's IgnoreRequest: the errback must still get it,
    # and Scrapy must not log it as a download error.
    with caplog.at_level(logging.INFO):
        items = run_spider(["https://ssrf.example/admin", "ftp://public.example/f"])
    assert [(item.outcome, item.error) for item in items] == [
        (
            "unsafe_url",
            "refused ssrf.example: resolves to non-public address 127.0.0.1 "
            "(set CITECACHE_ALLOW_PRIVATE=1 to allow)",
        ),
        ("unsafe_url", "refused scheme 'ftp': only http and https URLs"),
    ]
    noisy = [
        r.getMessage()
        for r in caplog.records
        if r.levelno >= logging.WARNING
        # get_crawler() runs without a reactor, with an "experimental" aiohttp handler
        and not r.name.startswith("scrapy.core.downloader.handlers")
    ]
    assert noisy == []
