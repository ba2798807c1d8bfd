"""The wiki's content listing at scale: pages of 5,000 entries over 100k sources.

    .venv/bin/python bench/content_list_bench.py [--sources 100000] [--text-chars 5000]

Fills a temp SQLite file with generated sources, each with one snapshot of
``--text-chars`` characters (over a 4 KB page: SQLite keeps the text in overflow
pages), then times ``GET /api/citations/content/list?limit=5000`` in-process at the
first and the last page, and ``/content/stats``. Baseline: the last page read in one
query that joins every row it skips and takes each length from the snapshot row
(``content_length`` is stored after ``full_text``: reading it walks the text's overflow
pages), against ``Store.content_entries`` (ids from a covering index, m010's length).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
from pathlib import Path

import httpx

from api import create_app
from storage import Store

RUNS = 5
BASELINE_SQL = (
    "SELECT r.url, r.last_attempt_at, r.http_status, s.title, s.content_length "
    "FROM resources r JOIN snapshots s ON s.id = r.current_snapshot_id "
    "WHERE r.last_attempt_at IS NOT NULL "
    "ORDER BY r.last_attempt_at DESC, r.id DESC LIMIT 5000 OFFSET ?"
)
"""One query, as a listing would be written without m010: the rows an OFFSET skips are
joined, and each length is read from the snapshot row, after its text."""


def fill(store: Store, sources: int, text_chars: int) -> None:
    """Generated rows made by SQLite itself: source i fetched i seconds after a moment."""
    numbers = "WITH RECURSIVE n(i) AS (SELECT 1 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
    url = "'https://h' || (i % 5000) || '.example.org/post/' || i"
    at = "strftime('%Y-%m-%dT%H:%M:%SZ', 1767225600 + i, 'unixepoch')"
    with store.atomic():
        store.sql.execute(
            f"{numbers}INSERT INTO resources (id, stable_id, url, url_key, host, registered_at, "
            "updated_at, fetch_status, http_status, last_attempt_at, last_fetched_at, "
            "current_snapshot_id, content_hash, content_length) "
            f"SELECT printf('%016x', i), printf('%010d', i), {url}, {url}, "
            f"'h' || (i % 5000) || '.example.org', {at}, {at}, 'ok', 200, {at}, {at}, i, "
            "printf('%064x', i), ? FROM n",
            [sources, text_chars],
        )
        store.sql.execute(
            f"{numbers}INSERT INTO snapshots (id, resource_id, content_hash, fetched_at, "
            "last_seen_at, title, full_text, content_length, preview, http_status) "
            f"SELECT i, printf('%016x', i), printf('%064x', i), {at}, {at}, 'Post ' || i, "
            "printf('%.*c', ?, 'x'), ?, 'x', 200 FROM n",
            [sources, text_chars, text_chars],
        )


def timed(call) -> float:
    """Median milliseconds of ``RUNS`` calls."""
    times = []
    for _ in range(RUNS):
        started = time.perf_counter()
        call()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--sources", type=int, default=100_000)
    parser.add_argument("--text-chars", type=int, default=5_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        started = time.perf_counter()
        with Store(db) as store:
            fill(store, args.sources, args.text_chars)
        print(f"filled {args.sources:,} sources in {time.perf_counter() - started:.1f} s")
        app = create_app(db, start_worker=False)

        async def get(path: str) -> httpx.Response:
            transport = httpx.ASGITransport(app=app)
            async with httpx.AsyncClient(transport=transport, base_url="http://b") as client:
                response = await client.get(path)
            assert response.status_code == 200, response.text
            return response

        last = max(0, args.sources - 5000)
        pages = {
            "list, first 5,000": "/api/citations/content/list?limit=5000",
            f"list, offset {last:,}": f"/api/citations/content/list?limit=5000&offset={last}",
            "stats": "/api/citations/content/stats",
        }
        for name, path in pages.items():
            print(f"{name:>22}: {timed(lambda p=path: asyncio.run(get(p))):8.1f} ms")
        with Store(db, readonly=True) as store:

            def baseline() -> None:
                store.sql.rows(BASELINE_SQL, [last])

            def paged() -> None:
                store.content_entries(limit=5000, offset=last)

            print(f"{'baseline, last page':>22}: {timed(baseline):8.1f} ms (query only)")
            print(f"{'content_entries, same':>22}: {timed(paged):8.1f} ms (query only)")


if __name__ == "__main__":
    main()
