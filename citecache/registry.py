"""Commands that create the cache and register sources and venues: ``init``, ``add``,
``import``, ``publications``. Only these create a database; every other command needs
one that exists."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from storage import (
    ImportReport,
    InvalidURL,
    NotFoundError,
    RegistryFileError,
    StoreError,
    read_records,
)
from storage.backend import redact
from storage.fields import camel_keys

from .context import Context, db_option, dump_json, pass_ctx, say


@click.command()
@db_option
@pass_ctx
def init(ctx: Context) -> None:
    """Create the database, or bring an existing one's schema up to date."""
    with ctx.store():
        pass
    say(f"database ready: {redact(ctx.db)}")


@click.command()
@click.argument("urls", nargs=-1, required=True)
@click.option("--cited-by", "cited_by", multiple=True, help="Slug of a page that cites it.")
@click.option("--title", help="Title to record.")
@click.option("--type", "type_", help="Type: web, paper, blog, government, ...")
@db_option
@pass_ctx
def add(ctx: Context, urls: tuple[str, ...], cited_by: tuple[str, ...], title, type_) -> None:
    """Register URLs (an already known URL, or a variant of one, is not duplicated).

    Prints each one's id, stable id, what happened and the URL: `added`, `updated` (a
    known URL whose title, type or cited-by pages this changed) or `exists`.
    """
    failed = 0
    with ctx.store() as store:
        for url in urls:
            try:
                result = store.register(url, cited_by=cited_by, title=title, type=type_)
            except (InvalidURL, StoreError) as exc:
                say(f"Error: {url}: {exc}")
                failed += 1
                continue
            word = "added" if result.created else "updated" if result.changed else "exists"
            click.echo(
                f"{result.resource['id']}\tsid_{result.resource['stable_id']}\t{word}\t{url}"
            )
    if failed:
        sys.exit(1)


@click.command()
@click.argument("refs", nargs=-1, required=True)
@click.option(
    "--off", is_flag=True, help="Unmark: render them only when they look script-rendered."
)
@db_option
@pass_ctx
def browser(ctx: Context, refs: tuple[str, ...], off: bool) -> None:
    """Mark sources (ids, stable ids or URLs) to be always rendered in a browser.

    A page that looks script-rendered is rendered anyway; mark the sources whose plain
    HTML misleads the detector. Prints each one's id, `browser` or `plain`, and URL.
    """
    failed = 0
    with ctx.store() as store:
        for ref in refs:
            try:
                row = store.mark_needs_browser(ref, not off)
            except NotFoundError as exc:
                say(f"Error: {exc}")
                failed += 1
                continue
            click.echo(
                f"{row['id']}\t{'browser' if row['needs_browser'] else 'plain'}\t{row['url']}"
            )
    if failed:
        sys.exit(1)


@click.command(name="import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@db_option
@pass_ctx
def import_(ctx: Context, files: tuple[str, ...], as_json: bool) -> None:
    """Import resources from YAML, JSON, JSON lines, CSV or plain URL-per-line files.

    Ids, stable ids, cited-by pages and bibliographic fields are kept. A bad record
    is reported with its file and line and skipped, a file that cannot be read as a
    whole too; the rest is imported. Exits 1 if anything was skipped.
    """
    reports = []
    skipped = 0
    with ctx.store() as store:
        for path in files:
            try:
                report = store.import_records(read_records(path))
            except RegistryFileError as exc:  # nothing of this file is imported
                say(f"Error: {exc}; file skipped")
                report = ImportReport(errors=[str(exc)])
            else:
                for error in report.errors:
                    say(f"skipped {error}")
                say(
                    f"{path}: {report.added} added, {report.updated} updated, "
                    f"{report.unchanged} unchanged, {report.merged} merged into existing, "
                    f"{len(report.errors)} skipped"
                )
            skipped += len(report.errors)
            reports.append({"file": path, **report.__dict__})
    if as_json:
        dump_json(reports)
    if skipped:
        sys.exit(1)


@click.group()
def publications() -> None:
    """Publication venues and their credibility ratings."""


@publications.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@db_option
@pass_ctx
def publications_import(ctx: Context, file: str) -> None:
    """Import venues from a YAML list like the wiki's publications.yaml."""
    import yaml

    from storage import InvalidVenue
    from storage.registry_files import NoAliasLoader

    try:
        venues = yaml.load(Path(file).read_text("utf-8"), Loader=NoAliasLoader)  # noqa: S506
    except yaml.YAMLError as exc:
        raise click.ClickException(f"{file}: not valid YAML: {exc}") from None
    if not isinstance(venues, list):
        raise click.ClickException(f"{file}: expected a list of venues")
    with ctx.store() as store:
        try:
            count = store.import_publications(venues)
        except InvalidVenue as exc:
            raise click.ClickException(f"{file}: {exc}; nothing imported") from None
    say(f"{count} venues imported from {file}")


@publications.command(name="list")
@click.option("--json", "as_json", is_flag=True)
@db_option
@pass_ctx
def publications_list(ctx: Context, as_json: bool) -> None:
    """List venues."""
    with ctx.reading_store() as store:
        rows = store.publications()
    if as_json:
        dump_json([publication_json(row) for row in rows])
        return
    for row in rows:
        click.echo(
            f"{row['id']}\t{row['credibility'] or '-'}\t{row['name']}\t{','.join(row['domains'])}"
        )


def publication_json(row: dict) -> dict:
    """A venue in camelCase, ``peerReviewed`` a boolean as in the API's resource view."""
    body = camel_keys(row)
    if body["peerReviewed"] is not None:
        body["peerReviewed"] = bool(body["peerReviewed"])
    return body
