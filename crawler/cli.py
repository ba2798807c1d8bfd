"""The ``citecache`` command: register, crawl, re-fetch, show and export cited sources.

Data goes to stdout, messages to stderr. Read commands take ``--json``.
"""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import click

from crawler import __version__
from storage import (
    InvalidURL,
    NotFoundError,
    RegistryFileError,
    Store,
    StoreError,
    read_records,
)
from storage.lock import CrawlLock, LockHeld
from storage.views import render_card, resource_view

CONTEXT_SETTINGS = {"help_option_names": ["-h", "--help"], "max_content_width": 100}
DEFAULT_DB = "data/citecache.db"


def _say(message: str) -> None:
    click.echo(message, err=True)


def _dump(data) -> None:
    click.echo(json.dumps(data, ensure_ascii=False, indent=2))


class Context:
    def __init__(self, db: str, allow_private: bool, verbose: int):
        self.db = db
        self.allow_private = allow_private
        self.verbose = verbose

    def store(self) -> Store:
        try:
            return Store(self.db)
        except Exception as exc:  # a corrupt or unwritable file: say which and why
            raise click.ClickException(f"cannot open database {self.db}: {exc}") from None

    def existing_store(self) -> Store:
        if not Path(self.db).exists():
            raise click.ClickException(
                f"no database at {self.db} (create one with `citecache add` or `citecache import`)"
            )
        return self.store()


pass_ctx = click.make_pass_decorator(Context)


def _allow_private_here(ctx: click.Context, param, value: bool) -> bool:
    if value:
        ctx.ensure_object(Context)
        ctx.find_object(Context).allow_private = True
    return value


allow_private_option = click.option(
    "--allow-private",
    is_flag=True,
    expose_value=False,
    callback=_allow_private_here,
    help="Allow private and loopback addresses (as the global option).",
)


@click.group(context_settings=CONTEXT_SETTINGS)
@click.version_option(__version__, prog_name="citecache")
@click.option(
    "--db",
    envvar="CITECACHE_DB",
    default=DEFAULT_DB,
    show_default=True,
    type=click.Path(dir_okay=False),
    help="SQLite file of the cache (env CITECACHE_DB).",
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


# ---- registry --------------------------------------------------------------------------


@cli.command()
@click.argument("urls", nargs=-1, required=True)
@click.option("--cited-by", "cited_by", multiple=True, help="Slug of a page that cites it.")
@click.option("--title", help="Title to record.")
@click.option("--type", "type_", help="Type: web, paper, blog, government, ...")
@pass_ctx
def add(ctx: Context, urls: tuple[str, ...], cited_by: tuple[str, ...], title, type_) -> None:
    """Register URLs (an already known URL, or a variant of one, is not duplicated)."""
    failed = 0
    with ctx.store() as store:
        for url in urls:
            try:
                result = store.register(url, cited_by=cited_by, title=title, type=type_)
            except (InvalidURL, StoreError) as exc:
                _say(f"Error: {url}: {exc}")
                failed += 1
                continue
            word = "added" if result.created else "exists"
            click.echo(
                f"{result.resource['id']}\tsid_{result.resource['stable_id']}\t{word}\t{url}"
            )
    if failed:
        sys.exit(1)


@cli.command(name="import")
@click.argument("files", nargs=-1, required=True, type=click.Path(exists=True, dir_okay=False))
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON.")
@pass_ctx
def import_(ctx: Context, files: tuple[str, ...], as_json: bool) -> None:
    """Import resources from YAML, JSON, JSON lines, CSV or plain URL-per-line files.

    Ids, stable ids, cited-by pages and bibliographic fields are kept. A bad record
    is reported with its file and line and skipped; the rest is imported.
    """
    reports = []
    with ctx.store() as store:
        for path in files:
            try:
                report = store.import_records(read_records(path))
            except RegistryFileError as exc:
                raise click.ClickException(str(exc)) from None
            for error in report.errors:
                _say(f"skipped {error}")
            _say(
                f"{path}: {report.added} added, {report.updated} updated, "
                f"{report.merged} merged into existing, {len(report.errors)} skipped"
            )
            reports.append({"file": path, **report.__dict__})
    if as_json:
        _dump(reports)


# ---- crawling ----------------------------------------------------------------------------


def _crawl(ctx: Context, overrides: dict, lock: str | None = "crawl") -> dict:
    """Run one crawl; ``lock`` names the lock it holds (None: an editor's own fetch)."""
    from crawler.run import run_crawl  # Scrapy and Twisted load only for crawls

    overrides = {
        "CITECACHE_DB": ctx.db,
        "CITECACHE_ALLOW_PRIVATE": ctx.allow_private,
        "LOG_LEVEL": ["WARNING", "INFO", "DEBUG"][min(ctx.verbose, 2)],
        **overrides,
    }
    with ctx.store():
        pass  # create and migrate the database before the crawl's processes open it
    if lock is None:
        return run_crawl(overrides).to_dict()
    try:
        with CrawlLock(ctx.db, lock):
            return run_crawl(overrides).to_dict()
    except LockHeld as exc:
        raise click.ClickException(str(exc)) from None


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _parse_duration(text: str) -> float:
    """Seconds in ``90``, ``90s``, ``20m``, ``2h`` or ``1d``."""
    value = text.strip().lower()
    unit = _UNITS.get(value[-1:])
    number = value[:-1] if unit else value
    try:
        seconds = float(number) * (unit or 1)
    except ValueError:
        raise click.BadParameter(
            f"expected a duration like 90s, 20m or 2h, got {text!r}", param_hint="--max-runtime"
        ) from None
    if seconds <= 0:
        raise click.BadParameter("must be positive", param_hint="--max-runtime")
    return seconds


def _parse_settings(pairs: tuple[str, ...]) -> dict[str, str]:
    parsed = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="-s")
        parsed[name.strip()] = value
    return parsed


@cli.command()
@click.option("--due", "mode", flag_value="due", default=True, help="Resources due (default).")
@click.option("--all", "mode", flag_value="all", help="Every resource.")
@click.option(
    "--requests", "mode", flag_value="requests", help="Only queued editor re-fetch requests."
)
@click.option("--url", "urls", multiple=True, help="Only these URLs or ids (repeatable).")
@click.option("--limit", type=click.IntRange(min=1), help="Fetch at most N resources.")
@click.option(
    "--max-runtime",
    metavar="DURATION",
    help="Stop after this long (90s, 20m, 2h); what is left stays due for the next run.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the summary as JSON on stdout.")
@click.option(
    "--mirror",
    envvar="CITECACHE_MIRROR_URL",
    help="Fetch from a local mirror laid out as MIRROR/host/path (offline runs).",
)
@click.option(
    "-s",
    "--set",
    "settings",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a Scrapy or CITECACHE_* setting, as `scrapy crawl -s`.",
)
@allow_private_option
@pass_ctx
def crawl(
    ctx: Context,
    mode: str,
    urls: tuple[str, ...],
    limit: int | None,
    as_json: bool,
    mirror: str | None,
    settings: tuple[str, ...],
    max_runtime: str | None,
) -> None:
    """Fetch, extract and store: the cron entry point.

    Exits 0 when the crawl ran, even if some sources failed (their failures are
    recorded); non-zero only when it could not run, e.g. another crawl holds the lock.
    """
    summary = _crawl(
        ctx,
        {
            "CITECACHE_CRAWL_MODE": mode,
            "CITECACHE_CRAWL_REFS": list(urls),
            "CITECACHE_CRAWL_LIMIT": limit or 0,
            "CITECACHE_MIRROR_URL": mirror or "",
            "CITECACHE_MAX_RUNTIME": _parse_duration(max_runtime) if max_runtime else 0,
            "CLOSESPIDER_TIMEOUT": _parse_duration(max_runtime) if max_runtime else 0,
            **_parse_settings(settings),
        },
        lock="requests" if mode == "requests" else "crawl",
    )
    if as_json:
        _dump(summary)
    else:
        statuses = ", ".join(f"{v} {k}" for k, v in summary["byStatus"].items()) or "nothing due"
        _say(
            f"crawled {summary['stored']} of {summary['tasks']} "
            f"in {summary['seconds']} s: {statuses}"
        )


@cli.command()
@click.argument("refs", nargs=-1, required=True)
@click.option("--queue", is_flag=True, help="Record a request for the next crawl instead.")
@click.option("--reason", help="Why a fresh copy is needed.")
@click.option("--by", "by", help="Who asks.")
@click.option("--force", is_flag=True, help="Download even if the server says unchanged (304).")
@click.option("--json", "as_json", is_flag=True)
@allow_private_option
@pass_ctx
def refetch(
    ctx: Context, refs: tuple[str, ...], queue: bool, reason, by, force: bool, as_json: bool
) -> None:
    """Fetch these URLs or ids now, whatever their schedule, and print the outcome.

    Unknown URLs are registered first. Each request is recorded with who asked and why
    (see `citecache requests`). With --queue, the next crawl takes them first instead.
    """
    with ctx.store() as store:
        try:
            request_ids = [
                store.request_refetch(ref, by=by, reason=reason, force=force) for ref in refs
            ]
        except (NotFoundError, InvalidURL, StoreError) as exc:
            raise click.ClickException(str(exc)) from None
    if queue:
        for ref, request_id in zip(refs, request_ids, strict=True):
            click.echo(f"{request_id}\tqueued\t{ref}")
        return
    _crawl(ctx, {"CITECACHE_REQUEST_IDS": request_ids}, lock=None)
    with ctx.store() as store:
        rows = [store.request(i) for i in request_ids]
        resources = [store.get(r["resource_id"]) for r in rows]
        out = [
            {
                "requestId": q["id"],
                "id": r["id"],
                "url": r["url"],
                "request": q["status"],
                "fetchStatus": r["fetch_status"],
                "httpStatus": r["http_status"],
                "reason": r["status_reason"],
            }
            for q, r in zip(rows, resources, strict=True)
        ]
    if as_json:
        _dump(out)
        return
    for row in out:
        reason_text = f"\t{row['reason']}" if row["reason"] else ""
        click.echo(f"{row['fetchStatus']}\t{row['httpStatus'] or '-'}\t{row['url']}{reason_text}")


@cli.command()
@click.option("--limit", default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def requests(ctx: Context, limit: int, as_json: bool) -> None:
    """List editors' re-fetch requests, newest first."""
    with ctx.existing_store() as store:
        rows = store.requests(limit=limit)
    if as_json:
        _dump(rows)
        return
    for r in rows:
        click.echo(
            "\t".join(
                str(x or "-")
                for x in (
                    r["id"],
                    r["status"],
                    r["requested_at"],
                    r["requested_by"],
                    r["url"],
                    r["reason"],
                    r["outcome"],
                )
            )
        )


# ---- reading ---------------------------------------------------------------------------


@cli.command()
@click.argument("ref")
@click.option("--json", "as_json", is_flag=True, help="The resource as JSON (camelCase).")
@click.option("--card", is_flag=True, help="The text card.")
@pass_ctx
def show(ctx: Context, ref: str, as_json: bool, card: bool) -> None:
    """Show one resource by id, stable id (sid_...) or URL."""
    with ctx.existing_store() as store:
        try:
            resource = store.get(ref)
        except NotFoundError as exc:
            raise click.ClickException(str(exc)) from None
        if as_json:
            _dump(resource_view(store, resource, full_text=True))
        elif card:
            click.echo(render_card(store, resource))
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


@cli.command(name="list")
@click.option("--status", help="Only this fetch status (ok, pending, error, ...).")
@click.option("--type", "type_", help="Only this resource type.")
@click.option("--limit", type=int)
@click.option("--json", "fmt", flag_value="json", help="A JSON array of resources.")
@click.option("--csv", "fmt", flag_value="csv", help="CSV with a header row.")
@pass_ctx
def list_(ctx: Context, status, type_, limit, fmt) -> None:
    """List resources (without their text)."""
    with ctx.existing_store() as store:
        rows = (
            resource_view(store, r, preview=False)
            for r in store.iter_resources(status=status, type=type_, limit=limit)
        )
        if fmt == "json":
            _dump(list(rows))
        elif fmt == "csv":
            writer = csv.writer(sys.stdout)
            writer.writerow(LIST_COLUMNS)
            for view in rows:
                writer.writerow([view[c] for c in LIST_COLUMNS])
        else:
            for view in rows:
                click.echo(
                    "\t".join("-" if view[c] is None else str(view[c]) for c in LIST_COLUMNS)
                )


@cli.command()
@click.option(
    "--format", "fmt", type=click.Choice(["jsonl", "csv"]), default="jsonl", show_default=True
)
@click.option("--full-text", is_flag=True, help="Include the full text (jsonl only).")
@click.option(
    "-o", "--output", type=click.File("w"), default="-", help="File to write (default stdout)."
)
@pass_ctx
def export(ctx: Context, fmt: str, full_text: bool, output) -> None:
    """Export every resource with its current snapshot summary."""
    with ctx.existing_store() as store:
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


@cli.command()
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def stats(ctx: Context, as_json: bool) -> None:
    """Counts of resources by status, snapshots, fetches, pages and venues."""
    with ctx.existing_store() as store:
        data = store.stats()
    if as_json:
        _dump(data)
        return
    for key, value in data.items():
        if key != "by_status":
            click.echo(f"{key}: {value if value is not None else '-'}")
    for status, count in data["by_status"].items():
        click.echo(f"status {status}: {count}")


# ---- venues ----------------------------------------------------------------------------


@cli.group()
def publications() -> None:
    """Publication venues and their credibility ratings."""


@publications.command(name="import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@pass_ctx
def publications_import(ctx: Context, file: str) -> None:
    """Import venues from a YAML list like the wiki's publications.yaml."""
    import yaml

    from storage import InvalidVenue

    try:
        venues = yaml.safe_load(Path(file).read_text("utf-8"))
    except yaml.YAMLError as exc:
        raise click.ClickException(f"{file}: not valid YAML: {exc}") from None
    if not isinstance(venues, list):
        raise click.ClickException(f"{file}: expected a list of venues")
    with ctx.store() as store:
        try:
            count = store.import_publications(venues)
        except InvalidVenue as exc:
            raise click.ClickException(f"{file}: {exc}; nothing imported") from None
    _say(f"{count} venues imported from {file}")


@publications.command(name="list")
@click.option("--json", "as_json", is_flag=True)
@pass_ctx
def publications_list(ctx: Context, as_json: bool) -> None:
    """List venues."""
    with ctx.existing_store() as store:
        rows = store.publications()
    if as_json:
        _dump(rows)
        return
    for row in rows:
        click.echo(
            f"{row['id']}\t{row['credibility'] or '-'}\t{row['name']}\t{','.join(row['domains'])}"
        )


# ---- service and wiki (their own packages; registered here so there is one command) ----


def _register_optional_commands() -> None:
    from api.commands import serve
    from wiki.commands import pages

    cli.add_command(serve)
    cli.add_command(pages)


_register_optional_commands()


if __name__ == "__main__":
    cli()
