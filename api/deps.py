"""Request-scoped dependencies: read-only stores, the write store, token checks."""

from __future__ import annotations

import hmac
import secrets
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from fastapi import Request

from storage import Store

from .errors import APIError
from .ratelimit import TokenBucket
from .worker import RefetchWorker

TOKEN_COOKIE = "citecache_token"


@dataclass
class Settings:
    db_path: str
    """A SQLite file path or a PostgreSQL URL."""
    api_token: str | None = None
    read_token_required: bool = False
    allow_private: bool = False
    limiter: TokenBucket = field(default_factory=TokenBucket)
    worker: RefetchWorker | None = None
    csrf_key: bytes = field(default_factory=lambda: secrets.token_bytes(32))
    """Signs the HTML forms' CSRF tokens (api/csrf.py); new in every process."""
    write_busy_timeout_ms: int = 30_000
    """How long a write waits for another writer (a crawl) before it answers 503."""
    _write_lock: threading.Lock = field(default_factory=threading.Lock)
    _write_store: Store | None = None

    @contextmanager
    def writer(self) -> Iterator[Store]:
        """The one write connection, one writer at a time (datasette's pattern)."""
        with self._write_lock:
            if self._write_store is None:
                self._write_store = Store(self.db_path, busy_timeout_ms=self.write_busy_timeout_ms)
            yield self._write_store

    def close(self) -> None:
        with self._write_lock:
            if self._write_store is not None:
                self._write_store.close()
                self._write_store = None


def settings(request: Request) -> Settings:
    return request.app.state.settings


def read_store(request: Request) -> Iterator[Store]:
    """A read-only connection for this request: a crawl never blocks it."""
    check_read(request)
    store = Store(settings(request).db_path, readonly=True)
    try:
        yield store
    finally:
        store.close()


def presented_token(request: Request, *, cookie: bool = False) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, value = header.partition(" ")
    if scheme.lower() == "bearer" and value.strip():
        return value.strip()
    if cookie:
        return request.cookies.get(TOKEN_COOKIE) or None
    return None


def token_ok(expected: str | None, given: str | None) -> bool:
    return bool(expected and given and hmac.compare_digest(expected.encode(), given.encode()))


_CHALLENGE = {"WWW-Authenticate": 'Bearer realm="citecache"'}


def check_read(request: Request) -> None:
    conf = settings(request)
    if not conf.read_token_required:
        return
    cookie = not request.url.path.startswith("/api/")
    if not token_ok(conf.api_token, presented_token(request, cookie=cookie)):
        raise APIError(401, "unauthorized", "a valid bearer token is required", _CHALLENGE)


def check_writes_enabled(request: Request) -> Settings:
    """The settings, unless the server takes no writes (403)."""
    conf = settings(request)
    if not conf.api_token:
        raise APIError(
            403, "writes_disabled", "writes are disabled: the server has no CITECACHE_API_TOKEN"
        )
    return conf


def require_write(request: Request, given: str | None = None) -> str:
    """The caller's token if it may write; raises 401/403 otherwise."""
    conf = check_writes_enabled(request)
    given = given if given is not None else presented_token(request)
    if not given:
        raise APIError(401, "unauthorized", "writes need a bearer token", _CHALLENGE)
    if not token_ok(conf.api_token, given):
        raise APIError(401, "unauthorized", "invalid token", _CHALLENGE)
    return given


def writer_only(request: Request) -> None:
    """A route dependency: the caller must hold the write token."""
    require_write(request)


def take_refetch_slot(request: Request, token: str) -> None:
    wait = settings(request).limiter.take(token)
    if wait:
        seconds = max(1, int(wait + 0.999))
        raise APIError(
            429,
            "rate_limited",
            f"too many re-fetch requests; retry in {seconds} s",
            {"Retry-After": str(seconds)},
        )
