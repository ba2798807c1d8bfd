"""``citecache serve``: run the service with uvicorn."""

from __future__ import annotations

import socket

import click

from citecache.context import CONTEXT_SETTINGS, Context, db_option, pass_ctx
from storage.backend import redact


@click.command(context_settings=CONTEXT_SETTINGS)
@db_option
@click.option("--host", default="127.0.0.1", show_default=True, help="Interface to listen on.")
@click.option("--port", default=8000, show_default=True, type=click.IntRange(0, 65535))
@click.option(
    "--token",
    envvar="CITECACHE_API_TOKEN",
    default=None,
    help="Bearer token for writes (env CITECACHE_API_TOKEN); without it writes are off.",
)
@click.option(
    "--read-token-required",
    is_flag=True,
    envvar="CITECACHE_READ_TOKEN_REQUIRED",
    help="Reads need the token too (env CITECACHE_READ_TOKEN_REQUIRED=1).",
)
@click.option(
    "--allow-private",
    is_flag=True,
    envvar="CITECACHE_ALLOW_PRIVATE",
    help="Allow private and loopback addresses (env CITECACHE_ALLOW_PRIVATE).",
)
@click.option("--no-worker", is_flag=True, help="Do not run the background re-fetch worker.")
@click.option(
    "--access-log",
    is_flag=True,
    help="Log one line per request on stderr: method, path (secret parameters redacted), "
    "status, duration.",
)
@click.option(
    "--worker-mode",
    type=click.Choice(["worker", "oneshot"]),
    default="worker",
    hidden=True,  # oneshot: the behaviour before the worker, for benchmarks and as a way out
    help="worker: one long-running `citecache worker`; oneshot: a `crawl --requests` per batch.",
)
@pass_ctx
def serve(
    ctx: Context,
    host,
    port,
    token,
    read_token_required,
    allow_private,
    no_worker,
    worker_mode,
    access_log,
) -> None:
    """Serve the read API, re-fetch for editors and the HTML pages.

    The OpenAPI schema is at /openapi.json. Reads use read-only connections, so a
    running crawl never blocks them. Re-fetch requests are served by a supervised
    `citecache worker` subprocess (restarted if it dies); while another process holds
    the crawl lock, by one `crawl --requests` subprocess per batch instead.
    """
    import uvicorn

    ctx.require_database()  # a typo in --db must not serve an empty new database
    db = ctx.db
    allow_private = allow_private or ctx.allow_private

    from .accesslog import log_to_stderr
    from .app import create_app

    if read_token_required and not token:
        raise click.ClickException("--read-token-required needs a token (CITECACHE_API_TOKEN)")
    sock = listen(host, port)  # before anything else: a busy port fails fast, alone
    app = create_app(
        db,
        api_token=token,
        read_token_required=read_token_required,
        allow_private=allow_private,
        start_worker=not no_worker,
        worker_mode=worker_mode,
        access_log=access_log,
    )
    if access_log:
        log_to_stderr()
    click.echo(f"serving {redact(db)} on {address(sock)}", err=True)
    config = uvicorn.Config(app, log_level="warning", access_log=False)
    uvicorn.Server(config).run(sockets=[sock])


def listen(host: str, port: int) -> socket.socket:
    """A socket bound to ``host:port``; a one-line error if it cannot be."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as uvicorn does
    try:
        sock.bind((host, port))
    except (OSError, OverflowError) as exc:
        sock.close()
        reason = getattr(exc, "strerror", None) or exc
        raise click.ClickException(f"cannot listen on {host}:{port}: {reason}") from None
    return sock


def address(sock: socket.socket) -> str:
    host, port = sock.getsockname()[:2]
    return f"http://[{host}]:{port}" if ":" in host else f"http://{host}:{port}"
