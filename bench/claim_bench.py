"""Host-lease claim time at scale: 1M resources over 200k hosts (generated rows).

    .venv/bin/python bench/claim_bench.py [--resources 1000000] [--hosts 200000] [--db TARGET]

Fills a fresh database (a temp SQLite file, or ``--db postgresql://...``, whose tables
must be empty) with generated resources and their hosts, a fifth of them due, then
times ``Store.claim_hosts`` (8 hosts, 10 resources each) by runs that each record their
results, so every claim meets the state the previous one left. Prints the median and
worst claim time against the 10 ms target, and the baseline: one-shot ``Store.tasks``
(the due list a cron crawl reads) on the same data.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

from storage import FetchResult, Store, iso, utc_now

TARGET_MS = 10.0


def fill(store: Store, resources: int, hosts: int) -> None:
    """Generated rows, made by the database itself (registering a million resources one
    by one would take hours): resource i lives on host i % hosts; a fifth are overdue."""
    if store.sql.name == "sqlite":
        numbers = "WITH RECURSIVE n(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM n WHERE i < ?) "
        hex16, host, cat = "printf('%016x', i)", "'h' || (i % ?) || '.example.org'", "||"
        source = "FROM n"
    else:
        numbers = ""
        hex16, host, cat = "lpad(to_hex(i), 16, '0')", "'h' || (i % ?) || '.example.org'", "||"
        source = "FROM generate_series(0, ?) AS n(i)"
    now = iso(utc_now())
    url = f"'https://' {cat} {host} {cat} '/post/' {cat} i"
    sql = (
        f"{numbers}INSERT INTO resources (id, stable_id, url, url_key, host, registered_at, "
        "updated_at, fetch_status, last_attempt_at, next_fetch_at) "
        f"SELECT {hex16}, substr({hex16}, 7, 10), {url}, {url}, {host}, ?, ?, 'ok', ?, "
        "CASE WHEN i % 5 = 0 THEN '2026-01-01T00:00:00Z' ELSE '2999-01-01T00:00:00Z' END "
        f"{source}"
    )
    if store.sql.name == "sqlite":
        params = [resources - 1, hosts, hosts, hosts, now, now, now]
    else:
        params = [hosts, hosts, hosts, now, now, now, resources - 1]
    with store.atomic():
        store.sql.execute(sql, params)
        store.sql.execute(
            "INSERT INTO hosts (host, next_due_at) "
            "SELECT host, min(next_fetch_at) FROM resources GROUP BY host"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--resources", type=int, default=1_000_000)
    parser.add_argument("--hosts", type=int, default=200_000)
    parser.add_argument("--claims", type=int, default=200)
    parser.add_argument("--db", help="database (default: a temp SQLite file)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        target = args.db or str(Path(tmp) / "claims.db")
        with Store(target) as store:
            started = time.perf_counter()
            fill(store, args.resources, args.hosts)
            print(
                f"filled {args.resources:,} resources on {args.hosts:,} hosts "
                f"({store.sql.name}) in {time.perf_counter() - started:.0f} s"
            )
            times = []
            for n in range(args.claims):
                t = time.perf_counter()
                leases = store.claim_hosts(f"run-{n}", hosts=8, per_host=10)
                times.append((time.perf_counter() - t) * 1000)
                store.record_results(
                    FetchResult(
                        resource_id=task.resource_id,
                        url=task.url,
                        started_at=iso(utc_now()),
                        outcome="not_modified",
                        http_status=304,
                        lease_token=task.lease_token,
                    )
                    for lease in leases
                    for task in lease.tasks
                )
            t = time.perf_counter()
            due = store.tasks(mode="due", limit=80)
            baseline_ms = (time.perf_counter() - t) * 1000
        print(
            f"claim_hosts (8 hosts x <=10 resources), {args.claims} claims: "
            f"median {statistics.median(times):.2f} ms, worst {max(times):.2f} ms "
            f"(target <= {TARGET_MS:.0f} ms)"
        )
        print(
            f"baseline: Store.tasks(mode='due', limit=80), the cron crawl's read: "
            f"{baseline_ms:.2f} ms for {len(due)} tasks"
        )


if __name__ == "__main__":
    main()
