"""Scheduling: which resources a run fetches, in which order, and claiming them."""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .base import StoreBase
from .clock import iso, utc_now
from .errors import NotFoundError
from .results import FetchTask

if TYPE_CHECKING:
    from .registry import Registration

CRAWL_MODES = ("due", "all", "requests")


class Schedule(StoreBase):
    if TYPE_CHECKING:  # from storage.registry and storage.requests

        def resolve(self, ref: str) -> dict | None: ...
        def register(self, url: str, **kwargs) -> Registration: ...
        def claim_requests(self, request_ids: Iterable[int], run_id: str) -> list[int]: ...

    def tasks(
        self,
        *,
        mode: str = "due",
        refs: Iterable[str] = (),
        limit: int | None = None,
        force: bool = False,
        exclude: Iterable[str] = (),
    ) -> list[FetchTask]:
        """Resources to fetch. ``due``: queued editor requests, never-fetched, then most
        overdue. ``requests``: queued editor requests only. ``all``: every resource.
        ``refs``: the named ones (registered if they are new URLs). ``exclude``: resource
        ids to leave out of the due ones (a long-running worker's in-flight fetches).
        Reads only; a run takes its tasks with :meth:`claim_tasks`."""
        if refs:
            rows = []
            for ref in refs:
                row = self.resolve(ref)
                if row is None and "://" in ref:
                    row = self.register(ref).resource
                if row is None:
                    raise NotFoundError(f"no resource for {ref!r}")
                rows.append(row)
            return [task_for(r, force=force) for r in rows][:limit]
        if mode not in CRAWL_MODES:
            raise ValueError(f"unknown crawl mode {mode!r}")
        limit_sql = f" LIMIT {int(limit)}" if limit else ""
        if mode == "all":
            rows = self._rows(
                "SELECT id, url, etag, last_modified, fetch_status, current_snapshot_id, "
                "needs_browser "
                "FROM resources "
                f"ORDER BY {self.sql.insertion_order}" + limit_sql
            )
            return [task_for(r, force=force) for r in rows]
        tasks: list[FetchTask] = []
        seen: set[str] = set()
        for req in self._rows(
            "SELECT q.id AS request_id, q.force, r.id, r.url, r.etag, r.last_modified, "
            "r.fetch_status, r.current_snapshot_id, r.needs_browser "
            "FROM refetch_requests q "
            "JOIN resources r ON r.id = q.resource_id WHERE q.status = 'queued' "
            "ORDER BY q.requested_at, q.id"
        ):
            if req["id"] not in seen:
                seen.add(req["id"])
                tasks.append(
                    task_for(req, force=force or bool(req["force"]), request_id=req["request_id"])
                )
        if mode == "requests":
            return tasks[:limit] if limit else tasks
        skip = sorted(set(exclude))
        not_in = f" AND id NOT IN ({', '.join('?' for _ in skip)})" if skip else ""
        rows = self._rows(
            "SELECT id, url, etag, last_modified, fetch_status, current_snapshot_id, "
            "needs_browser "
            "FROM resources "
            f"WHERE (next_fetch_at IS NULL OR next_fetch_at <= ?){not_in} "
            # never fetched first, then the most overdue
            "ORDER BY last_attempt_at IS NOT NULL, next_fetch_at, "
            f"{self.sql.insertion_order}" + limit_sql,
            [iso(utc_now()), *skip],
        )
        tasks += [task_for(r, force=force) for r in rows if r["id"] not in seen]
        return tasks[:limit] if limit else tasks

    def claim_tasks(
        self,
        run_id: str,
        *,
        mode: str = "due",
        refs: Iterable[str] = (),
        limit: int | None = None,
        force: bool = False,
        exclude: Iterable[str] = (),
    ) -> list[FetchTask]:
        """:meth:`tasks`, with the editor requests among them claimed by ``run_id``.

        One write transaction: a request another run claimed first is left out.
        """
        with self._writing():
            tasks = self.tasks(mode=mode, refs=refs, limit=limit, force=force, exclude=exclude)
            wanted = [t.request_id for t in tasks if t.request_id is not None]
            claimed = set(self.claim_requests(wanted, run_id))
        return [t for t in tasks if t.request_id is None or t.request_id in claimed]

    def request_tasks(self, request_ids: Iterable[int]) -> list[FetchTask]:
        """Tasks for these editor requests: fetched whatever their freshness."""
        tasks = []
        for request_id in request_ids:
            row = self._row(
                "SELECT q.id AS request_id, q.force, r.id, r.url, r.etag, r.last_modified, "
                "r.fetch_status, r.current_snapshot_id, r.needs_browser "
                "FROM refetch_requests q JOIN resources r ON r.id = q.resource_id WHERE q.id = ?",
                [request_id],
            )
            if row is None:
                raise NotFoundError(f"no re-fetch request {request_id}")
            tasks.append(task_for(row, force=bool(row["force"]), request_id=row["request_id"]))
        return tasks


def task_for(
    row: dict,
    *,
    force: bool = False,
    request_id: int | None = None,
    lease_token: int | None = None,
) -> FetchTask:
    """The task of a resource row; a forced one sends no validators (no 304)."""
    return FetchTask(
        resource_id=row["id"],
        url=row["url"],
        etag=None if force else row.get("etag"),
        last_modified=None if force else row.get("last_modified"),
        request_id=request_id,
        force=force,
        lease_token=lease_token,
        status=row.get("fetch_status"),
        has_copy=row.get("current_snapshot_id") is not None,
        needs_browser=bool(row.get("needs_browser")),
    )
