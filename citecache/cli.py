"""The ``citecache`` command: one group over every room's commands.

Data goes to stdout, messages to stderr. Read commands take ``--json``.
"""

from __future__ import annotations

import os
import sys
from typing import Any

import click

from api.commands import serve
from crawler.commands import crawl, refetch, worker
from storage import DEFAULT_DB_PATH
from wiki.commands import pages

from . import __version__, reading, registry
from .context import CONTEXT_SETTINGS, Context
from .warc import warc


class CitecacheGroup(click.Group):
    """The command group; a reader that stops reading (``citecache list | head``) is
    no error: the command stops quietly and exits 0, as ``head`` and ``grep -q`` expect."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            result = super().invoke(ctx)
            sys.stdout.flush()  # a reader gone meets us here, not at the interpreter's exit
            return result
        except BrokenPipeError:
            # What is still buffered goes nowhere, so that the exit's flush fails no more.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            ctx.exit(0)


@click.group(cls=CitecacheGroup, context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="citecache")
@click.option(
    "--db",
    envvar="CITECACHE_DB",
    default=DEFAULT_DB_PATH,
    show_default=True,
    metavar="PATH|URL",
    help="SQLite file or postgresql:// URL of the cache (env CITECACHE_DB).",
)
@click.option(
    "--allow-private",
    is_flag=True,
    envvar="CITECACHE_ALLOW_PRIVATE",
    help="Allow fetching private, loopback and link-local addresses (env CITECACHE_ALLOW_PRIVATE).",
)
@click.option("-v", "--verbose", count=True, help="More crawl logging (-v info, -vv debug).")
@click.pass_context
def cli(ctx: click.Context, db: str, allow_private: bool, verbose: int) -> None:
    """Cached, cleaned copies of the web sources a knowledge base cites."""
    ctx.obj = Context(db, allow_private, verbose)


for command in (
    registry.init,
    registry.add,
    registry.import_,
    registry.browser,
    crawl,
    worker,
    refetch,
    reading.requests,
    reading.show,
    reading.list_,
    reading.export,
    reading.stats,
    registry.publications,
    serve,
    pages,
    warc,
):
    cli.add_command(command)


if __name__ == "__main__":
    cli()
