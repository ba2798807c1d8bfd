"""The SQLite backend: one file, opened with sqlite-utils.

Everything that is SQLite's own lives here: opening the file, write transactions,
the few statements whose SQL differs between engines, FTS5, and how a run is known to
be alive. The concern modules (registry, recording, schedule, ...) write portable SQL
with ``?`` parameters and call a backend for the rest (``storage.backend.Backend``).
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from itertools import count
from pathlib import Path
from typing import Any

from sqlite_utils import Database

from . import lock
from .migrations import migrations

_savepoints = count()


class SQLiteBackend:
    """The cache in one SQLite file: WAL, so readers never wait on the writer."""

    name = "sqlite"
    IntegrityError: type[Exception] = sqlite3.IntegrityError
    """What a violated constraint raises."""
    insertion_order = "rowid"
    """A column that orders rows of ``resources`` by insertion."""
    skip_locked = ""
    """Appended to a SELECT that claims rows; a write transaction here locks the file."""
    search_source = "resource_search JOIN resources r ON r.rowid = resource_search.rowid"
    """FROM clause of a full-text query (FTS5, migration m003); ``r`` is the resource."""
    search_match = "resource_search MATCH ?"
    """The condition of a full-text query; its parameter comes from :meth:`search_query`."""
    search_columns = (
        "snippet(resource_search, -1, '\x02', '\x03', ' … ', 24) AS snippet, "
        "bm25(resource_search, 10.0, 4.0, 1.0) AS score"
    )
    """``snippet`` marks hits with \\x02…\\x03; ``score`` is better when lower."""

    def __init__(self, path: Path, *, readonly: bool = False, busy_timeout_ms: int = 30_000):
        """Open the file read-only (``mode=ro``) for serving, else read-write in WAL mode.

        Writers wait up to ``busy_timeout_ms`` for each other instead of failing.
        """
        self.path = path
        self.readonly = readonly
        if readonly:
            conn = _connect_readonly(path)
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(path), check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        self.db = Database(conn)
        """The sqlite-utils connection (tests and migrations use it)."""
        if not readonly:
            self.db.enable_wal()
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.execute("PRAGMA foreign_keys = ON")

    def migrate(self) -> None:
        """Bring the schema up to date (storage/migrations.py)."""
        migrations.apply(self.db)

    def pending_migrations(self) -> list[str]:
        """Names of the migrations not yet applied (reads only)."""
        return [m.name for m in migrations.pending(self.db)]

    def close(self) -> None:
        self.db.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A transaction that begins as a writer (``BEGIN IMMEDIATE``); nested, a savepoint.

        A deferred ``BEGIN`` reads first and asks for the write lock later; when another
        process wrote in between, SQLite cannot wait its turn and fails with "database
        is locked". IMMEDIATE takes the write lock up front, so writers queue.
        """
        conn = self.db.conn
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

    # ---- statements ---------------------------------------------------------------------
    # Reads run as plain statements. sqlite-utils' db.query() wraps each one in a
    # SAVEPOINT so that it can reject a statement that returns no rows; ours are known
    # SELECTs, and the two extra statements cost a URL lookup 37% (bench/store_bench.py).

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement that returns no rows; how many rows it changed."""
        return self.db.execute(sql, list(params)).rowcount

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict]:
        """Every row of a SELECT, as dicts."""
        return list(self.iter_rows(sql, params))

    def iter_rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict]:
        """The rows of a SELECT as dicts, fetched as they are read."""
        cursor = self.db.execute(sql, list(params))
        names = [column[0] for column in cursor.description]
        for values in cursor:
            yield dict(zip(names, values, strict=True))

    def row(self, sql: str, params: Sequence[Any] = ()) -> dict | None:
        """The first row of a SELECT, or None."""
        cursor = self.db.execute(sql, list(params))
        values = cursor.fetchone()
        if values is None:
            return None
        return dict(zip([column[0] for column in cursor.description], values, strict=True))

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row of a SELECT."""
        found = self.db.execute(sql, list(params)).fetchone()
        return found[0] if found else None

    def insert(self, table: str, row: dict[str, Any]) -> int:
        """Insert ``row`` and return its integer key."""
        cursor = self.db.execute(_insert_sql(table, row), list(row.values()))
        return int(cursor.lastrowid or 0)

    def insert_ignore(self, table: str, row: dict[str, Any]) -> bool:
        """Insert ``row`` unless it would violate a uniqueness constraint; True if inserted."""
        sql = _insert_sql(table, row, "INSERT OR IGNORE")
        return self.db.execute(sql, list(row.values())).rowcount > 0

    def upsert(self, table: str, row: dict[str, Any], key: str) -> None:
        """Insert ``row``, or update the columns it names on the row with the same ``key``."""
        updates = ", ".join(f"{c} = excluded.{c}" for c in row if c != key)
        self.db.execute(
            _insert_sql(table, row) + f" ON CONFLICT({key}) DO UPDATE SET {updates}",
            list(row.values()),
        )

    # ---- full-text search ---------------------------------------------------------------

    def search_query(self, words: list[str]) -> str:
        """The MATCH parameter: every word quoted (any input is a valid query), all
        required, the last one a prefix."""
        quoted = [f'"{w}"' for w in words]
        quoted[-1] += "*"
        return " ".join(quoted)

    def rebuild_search_index(self) -> None:
        """Re-index every resource (after a VACUUM, which may renumber rowids)."""
        self.db.execute("INSERT INTO resource_search(resource_search) VALUES ('rebuild')")

    # ---- runs (storage/lock.py) -----------------------------------------------------------

    def run_alive(self, run_id: str) -> bool:
        """True while the process that registered ``run_id`` runs (its lock file is held)."""
        return lock.run_alive(self.path, run_id)

    # ---- editors' requests in real time -------------------------------------------------
    # No server to tell: workers on a file poll an indexed count (``--idle``), and
    # ``data_version`` between polls.

    def notify_requests(self) -> None:
        pass

    def listen_requests(self) -> None:
        return None

    def data_version(self) -> int:
        """A number that changes when another connection commits to the file (SQLite's
        ``PRAGMA data_version``, read from the shared WAL index: no disk read). An idle
        worker looks at it often to see an import or a queued request at once."""
        return self.db.execute("PRAGMA data_version").fetchone()[0]


def _connect_readonly(path: Path) -> sqlite3.Connection:
    """A connection that never writes to the file (``mode=ro``).

    A reader of a WAL file needs its ``-wal`` and ``-shm`` files, which it cannot create
    in a directory it may not write (another user's cache): SQLite then says "attempt to
    write a readonly database". With no ``-wal`` file, no writer has the file open and
    everything is in the file itself, so it is read as ``immutable`` (no -shm needed).
    When a writer has them open, they exist and a reader who may read them reads on.
    """
    uri = path.absolute().as_uri()
    conn = sqlite3.connect(f"{uri}?mode=ro", uri=True, check_same_thread=False)
    try:
        conn.execute("SELECT count(*) FROM sqlite_master").fetchone()
    except sqlite3.OperationalError as exc:
        conn.close()
        if "readonly" not in str(exc) or Path(f"{path}-wal").exists():
            raise
        conn = sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, check_same_thread=False)
    return conn


def _insert_sql(table: str, row: dict[str, Any], verb: str = "INSERT") -> str:
    columns = ", ".join(row)
    marks = ", ".join("?" for _ in row)
    return f"{verb} INTO {table} ({columns}) VALUES ({marks})"
