"""One error shape for every failure: ``{"error": CODE, "message": TEXT}``."""

from __future__ import annotations

import logging

from fastapi import Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException

from storage.errors import database_errors, is_busy

BUSY_RETRY_AFTER_SECONDS = 5
logger = logging.getLogger(__name__)

CODES = {
    400: "validation_error",
    401: "unauthorized",
    403: "forbidden",
    404: "not_found",
    405: "method_not_allowed",
    409: "conflict",
    413: "too_large",
    415: "unsupported_media_type",
    422: "validation_error",
    429: "rate_limited",
    500: "internal_error",
    503: "unavailable",
}


class APIError(Exception):
    """Raised by a route; rendered as the error shape with ``status``."""

    def __init__(self, status: int, code: str, message: str, headers: dict | None = None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = headers or {}


def accept_ranks(request: Request, kinds: dict[str, str]) -> dict[str, float]:
    """The best quality the Accept header gives each kind (``{media type: kind}``)."""
    best = dict.fromkeys(kinds.values(), 0.0)
    for part in request.headers.get("accept", "").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        kind = kinds.get(media)
        if kind is None:
            continue
        q = 1.0
        for param in params:
            name, _, value = param.partition("=")
            if name.strip() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        best[kind] = max(best[kind], q)
    return best


def prefers_json(request: Request) -> bool:
    """True when the Accept header ranks JSON above HTML (no header or ``*/*``: HTML)."""
    ranks = accept_ranks(request, {"application/json": "json", "text/html": "html", "*/*": "html"})
    return ranks["json"] > ranks["html"]


def error_response(
    request: Request, status: int, code: str, message: str, headers: dict | None = None
) -> JSONResponse | HTMLResponse:
    path = request.url.path
    if not (path.startswith("/api/") or path == "/openapi.json" or prefers_json(request)):
        templates = getattr(request.app.state, "templates", None)
        if templates is not None:
            html = templates.get_template("error.html").render(
                status=status, code=code, message=message
            )
            return HTMLResponse(html, status_code=status, headers=headers)
    return JSONResponse({"error": code, "message": message}, status_code=status, headers=headers)


def _validation_message(exc: RequestValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(p) for p in err.get("loc", ()) if p not in ("query", "path", "body"))
        parts.append(f"{where}: {err.get('msg')}" if where else str(err.get("msg")))
    return "; ".join(parts) or "invalid request"


def install(app) -> None:
    """Route every error through the one shape (FastAPI's own 404/405/422 included)."""

    @app.exception_handler(APIError)
    async def _api_error(request: Request, exc: APIError):
        return error_response(request, exc.status, exc.code, exc.message, exc.headers)

    @app.exception_handler(StarletteHTTPException)
    async def _http_error(request: Request, exc: StarletteHTTPException):
        code = CODES.get(exc.status_code, "error")
        message = exc.detail if isinstance(exc.detail, str) else code
        if exc.status_code == 404 and message == "Not Found":
            message = f"No route for {request.url.path}"
        if exc.status_code == 405:
            message = f"Method {request.method} not allowed on {request.url.path}"
        return error_response(
            request, exc.status_code, code, message, getattr(exc, "headers", None)
        )

    @app.exception_handler(RequestValidationError)
    async def _validation_error(request: Request, exc: RequestValidationError):
        # 400, not FastAPI's 422: the wiki's client expects 400 for a bad query.
        if any(err.get("type") == "json_invalid" for err in exc.errors()):
            return error_response(request, 400, "invalid_json", "the body is not valid JSON")
        return error_response(request, 400, "validation_error", _validation_message(exc))

    async def _database_error(request: Request, exc: Exception):
        if is_busy(exc):  # another writer (a crawl) held the database past our wait
            return error_response(
                request,
                503,
                "busy",
                "the database is busy with another writer; try again shortly",
                {"Retry-After": str(BUSY_RETRY_AFTER_SECONDS)},
            )
        logger.error("database error on %s", request.url.path, exc_info=exc)
        return error_response(request, 500, "internal_error", "internal error; see the server log")

    for kind in database_errors():
        app.add_exception_handler(kind, _database_error)

    @app.exception_handler(Exception)
    async def _internal_error(request: Request, exc: Exception):
        return error_response(request, 500, "internal_error", "internal error; see the server log")
