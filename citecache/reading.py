"""Commands that read the cache: ``show``, ``list``, ``export``, ``stats``, ``requests``."""

from __future__ import annotations

import csv
import json
import shutil
import sys
import textwrap
from collections.abc import Iterable, Iterator

import click

from citation import bibtex_entry, csl_item
from storage import NotFoundError, Store
from storage.fields import camel_keys
from storage.health import FETCH_STATES
from storage.views import citation_data, render_card, resource_view

from .context import Context, db_option, dump_json, exclusive, pass_ctx
from .warc import export_records, write_raw_body

CITATION_FORMATS = ("csl-json", "bibtex")
"""Citation formats of ``show --format`` and ``export --format``."""


def citation_text(fmt: str, items: Iterable[dict]) -> Iterator[str]:
    """CSL-JSON items as one CSL-JSON array, or as BibTeX entries, in pieces to write."""
    if fmt == "bibtex":
        for n, item in enumerate(items):
            yield ("\n" if n else "") + bibtex_entry(item)
        return
    yield "["
    for n, item in enumerate(items):
        text = json.dumps(item, ensure_ascii=False, indent=2)
        yield ("," if n else "") + "\n" + textwrap.indent(text, "  ")
    yield "\n]\n"


def _csl_items(store: Store, resources: Iterable[dict]) -> Iterator[dict]:
    for resource in resources:
        yield csl_item(*citation_data(store, resource))


@click.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="The resource as JSON (camelCase).")
@click.option("--card", is_flag=True, help="The text card.")
@click.option(
    "--format",
    "fmt",
    type=click.Choice(CITATION_FORMATS),
    help="Citation data: a CSL-JSON array (Zotero, pandoc) or a BibTeX entry.",
)
@click.option(
    "--raw",
    is_flag=True,
    help="The current snapshot's response body from its WARC record (bytes; gzip undone).",
)
@db_option
@pass_ctx
def show(ctx: Context, ref: str, as_json: bool, card: bool, raw: bool, fmt: str | None) -> None:
    """Show one resource by id, stable id (sid_...) or URL."""
    exclusive({"--json": as_json, "--card": card, "--raw": raw, "--format": bool(fmt)})
    with ctx.reading_store() as store:
        try:
            resource = store.get(ref)
        except NotFoundError as exc:
            raise click.ClickException(str(exc)) from None
        if fmt:
            click.echo("".join(citation_text(fmt, _csl_items(store, [resource]))), nl=False)
        elif as_json:
            dump_json(resource_view(store, resource, full_text=True))
        elif raw:
            write_raw_body(ctx, store, resource)
        elif card:
            click.echo(render_card(store, resource, width=_card_width()))
        else:
            view = resource_view(store, resource)
            for key in (
                "id",
                "stableId",
                "url",
                "title",
                "type",
                "fetchStatus",
                "httpStatus",
                "fetchedAt",
                "contentHash",
                "contentLength",
                "nextFetchAt",
            ):
                click.echo(f"{key}: {view[key] if view[key] is not None else '-'}")
            origin = view["provenance"]  # where the copy came from: live, archive, browser
            where = f" {origin['archiveUrl']}" if origin and origin.get("archiveUrl") else ""
            click.echo(f"copy: {origin['label'] + where if origin else '-'}")


LIST_COLUMNS = (
    "id",
    "stableId",
    "fetchStatus",
    "httpStatus",
    "fetchedAt",
    "contentLength",
    "url",
    "title",
)


def _card_width() -> int:
    """The terminal's width, or 80 when the output is not a terminal."""
    return shutil.get_terminal_size().columns if sys.stdout.isatty() else 80


@click.command(name="list")
@click.option("--status", type=click.Choice(FETCH_STATES), help="Only this fetch status.")
@click.option("--type", "type_", help="Only this resource type.")
@click.option("--limit", type=int)
@click.option("--json", "as_json", is_flag=True, help="A JSON array of resources.")
@click.option("--csv", "as_csv", is_flag=True, help="CSV with a header row.")
@db_option
@pass_ctx
def list_(ctx: Context, status, type_, limit, as_json: bool, as_csv: bool) -> None:
    """List resources (without their text)."""
    exclusive({"--json": as_json, "--csv": as_csv})
    with ctx.reading_store() as store:
        rows = (
            resource_view(store, r, preview=False)
            for r in store.iter_resources(status=status, type=type_, limit=limit)
        )
        if as_json:
            dump_json(list(rows))
        elif as_csv:
            writer = csv.writer(sys.stdout)
            writer.writerow(LIST_COLUMNS)
            for view in rows:
                writer.writerow([view[c] for c in LIST_COLUMNS])
        else:
            for view in rows:
                click.echo(
                    "\t".join("-" if view[c] is None else str(view[c]) for c in LIST_COLUMNS)
                )


@click.command()
@click.option(
    "--format",
    "fmt",
    type=click.Choice(["jsonl", "csv", "warc", *CITATION_FORMATS]),
    default="jsonl",
    show_default=True,
    help=(
        "jsonl/csv: the resource records; csl-json/bibtex: citation data; "
        "warc: the WARC response records of the current snapshots, as one .warc.gz."
    ),
)
@click.option("--full-text", is_flag=True, help="Include the full text (jsonl only).")
@click.option(
    "-o", "--output", type=click.File("w"), default="-", help="File to write (default stdout)."
)
@db_option
@pass_ctx
def export(ctx: Context, fmt: str, full_text: bool, output) -> None:
    """Export every resource with its current snapshot summary."""
    if full_text and fmt != "jsonl":
        raise click.UsageError("--full-text needs --format jsonl (CSV has no text column)")
    with ctx.reading_store() as store:
        if fmt == "warc":
            output.flush()
            return export_records(ctx, store, output.buffer)
        if fmt in CITATION_FORMATS:
            for piece in citation_text(fmt, _csl_items(store, store.iter_resources())):
                output.write(piece)
            return
        views = (resource_view(store, r, full_text=full_text) for r in store.iter_resources())
        if fmt == "jsonl":
            for view in views:
                output.write(json.dumps(view, ensure_ascii=False) + "\n")
        else:
            columns = LIST_COLUMNS + ("contentHash", "publishedDate", "finalUrl")
            writer = csv.writer(output)
            writer.writerow(columns)
            for view in views:
                writer.writerow([view[c] for c in columns])


@click.command()
@click.option("--json", "as_json", is_flag=True)
@db_option
@pass_ctx
def stats(ctx: Context, as_json: bool) -> None:
    """Counts of resources by status, snapshots, fetches, pages and venues."""
    with ctx.reading_store() as store:
        data = store.stats()
    if as_json:
        dump_json(camel_keys(data))  # byStatus's own keys are status names: left as they are
        return
    for key, value in data.items():
        if key != "by_status":
            click.echo(f"{key}: {value if value is not None else '-'}")
    for status, count in data["by_status"].items():
        click.echo(f"status {status}: {count}")


REQUEST_COLUMNS = ("id", "status", "requested_at", "requested_by", "url", "reason", "outcome")
"""Columns of `requests`, as its header row names them."""


@click.command()
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@db_option
@pass_ctx
def requests(ctx: Context, limit: int, as_json: bool) -> None:
    """List editors' re-fetch requests, newest first (tab-separated, with a header)."""
    with ctx.reading_store() as store:
        rows = store.requests(limit=limit)
    if as_json:
        dump_json([request_json(r) for r in rows])
        return
    click.echo("\t".join(REQUEST_COLUMNS))
    for r in rows:
        click.echo("\t".join(str(r[c] or "-") for c in REQUEST_COLUMNS))


def request_json(row: dict) -> dict:
    """A request as ``requests --json`` prints it: the API's keys (``requestId``, ...)."""
    body = camel_keys(row)
    body["requestId"] = body.pop("id")
    body["force"] = bool(body["force"])
    return body
