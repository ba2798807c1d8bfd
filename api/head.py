"""ASGI middleware: ``HEAD`` answers as ``GET`` does, without the body (RFC 9110 9.3.2).

FastAPI routes declare GET alone, so HEAD got 405 everywhere; link checkers and the
wiki's uptime probes send HEAD.
"""

from __future__ import annotations


class HeadAsGet:
    def __init__(self, app):
        self.app = app

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] != "HEAD":
            await self.app(scope, receive, send)
            return

        async def send_headers_only(message):
            if message["type"] == "http.response.body":
                if message.get("more_body"):
                    return  # the GET's body is dropped, its headers (Content-Length) kept
                message = {"type": "http.response.body", "body": b"", "more_body": False}
            await send(message)

        await self.app({**scope, "method": "GET"}, receive, send_headers_only)
