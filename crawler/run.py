"""Run a crawl in this process and report what it did; the CLI's crawl and refetch use it."""

from __future__ import annotations

import difflib
import logging
import time
from dataclasses import dataclass

from scrapy.crawler import CrawlerProcess
from scrapy.settings import BaseSettings, Settings
from twisted.python.failure import Failure

from crawler import browser

QUIET_LOGGERS = ("scrapy.downloadermiddlewares.robotstxt", "scrapy.downloadermiddlewares.retry")


@dataclass
class CrawlSummary:
    tasks: int
    stored: int
    by_status: dict[str, int]
    seconds: float
    archived: int = 0
    """Copies taken from the web archive for sources the live fetch failed."""

    def to_dict(self) -> dict:
        return {
            "tasks": self.tasks,
            "stored": self.stored,
            "byStatus": self.by_status,
            "archivedCopies": self.archived,
            "seconds": round(self.seconds, 3),
            "pagesPerSecond": round(self.stored / self.seconds, 2) if self.seconds else None,
        }


class CrawlError(RuntimeError):
    """The crawl could not run: a component failed to start, or its tasks could not be
    read (an unknown id, the database unreachable)."""


def crawl_settings(overrides: dict) -> Settings:
    settings = Settings()
    settings.setmodule("crawler.settings", priority="project")
    settings.setdict(overrides, priority="cmdline")
    return settings


def check_overrides(overrides: dict[str, str]) -> None:
    """Raise ValueError, naming the key, for an override given as text (``-s KEY=VALUE``)
    that cannot work: an unknown ``CITECACHE_*`` key, or a value of the wrong type for a
    setting whose default is a boolean, a number or a dict. Scrapy would find out only
    once the crawl has started, with a traceback."""
    defaults = crawl_settings({})
    known = sorted(key for key in defaults if key.startswith("CITECACHE_"))
    for key, value in overrides.items():
        if key.startswith("CITECACHE_") and key not in known:
            # compared without the prefix, which every key shares
            close = difflib.get_close_matches(key[10:], [k[10:] for k in known], n=1)
            hint = f"did you mean CITECACHE_{close[0]}?" if close else f"known: {', '.join(known)}"
            raise ValueError(f"unknown setting {key}; {hint}")
        default = defaults.get(key)
        if isinstance(default, bool):
            getter, expected = "getbool", "true or false (1 or 0)"
        elif isinstance(default, int | float):
            getter, expected = "getfloat", "a number"
        elif isinstance(default, dict | BaseSettings):
            getter, expected = "getdict", "a JSON object"
        else:
            continue
        try:
            getattr(crawl_settings({key: value}), getter)(key)
        except (ValueError, TypeError):
            raise ValueError(f"{key}={value!r}: expected {expected}") from None


def run_crawl(overrides: dict) -> CrawlSummary:
    """Crawl with the project settings plus ``overrides``; blocks until done. Raises
    CrawlError when the crawl could not run."""
    settings = crawl_settings(overrides)
    browser.configure(settings)
    process = CrawlerProcess(settings)
    if settings.get("LOG_LEVEL") not in ("INFO", "DEBUG"):
        # Every failed fetch is recorded and summed up; a traceback per dead link on
        # stderr would only make cron mail noisy.
        for name in QUIET_LOGGERS:
            logging.getLogger(name).setLevel(logging.CRITICAL)
    crawler = process.create_crawler("resources")
    started = time.monotonic()
    failures: list[Failure] = []
    process.crawl(crawler).addErrback(failures.append)  # e.g. a component's bad setting
    process.start()
    elapsed = time.monotonic() - started
    if failures:
        raise CrawlError(f"the crawl could not start: {failures[0].getErrorMessage()}")
    stats = crawler.stats.get_stats()
    logging.getLogger(__name__).debug("stats: %r", stats)
    if stats.get("citecache/start_error"):
        raise CrawlError(stats["citecache/start_error"])
    prefix = "citecache/status/"
    return CrawlSummary(
        tasks=stats.get("citecache/tasks", 0),
        stored=stats.get("citecache/stored", 0),
        by_status={k[len(prefix) :]: v for k, v in sorted(stats.items()) if k.startswith(prefix)},
        seconds=elapsed,
        archived=stats.get("wayback/stored/archived", 0),
    )
