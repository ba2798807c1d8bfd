"""Editors' re-fetch requests: queued, claimed by one run, then done or failed.

See ``storage/lock.py`` for the discipline: a run claims requests in one write
transaction, stamped with its run id; a request is requeued only when that run is gone.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import TYPE_CHECKING

from .base import StoreBase
from .clock import iso, utc_now
from .errors import NotFoundError
from .health import GOOD_STATES

if TYPE_CHECKING:
    from .registry import Registration


_CHUNK = 500
"""Request ids per statement (SQLite allows 32,766 parameters, PostgreSQL 65,535)."""


class EditorRequests(StoreBase):
    if TYPE_CHECKING:  # from storage.registry

        def resolve(self, ref: str) -> dict | None: ...
        def register(self, url: str, **kwargs) -> Registration: ...
        def _refresh_host(self, host: str | None) -> None: ...

    def request_refetch(
        self,
        ref: str,
        *,
        by: str | None = None,
        reason: str | None = None,
        force: bool = False,
        claim_for: str | None = None,
    ) -> int:
        """Record an editor's request; ``force`` skips the conditional request (no 304).

        An unknown URL is registered first. With ``claim_for`` (a run id) the request is
        claimed by that run at once, so that no other run takes it; else it is queued.
        """
        with self._writing():
            row = self.resolve(ref)
            if row is None and "://" in ref:
                row = self.register(ref).resource
            if row is None:
                raise NotFoundError(f"no resource for {ref!r}")
            now = iso(utc_now())
            request_id = self.sql.insert(
                "refetch_requests",
                {
                    "resource_id": row["id"],
                    "requested_at": now,
                    "requested_by": by,
                    "reason": reason,
                    "force": int(force),
                    "status": "running" if claim_for else "queued",
                    "started_at": now if claim_for else None,
                    "claimed_by": claim_for,
                },
            )
            self._refresh_host(row["host"])  # a queued request makes its host due now
            if not claim_for:
                self.sql.notify_requests()  # running workers need not wait for their poll
            return request_id

    def claim_requests(self, request_ids: Iterable[int], run_id: str) -> list[int]:
        """Mark these queued requests as running for ``run_id``; returns the ones it got."""
        request_ids = list(request_ids)
        claimed: list[int] = []
        with self._writing():
            for start in range(0, len(request_ids), _CHUNK):  # within any engine's bound
                chunk = request_ids[start : start + _CHUNK]
                marks = ", ".join("?" for _ in chunk)
                rows = self._rows(
                    "UPDATE refetch_requests SET status = 'running', started_at = ?, "
                    f"claimed_by = ? WHERE id IN ({marks}) AND status = 'queued' RETURNING id",
                    [iso(utc_now()), run_id, *chunk],
                )
                claimed += [row["id"] for row in rows]
        return claimed

    def finish_request(self, request_id: int, status: str, error: str | None) -> None:
        """Close a request with the fetch status it ended in (and why)."""
        done = status in GOOD_STATES
        outcome = status if not error else f"{status}: {error}"
        self.sql.execute(
            "UPDATE refetch_requests SET status = ?, finished_at = ?, outcome = ? WHERE id = ?",
            ["done" if done else "failed", iso(utc_now()), outcome, request_id],
        )

    def requeue_orphaned_requests(self) -> int:
        """Put back the requests left ``running`` by runs that are gone (killed, crashed)."""
        with self._writing():
            running = self._rows(
                "SELECT id, claimed_by FROM refetch_requests WHERE status = 'running'"
            )
            orphaned = [
                r["id"]
                for r in running
                if not r["claimed_by"] or not self.sql.run_alive(r["claimed_by"])
            ]
            for request_id in orphaned:
                self.sql.execute(
                    "UPDATE refetch_requests SET status = 'queued', started_at = NULL, "
                    "claimed_by = NULL WHERE id = ?",
                    [request_id],
                )
        return len(orphaned)

    def fail_requests_of_run(self, run_id: str, reason: str) -> int:
        """Close as failed every request ``run_id`` claimed and did not finish."""
        with self._writing():
            failed = self.sql.execute(
                "UPDATE refetch_requests SET status = 'failed', finished_at = ?, outcome = ? "
                "WHERE status = 'running' AND claimed_by = ?",
                [iso(utc_now()), f"error: {reason}", run_id],
            )
        return failed

    def queued_request_count(self) -> int:
        return self._scalar("SELECT count(*) FROM refetch_requests WHERE status = 'queued'")

    def requests(self, *, limit: int = 100) -> list[dict]:
        """The latest requests, newest first, with their resource's URL."""
        return self._rows(
            "SELECT q.*, r.url FROM refetch_requests q JOIN resources r ON r.id = q.resource_id "
            "ORDER BY q.id DESC LIMIT ?",
            [limit],
        )

    def request(self, request_id: int) -> dict | None:
        return self._row("SELECT * FROM refetch_requests WHERE id = ?", [request_id])

    def get_request(self, request_id: int) -> dict:
        """Like :meth:`request`, but raises NotFoundError when there is no such request."""
        row = self.request(request_id)
        if row is None:
            raise NotFoundError(f"no re-fetch request {request_id}")
        return row

    def requests_for(self, resource_id: str, limit: int = 5) -> list[dict]:
        """The latest requests of one resource, newest first."""
        return self._rows(
            "SELECT * FROM refetch_requests WHERE resource_id = ? ORDER BY id DESC LIMIT ?",
            [resource_id, int(limit)],
        )
