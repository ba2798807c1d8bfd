"""The FastAPI application: the read API, writes for editors, and the HTML pages."""

from __future__ import annotations

import logging
import time
from contextlib import asynccontextmanager
from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles
from jinja2 import Environment, FileSystemLoader

from citecache import __version__
from storage import Store

from . import display, errors, openapi, routes_api, routes_citations, routes_health, routes_pages
from . import worker as worker_module
from .accesslog import AccessLog
from .bodyguard import BodyGuard
from .deps import Settings
from .head import HeadAsGet
from .ratelimit import TokenBucket
from .security_headers import SecurityHeaders
from .worker import RefetchWorker

HERE = Path(__file__).resolve().parent
logger = logging.getLogger(__name__)


def templates() -> Environment:
    """Jinja2 with autoescape on for every template: titles and text come from the web."""
    env = Environment(loader=FileSystemLoader(HERE / "templates"), autoescape=True)
    display.install(env)
    return env


def create_app(
    db_path: str | Path,
    *,
    api_token: str | None = None,
    read_token_required: bool = False,
    allow_private: bool = False,
    start_worker: bool = True,
    limiter: TokenBucket | None = None,
    worker_poll_seconds: float | None = None,
    worker_mode: str = "worker",
    access_log: bool = False,
) -> FastAPI:
    """The service over the cache at ``db_path`` (a SQLite file or a PostgreSQL URL).

    :param api_token: bearer token that writes need (and reads, with ``read_token_required``);
        None disables writes.
    :param allow_private: let submitted URLs and re-fetches reach private addresses.
    :param start_worker: run the supervised re-fetch worker while the app is up
        (in the ASGI lifespan, so in-process test clients get none).
    :param worker_mode: ``worker`` (one long-running ``citecache worker``) or ``oneshot``
        (a ``crawl --requests`` subprocess per batch of requests, as before the worker).
    :param access_log: log a line per request to the ``citecache.access`` logger.
    """
    db_path = str(db_path)
    with Store(db_path):
        pass  # create the database and apply migrations (search index included) before reads
    worker = None
    if start_worker:
        worker = RefetchWorker(
            db_path,
            allow_private=allow_private,
            poll_seconds=worker_poll_seconds or worker_module.POLL_SECONDS,
            mode=worker_mode,
        )
    conf = Settings(
        db_path=db_path,
        api_token=api_token or None,
        read_token_required=read_token_required,
        allow_private=allow_private,
        limiter=limiter or TokenBucket(),
        worker=worker,
    )

    @asynccontextmanager
    async def lifespan(app: FastAPI):
        if worker is not None:
            worker.start()
        try:
            yield
        finally:
            if worker is not None:
                worker.stop()
            conf.close()

    app = FastAPI(
        title="citecache",
        summary="Cached, cleaned copies of the web sources a knowledge base cites",
        version=__version__,
        lifespan=lifespan,
        docs_url="/api/docs",
        redoc_url=None,
    )
    app.state.settings = conf
    app.state.started = time.monotonic()
    app.state.templates = templates()
    errors.install(app)
    openapi.install(app)
    app.include_router(routes_citations.router)
    app.include_router(routes_api.router)
    app.include_router(routes_health.router)
    app.include_router(routes_pages.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    # The last added runs first: HEAD becomes GET before anything else sees it; a body
    # is bounded before a route reads it.
    app.add_middleware(BodyGuard)
    app.add_middleware(SecurityHeaders)
    app.add_middleware(HeadAsGet)
    if access_log:
        app.add_middleware(AccessLog)
    return app
