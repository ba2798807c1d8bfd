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
from storage.ids import host_of, new_stable_id, resource_id

TARGET_MS = 10.0


def fill(store: Store, resources: int, hosts: int) -> None:
    """Generated rows straight into the tables (registration one by one would take hours)."""
    now = iso(utc_now())
    with store.atomic():
        for start in range(0, resources, 10_000):
            for i in range(start, min(start + 10_000, resources)):
                url = f"https://h{i % hosts}.example.org/post/{i}"
                due = i % 5 == 0  # a fifth due: overdue since 2026-01-01, the rest later
                store.sql.insert(
                    "resources",
                    {
                        "id": resource_id(url),
                        "stable_id": new_stable_id(),
                        "url": url,
                        "url_key": url.removeprefix("https://"),
                        "host": host_of(url),
                        "registered_at": now,
                        "updated_at": now,
                        "fetch_status": "ok",
                        "last_attempt_at": now,
                        "next_fetch_at": "2026-01-01T00:00:00Z" if due else "2999-01-01T00:00:00Z",
                    },
                )
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
