"""Where the spider's work comes from and where its results go.

Both sit behind two small interfaces so that a shared frontier can replace the SQLite
ones for multi-machine crawls without touching the spider.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from typing import Protocol

from scrapy.settings import BaseSettings

from storage import FetchResult, FetchTask, Store
from storage.health import HealthPolicy
from storage.lock import FetchRun


class TaskSource(Protocol):
    def tasks(self) -> Iterable[FetchTask]:
        """The resources to fetch in this run, in the order to fetch them."""


class ResultSink(Protocol):
    def write(self, results: list[FetchResult]) -> list[str]:
        """Store a batch of results atomically; return each resource's new status."""

    def close(self) -> None: ...


class StoreTaskSource:
    """Takes tasks from the SQLite store: editor requests, never fetched, most overdue.

    The editor requests it serves are claimed for its run (storage/lock.py), so two
    processes never fetch the same request, and only orphaned ones are requeued.
    """

    def __init__(
        self,
        db_path: str,
        *,
        run_id: str = "",
        mode: str = "due",
        refs: Iterable[str] = (),
        request_ids: Iterable[int] = (),
        limit: int = 0,
        force: bool = False,
    ):
        self.db_path, self.mode, self.refs = db_path, mode, list(refs)
        self.request_ids = [int(i) for i in request_ids]
        self.limit, self.force = limit or None, force
        # Without a run from the command that started us (`scrapy crawl`), be one.
        self._own_run = None if run_id else FetchRun(db_path)
        self.run_id = run_id or self._own_run.run_id  # type: ignore[union-attr]

    @classmethod
    def from_settings(cls, settings: BaseSettings) -> StoreTaskSource:
        return cls(
            settings.get("CITECACHE_DB"),
            run_id=settings.get("CITECACHE_RUN_ID") or "",
            mode=settings.get("CITECACHE_CRAWL_MODE", "due"),
            refs=settings.getlist("CITECACHE_CRAWL_REFS"),
            request_ids=settings.getlist("CITECACHE_REQUEST_IDS"),
            limit=settings.getint("CITECACHE_CRAWL_LIMIT"),
            force=settings.getbool("CITECACHE_FORCE"),
        )

    def tasks(self) -> list[FetchTask]:
        if self._own_run is not None:
            self._own_run.acquire()  # held until the process ends
        with Store(self.db_path) as store:
            if self.request_ids:  # already claimed by this run when they were recorded
                return store.request_tasks(self.request_ids)
            store.requeue_orphaned_requests()
            return store.claim_tasks(
                self.run_id, mode=self.mode, refs=self.refs, limit=self.limit, force=self.force
            )


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
