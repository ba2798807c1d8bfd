"""``citecache pages``: read the wiki's pages into the citation graph."""

from __future__ import annotations

import json
from pathlib import Path

import click

from citecache.context import CONTEXT_SETTINGS, Context, db_option, pass_ctx

from .scan import scan_pages


@click.group(context_settings=CONTEXT_SETTINGS)
def pages() -> None:
    """The wiki's pages and the sources they cite."""


@pages.command()
@click.argument("directory", type=click.Path(exists=True, path_type=Path))
@click.option("--json", "as_json", is_flag=True, help="Print the full report as JSON.")
@db_option
@pass_ctx
def scan(ctx: Context, directory: Path, as_json: bool) -> None:
    """Record which sources each Markdown/MDX page under DIRECTORY cites.

    Reads markdown links, footnote definitions and <R id="..."> tags; the page's
    title, type (from its folder) and quality (from its frontmatter) fill the
    "Cited by" table. New URLs are registered. A re-scan replaces a page's
    citations, so a source removed from a page no longer lists it.
    """
    with ctx.existing_store() as store:
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
