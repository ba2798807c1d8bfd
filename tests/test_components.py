"""Each Scrapy component of the crawler on its own: built with ``get_crawler`` and fed
hand-built requests and responses, no network. The two ``slow`` tests at the end crawl a
local server to show the Scrapy bugs that crawler/downloader.py and crawler/robots.py
work around (docs/scrapy-bugs.md)."""

from __future__ import annotations

import asyncio

from scrapy.crawler import Crawler
from scrapy.exceptions import NotConfigured
from scrapy.extensions.remote_control import RemoteControl
from scrapy.extensions.telnet import TelnetConsole
from scrapy.settings import Settings
from scrapy.spiders import Spider

from crawler.run import crawl_settings

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
