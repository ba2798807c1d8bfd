"""Fleet scaling: 1, 2 and 4 ``citecache worker`` processes by host lease, fetch only.

    .venv/bin/python bench/fleet_bench.py [--db TARGET] [--pages 1000] [--hosts 50]
        [--latency 0.5] [--workers 1,2,4] [--concurrency 16]

Serves ``--pages`` pages over ``--hosts`` hosts with ``--latency`` seconds per answer
(tests/fleetserver.py), registers them in a fresh database (a temp SQLite file, or
``--db postgresql://...`` whose tables are emptied first), and for each worker count runs
that many workers until every page is recorded. Extraction is switched off (no content
type counts as a document: each page is recorded as ``not_html``), so the figure is the
fleet's fetching and recording. Each worker sends at most ``--concurrency`` requests at
once (CONCURRENT_REQUESTS); a host gets at most 2 (CONCURRENT_REQUESTS_PER_DOMAIN) from
the whole fleet, since one worker leases it at a time.

pages/s is measured on the server: pages divided by the time from the first page
request's start to the last one's end, so the workers' start-up (Python, Scrapy) is left
out. Prints, per worker count, pages/s, the ratio to one worker (targets: 2 workers
>= 1.8x, 4 workers >= 3.2x), duplicate fetches and politeness violations (a host with more
than 2 requests in flight at once).
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage import Store  # noqa: E402

PER_HOST_LIMIT = 2
TARGETS = {2: 1.8, 4: 3.2}


def start_server(hosts: int, latency: float) -> tuple[subprocess.Popen, list[str]]:
    proc = subprocess.Popen(
        [sys.executable, str(ROOT / "tests" / "fleetserver.py"), "--hosts", str(hosts)]
        + ["--latency", str(latency)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert proc.stdout is not None
    return proc, json.loads(proc.stdout.readline())["hosts"]


def get(url: str, method: str = "GET"):
    request = urllib.request.Request(url, method=method)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def fresh_database(target: str, urls: list[str]) -> None:
    with Store(target) as store:
        for table in ("refetch_requests", "fetch_log", "snapshots", "citations", "aliases"):
            store.sql.execute(f"DELETE FROM {table}")
        store.sql.execute("DELETE FROM resources")
        store.sql.execute("DELETE FROM hosts")
        with store.atomic():
            for url in urls:
                store.register(url)


def recorded(target: str) -> int:
    with Store(target, readonly=True) as store:
        return store.sql.scalar("SELECT count(DISTINCT resource_id) FROM fetch_log")


def run_fleet(target: str, workers: int, pages: int, concurrency: int, base: str) -> dict:
    get(base + "/control/reset", "POST")
    settings = {
        "CONCURRENT_REQUESTS": concurrency,
        "AUTOTHROTTLE_ENABLED": 0,
        "DOWNLOAD_DELAY": 0,
        "CITECACHE_HTML_TYPES": "application/x-nothing-is-a-document",
        "CITECACHE_WRITE_INTERVAL": 0.5,
    }
    args = [arg for name, value in settings.items() for arg in ("-s", f"{name}={value}")]
    log = open(Path(tempfile.gettempdir()) / "citecache-fleet-bench.log", "a")  # noqa: SIM115
    fleet = [
        subprocess.Popen(
            [sys.executable, "-m", "citecache", "--db", target, "worker", "--leases"]
            + ["--allow-private", "--idle", "0.2", "--json", *args],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=log,
            text=True,
            start_new_session=True,
        )
        for _ in range(workers)
    ]
    try:
        deadline = time.monotonic() + 600
        while recorded(target) < pages:
            if time.monotonic() > deadline or any(w.poll() is not None for w in fleet):
                raise RuntimeError(f"the fleet did not record every page; see {log.name}")
            time.sleep(0.25)
        for worker in fleet:
            worker.send_signal(signal.SIGTERM)
        stored = [json.loads(w.communicate(timeout=60)[0] or "{}").get("stored", 0) for w in fleet]
    finally:
        for worker in fleet:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
        log.close()
    stats, log = get(base + "/stats"), get(base + "/control/log")
    spans = [
        (start, end)
        for entries in log.values()
        for start, end, path, _agent in entries
        if path.startswith("/page/") and end is not None
    ]
    seconds = max(e for _, e in spans) - min(s for s, _ in spans)
    return {
        "pages_per_s": len(spans) / seconds,
        "seconds": seconds,
        "stored": stored,
        "duplicates": stats["totals"]["duplicates"],
        "violations": sum(
            1 for h in stats["hosts"].values() if h["max_in_flight"] > PER_HOST_LIMIT
        ),
        "max_in_flight": stats["totals"]["max_in_flight"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database (default: a temp SQLite file)")
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--concurrency", type=int, default=16)
    args = parser.parse_args()
    counts = [int(n) for n in args.workers.split(",")]
    # A SIGTERM (timeout, Ctrl-C elsewhere) still stops the workers and the server below.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(1))
    server, hosts = start_server(args.hosts, args.latency)
    try:
        with tempfile.TemporaryDirectory() as tmp:
            target = args.db or str(Path(tmp) / "fleet.db")
            urls = [f"{hosts[i % len(hosts)]}/page/{i}" for i in range(args.pages)]
            print(
                f"{args.pages} pages over {args.hosts} hosts, {args.latency} s per answer, "
                f"{args.concurrency} requests per worker at most, fetch only; "
                f"{Store(target).sql.name}"
            )
            print(f"{'workers':>8} {'pages/s':>9} {'vs 1':>6} {'target':>7} {'seconds':>8} "
                  f"{'dupl.':>6} {'viol.':>6} {'in flight':>10}  stored per worker")  # fmt: skip
            base_rate = None
            for n in counts:
                fresh_database(target, urls)
                r = run_fleet(target, n, args.pages, args.concurrency, hosts[0])
                base_rate = base_rate or r["pages_per_s"]
                target_text = f">={TARGETS[n]}" if n in TARGETS else ""
                print(f"{n:>8} {r['pages_per_s']:>9.1f} {r['pages_per_s'] / base_rate:>6.2f} "
                      f"{target_text:>7} {r['seconds']:>8.1f} {r['duplicates']:>6} "
                      f"{r['violations']:>6} {r['max_in_flight']:>10}  {r['stored']}")  # fmt: skip
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
