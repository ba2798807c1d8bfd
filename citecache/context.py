"""What every command shares: the database (path or URL), global flags, and output helpers.

Rooms' own commands (``crawler.commands``, ``api.commands``, ``wiki.commands``) use it
through ``pass_ctx``; it imports no room but ``storage``.
"""

from __future__ import annotations

import json
from typing import Any

import click

from storage import DEFAULT_DB_PATH, Store
from storage.backend import database_exists, redact

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

    def store(self) -> Store:
        """The cache, created and migrated if needed."""
        try:
            return Store(self.db)
        except Exception as exc:  # a corrupt or unwritable file, a server down: say why
            raise click.ClickException(f"cannot open database {redact(self.db)}: {exc}") from None

    def existing_store(self) -> Store:
        """The cache, which must exist already (a SQLite file, or a PostgreSQL database
        that has the schema)."""
        try:
            exists = database_exists(self.db)
        except Exception as exc:  # an unreachable server, a refused login
            raise click.ClickException(f"cannot open database {redact(self.db)}: {exc}") from None
        if not exists:
            raise click.ClickException(
                f"no database at {redact(self.db)} "
                "(create one with `citecache add` or `citecache import`)"
            )
        return self.store()


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
