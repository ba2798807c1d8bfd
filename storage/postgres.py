"""The PostgreSQL backend: a database on a server, reached by URL through psycopg 3.

What is PostgreSQL's own lives here, as storage/sqlite.py holds SQLite's: connecting,
``?`` parameters, transactions, the statements whose SQL differs, full-text search over
a ``tsvector`` (storage/pg_migrations.py, m003), and the advisory locks that stand in for
the SQLite backend's lock files (storage/lock.py).

SQLite semantics are kept where the parts rely on them:

- one writer at a time: every write transaction first takes a transaction-level
  advisory lock, as ``BEGIN IMMEDIATE`` takes SQLite's write lock, so the parts'
  read-then-write steps (find a snapshot, else insert it) never race another process;
  readers never wait (MVCC), as with WAL;
- values come back as SQLite gives them: ``numeric`` (``avg()``, ``sum()`` of BIGINT)
  as int when whole, else float, never Decimal; a bool parameter is stored as 0/1.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from functools import lru_cache
from typing import Any

import psycopg
from psycopg import errors
from psycopg.adapt import AdaptersMap, Buffer, Dumper, Loader
from psycopg.conninfo import conninfo_to_dict
from psycopg.pq import TransactionStatus
from psycopg.rows import dict_row
from psycopg.types.string import StrDumperUnknown

from . import lock, pg_migrations


def advisory_key(name: str) -> int:
    """A 64-bit advisory lock key for ``name`` (signed, as PostgreSQL's bigint)."""
    digest = hashlib.blake2b(name.encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


WRITER_LOCK = advisory_key("citecache:writer")
"""Held by each write transaction until it ends: one writer at a time, as in SQLite."""


# ---- connections ------------------------------------------------------------------------


class _NumberLoader(Loader):
    """``numeric`` as SQLite returns numbers: int when whole (``sum()``), else float."""

    def load(self, data: Buffer) -> int | float:
        text = bytes(data).decode()
        try:
            return int(text)
        except ValueError:
            return float(text)


class _BoolDumper(Dumper):
    """A bool parameter as 0/1: the schema keeps flags in integer columns, as SQLite."""

    oid = psycopg.postgres.types["int8"].oid

    def dump(self, obj: bool) -> Buffer:
        return b"1" if obj else b"0"


class _TextDumper(StrDumperUnknown):
    """PostgreSQL's text cannot hold NUL (SQLite's can, and PDFs do yield it): U+FFFD
    takes its place instead of the whole write failing."""

    def dump(self, obj: str) -> Buffer | None:
        return super().dump(obj.replace("\x00", "\ufffd"))


_ADAPTERS = AdaptersMap(psycopg.adapters)
_ADAPTERS.register_loader("numeric", _NumberLoader)
_ADAPTERS.register_dumper(bool, _BoolDumper)
_ADAPTERS.register_dumper(str, _TextDumper)


REQUESTS_CHANNEL = "citecache_requests"
"""The NOTIFY channel of queued editors' requests."""


class RequestListener:
    """LISTEN on a connection of its own; :meth:`wait` returns at the first NOTIFY."""

    def __init__(self, url: str):
        self.url = url
        self.conn: psycopg.Connection[Any] | None = None

    def wait(self, timeout: float) -> bool:
        try:
            if self.conn is None or self.conn.closed or self.conn.broken:
                self.conn = psycopg.connect(self.url, autocommit=True)
                self.conn.execute(f"LISTEN {REQUESTS_CHANNEL}")
            return any(True for _ in self.conn.notifies(timeout=timeout, stop_after=1))
        except psycopg.OperationalError:
            # The server went away (a restart): the poll covers the gap; listen again later.
            self.close()
            return False

    def close(self) -> None:
        if self.conn is not None:
            self.conn.close()
            self.conn = None


def connect(
    url: str,
    *,
    readonly: bool = False,
    lock_timeout_ms: int | None = None,
    application_name: str = "citecache",
) -> psycopg.Connection[dict[str, Any]]:
    """A connection in autocommit mode (a statement outside a transaction commits on its
    own, as in SQLite) with dict rows. ``readonly``: every transaction is read-only."""
    options = [str(conninfo_to_dict(url).get("options") or "")]  # keep the URL's own
    if readonly:
        options.append("-c default_transaction_read_only=on")
    if lock_timeout_ms is not None:
        # SQLite's busy_timeout: how long to wait for another writer before failing.
        options.append(f"-c lock_timeout={int(lock_timeout_ms)}")
    return psycopg.connect(
        url,
        autocommit=True,
        row_factory=dict_row,
        context=_ADAPTERS,
        options=" ".join(o for o in options if o),
        application_name=application_name,
    )


@lru_cache(maxsize=2048)
def _pg_sql(sql: str) -> str:
    """``?`` parameters as psycopg's ``%s``, and a literal ``%`` escaped as ``%%``.

    A ``?`` inside a quoted string or identifier stays as it is.
    """
    out = []
    quote = ""
    for ch in sql:
        if quote:
            if ch == quote:
                quote = ""
        elif ch in "'\"":
            quote = ch
        elif ch == "?":
            out.append("%s")
            continue
        out.append("%%" if ch == "%" else ch)
    return "".join(out)


def _insert_sql(table: str, row: dict[str, Any]) -> str:
    return f"INSERT INTO {table} ({', '.join(row)}) VALUES ({', '.join('?' for _ in row)})"


# ---- the backend ------------------------------------------------------------------------


class PostgresBackend:
    """The cache in a PostgreSQL database (schema: storage/pg_migrations.py)."""

    name = "postgresql"
    IntegrityError: type[Exception] = errors.IntegrityError
    """What a violated constraint raises (psycopg's UniqueViolation and its kin)."""
    insertion_order = "seq"
    """``resources.seq``, an identity column: PostgreSQL has no rowid."""
    skip_locked = " FOR UPDATE SKIP LOCKED"
    """Appended to a SELECT that claims rows: a row another transaction is claiming is
    passed over, not waited for (host leases across a fleet)."""
    search_source = (
        "to_tsquery('citecache', ?) AS search(query) "
        "CROSS JOIN resource_search "
        "JOIN resources r ON r.id = resource_search.id "
        "LEFT JOIN snapshots search_snapshot ON search_snapshot.id = r.current_snapshot_id"
    )
    """FROM clause of a full-text query, with its parameter: the tsquery, named
    ``search.query``. ``r`` is the resource."""
    search_match = "resource_search.document @@ search.query"
    """The condition of a full-text query (its parameter is in :attr:`search_source`)."""
    search_columns = (
        # ts_headline parses the text it is given again (FTS5's snippet reads positions
        # from the index): the first 100,000 characters keep a search page fast.
        "ts_headline('citecache', concat_ws(' … ', coalesce(r.title, search_snapshot.title), "
        "r.summary, left(search_snapshot.full_text, 100000)), search.query, "
        "'StartSel=\x02, StopSel=\x03, MaxWords=24, MinWords=12, MaxFragments=1') AS snippet, "
        # The weights of D, C, B, A: body 1, summary 4, title 10, as bm25 is given them.
        # Negated: a lower score is a better match, as with bm25.
        "-ts_rank('{0, 0.1, 0.4, 1.0}', resource_search.document, search.query, 1) AS score"
    )
    """``snippet`` marks hits with \\x02…\\x03; ``score`` is better when lower."""

    def __init__(self, url: str, *, readonly: bool = False, busy_timeout_ms: int = 30_000):
        """Connect; ``readonly`` makes every transaction read-only (for serving).

        Writers wait up to ``busy_timeout_ms`` for each other instead of failing.
        """
        self.url = url
        self.readonly = readonly
        self.busy_timeout_ms = busy_timeout_ms
        self.conn = connect(url, readonly=readonly, lock_timeout_ms=busy_timeout_ms)
        self._serial_tables: frozenset[str] | None = None
        self._depth = 0

    def _connected(self) -> psycopg.Connection[dict[str, Any]]:
        """The connection, made anew when the server dropped the old one (a restart): the
        statement that met the break failed; the next one, outside a transaction, goes on.
        """
        if self._depth == 0 and (self.conn.closed or self.conn.broken):
            self.conn = connect(
                self.url, readonly=self.readonly, lock_timeout_ms=self.busy_timeout_ms
            )
        return self.conn

    def migrate(self) -> None:
        """Bring the schema up to date (storage/pg_migrations.py), all or nothing."""
        if not self.pending_migrations():
            return  # up to date: no need to wait for the writer lock (a long import)
        with self.transaction():
            pg_migrations.apply(self.conn)
        self._serial_tables = None

    def pending_migrations(self) -> list[str]:
        """Names of the migrations not yet applied (reads only)."""
        done = set(pg_migrations.applied(self._connected()))
        return [m.__name__ for m in pg_migrations.MIGRATIONS if m.__name__ not in done]

    def close(self) -> None:
        self.conn.close()

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """A transaction that begins as the one writer; nested, a savepoint.

        The advisory lock waits for the transaction of any other writer to end (as
        SQLite's ``BEGIN IMMEDIATE``) and is released at COMMIT or ROLLBACK.
        """
        conn = self._connected()
        outermost = conn.info.transaction_status == TransactionStatus.IDLE
        self._depth += 1
        try:
            with conn.transaction():
                if outermost and not self.readonly:
                    conn.execute("SELECT pg_advisory_xact_lock(%s)", [WRITER_LOCK])
                yield
        finally:
            self._depth -= 1

    # ---- editors' requests in real time (LISTEN/NOTIFY) ------------------------------

    def notify_requests(self) -> None:
        """Tell listening workers that a request was queued (sent at commit)."""
        self._run(f"NOTIFY {REQUESTS_CHANNEL}", [])

    def listen_requests(self) -> RequestListener:
        """A connection of its own that listens for queued requests."""
        return RequestListener(self.url)

    def data_version(self) -> None:
        """None: a server tells its listeners (above); nothing to poll."""
        return None

    # ---- statements ---------------------------------------------------------------------

    def _run(self, sql: str, params: Sequence[Any]) -> psycopg.Cursor[dict[str, Any]]:
        # Always with a parameter list, even empty, so that psycopg turns %% back into %.
        return self._connected().execute(_pg_sql(sql), list(params))

    def execute(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Run a statement that returns no rows; how many rows it changed."""
        return self._run(sql, params).rowcount

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[dict]:
        """Every row of a SELECT, as dicts."""
        return self._run(sql, params).fetchall()

    def iter_rows(self, sql: str, params: Sequence[Any] = ()) -> Iterator[dict]:
        """The rows of a SELECT as dicts (the client holds the result, as psycopg does)."""
        yield from self._run(sql, params)

    def row(self, sql: str, params: Sequence[Any] = ()) -> dict | None:
        """The first row of a SELECT, or None."""
        return self._run(sql, params).fetchone()

    def scalar(self, sql: str, params: Sequence[Any] = ()) -> Any:
        """The first column of the first row of a SELECT."""
        found = self._run(sql, params).fetchone()
        return next(iter(found.values())) if found else None

    def insert(self, table: str, row: dict[str, Any]) -> int:
        """Insert ``row`` and return its integer ``id`` (0 for a table keyed otherwise)."""
        if table not in self._tables_with_serial_id():
            self._run(_insert_sql(table, row), list(row.values()))
            return 0
        found = self._run(_insert_sql(table, row) + " RETURNING id", list(row.values()))
        return int(found.fetchone()["id"])  # type: ignore[index]

    def insert_ignore(self, table: str, row: dict[str, Any]) -> bool:
        """Insert ``row`` unless it would violate a uniqueness constraint; True if inserted."""
        sql = _insert_sql(table, row) + " ON CONFLICT DO NOTHING"
        return self._run(sql, list(row.values())).rowcount > 0

    def upsert(self, table: str, row: dict[str, Any], key: str) -> None:
        """Insert ``row``, or update the columns it names on the row with the same ``key``."""
        updates = ", ".join(f"{c} = EXCLUDED.{c}" for c in row if c != key)
        action = f"DO UPDATE SET {updates}" if updates else "DO NOTHING"
        self._run(f"{_insert_sql(table, row)} ON CONFLICT ({key}) {action}", list(row.values()))

    def _tables_with_serial_id(self) -> frozenset[str]:
        if self._serial_tables is None:
            found = self._run(
                "SELECT table_name FROM information_schema.columns "
                "WHERE table_schema = current_schema() AND column_name = 'id' "
                "AND data_type IN ('bigint', 'integer')",
                [],
            )
            self._serial_tables = frozenset(r["table_name"] for r in found)
        return self._serial_tables

    # ---- full-text search ---------------------------------------------------------------

    def search_query(self, words: list[str]) -> str:
        """The tsquery parameter: every word quoted (any input is a valid query), all
        required (``&``), the last one a prefix (``:*``)."""
        quoted = ["'" + w.replace("\\", "\\\\").replace("'", "''") + "'" for w in words]
        quoted[-1] += ":*"
        return " & ".join(quoted)

    def rebuild_search_index(self) -> None:
        """Re-index every resource (after a change of the search configuration, say)."""
        with self.transaction():
            self.execute("DELETE FROM resource_search")
            self.execute(
                "INSERT INTO resource_search (id, document) "
                "SELECT id, citecache_search_document(title, summary, current_snapshot_id) "
                "FROM resources"
            )

    # ---- runs (storage/lock.py) -----------------------------------------------------------

    def run_alive(self, run_id: str) -> bool:
        """True while the process that registered ``run_id`` runs: its session holds the
        run's advisory lock, which the server drops when that connection goes."""
        if not lock.valid_run_id(run_id):
            return False
        return bool(self.scalar(_HELD_SQL, [advisory_key(lock.run_lock_name(run_id))]))


_LOCK_ROW = (
    "l.locktype = 'advisory' AND l.granted AND l.objsubid = 1 "
    "AND l.database = (SELECT oid FROM pg_database WHERE datname = current_database()) "
    # A bigint key shows as its two halves.
    "AND ((l.classid::bigint << 32) | l.objid::bigint) = ?"
)
_HELD_SQL = f"SELECT EXISTS (SELECT 1 FROM pg_locks l WHERE {_LOCK_ROW}) AS held"
_HOLDER_SQL = (
    "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
    f"WHERE {_LOCK_ROW}"
)
_HOLDER_PREFIX = "citecache pid "


class AdvisoryLock:
    """A session-level advisory lock, held on a connection of its own while it is held.

    The server drops it when that connection ends, also when the process dies (even by
    SIGKILL, the kernel closes the socket): the counterpart of a flock on a lock file.
    It also holds across machines that share the database.
    """

    def __init__(self, url: str, name: str):
        self.url = url
        self.key = advisory_key(name)
        self.where = f"PostgreSQL advisory lock {name!r}"
        self._conn: psycopg.Connection[dict[str, Any]] | None = None

    def try_acquire(self) -> bool:
        conn = connect(self.url, application_name=f"{_HOLDER_PREFIX}{os.getpid()}")
        try:
            got = conn.execute("SELECT pg_try_advisory_lock(%s) AS got", [self.key]).fetchone()
        except BaseException:
            conn.close()
            raise
        if not (got and got["got"]):
            conn.close()
            return False
        self._conn = conn
        return True

    def holder(self) -> str:
        """The pid of the process that holds the lock, as it named its connection."""
        with connect(self.url) as conn:
            found = conn.execute(_pg_sql(_HOLDER_SQL), [self.key]).fetchone()
        name = (found or {}).get("application_name") or ""
        return name.removeprefix(_HOLDER_PREFIX) or "unknown"

    def release(self) -> None:
        """Unlock, then close. Closing alone frees the lock only once the server's backend
        has ended, after ``close()`` returns: a process checking right away could still
        see it held (a live run's requests taken for a dead run's, or the other way)."""
        if self._conn is None:
            return
        try:
            self._conn.execute("SELECT pg_advisory_unlock(%s)", [self.key])
        except psycopg.Error:
            pass  # a broken connection: the server drops the lock with the session
        finally:
            self._conn.close()
            self._conn = None


def has_schema(url: str) -> bool:
    """True when the database at ``url`` has been migrated at least once."""
    with connect(url) as conn:
        found = conn.execute(
            f"SELECT to_regclass('{pg_migrations.MIGRATIONS_TABLE}') IS NOT NULL AS migrated"
        ).fetchone()
    return bool(found and found["migrated"])
