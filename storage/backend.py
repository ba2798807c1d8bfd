"""What the store needs from a database engine, and opening the right one.

The store's parts write portable SQL with ``?`` parameters; a backend runs it and
supplies what differs between engines. ``storage.sqlite.SQLiteBackend`` (a file path)
and ``storage.postgres.PostgresBackend`` (a ``postgresql://`` URL) implement the same
:class:`Backend`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import parse_qsl, urlencode, urlsplit

POSTGRES_SCHEMES = ("postgresql://", "postgres://")


class Backend(Protocol):
    name: str
    IntegrityError: type[Exception]
    insertion_order: str
    skip_locked: str
    # A full-text statement is ``SELECT ..., {search_columns} FROM {search_source} ...
    # WHERE {search_match} AND ...``: the one parameter, from search_query(), sits in
    # search_source or in search_match, so the parts pass it before any other.
    search_source: str
    search_match: str
    search_columns: str

    def migrate(self) -> None: ...
    def pending_migrations(self) -> list[str]: ...
    def close(self) -> None: ...
    def transaction(self) -> AbstractContextManager[None]: ...
    def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...
    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict]: ...
    def iter_rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict]: ...
    def row(self, sql: str, params: Sequence[Any] = ()) -> dict | None: ...
    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    def insert(self, table: str, row: dict[str, Any]) -> int: ...
    def insert_ignore(self, table: str, row: dict[str, Any]) -> bool: ...
    def upsert(self, table: str, row: dict[str, Any], key: str) -> None: ...
    def search_query(self, words: list[str]) -> str: ...
    def rebuild_search_index(self) -> None: ...
    def run_alive(self, run_id: str) -> bool: ...
    def notify_requests(self) -> None: ...
    def listen_requests(self) -> RequestListener | None: ...
    def data_version(self) -> int | None: ...


class RequestListener(Protocol):
    """Told when an editor's request is queued (PostgreSQL LISTEN/NOTIFY)."""

    def wait(self, timeout: float) -> bool:
        """Block up to ``timeout`` seconds; True if a request was queued meanwhile."""

    def close(self) -> None: ...


def is_postgres(target: str | Path) -> bool:
    """True when ``target`` is a PostgreSQL URL rather than a SQLite file path."""
    return isinstance(target, str) and target.startswith(POSTGRES_SCHEMES)


def redact(target: str | Path) -> str:
    """``target`` fit for a message: a URL's password (in the netloc or the query) is masked."""
    text = str(target)
    if not is_postgres(text):
        return text
    parts = urlsplit(text)
    netloc = parts.netloc
    userinfo, at, hostport = netloc.rpartition("@")
    if at and ":" in userinfo:
        netloc = f"{userinfo.split(':', 1)[0]}:***@{hostport}"
    query = parts.query
    if query:
        pairs = parse_qsl(query, keep_blank_values=True)
        query = "?" + urlencode([(k, "***" if k == "password" else v) for k, v in pairs], safe="*")
    return f"{parts.scheme}://{netloc}{parts.path}{query}"


def open_backend(target: str | Path, *, readonly: bool, busy_timeout_ms: int) -> Backend:
    """The backend for ``target``: a PostgreSQL URL, else a SQLite file path."""
    if is_postgres(target):
        from .postgres import PostgresBackend  # psycopg loads only for PostgreSQL

        return PostgresBackend(str(target), readonly=readonly, busy_timeout_ms=busy_timeout_ms)
    from .sqlite import SQLiteBackend

    return SQLiteBackend(Path(target), readonly=readonly, busy_timeout_ms=busy_timeout_ms)


def database_exists(target: str | Path) -> bool:
    """True when ``target`` holds a cache already: the SQLite file exists, or the
    PostgreSQL database has the schema. An unreachable server raises its error."""
    if is_postgres(target):
        from .postgres import has_schema

        return has_schema(str(target))
    return Path(target).exists()
