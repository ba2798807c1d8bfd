"""The access log: one line per request, off by default (``serve --access-log``).

Each line: method, path and query, status, duration. The values of query parameters
whose names look like secrets are replaced, and no header (Authorization, Cookie) is
ever logged.
"""

from __future__ import annotations

import logging
import re
import sys
import time
from urllib.parse import parse_qsl, quote, urlencode

logger = logging.getLogger("citecache.access")

_SECRET_NAME = re.compile(r"token|key|secret|pass|auth|csrf|sig|session", re.IGNORECASE)
REDACTED = "[redacted]"


def logged_target(scope: dict) -> str:
    """``path?query`` as sent (percent-encoded: a line break in it cannot forge a line),
    with the values of secret-looking parameters replaced."""
    raw_path = scope.get("raw_path")
    path = raw_path.decode("latin-1") if raw_path else quote(scope["path"])
    query_string = scope.get("query_string", b"")
    if not query_string:
        return path
    pairs = parse_qsl(query_string.decode("latin-1"), keep_blank_values=True)
    safe = [(k, REDACTED if _SECRET_NAME.search(k) else v) for k, v in pairs]
    return f"{path}?{urlencode(safe, safe='[]/:,')}"


class AccessLog:
    """ASGI middleware writing one line per HTTP request to the ``citecache.access`` logger."""

    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500  # unless the app starts a response
        logged = False

        def log() -> None:
            nonlocal logged
            logged = True
            logger.info(
                "%s %s %d %.1fms",
                scope["method"],
                logged_target(scope),
                status,
                (time.perf_counter() - started) * 1000,
            )

        async def send_and_log(message):
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body"):
                log()  # the response is out; the app may still run background tasks

        try:
            await self.app(scope, receive, send_and_log)
        finally:
            if not logged:
                log()


def log_to_stderr() -> None:
    """Send the access log to stderr, one line each, with the time in UTC."""
    handler = logging.StreamHandler(sys.stderr)
    formatter = logging.Formatter("%(asctime)s %(message)s", "%Y-%m-%dT%H:%M:%SZ")
    formatter.converter = time.gmtime
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)
    logger.propagate = False
