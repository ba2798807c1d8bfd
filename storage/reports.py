"""Figures for the service and the health dashboard: counts, outcomes per day, worst hosts."""

from __future__ import annotations

from collections import Counter, defaultdict
from datetime import timedelta
from typing import Any

from .base import StoreBase
from .clock import iso, utc_now
from .health import GOOD_STATES
from .ids import host_of


class Reports(StoreBase):
    def resource_stats(self) -> dict:
        """Counts of resources by fetch status, type and explicit venue, plus citations."""

        def grouped(column: str) -> dict:
            rows = self._rows(
                f"SELECT coalesce({column}, '') AS k, count(*) AS n FROM resources "
                "GROUP BY 1 ORDER BY 2 DESC, 1"
            )
            return {r["k"] or "(none)": r["n"] for r in rows}

        one = self._row(
            "SELECT (SELECT count(*) FROM resources) AS resources, "
            "(SELECT count(*) FROM resources WHERE current_snapshot_id IS NOT NULL) "
            "AS with_content, "
            "(SELECT count(*) FROM pages) AS pages, "
            "(SELECT count(*) FROM citations) AS citations, "
            "(SELECT count(*) FROM refetch_requests WHERE status IN ('queued', 'running')) "
            "AS pending_requests"
        )
        assert one is not None
        return {
            "resources": one["resources"],
            "withContent": one["with_content"],
            "pages": one["pages"],
            "citations": one["citations"],
            "pendingRequests": one["pending_requests"],
            "byStatus": grouped("fetch_status"),
            "byType": grouped("type"),
            "byPublication": grouped("publication_id"),
        }

    def content_stats(self) -> dict:
        """Figures on the cached text: snapshots, characters, fetch methods, last fetch."""
        one = self._row(
            "SELECT count(*) AS snapshots, count(DISTINCT resource_id) AS resources, "
            "coalesce(sum(content_length), 0) AS chars, "
            "coalesce(avg(content_length), 0) AS avg_chars, "
            "max(fetched_at) AS last_new_content_at FROM snapshots"
        )
        fetches = self._row(
            "SELECT count(*) AS fetches, max(started_at) AS last_fetch_at FROM fetch_log"
        )
        assert one is not None and fetches is not None
        # Ties broken by name, so that every engine lists them in the same order.
        methods = self._rows(
            "SELECT coalesce(fetch_method, '') AS k, count(*) AS n FROM snapshots "
            "GROUP BY 1 ORDER BY 2 DESC, 1"
        )
        types = self._rows(
            "SELECT coalesce(content_type, '') AS k, count(*) AS n FROM snapshots "
            "GROUP BY 1 ORDER BY 2 DESC, 1 LIMIT 20"
        )
        return {
            "snapshots": one["snapshots"],
            "resourcesWithContent": one["resources"],
            "totalChars": one["chars"],
            "averageChars": round(one["avg_chars"]),
            "lastNewContentAt": one["last_new_content_at"],
            "fetches": fetches["fetches"],
            "lastFetchAt": fetches["last_fetch_at"],
            "byFetchMethod": {r["k"]: r["n"] for r in methods},
            "byContentType": {r["k"]: r["n"] for r in types},
        }

    def outcomes_by_day(self, days: int = 30) -> list[dict]:
        """Fetch-log outcomes per UTC day over the last ``days`` days, oldest first."""
        since = iso(utc_now() - timedelta(days=days))
        rows = self._rows(
            "SELECT substr(started_at, 1, 10) AS day, outcome, count(*) AS n FROM fetch_log "
            "WHERE started_at >= ? GROUP BY 1, 2 ORDER BY 1",
            [since],
        )
        by_day: dict[str, dict[str, int]] = defaultdict(dict)
        for r in rows:
            by_day[r["day"]][r["outcome"]] = r["n"]
        return [{"day": day, "outcomes": counts} for day, counts in sorted(by_day.items())]

    def worst_domains(self, limit: int = 15, min_resources: int = 1) -> list[dict]:
        """Hosts with the most resources whose link does not work, with their share.

        A link works in the states of ``storage.health.GOOD_STATES`` (a paywall answers
        with content, so it is not a broken link).
        """
        total: Counter[str] = Counter()
        failing: Counter[str] = Counter()
        reasons: dict[str, Counter[str]] = defaultdict(Counter)
        for row in self.sql.iter_rows(
            "SELECT url, fetch_status FROM resources WHERE fetch_status != 'pending'"
        ):
            host = host_of(row["url"])
            total[host] += 1
            if row["fetch_status"] not in GOOD_STATES:
                failing[host] += 1
                reasons[host][row["fetch_status"]] += 1
        rows: list[dict[str, Any]] = [
            {
                "domain": host,
                "failing": n,
                "total": total[host],
                "share": n / total[host],
                "statuses": dict(reasons[host].most_common()),
            }
            for host, n in failing.items()
            if total[host] >= min_resources
        ]
        rows.sort(key=lambda r: (-r["failing"], -r["share"], r["domain"]))
        return rows[:limit]
