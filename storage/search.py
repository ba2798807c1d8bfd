"""Read helpers for the service: full-text search, counts and link-health figures.

All functions take a :class:`~storage.store.Store` (read-only is enough) and return
plain dicts and lists.
"""

from __future__ import annotations

import re
from collections import Counter, defaultdict
from datetime import timedelta
from urllib.parse import urlsplit

from .store import Store, iso, resource_filter, utc_now

HEALTHY_STATUSES = frozenset({"ok", "unchanged", "redirected"})
"""Fetch statuses that count as a working link on the health dashboard."""

_WORD = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str) -> str | None:
    """A safe FTS5 query from free text: every word quoted, all required, the last a prefix.

    FTS5 syntax characters typed by a user (quotes, ``-``, ``:``, ``NEAR``) would raise
    a syntax error; quoting each word makes any input a valid query.
    """
    words = _WORD.findall(text)
    if not words:
        return None
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


def search(store: Store, text: str, *, limit: int = 20, offset: int = 0) -> list[dict]:
    """Resources matching ``text`` in title, summary or current text, best first."""
    query = fts_query(text)
    if query is None:
        return []
    return store._rows(
        "SELECT r.id, r.stable_id, r.url, coalesce(r.title, s.title) AS title, r.type, "
        "r.fetch_status, "
        "snippet(resource_search, -1, '\x02', '\x03', ' … ', 24) AS snippet, "
        "bm25(resource_search, 10.0, 4.0, 1.0) AS score "
        "FROM resource_search "
        "JOIN resources r ON r.rowid = resource_search.rowid "
        "LEFT JOIN snapshots s ON s.id = r.current_snapshot_id "
        "WHERE resource_search MATCH ? ORDER BY score LIMIT ? OFFSET ?",
        [query, int(limit), int(offset)],
    )


def rebuild_search_index(store: Store) -> None:
    """Re-index every resource (after a VACUUM, which may renumber rowids)."""
    store.db.execute("INSERT INTO resource_search(resource_search) VALUES ('rebuild')")
    store.db.conn.commit()


def count_resources(
    store: Store,
    *,
    status: str | None = None,
    type: str | None = None,
    publication: str | None = None,
) -> int:
    """How many resources ``Store.iter_resources`` would yield with these filters."""
    where, params = resource_filter(status=status, type=type, publication=publication)
    return store.db.execute("SELECT count(*) FROM resources" + where, params).fetchone()[0]


def resource_stats(store: Store) -> dict:
    """Counts of resources by fetch status, type and explicit venue, plus citations."""

    def grouped(column: str) -> dict:
        rows = store.db.execute(
            f"SELECT coalesce({column}, ''), count(*) FROM resources GROUP BY 1 ORDER BY 2 DESC, 1"
        ).fetchall()
        return {k or "(none)": v for k, v in rows}

    one = store._row(
        "SELECT (SELECT count(*) FROM resources) AS resources, "
        "(SELECT count(*) FROM resources WHERE current_snapshot_id IS NOT NULL) AS with_content, "
        "(SELECT count(*) FROM pages) AS pages, "
        "(SELECT count(*) FROM citations) AS citations, "
        "(SELECT count(*) FROM refetch_requests WHERE status IN ('queued', 'running')) "
        "AS pending_requests"
    )
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


def content_stats(store: Store) -> dict:
    """Figures on the cached text: snapshots, characters, fetch methods, last fetch."""
    one = store._row(
        "SELECT count(*) AS snapshots, count(DISTINCT resource_id) AS resources, "
        "coalesce(sum(content_length), 0) AS chars, coalesce(avg(content_length), 0) AS avg_chars, "
        "max(fetched_at) AS last_new_content_at FROM snapshots"
    )
    methods = dict(
        store.db.execute(
            "SELECT coalesce(fetch_method, ''), count(*) FROM snapshots GROUP BY 1 ORDER BY 2 DESC"
        ).fetchall()
    )
    types = dict(
        store.db.execute(
            "SELECT coalesce(content_type, ''), count(*) FROM snapshots GROUP BY 1 "
            "ORDER BY 2 DESC LIMIT 20"
        ).fetchall()
    )
    fetches = store._row(
        "SELECT count(*) AS fetches, max(started_at) AS last_fetch_at FROM fetch_log"
    )
    return {
        "snapshots": one["snapshots"],
        "resourcesWithContent": one["resources"],
        "totalChars": one["chars"],
        "averageChars": round(one["avg_chars"]),
        "lastNewContentAt": one["last_new_content_at"],
        "fetches": fetches["fetches"],
        "lastFetchAt": fetches["last_fetch_at"],
        "byFetchMethod": methods,
        "byContentType": types,
    }


def outcomes_by_day(store: Store, days: int = 30) -> list[dict]:
    """Fetch-log outcomes per UTC day over the last ``days`` days, oldest first."""
    since = iso(utc_now() - timedelta(days=days))
    rows = store.db.execute(
        "SELECT substr(started_at, 1, 10) AS day, outcome, count(*) FROM fetch_log "
        "WHERE started_at >= ? GROUP BY 1, 2 ORDER BY 1",
        [since],
    ).fetchall()
    by_day: dict[str, dict[str, int]] = defaultdict(dict)
    for day, outcome, n in rows:
        by_day[day][outcome] = n
    return [{"day": day, "outcomes": counts} for day, counts in sorted(by_day.items())]


def worst_domains(store: Store, limit: int = 15, min_resources: int = 1) -> list[dict]:
    """Hosts with the most resources whose last fetch failed, with their failure share."""
    total: Counter[str] = Counter()
    failing: Counter[str] = Counter()
    reasons: dict[str, Counter[str]] = defaultdict(Counter)
    for url, status in store.db.execute(
        "SELECT url, fetch_status FROM resources WHERE fetch_status != 'pending'"
    ):
        host = (urlsplit(url).hostname or "").removeprefix("www.")
        total[host] += 1
        if status not in HEALTHY_STATUSES:
            failing[host] += 1
            reasons[host][status] += 1
    rows = [
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


def _register_venue_function(store: Store) -> None:
    def venue_of(url: str, publication_id: str | None) -> str | None:
        venue = store.venue_for({"url": url, "publication_id": publication_id})
        return venue["id"] if venue else None

    store.db.conn.create_function("citecache_venue", 2, venue_of, deterministic=True)


def _filters(
    store: Store, status: str | None, type: str | None, venue: str | None
) -> tuple[list[str], list]:
    where, params = [], []
    if status:
        where.append("r.fetch_status = ?")
        params.append(status)
    if type:
        where.append("r.type = ?")
        params.append(type)
    if venue:
        # The venue as the card shows it: the explicit publication, else the domain match.
        _register_venue_function(store)
        where.append("citecache_venue(r.url, r.publication_id) = ?")
        params.append(venue)
    return where, params


def list_resources(
    store: Store,
    *,
    status: str | None = None,
    type: str | None = None,
    venue: str | None = None,
    query: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> tuple[list[dict], int]:
    """``(rows, total)``: resources matching the filters (and the text query, best first)."""
    where, params = _filters(store, status, type, venue)
    fts = fts_query(query) if query else None
    if query and fts is None:
        return [], 0
    if fts:
        where.insert(0, "resource_search MATCH ?")
        params.insert(0, fts)
        source = "resource_search JOIN resources r ON r.rowid = resource_search.rowid"
        columns = (
            "r.*, snippet(resource_search, -1, '\x02', '\x03', ' … ', 24) AS snippet, "
            "bm25(resource_search, 10.0, 4.0, 1.0) AS score"
        )
        order = "score"
    else:
        source, columns, order = "resources r", "r.*", "r.rowid"
    clause = (" WHERE " + " AND ".join(where)) if where else ""
    total = store.db.execute(f"SELECT count(*) FROM {source}{clause}", params).fetchone()[0]
    rows = store._rows(
        f"SELECT {columns} FROM {source}{clause} ORDER BY {order} LIMIT ? OFFSET ?",
        [*params, int(limit), int(offset)],
    )
    return rows, total


def distinct_values(store: Store, column: str) -> list[str]:
    """Values of ``fetch_status`` or ``type`` in use, for filter menus."""
    if column not in ("fetch_status", "type"):
        raise ValueError(column)
    return [
        v
        for (v,) in store.db.execute(
            f"SELECT DISTINCT {column} FROM resources WHERE {column} IS NOT NULL ORDER BY 1"
        )
    ]


def requests_for(store: Store, resource_id: str, limit: int = 5) -> list[dict]:
    """The latest editor re-fetch requests of one resource, newest first."""
    return store._rows(
        "SELECT * FROM refetch_requests WHERE resource_id = ? ORDER BY id DESC LIMIT ?",
        [resource_id, int(limit)],
    )
