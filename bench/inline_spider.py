"""Baseline for bench/crawl_bench.py: a plain Scrapy spider that extracts inline.

It fetches every URL of a file (one per line) and runs trafilatura in the parse callback,
on the reactor thread: the design citecache's worker-process extraction is measured against.

    scrapy runspider bench/inline_spider.py -a urls=URLS.txt -a out=RESULT.json

Run it outside the repository (no scrapy.cfg above the working directory), so that
citecache's own settings, pipelines and middlewares are not loaded.
"""

from __future__ import annotations

import json
import time
from pathlib import Path

import scrapy
import trafilatura
from trafilatura.settings import Extractor

# Plain trafilatura, text and metadata, as the ceiling of bench/crawl_bench.py runs it.
OPTIONS = Extractor(output_format="python", with_metadata=True)


class InlineSpider(scrapy.Spider):
    """Fetch each URL of ``urls`` and extract it in the callback."""

    name = "inline"

    def __init__(self, urls: str, out: str = "", **kwargs) -> None:
        super().__init__(**kwargs)
        self.urls_path = Path(urls)
        self.out = out
        self.pages = 0
        self.with_text = 0
        self.failed = 0
        self.first = self.last = 0.0

    async def start(self):
        self.first = time.monotonic()
        for url in self.urls_path.read_text().split():
            yield scrapy.Request(url, callback=self.parse, errback=self.on_error)

    def parse(self, response):
        self.pages += 1
        try:
            OPTIONS.url = OPTIONS.source = response.url
            document = trafilatura.bare_extraction(response.text, options=OPTIONS)
        except Exception:
            document = None
        if document is not None and (document.text or document.raw_text):
            self.with_text += 1
        self.last = time.monotonic()

    def on_error(self, failure):
        self.failed += 1
        self.last = time.monotonic()

    def closed(self, reason):
        result = {
            "pages": self.pages,
            "with_text": self.with_text,
            "failed": self.failed,
            "crawl_seconds": round(self.last - self.first, 3),
            "reason": reason,
        }
        if self.out:
            Path(self.out).write_text(json.dumps(result))
