"""Everything that is SQLite's own: opening the file, transactions, and the few
statements whose SQL differs between engines.

The concern modules (registry, recording, schedule, requests, reads, search) write
portable SQL with ``?`` parameters and call this module for the rest, so that a second
backend (PostgreSQL) replaces this module, not them.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from itertools import count
from pathlib import Path
from typing import Any

from sqlite_utils import Database

IntegrityError = sqlite3.IntegrityError
"""What a violated constraint raises."""

INSERTION_ORDER = "rowid"
"""A column that orders rows of ``resources`` by insertion."""

_savepoints = count()


def connect(path: Path, *, readonly: bool, busy_timeout_ms: int) -> Database:
    """Open the file: read-only (``mode=ro``) for serving, else read-write in WAL mode.

    Writers wait up to ``busy_timeout_ms`` for each other instead of failing.
    """
    if readonly:
        conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True, check_same_thread=False)
    else:
        conn = sqlite3.connect(str(path), check_same_thread=False)
    conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
    db = Database(conn)
    if not readonly:
        db.enable_wal()
        db.execute("PRAGMA synchronous = NORMAL")
        db.execute("PRAGMA foreign_keys = ON")
    return db


@contextmanager
def write_transaction(db: Database) -> Iterator[None]:
    """A transaction that begins as a writer (``BEGIN IMMEDIATE``); nested, a savepoint.

    A deferred ``BEGIN`` reads first and asks for the write lock later; when another
    process wrote in between, SQLite cannot wait its turn and fails with "database is
    locked". IMMEDIATE takes the write lock up front, so writers queue (busy_timeout).
    """
    conn = db.conn
    if conn.in_transaction:
        name = f"citecache_{next(_savepoints)}"
        conn.execute(f"SAVEPOINT {name}")
        try:
            yield
        except BaseException:
            if conn.in_transaction:
                conn.execute(f"ROLLBACK TO SAVEPOINT {name}")
                conn.execute(f"RELEASE SAVEPOINT {name}")
            raise
        conn.execute(f"RELEASE SAVEPOINT {name}")
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        if conn.in_transaction:
            conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def insert(db: Database, table: str, row: dict[str, Any]) -> int:
    """Insert ``row`` and return its integer key."""
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    cursor = db.execute(f"INSERT INTO {table} ({columns}) VALUES ({marks})", list(row.values()))
    return int(cursor.lastrowid or 0)


def insert_ignore(db: Database, table: str, row: dict[str, Any]) -> None:
    """Insert ``row`` unless it would violate a uniqueness constraint."""
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    db.execute(f"INSERT OR IGNORE INTO {table} ({columns}) VALUES ({marks})", list(row.values()))


def register_function(db: Database, name: str, arity: int, function: Callable) -> None:
    """Make a Python function callable from SQL on this connection."""
    db.conn.create_function(name, arity, function, deterministic=True)


# ---- full-text search (FTS5, see migration m003) ---------------------------------------

SEARCH_SOURCE = "resource_search JOIN resources r ON r.rowid = resource_search.rowid"
"""FROM clause of a full-text query; ``r`` is the matching resource."""
SEARCH_MATCH = "resource_search MATCH ?"
SEARCH_COLUMNS = (
    "snippet(resource_search, -1, '\x02', '\x03', ' … ', 24) AS snippet, "
    "bm25(resource_search, 10.0, 4.0, 1.0) AS score"
)
"""``snippet`` marks hits with \\x02…\\x03; ``score`` is better when lower."""


def rebuild_search_index(db: Database) -> None:
    """Re-index every resource (after a VACUUM, which may renumber rowids)."""
    db.execute("INSERT INTO resource_search(resource_search) VALUES ('rebuild')")


# Reads run as plain statements. sqlite-utils' db.query() wraps each one in a SAVEPOINT
# so that it can reject a statement that returns no rows; ours are known SELECTs, and
# the two extra statements cost a URL lookup 37% of its speed (bench/store_bench.py).
def rows(db: Database, sql: str, params: Sequence[Any] = ()) -> list[dict]:
    """Every row of a SELECT, as dicts."""
    cursor = db.execute(sql, list(params))
    names = [column[0] for column in cursor.description]
    return [dict(zip(names, values, strict=True)) for values in cursor]


def row(db: Database, sql: str, params: Sequence[Any] = ()) -> dict | None:
    """The first row of a SELECT, or None."""
    cursor = db.execute(sql, list(params))
    values = cursor.fetchone()
    if values is None:
        return None
    return dict(zip([column[0] for column in cursor.description], values, strict=True))


def scalar(db: Database, sql: str, params: Sequence[Any] = ()) -> Any:
    """The first column of the first row of a query."""
    found = db.execute(sql, list(params)).fetchone()
    return found[0] if found else None


def upsert(db: Database, table: str, row: dict[str, Any], key: str) -> None:
    """Insert ``row``, or update the columns it names on the row with the same ``key``."""
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    updates = ", ".join(f"{c} = excluded.{c}" for c in row if c != key)
    db.execute(
        f"INSERT INTO {table} ({columns}) VALUES ({marks}) "
        f"ON CONFLICT({key}) DO UPDATE SET {updates}",
        list(row.values()),
    )
