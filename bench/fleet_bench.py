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

The workers are started on an empty database and the pages registered (one
transaction) once every worker's spider is open, so that the figure is the fleet's
throughput, not that of the first worker while the others are still starting (Python
and Scrapy take seconds each on two busy cores). pages/s is measured on the server:
pages divided by the time from the first page request's start to the last one's end.
Prints, per worker count, pages/s, the ceiling the settings allow (requests in flight /
latency), the ratio to one worker (targets: 2 workers >= 1.8x, 4 workers >= 3.2x), the
same over the middle 80% of the answers (the steady state, without ramp-up and tail),
duplicate fetches, politeness violations (a host with more than 2 requests in flight at
once), and the CPU per page of the workers (with their extraction processes) and of the
server.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
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


def empty_database(target: str) -> None:
    with Store(target) as store:
        for table in ("refetch_requests", "fetch_log", "snapshots", "citations", "aliases"):
            store.sql.execute(f"DELETE FROM {table}")
        store.sql.execute("DELETE FROM resources")
        store.sql.execute("DELETE FROM hosts")


def register(target: str, urls: list[str]) -> None:
    with Store(target) as store, store.atomic():
        for url in urls:
            store.register(url)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of a running process so far (/proc/PID/stat)."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def wait_until_ready(logs: list[Path], fleet: list[subprocess.Popen]) -> None:
    """Until every worker's spider is open and asking for work (Scrapy logs it)."""
    deadline = time.monotonic() + 120
    while not all("Spider opened" in log.read_text() for log in logs):
        if time.monotonic() > deadline or any(w.poll() is not None for w in fleet):
            raise RuntimeError(f"a worker did not start; see {logs}")
        time.sleep(0.1)


def recorded(target: str) -> int:
    with Store(target, readonly=True) as store:
        return store.sql.scalar("SELECT count(DISTINCT resource_id) FROM fetch_log")


def middle_rate(ends: list[float]) -> float:
    """Pages/s over the middle 80% of the answers: the steady state, without the ramp-up
    and the tail (the last leases, when fewer hosts than slots have work left)."""
    ends = sorted(ends)
    first, last = len(ends) // 10, len(ends) - 1 - len(ends) // 10
    return (last - first) / (ends[last] - ends[first])


def run_fleet(
    target: str,
    workers: int,
    urls: list[str],
    concurrency: int,
    server: subprocess.Popen,
    base: str,
    extra: dict[str, str],
) -> dict:
    empty_database(target)
    get(base + "/control/reset", "POST")
    settings = {
        "CONCURRENT_REQUESTS": concurrency,
        "AUTOTHROTTLE_ENABLED": 0,
        "DOWNLOAD_DELAY": 0,
        "CITECACHE_HTML_TYPES": "application/x-nothing-is-a-document",
        "CITECACHE_WRITE_INTERVAL": 0.5,
        **extra,
    }
    args = [arg for name, value in settings.items() for arg in ("-s", f"{name}={value}")]
    logs = [Path(tempfile.gettempdir()) / f"citecache-fleet-bench-{n}.log" for n in range(workers)]
    for log in logs:
        log.write_text("")
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    server_before = cpu_seconds(server.pid)
    fleet = []
    try:
        for log in logs:
            with open(log, "a") as stderr:
                fleet.append(
                    subprocess.Popen(
                        [sys.executable, "-m", "citecache", "-v", "--db", target, "worker"]
                        + ["--leases", "--allow-private", "--idle", "0.2", "--json", *args],
                        cwd=ROOT,
                        stdout=subprocess.PIPE,
                        stderr=stderr,
                        text=True,
                        start_new_session=True,
                    )
                )
        # The work appears only when every worker is up, so that the figure is the
        # fleet's, not that of the first worker while the others are still starting.
        wait_until_ready(logs, fleet)
        register(target, urls)
        deadline = time.monotonic() + 600
        while recorded(target) < len(urls):
            if time.monotonic() > deadline or any(w.poll() is not None for w in fleet):
                raise RuntimeError(f"the fleet did not record every page; see {logs}")
            time.sleep(0.25)
        server_cpu = cpu_seconds(server.pid) - server_before
        for worker in fleet:
            worker.send_signal(signal.SIGTERM)
        stored = [json.loads(w.communicate(timeout=60)[0] or "{}").get("stored", 0) for w in fleet]
    finally:
        for worker in fleet:
            if worker.poll() is None:
                os.killpg(worker.pid, signal.SIGKILL)
                worker.wait()
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    workers_cpu = (
        children.ru_utime + children.ru_stime - children_before.ru_utime - children_before.ru_stime
    )
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
        "middle_per_s": middle_rate([end for _, end in spans]),
        "seconds": seconds,
        "stored": stored,
        "duplicates": stats["totals"]["duplicates"],
        "violations": sum(
            1 for h in stats["hosts"].values() if h["max_in_flight"] > PER_HOST_LIMIT
        ),
        "max_in_flight": stats["totals"]["max_in_flight"],
        "workers_cpu_ms": 1000 * workers_cpu / len(urls),
        "server_cpu_ms": 1000 * server_cpu / len(urls),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--db", help="database (default: a temp SQLite file)")
    parser.add_argument("--pages", type=int, default=1000)
    parser.add_argument("--hosts", type=int, default=50)
    parser.add_argument("--latency", type=float, default=0.5)
    parser.add_argument("--workers", default="1,2,4")
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument(
        "-s", dest="settings", action="append", default=[], metavar="NAME=VALUE",
        help="another setting for the workers (as citecache worker -s)",
    )  # fmt: skip
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
            print(f"{'workers':>8} {'pages/s':>9} {'ceiling':>8} {'vs 1':>6} {'target':>7} "
                  f"{'middle 80%':>10} {'vs 1':>6} "
                  f"{'seconds':>8} {'dupl.':>6} {'viol.':>6} {'in flight':>10} "
                  f"{'cpu/page':>9} {'server':>7}  stored per worker")  # fmt: skip
            base_rate = base_middle = None
            for n in counts:
                extra = dict(item.split("=", 1) for item in args.settings)
                r = run_fleet(target, n, urls, args.concurrency, server, hosts[0], extra)
                base_rate = base_rate or r["pages_per_s"]
                base_middle = base_middle or r["middle_per_s"]
                target_text = f">={TARGETS[n]}" if n in TARGETS else ""
                ceiling = min(n * args.concurrency, PER_HOST_LIMIT * args.hosts) / args.latency
                print(f"{n:>8} {r['pages_per_s']:>9.1f} {ceiling:>8.0f} "
                      f"{r['pages_per_s'] / base_rate:>6.2f} {target_text:>7} "
                      f"{r['middle_per_s']:>10.1f} {r['middle_per_s'] / base_middle:>6.2f} "
                      f"{r['seconds']:>8.1f} {r['duplicates']:>6} {r['violations']:>6} "
                      f"{r['max_in_flight']:>10} {r['workers_cpu_ms']:>6.1f} ms "
                      f"{r['server_cpu_ms']:>4.1f} ms  {r['stored']}")  # fmt: skip
    finally:
        server.terminate()
        server.wait()


if __name__ == "__main__":
    main()
