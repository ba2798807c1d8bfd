"""What every command shares: the database (path or URL), global flags, and output helpers.

Rooms' own commands (``crawler.commands``, ``api.commands``, ``wiki.commands``) use it
through ``pass_ctx``; it imports no room but ``storage``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import click

from storage import DEFAULT_DB_PATH, Store
from storage.backend import database_exists, redact
from storage.warc import warc_dir

CONTEXT_SETTINGS: dict[str, Any] = {"help_option_names": ["-h", "--help"], "max_content_width": 100}


def say(message: str) -> None:
    """A message for the person running the command: stderr."""
    click.echo(message, err=True)


def dump_json(data: Any) -> None:
    """Data on stdout as indented JSON."""
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


class Context:
    """The global options of ``citecache``, handed to every subcommand."""

    def __init__(self, db: str = DEFAULT_DB_PATH, allow_private: bool = False, verbose: int = 0):
        self.db = db
        self.allow_private = allow_private
        self.verbose = verbose

    def warc_folder(self) -> Path:
        """The WARC folder: CITECACHE_WARC_DIR, else beside the database (storage/warc.py)."""
        return warc_dir(self.db, os.environ.get("CITECACHE_WARC_DIR"))

    def store(self) -> Store:
        """The cache, created and migrated if needed: for the commands that register data
        (``init``, ``add``, ``import``, ``publications import``)."""
        return self._open()

    def existing_store(self) -> Store:
        """The cache, which must exist already, migrated if needed: for the other
        commands that write (a typo in ``--db`` must not crawl an empty new file)."""
        self.require_database()
        return self._open()

    def reading_store(self) -> Store:
        """The cache opened read-only: it must exist and be up to date, as reads never
        write (a reader may not be allowed to)."""
        self.require_database()
        store = self._open(readonly=True)
        try:
            pending = store.pending_migrations()
        except Exception as exc:  # not a citecache database
            store.close()
            raise click.ClickException(f"cannot read database {redact(self.db)}: {exc}") from None
        if pending:
            store.close()
            raise click.ClickException(
                f"database {redact(self.db)} needs an upgrade of its schema "
                f"({len(pending)} migration(s) pending): run `citecache init` (or any "
                "command that writes) as a user who may write to it"
            )
        return store

    def require_database(self) -> None:
        """Fail with exit code 1 unless the cache exists (a SQLite file, or a PostgreSQL
        database that has the schema)."""
        try:
            exists = database_exists(self.db)
        except Exception as exc:  # an unreachable server, a refused login
            raise click.ClickException(f"cannot open database {redact(self.db)}: {exc}") from None
        if not exists:
            raise click.ClickException(
                f"no database at {redact(self.db)} (check --db or CITECACHE_DB; create one "
                "with `citecache init`, `citecache add` or `citecache import`)"
            )

    def _open(self, readonly: bool = False) -> Store:
        try:
            return Store(self.db, readonly=readonly)
        except Exception as exc:  # a corrupt or unwritable file, a server down: say why
            raise click.ClickException(f"cannot open database {redact(self.db)}: {exc}") from None


def exclusive(flags: dict[str, Any]) -> None:
    """Refuse options that exclude each other, e.g. ``{"--json": as_json, "--csv": as_csv}``."""
    given = [name for name, value in flags.items() if value]
    if len(given) > 1:
        raise click.UsageError(f"{' and '.join(given)} exclude each other: choose one")


# A room's command group may also run on its own (tests, plugins): default options then.
pass_ctx = click.make_pass_decorator(Context, ensure=True)
"""Pass the command's :class:`Context` as its first argument."""


def _allow_private_here(ctx: click.Context, param, value: bool) -> bool:
    if value:
        ctx.ensure_object(Context).allow_private = True
    return value


allow_private_option = click.option(
    "--allow-private",
    is_flag=True,
    expose_value=False,
    callback=_allow_private_here,
    help="Allow private and loopback addresses (as the global option).",
)
"""``--allow-private`` after the subcommand too, for commands that fetch."""


def _db_here(ctx: click.Context, param, value: str | None) -> str | None:
    if value is not None:
        ctx.ensure_object(Context).db = value
    return value


db_option = click.option(
    "--db",
    metavar="PATH|URL",
    expose_value=False,
    callback=_db_here,
    help="SQLite file or postgresql:// URL of the cache (as the global option).",
)
"""``--db`` after the subcommand too (``citecache stats --db x.db``), on every command."""
