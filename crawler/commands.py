"""The crawler's commands: ``crawl`` (the cron entry point), ``worker`` (the long-running
alternative to it) and ``refetch`` (editors)."""

from __future__ import annotations

import json
import os
import signal
import socket
import sys
from urllib.parse import urlsplit

import click

from citecache import __version__
from citecache.context import Context, allow_private_option, db_option, dump_json, pass_ctx, say
from storage import InvalidURL, NotFoundError, StoreError, iso, utc_now
from storage.backend import is_postgres, redact
from storage.lock import CrawlLock, FetchRun, LockHeld
from storage.urlsafety import check_url_safety

EXIT_NOT_FRESH = 3
"""refetch: it ran, but at least one fresh copy was not obtained."""
CRAWL_EXIT_CODES = """\b
Exit codes:
  0  the crawl ran, even if some sources failed (each failure is recorded)
  1  it could not run: a configuration error (--mirror), an unknown id, another
     crawl holds the lock, the database cannot be opened
  2  usage error: a bad option, conflicting options, a bad -s NAME=VALUE"""


def _crawl(ctx: Context, overrides: dict, *, scheduled: bool, run: FetchRun) -> dict:
    """Run one crawl as ``run`` (already registered); a ``scheduled`` one (cron: --due,
    --all, --url; the worker) also holds the crawl lock. See storage/lock.py for the
    discipline."""
    overrides = {
        "CITECACHE_DB": ctx.db,
        "CITECACHE_ALLOW_PRIVATE": ctx.allow_private,
        "CITECACHE_RUN_ID": run.run_id,
        "LOG_LEVEL": ["WARNING", "INFO", "DEBUG"][min(ctx.verbose, 2)],
        **overrides,
    }
    if not scheduled:
        return _run_crawl(overrides)
    lock = _crawl_lock(ctx)
    try:
        return _run_crawl(overrides)
    finally:
        lock.release()


def _crawl_lock(ctx: Context) -> CrawlLock:
    """The crawl lock, taken before Scrapy loads: a refused crawl exits at once."""
    lock = CrawlLock(ctx.db)
    try:
        lock.acquire()
    except LockHeld as exc:
        raise click.ClickException(str(exc)) from None
    return lock


def _run_crawl(overrides: dict) -> dict:
    from crawler.run import CrawlError, run_crawl  # Scrapy and Twisted load only for crawls

    try:
        return run_crawl(overrides).to_dict()
    except CrawlError as exc:
        raise click.ClickException(str(exc)) from None


def _fetch_run(ctx: Context) -> FetchRun:
    """This process's registration as a run that fetches (see storage/lock.py).

    ``CITECACHE_RUN_ID`` lets a supervisor (the service's worker) name the run, so that
    it can fail exactly this run's requests if it has to stop it.
    """
    with ctx.existing_store():
        pass  # migrate the database before the crawl's processes open it; never create it
    try:
        return FetchRun(ctx.db, os.environ.get("CITECACHE_RUN_ID") or None)
    except ValueError as exc:
        raise click.ClickException(f"CITECACHE_RUN_ID: {exc}") from None


_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}


def _parse_duration(text: str, option: str = "--max-runtime") -> float:
    """Seconds in ``90``, ``90s``, ``20m``, ``2h`` or ``1d``."""
    value = text.strip().lower()
    unit = _UNITS.get(value[-1:])
    number = value[:-1] if unit else value
    try:
        seconds = float(number) * (unit or 1)
    except ValueError:
        raise click.BadParameter(
            f"expected a duration like 90s, 20m or 2h, got {text!r}", param_hint=option
        ) from None
    if seconds <= 0:
        raise click.BadParameter("must be positive", param_hint=option)
    return seconds


def _parse_settings(pairs: tuple[str, ...]) -> dict[str, str]:
    """The ``-s NAME=VALUE`` overrides, checked before Scrapy starts (a usage error)."""
    from crawler.run import check_overrides

    parsed = {}
    for pair in pairs:
        name, sep, value = pair.partition("=")
        if not sep or not name.strip():
            raise click.BadParameter(f"expected NAME=VALUE, got {pair!r}", param_hint="-s")
        parsed[name.strip()] = value
    try:
        check_overrides(parsed)
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="-s") from None
    return parsed


MIRROR_CONNECT_TIMEOUT = 5.0


def _check_mirror(ctx: Context, mirror: str | None) -> None:
    """A mirror that is refused or unreachable would fail every fetch of the run, each
    recorded as that source's failure: refuse to start instead (nothing is claimed)."""
    if not mirror:
        return
    parts = urlsplit(mirror.strip())
    try:
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise ValueError("expected an http(s) URL, e.g. http://127.0.0.1:8000")
        check_url_safety(
            mirror,
            allow_private=ctx.allow_private,
            hint=" (--allow-private allows a mirror on this machine or network)",
        )
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError as exc:  # UnsafeURL too; a port out of range
        raise click.ClickException(f"--mirror {mirror}: {exc}") from None
    try:
        socket.create_connection((parts.hostname, port), MIRROR_CONNECT_TIMEOUT).close()
    except OSError as exc:
        raise click.ClickException(
            f"--mirror {mirror}: cannot connect to {parts.hostname}:{port} ({exc.strerror or exc})"
        ) from None


def _report(ctx: Context, summary: dict, run: FetchRun, started_at: str) -> str:
    """The run as one line of JSON, for a log of runs (``crawl --json >> runs.jsonl``)."""
    record = {
        "startedAt": started_at,
        "finishedAt": iso(utc_now()),
        "version": __version__,
        "database": redact(ctx.db),
        "runId": run.run_id,
        **summary,
    }
    return json.dumps(record, ensure_ascii=False)


mirror_option = click.option(
    "--mirror",
    envvar="CITECACHE_MIRROR_URL",
    help="Fetch from a local mirror laid out as MIRROR/host/path (offline runs).",
)
settings_option = click.option(
    "-s",
    "--set",
    "settings",
    multiple=True,
    metavar="NAME=VALUE",
    help="Override a Scrapy or CITECACHE_* setting, as `scrapy crawl -s`.",
)


@click.command(epilog=CRAWL_EXIT_CODES)
@click.option("--due", is_flag=True, help="Resources due (the default).")
@click.option("--all", "all_", is_flag=True, help="Every resource.")
@click.option("--requests", is_flag=True, help="Only queued editor re-fetch requests.")
@click.option("--url", "urls", multiple=True, help="Only these URLs or ids (repeatable).")
@click.option("--limit", type=click.IntRange(min=1), help="Fetch at most N resources.")
@click.option(
    "--max-runtime",
    metavar="DURATION",
    help="Stop after this long (90s, 20m, 2h); what is left stays due for the next run.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the summary as one line of JSON on stdout."
)
@mirror_option
@settings_option
@allow_private_option
@db_option
@pass_ctx
def crawl(
    ctx: Context,
    due: bool,
    all_: bool,
    requests: bool,
    urls: tuple[str, ...],
    limit: int | None,
    as_json: bool,
    mirror: str | None,
    settings: tuple[str, ...],
    max_runtime: str | None,
) -> None:
    """Fetch, extract and store: the cron entry point.

    With --json, one line per run on stdout (JSON Lines): when it started and finished,
    the version, the database and the figures.
    """
    chosen = [
        flag for flag, on in (("--due", due), ("--all", all_), ("--requests", requests)) if on
    ]
    chosen += ["--url"] if urls else []
    if len(chosen) > 1:
        raise click.UsageError(f"{' and '.join(chosen)} do not go together: choose one")
    mode = "all" if all_ else "requests" if requests else "due"
    runtime = _parse_duration(max_runtime) if max_runtime else 0
    overrides = _parse_settings(settings)
    _check_mirror(ctx, mirror)
    started_at = iso(utc_now())
    fleet = {}
    if is_postgres(ctx.db) and mode == "due" and not urls and not limit:
        # On PostgreSQL a crawl is one more worker of the fleet that ends when nothing is
        # due: it takes hosts by lease as the workers do, so it never breaks politeness.
        fleet = {
            "CITECACHE_TASK_SOURCE": "crawler.frontier.ClaimingTaskSource",
            "CITECACHE_WORKER_LEASES": True,
            "CITECACHE_WORKER_UNTIL_IDLE": True,
        }
    with _fetch_run(ctx) as run:
        summary = _crawl(
            ctx,
            {
                **fleet,
                "CITECACHE_CRAWL_MODE": mode,
                "CITECACHE_CRAWL_REFS": list(urls),
                "CITECACHE_CRAWL_LIMIT": limit or 0,
                "CITECACHE_MIRROR_URL": mirror or "",
                "CITECACHE_MAX_RUNTIME": runtime,
                "CLOSESPIDER_TIMEOUT": runtime,
                **overrides,
            },
            # Editor requests are claimed one by one, so the service's worker
            # (--requests) runs beside a cron crawl; two cron crawls never overlap.
            scheduled=(mode != "requests" or bool(urls)) and not fleet,
            run=run,
        )
    if as_json:
        click.echo(_report(ctx, summary, run, started_at))
    else:
        statuses = ", ".join(f"{v} {k}" for k, v in summary["byStatus"].items()) or "nothing due"
        say(
            f"crawled {summary['stored']} of {summary['tasks']} "
            f"in {summary['seconds']} s: {statuses}{_archived(summary)}"
        )


@click.command()
@click.option(
    "--batch",
    type=click.IntRange(min=1),
    default=16,
    show_default=True,
    help="Tasks claimed per round.",
)
@click.option(
    "--idle",
    type=click.FloatRange(min=0.05),
    default=0.5,
    show_default=True,
    metavar="SECONDS",
    help="With nothing to do, look for editors' requests this often (a cheap indexed count).",
)
@click.option(
    "--due-every",
    default="30s",
    show_default=True,
    metavar="DURATION",
    help="With nothing to do, look for due resources this often (new, overdue).",
)
@click.option(
    "--max-runtime",
    metavar="DURATION",
    help="Stop after this long (90s, 20m, 2h), as after SIGTERM.",
)
@click.option(
    "--json", "as_json", is_flag=True, help="Print the final summary as one line of JSON on stdout."
)
@mirror_option
@settings_option
@click.option(
    "--leases/--no-leases",
    default=None,
    help="Claim work by host lease, so that several workers share one database (default: "
    "on for PostgreSQL; off for SQLite, where the worker holds the crawl lock).",
)
@allow_private_option
@db_option
@pass_ctx
def worker(
    ctx: Context,
    leases: bool | None,
    batch: int,
    idle: float,
    due_every: str,
    max_runtime: str | None,
    as_json: bool,
    mirror: str | None,
    settings: tuple[str, ...],
) -> None:
    """Fetch for ever: editors' requests within a second, and whatever falls due.

    One long-running process that claims work in rounds, fetches, extracts and records
    it, and waits when there is none; it replaces the cron crawl. It holds the crawl
    lock for its lifetime (a cron `crawl --due` meanwhile exits at once; editors'
    `refetch` still runs beside it). SIGTERM or SIGINT: it stops claiming, finishes
    the fetches in flight, stores them, puts back the editors' requests it had not
    started, and exits 0. Exits 1 when it cannot start (e.g. another crawl holds the
    lock).
    """
    # Until Scrapy installs its own handler (when the reactor starts), a SIGTERM is a
    # clean stop too: nothing is in flight yet.
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: sys.exit(0))
    due_interval = _parse_duration(due_every, "--due-every")
    runtime = _parse_duration(max_runtime) if max_runtime else 0
    overrides = _parse_settings(settings)
    _check_mirror(ctx, mirror)
    started_at = iso(utc_now())
    if leases is None:
        leases = is_postgres(ctx.db)
    with _fetch_run(ctx) as run:
        # One scheduler per SQLite file, unless the workers share it by host lease.
        lock = None if leases else _crawl_lock(ctx)
        say(f"worker {run.run_id} on {redact(ctx.db)}: stop it with SIGTERM")
        try:
            summary = _crawl(
                ctx,
                {
                    "CITECACHE_TASK_SOURCE": "crawler.frontier.ClaimingTaskSource",
                    "CITECACHE_WORKER_BATCH": batch,
                    "CITECACHE_WORKER_IDLE": idle,
                    "CITECACHE_WORKER_DUE_INTERVAL": due_interval,
                    "CITECACHE_WORKER_LEASES": leases,
                    "CITECACHE_EXTRACT_EAGER": True,
                    "CITECACHE_MIRROR_URL": mirror or "",
                    "CITECACHE_MAX_RUNTIME": runtime,
                    "CLOSESPIDER_TIMEOUT": runtime,
                    **overrides,
                },
                scheduled=False,  # the crawl lock is held already, taken above
                run=run,
            )
        finally:
            # Claimed, never started (still queued in Scrapy when it stopped): back to
            # the queue, so that nothing is left `running` once this run is gone.
            run.release()
            with ctx.store() as store:
                requeued = store.requeue_orphaned_requests()
            if lock is not None:
                lock.release()
    summary["requeued"] = requeued
    if as_json:
        click.echo(_report(ctx, summary, run, started_at))
    else:
        statuses = ", ".join(f"{v} {k}" for k, v in summary["byStatus"].items()) or "nothing"
        say(
            f"worker stopped after {summary['seconds']} s: stored {summary['stored']} "
            f"of {summary['tasks']} claimed ({statuses}){_archived(summary)}; "
            f"{requeued} request(s) requeued"
        )


@click.command(
    epilog=f"""\b
Exit codes:
  0  every fresh copy was obtained (with --queue: every request was queued)
  1  it could not run: an unknown id, a URL it cannot take, the database cannot be opened
  2  usage error: a bad or missing argument or option
  {EXIT_NOT_FRESH}  it ran, but at least one fresh copy was not obtained: its fetch failed
     (the status printed, and `citecache requests`, say why)"""
)
@click.argument("refs", nargs=-1, required=True)
@click.option("--queue", is_flag=True, help="Record a request for the next crawl instead.")
@click.option("--reason", help="Why a fresh copy is needed.")
@click.option("--by", "by", help="Who asks.")
@click.option("--force", is_flag=True, help="Download even if the server says unchanged (304).")
@click.option("--json", "as_json", is_flag=True)
@allow_private_option
@db_option
@pass_ctx
def refetch(
    ctx: Context, refs: tuple[str, ...], queue: bool, reason, by, force: bool, as_json: bool
) -> None:
    """Fetch these URLs or ids now, whatever their schedule, and print the outcome.

    Unknown URLs are registered first. Each request is recorded with who asked and why
    (see `citecache requests`). With --queue, the next crawl takes them first instead.
    """
    if queue:
        for ref, request_id in zip(
            refs, _record_requests(ctx, refs, by, reason, force), strict=True
        ):
            click.echo(f"{request_id}\tqueued\t{ref}")
        return
    with _fetch_run(ctx) as run:
        # Claimed by this run as they are recorded: no other run may take them.
        request_ids = _record_requests(ctx, refs, by, reason, force, claim_for=run.run_id)
        _crawl(ctx, {"CITECACHE_REQUEST_IDS": request_ids}, scheduled=False, run=run)
    with ctx.store() as store:
        rows = [store.get_request(i) for i in request_ids]
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
        dump_json(out)
    else:
        for row in out:
            reason_text = f"\t{row['reason']}" if row["reason"] else ""
            click.echo(
                f"{row['fetchStatus']}\t{row['httpStatus'] or '-'}\t{row['url']}{reason_text}"
            )
    if any(row["request"] != "done" for row in out):
        sys.exit(EXIT_NOT_FRESH)


def _record_requests(
    ctx: Context,
    refs: tuple[str, ...],
    by: str | None,
    reason: str | None,
    force: bool,
    claim_for: str | None = None,
) -> list[int]:
    """One request per ref, all or none (an unknown ref records nothing)."""
    with ctx.existing_store() as store:
        try:
            with store.atomic():
                return [
                    store.request_refetch(
                        ref, by=by, reason=reason, force=force, claim_for=claim_for
                    )
                    for ref in refs
                ]
        except (NotFoundError, InvalidURL, StoreError) as exc:
            raise click.ClickException(str(exc)) from None


def _archived(summary: dict) -> str:
    count = summary.get("archivedCopies")
    return f"; {count} archived {'copy' if count == 1 else 'copies'}" if count else ""
