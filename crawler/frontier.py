"""Where the spider's work comes from and where its results go.

Both sit behind two small interfaces so that a shared frontier (scrapy-redis) can
replace the SQLite ones for multi-machine crawls without touching the spider.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Protocol

from scrapy.settings import BaseSettings

from storage import FetchResult, FetchTask, Store
from storage.health import HealthPolicy


class TaskSource(Protocol):
    def tasks(self) -> Iterable[FetchTask]:
        """The resources to fetch in this run, in the order to fetch them."""


class ResultSink(Protocol):
    def write(self, results: list[FetchResult]) -> list[str]:
        """Store a batch of results atomically; return each resource's new status."""

    def close(self) -> None: ...


class StoreTaskSource:
    """Takes tasks from the SQLite store: editor requests, never fetched, most overdue."""

    def __init__(
        self,
        db_path: str,
        *,
        mode: str = "due",
        refs: list[str] = (),
        request_ids: list[int] = (),
        limit: int = 0,
        force: bool = False,
    ):
        self.db_path, self.mode, self.refs = db_path, mode, list(refs)
        self.request_ids = [int(i) for i in request_ids]
        self.limit, self.force = limit or None, force

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> StoreTaskSource:
        return cls(
            settings.get("CITECACHE_DB"),
            mode=settings.get("CITECACHE_CRAWL_MODE", "due"),
            refs=settings.getlist("CITECACHE_CRAWL_REFS"),
            request_ids=settings.getlist("CITECACHE_REQUEST_IDS"),
            limit=settings.getint("CITECACHE_CRAWL_LIMIT"),
            force=settings.getbool("CITECACHE_FORCE"),
        )

    def tasks(self) -> list[FetchTask]:
        with Store(self.db_path) as store:
            if self.request_ids:
                tasks = store.request_tasks(self.request_ids)
            else:
                store.requeue_stale_requests()
                tasks = store.tasks(
                    mode=self.mode, refs=self.refs, limit=self.limit, force=self.force
                )
            store.start_requests(t.request_id for t in tasks if t.request_id is not None)
        return tasks


class StoreResultSink:
    """Writes result batches to the SQLite store, one transaction per batch."""

    def __init__(self, db_path: str, *, preview_max_chars: int, policy: HealthPolicy):
        self.store = Store(db_path, preview_max_chars=preview_max_chars, policy=policy)

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> StoreResultSink:
        return cls(
            settings.get("CITECACHE_DB"),
            preview_max_chars=settings.getint("CITECACHE_PREVIEW_MAX_CHARS"),
            policy=health_policy(settings),
        )

    def write(self, results: list[FetchResult]) -> list[str]:
        return self.store.record_results(results)

    def close(self) -> None:
        self.store.close()


def health_policy(settings: BaseSettings) -> HealthPolicy:
    """The store's link-health and scheduling policy from CITECACHE_* settings."""
    overrides = settings.getdict("CITECACHE_TTL_OVERRIDES")
    return HealthPolicy(
        dead_after=settings.getint("CITECACHE_DEAD_AFTER"),
        dead_spacing=timedelta(hours=settings.getfloat("CITECACHE_DEAD_SPACING_HOURS")),
        ttl=timedelta(days=settings.getfloat("CITECACHE_TTL_DAYS")),
        ttl_overrides={key: timedelta(days=float(days)) for key, days in overrides.items()},
    )
