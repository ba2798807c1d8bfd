"""The cache: resources, snapshots, the fetch log and citations, in SQLite or PostgreSQL.

``Store`` puts together the parts of the store, each a mixin in a module of its own:

========================  ==========================================================
``storage.registry``      identity and registration: resolve, get, register, import
``storage.citations``     which wiki pages cite which resources
``storage.publications``  venues and a resource's venue
``storage.recording``     fetch results: the fetch log, snapshots, the state they leave
``storage.schedule``      which resources a run fetches, and claiming them
``storage.leases``        the frontier by host: leases for a fleet of workers
``storage.requests``      editors' re-fetch requests
``storage.reads``         snapshots, history, filtered listings, counts
``storage.search``        full-text search
``storage.reports``       figures for the service's dashboards
``storage.content``       the wiki's view: one content row per source, and upserts
========================  ==========================================================

The database engine is a backend (``storage.backend``): ``storage.sqlite`` holds
what is SQLite's own (opening the file, transactions, FTS5, a few statements), and
``storage.postgres`` what is PostgreSQL's; the target picks one.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from .backend import open_backend, redact
from .citations import Citations
from .content import Content
from .health import HealthPolicy
from .leases import HostLeases
from .previews import PREVIEW_MAX_CHARS
from .publications import Publications
from .reads import Reads
from .recording import Recording
from .registry import Registry
from .reports import Reports
from .requests import EditorRequests
from .schedule import Schedule
from .search import Search
from .venues import bundled_publications

DEFAULT_DB_PATH = "data/citecache.db"
"""Where the cache lives unless ``--db`` or ``CITECACHE_DB`` says otherwise (a SQLite
file path, or a ``postgresql://`` URL)."""


class Store(
    Recording,
    HostLeases,
    Schedule,
    EditorRequests,
    Registry,
    Citations,
    Publications,
    Search,
    Reads,
    Reports,
    Content,
):
    """Owns the connection and exposes the cache's verbs.

    ``target`` is a SQLite file path or a ``postgresql://`` URL. Writers open it
    read-write (readers never wait on them) and bring the schema up to date;
    ``readonly=True`` opens it read-only, never migrated, for the service and the read
    commands.
    """

    def __init__(
        self,
        target: str | Path,
        *,
        readonly: bool = False,
        preview_max_chars: int = PREVIEW_MAX_CHARS,
        busy_timeout_ms: int = 30_000,
        policy: HealthPolicy | None = None,
    ):
        self.target = str(target)
        self.readonly = readonly
        self.preview_max_chars = preview_max_chars
        self.policy = policy or HealthPolicy()
        self.sql = open_backend(target, readonly=readonly, busy_timeout_ms=busy_timeout_ms)
        if not readonly:
            self.sql.migrate()
            if not self._scalar("SELECT count(*) FROM publications"):
                self.import_publications(bundled_publications())

    def pending_migrations(self) -> list[str]:
        """Migrations the schema still lacks: a read-only store works only with none."""
        return self.sql.pending_migrations()

    @property
    def db(self) -> Any:
        """The SQLite backend's sqlite-utils ``Database``, for tests and inspection."""
        return getattr(self.sql, "db")  # noqa: B009 - only the SQLite backend has one

    def close(self) -> None:
        self.sql.close()

    def __repr__(self) -> str:
        return f"Store({redact(self.target)!r})"

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    @contextmanager
    def atomic(self) -> Iterator[Store]:
        """Group several verbs into one transaction (all or nothing); nests."""
        with self._writing():
            yield self
