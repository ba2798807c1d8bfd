"""The store's exceptions: one per way a call can fail."""

import sqlite3


class NotFoundError(LookupError):
    """No resource (or request) answers to this id, stable id or URL."""


class StoreError(ValueError):
    """A write was refused because its input is invalid; nothing was changed."""


def is_busy(exc: BaseException) -> bool:
    """Whether ``exc`` says another writer held the database past our wait (SQLite's
    busy timeout, PostgreSQL's lock_timeout): the same write may succeed later."""
    if isinstance(exc, sqlite3.OperationalError):
        return "locked" in str(exc) or "busy" in str(exc)
    return getattr(exc, "sqlstate", None) == "55P03"  # lock_not_available (psycopg)


def database_errors() -> tuple[type[Exception], ...]:
    """The backends' errors of the database itself (busy, gone), as opposed to a bug."""
    import psycopg  # here, not at the top: SQLite users never load it otherwise

    return (sqlite3.OperationalError, psycopg.OperationalError)
