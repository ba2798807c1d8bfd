"""Run a crawl in this process and report what it did; the CLI's crawl and refetch use it."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from scrapy.crawler import CrawlerProcess
from scrapy.settings import Settings

QUIET_LOGGERS = ("scrapy.downloadermiddlewares.robotstxt", "scrapy.downloadermiddlewares.retry")


@dataclass
class CrawlSummary:
    tasks: int
    stored: int
    by_status: dict[str, int]
    seconds: float

    def to_dict(self) -> dict:
        return {
            "tasks": self.tasks,
            "stored": self.stored,
            "byStatus": self.by_status,
            "seconds": round(self.seconds, 3),
            "pagesPerSecond": round(self.stored / self.seconds, 2) if self.seconds else None,
        }


def crawl_settings(overrides: dict) -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.setdict(overrides, priority="cmdline")
    return settings


def run_crawl(overrides: dict) -> CrawlSummary:
    """Crawl with the project settings plus ``overrides``; blocks until done."""
    settings = crawl_settings(overrides)
    process = CrawlerProcess(settings)
    if settings.get("LOG_LEVEL") not in ("INFO", "DEBUG"):
        # Every failed fetch is recorded and summed up; a traceback per dead link on
        # stderr would only make cron mail noisy.
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)
    crawler = process.create_crawler("resources")
    started = time.monotonic()
    process.crawl(crawler)
    process.start()
    elapsed = time.monotonic() - started
    stats = crawler.stats.get_stats()
    logging.getLogger(__name__).debug("stats: %r", stats)
    prefix = "citecache/status/"
    return CrawlSummary(
        tasks=stats.get("citecache/tasks", 0),
        stored=stats.get("citecache/stored", 0),
        by_status={k[len(prefix) :]: v for k, v in sorted(stats.items()) if k.startswith(prefix)},
        seconds=elapsed,
    )
