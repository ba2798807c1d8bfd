"""Many-website HTTP server for politeness tests: per-host load figures of a crawl fleet.

Run it as a subprocess (``python tests/fleetserver.py --hosts 50 [--latency 0.5]``).
Standard library only; it starts in a fraction of a second and prints one line of JSON,
``{"port": P, "hosts": ["http://127.0.0.2:P", ...]}``, then serves until terminated.

Hosts
  Host k (0-based) is the loopback address 127.0.0.2 + k, all on one shared port: one
  listening socket per address. Scrapy keys its download slots (per-host concurrency
  and delay) by *hostname*, not host:port: pages on 127.0.0.2:P1 and 127.0.0.2:P2 were
  never more than 2 in flight together (one slot), pages on 10 addresses 20 at once.
  Addresses stay distinct under CONCURRENT_REQUESTS_PER_IP too, where names all
  resolving to 127.0.0.1 would fall into one slot; and names like ``h1.fleet.localhost``
  do not resolve on every machine (not on this one: no nss-myhostname), while Linux
  routes all of 127/8 to loopback without configuration. 127.0.0.1 is left out, so that
  a fleet host never shares a slot with tests/mockserver.py. The host of a request is
  the address its connection came in on, not its Host header.

Endpoints (on every host)
  GET /page/<id>        article page, deterministic from <id> alone (the same bytes on
                        every host), about 2 KB; ?kb=N pads it to about N KB
  GET /robots.txt       allows everything; "Crawl-delay: S" with --crawl-delay S
  ?latency=S            on any of the above: sleep S seconds (capped at 30) after reading
                        the request and before answering; default --latency
  GET /stats            JSON figures per host base URL plus totals (below)
  POST /control/reset   clear the figures
  GET /control/hosts    the start-up JSON again: {"port": P, "hosts": [...]}
  GET /control/log      every request since the reset, per host base URL (hosts without
                        requests left out): [start, end, path, user agent], times in
                        seconds since the server started, end null while in flight;
                        for analyses beyond /stats (the agent tells workers apart)
  /stats and /control/* are not counted.

Figures (``/stats``)
  requests       requests answered or being answered, robots.txt included
  robots         of which GET /robots.txt
  in_flight      requests in flight now (should be 0 when the crawl is done)
  max_in_flight  most requests in flight at once. A request is in flight from when its
                 headers have been read to when its response has been fully written
                 (handed to the socket), so the latency sleep counts.
  min_gap        smallest gap in seconds between the *starts* (headers read) of two
                 consecutive requests to the host, whether or not the first had finished;
                 null below two requests. robots.txt counts: it goes through the same
                 Scrapy slot as the pages.
  duplicates     fetches beyond the first of the same path (query ignored: it only holds
                 server knobs), robots.txt excluded
  Totals sum requests, robots and duplicates; max_in_flight there is the most requests
  in flight at once over all hosts, max_host_in_flight the largest per-host figure,
  min_gap the smallest per-host one, and hosts_hit counts hosts with a request.

What min_gap means with DOWNLOAD_DELAY and 2 requests per host
  Scrapy's delay spaces the moments requests *leave the slot's queue* (``slot.lastseen``
  is set at each dequeue), not the end of one response and the start of the next. With
  CONCURRENT_REQUESTS_PER_DOMAIN = 2 and answers slower than the delay, two requests
  overlap and their starts are still about one delay apart: min_gap is that spacing of
  arrivals, what a site's rate limiter sees (an idle time between requests would be
  negative). Each wait is drawn anew from DOWNLOAD_DELAY * (1 +/- DOWNLOAD_DELAY_JITTER),
  0.5x..1.5x with the default jitter, so the floor to compare it with is half the delay.
  The server sees a request some time after its dequeue, and when that lag varies the
  gap shrinks. Measured (10 hosts x 4 pages, latency 0.3 s, DOWNLOAD_DELAY=0.2, floor
  0.1 s, 7 crawls): gaps between pages were never below 0.116 s, but the gap from
  robots.txt to the first page fell to 0.002-0.04 s on about 1 host in 10 per crawl.
  The first request of a host (robots.txt) at crawl start reached the server up to
  0.35 s after it left the slot, while the page sent a delay later came at once; Scrapy
  kept its delay, the site still saw two requests together. ``/control/log`` has the
  starts for a gap figure without robots.txt.
"""

from __future__ import annotations

import argparse
import errno
import html
import ipaddress
import json
import random
import re
import selectors
import socketserver
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

FIRST_ADDRESS = ipaddress.IPv4Address("127.0.0.2")
MAX_HOSTS = 2000
MAX_LATENCY = 30.0
MAX_PAGE_KB = 10 * 1024
BIND_ATTEMPTS = 20

# Vocabulary of the generated paragraphs.
# fmt: off
WORDS = [
    "archive", "citation", "source", "crawler", "fetch", "politeness", "host", "slot",
    "queue", "lease", "frontier", "worker", "article", "paragraph", "snapshot",
    "extraction", "history", "revision", "editor", "library", "network", "latency",
    "response", "header", "server", "request", "budget", "schedule", "robots", "delay",
    "concurrency", "fairness", "backoff", "retry", "timeout", "cache", "record", "index",
    "scholar", "journal", "evidence", "reference", "footnote", "volume", "chapter",
    "review", "survey", "method", "result", "figure",
]
# fmt: on


def address(k: int) -> str:
    """Loopback address of host k (0-based)."""
    return str(FIRST_ADDRESS + k)


# -- pages ------------------------------------------------------------------------------


DISTINCT_PARAGRAPHS = 12


def page_html(page_id: str, kb: float = 0) -> bytes:
    """An article page for trafilatura, the same bytes for the same id and size."""
    rng = random.Random(f"fleet-page-{page_id}")  # str seeds are hashed, stable across runs
    title = html.escape(f"Fleet page {page_id}: {rng.choice(WORDS)} and {rng.choice(WORDS)}")
    head = (
        f'<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8"><title>{title}</title>'
        f'</head>\n<body>\n<nav><a href="/">Home</a></nav>\n<article><h1>{title}</h1>\n'
    )
    tail = "</article>\n<footer><p>Fleet server footer.</p></footer>\n</body></html>\n"
    texts = [" ".join(rng.choices(WORDS, k=40)).capitalize() for _ in range(DISTINCT_PARAGRAPHS)]
    paragraphs = [f"<p>This is page {html.escape(page_id)} of the citecache fleet server.</p>"]
    size = len(head) + len(tail) + len(paragraphs[0])
    n = 0
    while n < 6 or size < kb * 1024:
        # Padding repeats the page's few paragraphs: a 10 MB page is built in milliseconds.
        paragraphs.append(f"<p>Paragraph {n + 1}: {texts[n % DISTINCT_PARAGRAPHS]}.</p>")
        size += len(paragraphs[-1]) + 1
        n += 1
    return (head + "\n".join(paragraphs) + "\n" + tail).encode()


# -- figures ----------------------------------------------------------------------------


@dataclass
class HostStats:
    in_flight: int = 0
    max_in_flight: int = 0
    requests: int = 0
    robots: int = 0
    min_gap: float | None = None
    last_start: float | None = None
    paths: Counter[str] = field(default_factory=Counter)
    log: list[list] = field(default_factory=list)
    """[start, end, path, user agent] per request; end is None while in flight."""

    def clear(self) -> None:
        # in_flight is the present, not history: requests running now still end later.
        self.max_in_flight = self.in_flight
        self.requests = self.robots = 0
        self.min_gap = self.last_start = None
        self.paths.clear()
        self.log = []  # a new list: requests in flight still fill their old entries

    def duplicates(self) -> int:
        return sum(n - 1 for n in self.paths.values())


class Stats:
    """Per-host figures; one lock, held only for a few additions."""

    def __init__(self, hosts: list[str]) -> None:
        self.lock = threading.Lock()
        self.hosts = {base: HostStats() for base in hosts}
        self.in_flight = 0
        self.max_in_flight = 0
        self.t0 = time.monotonic()

    def start(self, base: str, path: str, agent: str = "") -> list:
        """Count a request whose headers have just been read; returns its log entry."""
        now = time.monotonic()
        entry = [round(now - self.t0, 6), None, path, agent]
        with self.lock:
            host = self.hosts[base]
            host.requests += 1
            if path == "/robots.txt":
                host.robots += 1
            else:
                host.paths[path] += 1
            if host.last_start is not None:
                gap = now - host.last_start
                host.min_gap = gap if host.min_gap is None else min(host.min_gap, gap)
            host.last_start = now
            host.in_flight += 1
            host.max_in_flight = max(host.max_in_flight, host.in_flight)
            self.in_flight += 1
            self.max_in_flight = max(self.max_in_flight, self.in_flight)
            host.log.append(entry)
        return entry

    def end(self, base: str, entry: list) -> None:
        """The request of ``entry`` has been answered completely."""
        end = round(time.monotonic() - self.t0, 6)
        with self.lock:
            entry[1] = end
            self.hosts[base].in_flight -= 1
            self.in_flight -= 1

    def reset(self) -> None:
        with self.lock:
            for host in self.hosts.values():
                host.clear()
            self.max_in_flight = self.in_flight

    def log(self) -> dict:
        with self.lock:
            return {base: [list(e) for e in h.log] for base, h in self.hosts.items() if h.log}

    def report(self) -> dict:
        with self.lock:
            hosts = {
                base: {
                    "requests": h.requests,
                    "robots": h.robots,
                    "in_flight": h.in_flight,
                    "max_in_flight": h.max_in_flight,
                    "min_gap": None if h.min_gap is None else round(h.min_gap, 6),
                    "duplicates": h.duplicates(),
                }
                for base, h in self.hosts.items()
            }
            gaps = [h["min_gap"] for h in hosts.values() if h["min_gap"] is not None]
            totals = {
                "requests": sum(h["requests"] for h in hosts.values()),
                "robots": sum(h["robots"] for h in hosts.values()),
                "duplicates": sum(h["duplicates"] for h in hosts.values()),
                "in_flight": self.in_flight,
                "max_in_flight": self.max_in_flight,
                "max_host_in_flight": max((h["max_in_flight"] for h in hosts.values()), default=0),
                "min_gap": min(gaps, default=None),
                "hosts_hit": sum(1 for h in hosts.values() if h["requests"]),
            }
        return {"hosts": hosts, "totals": totals}


# -- handler ----------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # keep-alive, as Scrapy and real sites use
    server_version = "citecache-fleetserver/1"
    server: HostServer

    PAGE = re.compile(r"/page/(?P<id>[\w.-]+)\Z")

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        if self.server.fleet.verbose:
            sys.stderr.write(f"fleetserver {self.server.base}: " + format % args + "\n")

    def do_GET(self) -> None:
        self.dispatch()

    def do_HEAD(self) -> None:
        self.dispatch()

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.dispatch()

    def dispatch(self) -> None:
        parts = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        fleet = self.server.fleet
        if parts.path == "/stats" or parts.path.startswith("/control/"):
            self.control(parts.path)
            return
        entry = fleet.stats.start(self.server.base, parts.path, self.headers.get("User-Agent", ""))
        try:
            self.sleep(fleet.latency)
            self.route(parts.path)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        finally:
            fleet.stats.end(self.server.base, entry)

    def route(self, path: str) -> None:
        fleet = self.server.fleet
        if path == "/robots.txt" and self.command != "POST":
            robots = "User-agent: *\nAllow: /\n"
            if fleet.crawl_delay is not None:
                robots += f"Crawl-delay: {fleet.crawl_delay:g}\n"
            self.send_body(200, robots.encode(), "text/plain")
            return
        match = self.PAGE.match(path)
        if match and self.command != "POST":
            kb = min(max(self.qnum("kb", fleet.page_kb), 0), MAX_PAGE_KB)
            self.send_body(200, page_html(match["id"], kb), "text/html; charset=utf-8")
            return
        self.send_body(404, b"<html><body><h1>404 Not Found</h1></body></html>", "text/html")

    def control(self, path: str) -> None:
        fleet = self.server.fleet
        if path == "/stats" and self.command == "GET":
            self.send_json(200, fleet.stats.report())
        elif path == "/control/reset" and self.command == "POST":
            fleet.stats.reset()
            self.send_json(200, {"ok": True})
        elif path == "/control/log" and self.command == "GET":
            self.send_json(200, fleet.stats.log())
        elif path == "/control/hosts" and self.command == "GET":
            self.send_json(200, fleet.describe())
        else:
            self.send_json(404, {"ok": False, "error": f"no {self.command} {path}"})

    def sleep(self, default: float) -> None:
        delay = min(max(self.qnum("latency", default), 0.0), MAX_LATENCY)
        if delay:
            time.sleep(delay)

    def qnum(self, name: str, default: float) -> float:
        try:
            return float(self.query.get(name, default))
        except ValueError:
            return default

    def send_body(self, status: int, body: bytes, content_type: str) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)  # unbuffered: sendall, so the response is out on return

    def send_json(self, status: int, data: object) -> None:
        self.send_body(status, json.dumps(data).encode(), "application/json")


# -- servers ----------------------------------------------------------------------------


class HostServer(ThreadingHTTPServer):
    """The listening socket of one host; its connections are served by Handler threads."""

    daemon_threads = True
    request_queue_size = 128  # a fleet opens many connections to one host at once
    timeout = 0  # handle_request() is called only when the socket is readable

    def __init__(self, fleet: Fleet, addr: str, port: int) -> None:
        self.fleet = fleet
        super().__init__((addr, port), Handler)
        self.base = f"http://{addr}:{self.server_address[1]}"

    def server_bind(self) -> None:
        # HTTPServer.server_bind looks the address up with getfqdn(): a reverse DNS query
        # per host, seconds each for 127.0.0.x names that /etc/hosts does not list.
        socketserver.TCPServer.server_bind(self)
        self.server_name, self.server_port = self.server_address[:2]

    def handle_error(self, request, client_address) -> None:
        if isinstance(sys.exc_info()[1], ConnectionError | TimeoutError):
            return  # clients that hang up (timeouts, a terminated crawl) are expected
        super().handle_error(request, client_address)


class Fleet:
    def __init__(
        self,
        n_hosts: int,
        *,
        port: int = 0,
        latency: float = 0.0,
        crawl_delay: float | None = None,
        page_kb: float = 0,
        verbose: bool = False,
    ) -> None:
        self.latency = latency
        self.crawl_delay = crawl_delay
        self.page_kb = page_kb
        self.verbose = verbose
        self.servers = self._bind(n_hosts, port)
        self.port = self.servers[0].server_address[1]
        self.hosts = [s.base for s in self.servers]
        self.stats = Stats(self.hosts)

    def _bind(self, n_hosts: int, port: int) -> list[HostServer]:
        """One socket per address on one port; the port is picked again if any is taken."""
        for _ in range(BIND_ATTEMPTS):
            servers: list[HostServer] = []
            try:
                chosen = port
                for k in range(n_hosts):
                    servers.append(HostServer(self, address(k), chosen))
                    chosen = servers[-1].server_address[1]  # the first bind picks it
                return servers
            except OSError as exc:
                for server in servers:
                    server.server_close()
                if exc.errno != errno.EADDRINUSE or port:
                    raise
        raise OSError(errno.EADDRINUSE, f"no port free on all of {n_hosts} addresses")

    def describe(self) -> dict:
        return {"port": self.port, "hosts": self.hosts}

    def serve_forever(self) -> None:
        """Accept on every host's socket from this one thread; each connection gets its own."""
        with selectors.DefaultSelector() as selector:
            for server in self.servers:
                selector.register(server, selectors.EVENT_READ)
            while True:
                for key, _ in selector.select():
                    key.fileobj.handle_request()  # type: ignore[union-attr]

    def close(self) -> None:
        for server in self.servers:
            server.server_close()


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--hosts", type=int, default=50, help=f"1..{MAX_HOSTS}")
    parser.add_argument("--port", type=int, default=0, help="0 picks one free on all hosts")
    parser.add_argument("--latency", type=float, default=0.0, help="default seconds per answer")
    parser.add_argument("--crawl-delay", type=float, default=None, help="robots.txt Crawl-delay")
    parser.add_argument("--page-kb", type=float, default=0, help="default ?kb= of pages")
    parser.add_argument("-v", "--verbose", action="store_true", help="log requests to stderr")
    args = parser.parse_args(argv)
    if not 1 <= args.hosts <= MAX_HOSTS:
        parser.error(f"--hosts must be between 1 and {MAX_HOSTS}")
    fleet = Fleet(
        args.hosts,
        port=args.port,
        latency=args.latency,
        crawl_delay=args.crawl_delay,
        page_kb=args.page_kb,
        verbose=args.verbose,
    )
    print(json.dumps(fleet.describe()), flush=True)
    try:
        fleet.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        fleet.close()


if __name__ == "__main__":
    main()
