"""ASGI middleware: a request's right to write is checked before its body is read, and
no body is read past MAX_BODY_BYTES.

Without it a 1 GB POST was read whole (the server grew to 2.1 GB) before the route
answered 401. What can be checked from the headers is checked first: the bearer token
of an API write, the CSRF cookie of a page's form (its token may be in the form
itself, which the route checks once the bounded body is read).
"""

from __future__ import annotations

from starlette.requests import Request
from starlette.routing import Match

from . import csrf
from .citation_models import MAX_FULL_TEXT
from .deps import check_writes_enabled, require_write
from .errors import APIError, error_response

MAX_BODY_BYTES = 1024 * 1024
"""The largest request body: a registration batch of 200 resources needs some 400 KB."""
UPSERT_PATH = "/api/citations/content/upsert"
UPSERT_MAX_BODY_BYTES = 6 * MAX_FULL_TEXT + MAX_BODY_BYTES
"""The wiki's upsert carries up to 5 MiB of text (UTF-16 code units): in JSON each unit
may take up to 6 bytes (an escaped surrogate, ``\\ud83d``), plus the other fields."""
WRITE_METHODS = frozenset({"POST", "PUT", "PATCH", "DELETE"})


class BodyGuard:
    def __init__(self, app, max_body_bytes: int = MAX_BODY_BYTES):
        self.app = app
        self.max_body_bytes = max_body_bytes

    async def __call__(self, scope, receive, send):
        if not _takes_a_body(scope):  # a read, or a 404/405: its body is never read
            await self.app(scope, receive, send)
            return
        request = Request(scope)
        limit = UPSERT_MAX_BODY_BYTES if scope["path"] == UPSERT_PATH else self.max_body_bytes
        try:
            check_may_write(request)
            body = await self._read_body(request, receive, limit)
        except APIError as exc:
            response = error_response(request, exc.status, exc.code, exc.message, exc.headers)
            await response(scope, receive, send)
            return
        await self.app(scope, _replay(body, receive), send)

    async def _read_body(self, request: Request, receive, limit: int) -> bytes:
        """The whole body, or 413 as soon as it is known to be over ``limit`` bytes."""
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > limit:
            raise _too_large(limit)
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > limit:  # a chunked body, or a lying Content-Length
                raise _too_large(limit)
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        return b"".join(chunks)


def _takes_a_body(scope) -> bool:
    if scope["type"] != "http" or scope["method"] not in WRITE_METHODS:
        return False
    routes = scope["app"].router.routes
    return any(route.matches(scope)[0] == Match.FULL for route in routes)


def check_may_write(request: Request) -> None:
    """What the headers can tell: the API's bearer token, a form's CSRF cookie."""
    if request.url.path.startswith("/api/"):
        require_write(request)
    else:
        check_writes_enabled(request)
        csrf.check_cookie(request)


def _too_large(limit: int) -> APIError:
    return APIError(413, "too_large", f"the request body is over {limit // 1024} KB")


def _replay(body: bytes, receive):
    """``receive`` for the app: the body read already, then the client's own messages."""
    sent = False

    async def replay():
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()  # e.g. the client going away

    return replay
