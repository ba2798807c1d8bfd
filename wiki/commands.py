"""``citecache pages``: read the wiki's pages into the citation graph."""

from __future__ import annotations

import json
from pathlib import Path

import click

from storage import Store

from .scan import scan_pages

DEFAULT_DB = "data/citecache.db"


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
def pages() -> None:
    """The wiki's pages and the sources they cite."""


def _db_path(db: str | None) -> str:
    if db:
        return db
    ctx = click.get_current_context()
    parent = ctx.find_root().obj
    return getattr(parent, "db", None) or DEFAULT_DB


@pages.command()
@click.argument("directory", type=click.Path(exists=True, path_type=Path))
@click.option(
    "--db",
    envvar="CITECACHE_DB",
    default=None,
    type=click.Path(dir_okay=False),
    help="SQLite file (default: the citecache --db, env CITECACHE_DB, data/citecache.db).",
)
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
def scan(directory: Path, db: str | None, as_json: bool) -> None:
    """Record which sources each Markdown/MDX page under DIRECTORY cites.

    Reads markdown links, footnote definitions and <R id="..."> tags; the page's
    title, type (from its folder) and quality (from its frontmatter) fill the
    "Cited by" table. New URLs are registered. A re-scan replaces a page's
    citations, so a source removed from a page no longer lists it.
    """
    path = _db_path(db)
    try:
        store = Store(path)
    except Exception as exc:
        raise click.ClickException(f"cannot open database {path}: {exc}") from None
    with store:
        report = scan_pages(store, directory)
    for item in report.errors:
        click.echo(f"warning: {item['path']}: {item['error']}", err=True)
    if as_json:
        click.echo(json.dumps(report.to_dict(), ensure_ascii=False, indent=2))
        return
    kinds = ", ".join(f"{n} {k}" for k, n in sorted(report.by_kind.items())) or "none"
    click.echo(
        f"{report.pages} pages, {report.citations} citations ({kinds}), "
        f"{report.linked} page-source links, {report.registered} new URLs registered, "
        f"{len(report.unresolved)} unresolved <R> ids, {len(report.invalid)} invalid URLs",
        err=True,
    )
