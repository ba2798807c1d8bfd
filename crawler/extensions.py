"""Scrapy extensions of citecache."""

from __future__ import annotations

import sys
import time

from scrapy import signals
from scrapy.exceptions import NotConfigured


class CrawlProgress:
    """A one-line progress counter on stderr, when stderr is a terminal (quiet under cron)."""

    def __init__(self, stats, stream=sys.stderr, every: float = 0.5):
        self.stats, self.stream, self.every = stats, stream, every
        self.done, self._shown = 0, 0.0

    @classmethod
    def from_crawler(cls, crawler):
        if not crawler.settings.getbool("CITECACHE_PROGRESS", sys.stderr.isatty()):
            raise NotConfigured
        ext = cls(crawler.stats)
        crawler.signals.connect(ext.item_scraped, signal=signals.item_scraped)
        crawler.signals.connect(ext.spider_closed, signal=signals.spider_closed)
        return ext

    def item_scraped(self, item):
        self.done += 1
        now = time.monotonic()
        if now - self._shown >= self.every:
            self._shown = now
            total = self.stats.get_value("citecache/tasks") or "?"
            self.stream.write(f"\rcrawl: {self.done}/{total} fetched")
            self.stream.flush()

    def spider_closed(self, spider):
        self.stream.write(f"\rcrawl: {self.done} fetched{' ' * 20}\n")
        self.stream.flush()
