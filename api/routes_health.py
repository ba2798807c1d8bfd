"""Health at the server root: ``/healthz`` (alive) and ``/health`` (the database, the
worker, the figures; the dashboard for a browser)."""

from __future__ import annotations

import logging
import time

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response

from citecache import __version__
from storage import Store

from .deps import check_read, settings
from .errors import APIError, accept_ranks
from .models import HealthReport, Liveness, error_responses
from .routes_pages import health_dashboard
from .serialize import zulu_all

router = APIRouter(tags=["health"])
logger = logging.getLogger(__name__)
VARY = {"Vary": "Accept"}


@router.get("/healthz", summary="Liveness: the server answers", response_model=Liveness)
def healthz() -> dict:
    return {"status": "ok"}


@router.get(
    "/health",
    summary="Health: database, worker and figures (HTML for a browser)",
    response_model=HealthReport,
    responses={
        200: {"content": {"text/html": {}}},
        503: {"model": HealthReport, "description": "Degraded"},
        **error_responses(401),
    },
)
def health(request: Request) -> Response:
    if wants_html(request):
        check_read(request)
        with Store(settings(request).db_path, readonly=True) as store:
            response = health_dashboard(request, store)
        response.headers.update(VARY)
        return response
    body = health_report(request)
    status = 200 if body["status"] == "healthy" else 503
    return JSONResponse(zulu_all(body), status_code=status, headers=VARY)


def wants_html(request: Request) -> bool:
    """A browser's Accept ranks text/html above JSON; ``*/*`` or none (fetch, curl) does not."""
    ranks = accept_ranks(request, {"text/html": "html", "application/json": "json"})
    return ranks["html"] > ranks["json"]


def health_report(request: Request) -> dict:
    conf = settings(request)
    worker = conf.worker.status() if conf.worker else None
    body: dict = {
        "status": "healthy",
        "database": "ok",
        "uptime": round(time.monotonic() - request.app.state.started, 3),
        "version": __version__,
        "worker": worker,
    }
    try:
        check_read(request)
        may_see_figures = True
    except APIError:
        may_see_figures = False
    try:
        with Store(conf.db_path, readonly=True) as store:
            if store.pending_migrations():
                raise RuntimeError("the schema is not up to date")
            if may_see_figures:
                body.update(store.resource_stats())
                body["outcomesByDay"] = store.outcomes_by_day()
                body["worstDomains"] = store.worst_domains()
    except Exception as exc:  # the answer is the report: any failure is "error"
        logger.warning("health: database check failed: %s", exc)
        body.update(status="degraded", database="error")
    if worker is not None and not worker["alive"]:
        body["status"] = "degraded"
    return body
