"""The browser fallback's memory over many renders: does it stay flat?

    python bench/browser_bench.py [--pages 200] [--browser-pages 4]

Serves N script-only pages on 127.0.0.1 (each an app shell whose text a script fetches
and writes), registers them in a fresh SQLite file and crawls them through the CLI.
Every half second it samples the memory (PSS: shared pages counted once) of the
browser's processes under the crawl (Chromium and Playwright's driver) and the count of
pages rendered so far, then prints memory against renders.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from storage import Store  # noqa: E402

SHELL = b"""<!doctype html><html><head><title>App</title></head><body><div id="root"></div>
<script>fetch("/api" + location.pathname).then(r => r.json()).then(d => {
  document.getElementById("root").innerHTML = "<article><h1>" + d.title + "</h1>" +
    d.paragraphs.map(p => "<p>" + p + "</p>").join("") + "</article>";
});</script></body></html>"""


class Site(ThreadingHTTPServer):
    daemon_threads = True
    rendered = 0


class Handler(BaseHTTPRequestHandler):
    server: Site

    def log_message(self, *args):
        pass

    def do_GET(self):
        if self.path.startswith("/p/"):
            self._send(SHELL, "text/html")
        elif self.path.startswith("/api/p/"):
            self.server.rendered += 1
            page = self.path.rsplit("/", 1)[1]
            paragraphs = [
                f"Page {page}, paragraph {i}: text only a script brings." for i in range(20)
            ]
            self._send(
                json.dumps({"title": f"Page {page}", "paragraphs": paragraphs}).encode(),
                "application/json",
            )
        else:
            self.send_response(404)
            self.end_headers()

    def _send(self, body: bytes, kind: str) -> None:
        self.send_response(200)
        self.send_header("Content-Type", kind)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


def descendants(root: int) -> list[int]:
    parents: dict[int, int] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        parents[int(stat.parent.name)] = int(fields[1])
    found, frontier = [], [root]
    while frontier:
        pid = frontier.pop()
        children = [child for child, parent in parents.items() if parent == pid]
        found += children
        frontier += children
    return found


def browser_pss_mb(crawl_pid: int) -> tuple[float, int]:
    """PSS of the browser's processes (Chromium, Playwright's node driver), MB, and how many."""
    total_kb, count = 0, 0
    for pid in descendants(crawl_pid):
        try:
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes()
            if b"chromium" not in cmdline and b"playwright" not in cmdline:
                continue
            for line in Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines():
                if line.startswith("Pss:"):
                    total_kb += int(line.split()[1])
                    count += 1
        except OSError:
            continue
    return total_kb / 1024, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=200)
    parser.add_argument("--browser-pages", type=int, default=4, help="CITECACHE_BROWSER_PAGES")
    args = parser.parse_args()
    site = Site(("127.0.0.1", 0), Handler)
    threading.Thread(target=site.serve_forever, daemon=True).start()
    with tempfile.TemporaryDirectory() as tmp:
        db = Path(tmp) / "bench.db"
        with Store(str(db)) as store:
            for i in range(args.pages):
                store.register(f"http://127.0.0.1:{site.server_port}/p/{i}")
        started = time.monotonic()
        crawl = subprocess.Popen(
            [sys.executable, "-m", "citecache", "--db", str(db), "crawl", "--all", "--json"]
            + ["--allow-private", "-s", "AUTOTHROTTLE_ENABLED=false"]
            + ["-s", "CONCURRENT_REQUESTS_PER_DOMAIN=8"]
            + ["-s", f"CITECACHE_BROWSER_PAGES={args.browser_pages}"],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
            text=True,
        )
        samples: list[tuple[int, float, int]] = []
        while crawl.poll() is None:
            pss, processes = browser_pss_mb(crawl.pid)
            if processes:
                samples.append((site.rendered, pss, processes))
            time.sleep(0.5)
        summary = json.loads(crawl.stdout.read() or "{}")
        elapsed = time.monotonic() - started
        with Store(str(db)) as store:
            browser = store.sql.scalar(
                "SELECT count(*) FROM snapshots WHERE fetch_method = 'browser'"
            )
    site.shutdown()
    statuses = summary.get("byStatus")
    print(f"{args.pages} pages, {browser} stored as rendered, {elapsed:.0f} s: {statuses}")
    print("renders  browser PSS (MB)  processes")
    step = max(1, args.pages // 8)
    shown = -step
    for rendered, pss, processes in samples:
        if rendered >= shown + step:
            print(f"{rendered:7d}  {pss:16.0f}  {processes:9d}")
            shown = rendered
    if samples:
        rendered, pss, processes = samples[-1]
        print(f"{rendered:7d}  {pss:16.0f}  {processes:9d}  (last sample)")
        print(f"peak {max(s[1] for s in samples):.0f} MB")


if __name__ == "__main__":
    main()
