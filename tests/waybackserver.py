"""A local stand-in for the Internet Archive's Wayback Machine, speaking its documented API.

Standard library only. Run it in a thread (``WaybackServer(...)``, as the tests and
bench/wayback_bench.py do) or alone (``python tests/waybackserver.py``: it prints its
base URL and holds no captures). Captures are kept per original URL, in memory.

  GET /wayback/available?url=U&timestamp=YYYYMMDD
        {"url": U, "archived_snapshots": {"closest": {"available": true, "url":
        "{base}/web/TS/U", "timestamp": "TS", "status": "200"}}}, the capture closest to
        the timestamp whatever its status, or {"url": U, "archived_snapshots": {}}
  GET /cdx/search/cdx?url=U&output=json&filter=statuscode:200&limit=N
        [["urlkey","timestamp","original","mimetype","statuscode","digest","length"],
        [...], ...] oldest first; a negative limit keeps the last N; [] if none
  GET /web/TSid_/U     the capture's original bytes (404 if there is no capture at TS)
  GET /web/TS/U        the capture for a reader, with a banner
  POST /save           Save Page Now 2 (form field url; ``Authorization: LOW key:secret``):
        {"url": U, "job_id": "spn2-..."}; 401 without the keys given to the server
  GET /requests        the request log: [{method, path, time, authorization}]

``throttle_first=N`` answers the first N API requests 429 with ``Retry-After: 1``.
"""

from __future__ import annotations

import contextlib
import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

CDX_HEADER = ["urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length"]


@dataclass(frozen=True)
class StoredCapture:
    timestamp: str
    """YYYYMMDDhhmmss"""
    status: int
    body: bytes
    content_type: str = "text/html; charset=utf-8"


class WaybackServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, *, throttle_first: int = 0, save_keys: str = "key:secret"):
        super().__init__(("127.0.0.1", 0), Handler)
        self.captures: dict[str, list[StoredCapture]] = {}
        self.log: list[dict] = []
        self.lock = threading.Lock()
        self.throttle_left = throttle_first
        self.save_keys = save_keys
        self.thread: threading.Thread | None = None

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_address[1]}"

    def add(self, url: str, timestamp: str, body: bytes | str, status: int = 200) -> None:
        data = body.encode() if isinstance(body, str) else body
        with self.lock:
            found = self.captures.setdefault(url, [])
            found.append(StoredCapture(timestamp, status, data))
            found.sort(key=lambda c: c.timestamp)

    def start(self) -> WaybackServer:
        self.thread = threading.Thread(target=self.serve_forever, daemon=True)
        self.thread.start()
        return self

    def stop(self) -> None:
        self.shutdown()
        self.server_close()

    def asked_about(self, url: str) -> bool:
        """Some lookup (availability or CDX) named ``url``."""
        with self.lock:
            return any(
                entry["method"] == "GET" and url in entry["query"].get("url", [])
                for entry in self.log
            )


class Handler(BaseHTTPRequestHandler):
    server: WaybackServer

    def log_message(self, format, *args):  # quiet
        pass

    def do_GET(self):
        parts = urlsplit(self.path)
        query = parse_qs(parts.query)
        self._log("GET", parts.path, query)
        if parts.path == "/requests":
            with self.server.lock:
                return self._json(200, self.server.log)
        if self._throttled():
            return
        if parts.path == "/wayback/available":
            return self._available(query)
        if parts.path == "/cdx/search/cdx":
            return self._cdx(query)
        if parts.path.startswith("/web/"):
            return self._capture(self.path[len("/web/") :])
        self._send(404, b"not found", "text/plain")

    def do_POST(self):
        parts = urlsplit(self.path)
        length = int(self.headers.get("Content-Length") or 0)
        form = parse_qs(self.rfile.read(length).decode())
        self._log("POST", parts.path, form)
        if parts.path != "/save":
            return self._send(404, b"not found", "text/plain")
        if self.headers.get("Authorization") != f"LOW {self.server.save_keys}":
            return self._json(401, {"message": "You need to be logged in to use Save Page Now."})
        url = (form.get("url") or [""])[0]
        self._json(200, {"url": url, "job_id": f"spn2-{abs(hash(url)):x}"})

    def _log(self, method: str, path: str, query: dict) -> None:
        with self.server.lock:
            self.server.log.append(
                {
                    "method": method,
                    "path": path,
                    "query": query,
                    "time": time.monotonic(),
                    "authorization": self.headers.get("Authorization"),
                }
            )

    def _throttled(self) -> bool:
        with self.server.lock:
            if self.server.throttle_left <= 0:
                return False
            self.server.throttle_left -= 1
        self._send(429, b"slow down", "text/plain", {"Retry-After": "1"})
        return True

    def _captures(self, url: str) -> list[StoredCapture]:
        with self.server.lock:
            return list(self.server.captures.get(url, []))

    def _available(self, query: dict) -> None:
        url = (query.get("url") or [""])[0]
        wanted = ((query.get("timestamp") or [""])[0] + "00000000000000")[:14]
        captures = self._captures(url)
        if not captures:
            return self._json(200, {"url": url, "archived_snapshots": {}})
        closest = min(captures, key=lambda c: abs(int(c.timestamp) - int(wanted)))
        self._json(
            200,
            {
                "url": url,
                "archived_snapshots": {
                    "closest": {
                        "available": True,
                        "url": f"{self.server.base}/web/{closest.timestamp}/{url}",
                        "timestamp": closest.timestamp,
                        "status": str(closest.status),
                    }
                },
            },
        )

    def _cdx(self, query: dict) -> None:
        url = (query.get("url") or [""])[0]
        rows = [
            [url, c.timestamp, url, "text/html", str(c.status), f"D{i}", str(len(c.body))]
            for i, c in enumerate(self._captures(url))
        ]
        for spec in query.get("filter", []):
            field, _, value = spec.partition(":")
            column = CDX_HEADER.index(field)
            rows = [r for r in rows if r[column] == value]
        limit = int((query.get("limit") or ["0"])[0])
        if limit:
            rows = rows[limit:] if limit < 0 else rows[:limit]
        self._json(200, [CDX_HEADER, *rows] if rows else [])

    def _capture(self, rest: str) -> None:
        stamp, _, url = rest.partition("/")
        raw = stamp.endswith("id_")
        timestamp = stamp.removesuffix("id_")
        found = [c for c in self._captures(url) if c.timestamp == timestamp]
        if not found:
            return self._send(404, b"no such capture", "text/plain")
        capture = found[0]
        body = capture.body
        if not raw:
            body = b"<div id='wm-banner'>Wayback Machine stand-in</div>" + body
        self._send(capture.status, body, capture.content_type)

    def _json(self, status: int, data) -> None:
        self._send(status, json.dumps(data).encode(), "application/json")

    def _send(self, status: int, body: bytes, content_type: str, headers: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)


if __name__ == "__main__":
    server = WaybackServer()
    print(server.base, flush=True)
    with contextlib.suppress(KeyboardInterrupt):
        server.serve_forever()
