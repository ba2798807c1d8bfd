"""How long does an editor wait for a re-fetch? A crawl per request vs the long-running worker.

Serves one saved page of tests/pages from a tiny http.server on 127.0.0.1 (200 every
time, no ETag or Last-Modified: each re-fetch downloads, extracts and stores it), runs
`citecache serve` as a subprocess on a free port with a token, and times, from
`POST /api/resources/{id}/refetch` to `GET /api/refetch/{requestId}` saying `done`:

  1. oneshot: the service as it was, one `crawl --requests` subprocess per request
     (`serve --worker-mode oneshot`);
  2. worker: the service's supervised long-running `citecache worker` (the default).

    .venv/bin/python bench/refetch_latency_bench.py [--requests 7] [--page NAME]

One unmeasured request first in each mode (it waits for the worker to be up). Between
requests it waits a random 0-1 s, so that the requests do not fall in step with the
worker's polling. Prints each mode's median and max, and the ratio of the medians.
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage import Store  # noqa: E402 - after the path set-up above

PAGES = ROOT / "tests" / "pages"
DONE_TIMEOUT = 60.0


def serve_page(body: bytes) -> ThreadingHTTPServer:
    class Page(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            if self.path == "/robots.txt":
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Page)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def call(url: str, *, token: str | None = None, method: str = "GET") -> dict:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    data = b"{}" if method == "POST" else None
    if data is not None:
        headers["Content-Type"] = "application/json"
    request = urllib.request.Request(url, data=data, method=method, headers=headers)
    with urllib.request.urlopen(request, timeout=10) as response:
        return json.load(response)


def wait_until_up(base: str, proc: subprocess.Popen, timeout: float = 60) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"serve exited {proc.returncode}")
        try:
            call(f"{base}/api/resources/stats")
            return
        except OSError:
            time.sleep(0.1)
    raise RuntimeError("serve did not answer in time")


def refetch_seconds(base: str, token: str, resource_id: str) -> float:
    """From the POST to the first GET that says done."""
    started = time.monotonic()
    queued = call(f"{base}/api/resources/{resource_id}/refetch", token=token, method="POST")
    while time.monotonic() - started < DONE_TIMEOUT:
        state = call(f"{base}/api/refetch/{queued['requestId']}")
        if state["status"] == "done":
            return time.monotonic() - started
        if state["status"] == "failed":
            raise RuntimeError(f"request failed: {state.get('outcome')}")
        time.sleep(0.01)
    raise RuntimeError(f"request not done after {DONE_TIMEOUT:.0f} s")


def measure(mode: str, db: Path, resource_id: str, requests: int) -> list[float]:
    port, token = free_port(), os.urandom(12).hex()
    base = f"http://127.0.0.1:{port}"
    cmd = [sys.executable, "-m", "citecache", "--db", str(db), "serve", "--port", str(port)]
    cmd += ["--token", token, "--allow-private", "--worker-mode", mode]
    proc = subprocess.Popen(
        cmd, cwd=ROOT, stdin=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True
    )
    try:
        wait_until_up(base, proc)
        refetch_seconds(base, token, resource_id)  # warm-up, not counted
        times = []
        for _ in range(requests):
            time.sleep(random.uniform(0, 1))
            times.append(refetch_seconds(base, token, resource_id))
        return times
    finally:
        proc.send_signal(signal.SIGTERM)  # the service stops its worker with SIGTERM
        try:
            proc.wait(60)
        except subprocess.TimeoutExpired:
            print(f"  ({mode}: serve did not stop in 60 s; killed)", file=sys.stderr)
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--requests", type=int, default=7, help="measured requests per mode")
    parser.add_argument("--page", default="pythonspeed-docker", help="a page of tests/pages")
    args = parser.parse_args()
    if args.requests > 9:
        parser.error("at most 9: the API allows a burst of 10 re-fetches per token")
    body = (PAGES / f"{args.page}.html").read_bytes()
    server = serve_page(body)
    url = f"http://127.0.0.1:{server.server_address[1]}/{args.page}.html"
    print(f"page {args.page}.html ({len(body):,} bytes) at {url}; load {os.getloadavg()[0]:.2f}")
    results = {}
    with tempfile.TemporaryDirectory() as tmp:
        for mode in ("oneshot", "worker"):
            db = Path(tmp) / f"{mode}.db"
            with Store(db) as store:
                resource_id = store.register(url).resource["id"]
            times = measure(mode, db, resource_id, args.requests)
            results[mode] = times
            print(
                f"{mode:>8}: median {statistics.median(times):6.3f} s   max {max(times):6.3f} s"
                f"   ({', '.join(f'{t:.2f}' for t in times)})"
            )
    server.shutdown()
    ratio = statistics.median(results["oneshot"]) / statistics.median(results["worker"])
    load = os.getloadavg()[0]
    print(f"   ratio: the worker answers {ratio:.1f}x sooner (medians); load {load:.2f}")


if __name__ == "__main__":
    main()
