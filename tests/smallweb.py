"""A "small web" on 127.0.0.1 for the Wayback fallback: sources that live, die or are walled.

Kinds of page, ``/KIND/N``:
  live      an article, always
  dying     an article until ``web.phase`` is 2, then 404
  dead      404 from the start
  walled    403 with a Cloudflare-style challenge page (a bot wall) while the phase is
            1; from phase 2 on, ``/walled/0`` lets us in (the wall lifted)
  robots    an article that robots.txt forbids
  soft404   200, a page that says "Page not found"

``archive_small_web`` fills a WaybackServer with captures for all but the last page of
each failing kind (live pages get one too: it must never be used). The tests and
bench/wayback_bench.py share both.
"""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

from .mockserver import CHALLENGE_PAGE, article_html, filler
from .waybackserver import WaybackServer

KINDS = ("live", "dying", "dead", "walled", "robots", "soft404")
FAILING = ("dying", "dead", "walled", "robots", "soft404")
CAPTURED_AT = "20240315120000"
"""When the stand-in archive captured the pages (an older, 404 capture comes later for
``dead`` pages, so that the CDX API is needed for them)."""


def page_text(kind: str, n: int, where: str = "live") -> str:
    return article_html(f"The {kind} article {n} ({where})", filler(f"{kind}-{n}"))


def not_found_page() -> str:
    return article_html("Page not found", ["Sorry, the page you asked for does not exist."])


class SmallWeb(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, per_kind: int = 3):
        super().__init__(("127.0.0.1", 0), _Handler)
        self.per_kind = per_kind
        self.phase = 1
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def urls(self, kind: str) -> list[str]:
        return [f"{self.base}/{kind}/{n}" for n in range(self.per_kind)]

    def start(self) -> SmallWeb:
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()


class _Handler(BaseHTTPRequestHandler):
    server: SmallWeb

    def log_message(self, format, *args):  # quiet
        pass

    def do_GET(self):
        if self.path == "/robots.txt":
            return self._send(200, "User-agent: *\nDisallow: /robots/\n", "text/plain")
        _, kind, n = (self.path.split("/") + ["", ""])[:3]
        phase = self.server.phase
        if kind in ("live", "robots") or (kind == "dying" and phase == 1):
            return self._send(200, page_text(kind, int(n)))
        if kind == "walled" and (phase == 1 or n != "0"):
            return self._send(403, CHALLENGE_PAGE, headers={"Server": "cloudflare"})
        if kind == "walled":
            return self._send(200, page_text(kind, int(n)))
        if kind == "soft404":
            return self._send(200, not_found_page())
        self._send(404, "<html><body><h1>404 Not Found</h1></body></html>")

    def _send(self, status: int, text: str, content_type: str = "text/html", headers=None):
        body = text.encode()
        self.send_response(status)
        self.send_header("Content-Type", f"{content_type}; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


def archive_small_web(web: SmallWeb, archive: WaybackServer) -> dict[str, bool]:
    """Captures for every page but the last of each failing kind; url -> captured."""
    captured = {}
    for kind in KINDS:
        for n, url in enumerate(web.urls(kind)):
            held = kind == "live" or n < web.per_kind - 1
            captured[url] = held
            if held:
                archive.add(url, CAPTURED_AT, page_text(kind, n, "archived"))
            if held and kind == "dead":  # the closest capture is a 404: CDX finds the good one
                archive.add(url, "20250101000000", not_found_page(), status=404)
    return captured
