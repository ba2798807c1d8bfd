"""The frontier by host: runs lease hosts with due work, one run per host at a time.

Across a fleet of workers on one database, politeness per host holds only if one worker
fetches a host at a time. A worker claims a few hosts whose work is due and that may be
fetched now, and the due resources of each (editors' requests first); it renews its
leases while it works. Recording the last result of a lease releases the host in the
same transaction and sets when it may next be fetched (the crawl delay or the server's
Retry-After). A worker that dies loses nothing: its leases run out and its resources,
never recorded, are still due.

Every lease gets a token one higher than the host's last (a fencing token). The
resources claimed under a lease carry it; a result that carries an older token comes
from a worker that lost its lease (paused past its expiry, say) and is refused, so it
never overwrites what the lease's new holder recorded.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import TYPE_CHECKING

from .base import StoreBase
from .clock import iso, iso_ms, utc_now
from .results import FetchTask
from .schedule import task_for

# ``hosts.next_due_at`` sorts hosts as a crawl takes work: editors' requests first, then
# sources never fetched, then the most overdue (ISO timestamps start with 1 or 2). Hosts
# due alike take turns: fewest leases (lowest token) first (index hosts_due, m009).
DUE_REQUESTED = ""
"""A host with an editor's request waiting."""
DUE_NEW = "0"
"""A host with a source never fetched."""


class StaleLease(LookupError):
    """A result came under a host lease that has been taken over since."""


@dataclass
class HostLease:
    host: str
    token: int
    tasks: list[FetchTask]


class HostLeases(StoreBase):
    if TYPE_CHECKING:  # from storage.requests

        def claim_requests(self, request_ids: Iterable[int], run_id: str) -> list[int]: ...

    def claim_hosts(
        self, run_id: str, *, hosts: int = 8, per_host: int = 10, lease_seconds: float = 120.0
    ) -> list[HostLease]:
        """Lease up to ``hosts`` hosts that have due work and may be fetched now, with up
        to ``per_host`` of their due resources each (editors' requests first)."""
        now = utc_now()
        until = iso(now + timedelta(seconds=lease_seconds))
        claimable = (
            "SELECT host, lease_token FROM hosts WHERE next_due_at <= ? "
            "AND (lease_until IS NULL OR lease_until < ?) "
            "AND (next_allowed_at IS NULL OR next_allowed_at <= ?) "
            "ORDER BY next_due_at, lease_token, host LIMIT ?"
        )
        params = [iso(now), iso(now), iso_ms(now), int(hosts)]
        # Idle workers ask often: a plain read first, so that nothing to claim costs no
        # writer's turn (a write transaction waits for every other writer).
        if not self._row(claimable, [*params[:3], 1]):
            return []
        # Every step below is one statement for all the hosts of the claim: on a server,
        # round trips are what a claim costs (bench/claim_bench.py).
        with self._writing():
            rows = self._rows(claimable + self.sql.skip_locked, params)
            tokens = {row["host"]: row["lease_token"] + 1 for row in rows}
            tasks = self._lease_tasks(tokens, run_id, per_host)
            for host in tokens.keys() - tasks.keys():  # its due time was stale: correct it
                self._refresh_host(host)
            if not tasks:
                return []
            self.sql.execute(
                "UPDATE hosts SET leased_by = ?, lease_until = ?, lease_token = lease_token + 1 "
                f"WHERE host IN ({_marks(tasks)})",
                [run_id, until, *tasks],
            )
            ids = [task.resource_id for host_tasks in tasks.values() for task in host_tasks]
            self.sql.execute(
                "UPDATE resources SET lease_token = "
                "(SELECT h.lease_token FROM hosts h WHERE h.host = resources.host) "
                f"WHERE id IN ({_marks(ids)})",
                ids,
            )
        return [HostLease(host, tokens[host], tasks[host]) for host in tokens if host in tasks]

    def _lease_tasks(
        self, tokens: dict[str, int], run_id: str, limit: int
    ) -> dict[str, list[FetchTask]]:
        """Up to ``limit`` due tasks for each host of ``tokens`` (editors' requests first),
        each carrying its host's new lease token; hosts with nothing due are left out."""
        if not tokens:
            return {}
        hosts = list(tokens)
        requests = self._rows(
            "SELECT * FROM (SELECT q.id AS request_id, q.force, r.id, r.url, r.etag, "
            "r.last_modified, r.fetch_status, r.current_snapshot_id, r.needs_browser, r.host, "
            "row_number() OVER "
            "(PARTITION BY r.host ORDER BY q.requested_at, q.id) AS n "
            "FROM refetch_requests q JOIN resources r ON r.id = q.resource_id "
            f"WHERE q.status = 'queued' AND r.host IN ({_marks(hosts)})) AS w WHERE n <= ? "
            "ORDER BY n",
            [*hosts, int(limit)],
        )
        claimed = set(self.claim_requests([r["request_id"] for r in requests], run_id))
        tasks: dict[str, list[FetchTask]] = {}
        seen: set[str] = set()
        for r in requests:
            if r["request_id"] in claimed and r["id"] not in seen:
                seen.add(r["id"])
                tasks.setdefault(r["host"], []).append(
                    task_for(
                        r,
                        force=bool(r["force"]),
                        request_id=r["request_id"],
                        lease_token=tokens[r["host"]],
                    )
                )
        # One sub-select per host, each stopping at its LIMIT on the (host, next_fetch_at)
        # index, in one statement.
        per_host = (
            "SELECT * FROM (SELECT id, url, etag, last_modified, fetch_status, "
            "current_snapshot_id, needs_browser, host FROM resources "
            "WHERE host = ? AND (next_fetch_at IS NULL OR next_fetch_at <= ?) "
            "ORDER BY next_fetch_at IS NOT NULL, next_fetch_at, id LIMIT ?) AS d{}"
        )
        now = iso(utc_now())
        due = self._rows(
            " UNION ALL ".join(per_host.format(i) for i in range(len(hosts))),
            [value for host in hosts for value in (host, now, int(limit))],
        )
        for r in due:
            host_tasks = tasks.setdefault(r["host"], [])
            if r["id"] not in seen and len(host_tasks) < limit:
                host_tasks.append(task_for(r, lease_token=tokens[r["host"]]))
        return {host: found for host, found in tasks.items() if found}

    def hosts_waiting(self) -> int:
        """Hosts with due work that no run leases (some may be resting a moment)."""
        return self._scalar(
            "SELECT count(*) FROM hosts WHERE next_due_at <= ? AND leased_by IS NULL",
            [iso(utc_now())],
        )

    def renew_leases(self, run_id: str, lease_seconds: float = 120.0) -> int:
        """Extend every lease ``run_id`` holds; returns how many it still holds."""
        until = iso(utc_now() + timedelta(seconds=lease_seconds))
        with self._writing():
            return self.sql.execute(
                "UPDATE hosts SET lease_until = ? WHERE leased_by = ?", [until, run_id]
            )

    def release_leases(self, run_id: str) -> int:
        """Give back every host ``run_id`` leases (a worker that stops); its resources not
        yet recorded stay due."""
        with self._writing():
            hosts = [
                r["host"]
                for r in self._rows("SELECT host FROM hosts WHERE leased_by = ?", [run_id])
            ]
            for host in hosts:
                self._release_host(host, delay=0.0)
        return len(hosts)

    # ---- called by recording, inside its transaction ------------------------------------

    def _check_lease(self, resource: dict, token: int) -> None:
        """Refuse a result whose lease was taken over since it was claimed."""
        current = self._scalar("SELECT lease_token FROM hosts WHERE host = ?", [resource["host"]])
        if resource["lease_token"] != token or current != token:
            raise StaleLease(
                f"the lease {token} on {resource['host']} was taken over "
                f"(now {current}); this result is not written"
            )

    def _finish_leased(self, resource: dict, token: int, delay: float) -> None:
        """The resource's leased fetch is recorded; the lease's last one releases the host."""
        self.sql.execute("UPDATE resources SET lease_token = NULL WHERE id = ?", [resource["id"]])
        left = self._scalar(
            "SELECT count(*) FROM resources WHERE host = ? AND lease_token = ?",
            [resource["host"], token],
        )
        if not left:
            self._release_host(resource["host"], delay=delay)

    def _release_host(self, host: str, *, delay: float) -> None:
        allowed = iso_ms(utc_now() + timedelta(seconds=delay)) if delay > 0 else None
        self.sql.execute(
            "UPDATE resources SET lease_token = NULL WHERE host = ? AND lease_token IS NOT NULL",
            [host],
        )
        self.sql.execute(
            "UPDATE hosts SET leased_by = NULL, lease_until = NULL, next_allowed_at = ? "
            "WHERE host = ?",
            [allowed, host],
        )
        self._refresh_host(host)

    def _refresh_host(self, host: str | None) -> None:
        """Set a host's next due time from its resources and queued requests."""
        if host is None:
            return
        found = self._row(
            "SELECT (SELECT count(*) FROM refetch_requests q JOIN resources r "
            "ON r.id = q.resource_id WHERE r.host = ? AND q.status = 'queued') AS waiting, "
            "(SELECT count(*) FROM resources WHERE host = ? AND next_fetch_at IS NULL) AS never, "
            "(SELECT min(next_fetch_at) FROM resources WHERE host = ?) AS due",
            [host, host, host],
        )
        assert found is not None
        if found["waiting"]:
            due = DUE_REQUESTED
        elif found["never"]:
            due = DUE_NEW
        elif found["due"] is None:  # no resources left on the host
            self.sql.execute("DELETE FROM hosts WHERE host = ? AND leased_by IS NULL", [host])
            return
        else:
            due = found["due"]
        self.sql.upsert("hosts", {"host": host, "next_due_at": due}, key="host")


def _marks(values: Iterable[object]) -> str:
    return ", ".join("?" for _ in values)
