"""What the store needs from a database engine, and opening the right one.

The store's parts write portable SQL with ``?`` parameters; a backend runs it and
supplies what differs between engines. ``storage.sqlite.SQLiteBackend`` is the one
built in; a backend for another engine implements the same :class:`Backend`.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import AbstractContextManager
from pathlib import Path
from typing import Any, Protocol
from urllib.parse import urlsplit, urlunsplit


class Backend(Protocol):
    name: str
    IntegrityError: type[Exception]
    insertion_order: str
    skip_locked: str
    search_source: str
    search_match: str
    search_columns: str

    def migrate(self) -> None: ...
    def close(self) -> None: ...
    def transaction(self) -> AbstractContextManager[None]: ...
    def execute(self, sql: str, params: Sequence[Any] = ()) -> int: ...
    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict]: ...
    def iter_rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict]: ...
    def row(self, sql: str, params: Sequence[Any] = ()) -> dict | None: ...
    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any: ...
    def insert(self, table: str, row: dict[str, Any]) -> int: ...
    def insert_ignore(self, table: str, row: dict[str, Any]) -> None: ...
    def upsert(self, table: str, row: dict[str, Any], key: str) -> None: ...
    def search_query(self, words: list[str]) -> str: ...
    def rebuild_search_index(self) -> None: ...
    def run_alive(self, run_id: str) -> bool: ...


def is_postgres(target: str | Path) -> bool:
    """Whether ``target`` names a PostgreSQL database (a URL) rather than a SQLite file."""
    return str(target).startswith(("postgresql://", "postgres://"))


def safe_target(target: str | Path) -> str:
    """``target`` fit for a message: a URL's password is masked."""
    text = str(target)
    if not is_postgres(text):
        return text
    parts = urlsplit(text)
    if parts.password is None:
        return text
    netloc = parts.netloc.replace(f":{parts.password}@", ":***@", 1)
    return urlunsplit(parts._replace(netloc=netloc))


def open_backend(target: str | Path, *, readonly: bool, busy_timeout_ms: int) -> Backend:
    """The backend for ``target``: a file path (SQLite)."""
    from .sqlite import SQLiteBackend

    return SQLiteBackend(Path(target), readonly=readonly, busy_timeout_ms=busy_timeout_ms)
