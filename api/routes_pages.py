"""Server-rendered HTML pages for editors; they work without JavaScript."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import parse_qs, urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import HTMLResponse, RedirectResponse

from storage import Store, card_preview, size_kb, utc_now
from storage.health import GOOD_STATES
from storage.ids import short_url
from storage.views import resource_view

from . import charts, csrf
from .deps import TOKEN_COOKIE, presented_token, read_store, require_write, settings
from .display import label
from .errors import APIError
from .routes_api import queue_refetch

router = APIRouter(include_in_schema=False)

ReadStore = Annotated[Store, Depends(read_store)]
PAGE_SIZE = 50


def render(request: Request, name: str, status: int = 200, **context) -> HTMLResponse:
    """The page, with the CSRF token its forms carry (and its cookie, on a first visit)."""
    token, fresh_cookie = csrf.form_token(request)
    template = request.app.state.templates.get_template(name)
    html = template.render(request=request, csrf_field=csrf.FIELD, csrf_token=token, **context)
    response = HTMLResponse(html, status_code=status)
    if fresh_cookie:
        csrf.set_cookie(request, response, fresh_cookie)
    return response


@router.get("/")
def home() -> RedirectResponse:
    return RedirectResponse("/resources", status_code=302)


@router.get("/resources")
def resources_page(
    request: Request,
    store: ReadStore,
    q: str = Query("", max_length=500),
    status: str = "",
    type: str = "",
    venue: str = "",
    page: int = Query(1, ge=1, le=100_000),
) -> HTMLResponse:
    rows, total = store.list_resources(
        status=status or None,
        type=type or None,
        publication=venue or None,
        query=q.strip() or None,
        limit=PAGE_SIZE,
        offset=(page - 1) * PAGE_SIZE,
    )
    items = []
    for row in rows:
        view = resource_view(store, row, preview=False)
        view["snippet"] = row.get("snippet")
        items.append(view)
    filters = {"q": q, "status": status, "type": type, "venue": venue}

    def page_link(n: int) -> str:
        return "/resources?" + urlencode({**{k: v for k, v in filters.items() if v}, "page": n})

    return render(
        request,
        "resources.html",
        items=items,
        total=total,
        page=page,
        pages=max(1, -(-total // PAGE_SIZE)),
        page_link=page_link,
        filters=filters,
        statuses=store.distinct_values("fetch_status"),
        types=store.distinct_values("type"),
        venues=store.publications(),
        short_url=short_url,
    )


def _resource_context(store: Store, resource: dict) -> dict:
    view = resource_view(store, resource, full_text=True)
    preview = None
    if view["fullText"]:
        preview = card_preview(view["fullText"], view["contentLength"])
    requests = store.requests_for(resource["id"])
    pending = bool(requests and requests[0]["status"] in ("queued", "running"))
    return {
        "r": view,
        "preview": preview,
        "size_kb": size_kb(view["contentLength"]) if view["contentLength"] else None,
        "snapshots": store.snapshots(resource["id"]),
        "log": store.fetch_log(resource["id"], limit=10),
        "requests": requests,
        "pending": pending,
        "healthy": view["fetchStatus"] in GOOD_STATES,
        "short_url": short_url(view["url"]),
    }


@router.get("/resources/{ref}")
def resource_page(request: Request, ref: str, store: ReadStore) -> HTMLResponse:
    resource = store.resolve(ref)
    if resource is None:
        raise APIError(404, "not_found", f"No resource: {ref}")
    context = _resource_context(store, resource)
    context["has_token_cookie"] = bool(request.cookies.get(TOKEN_COOKIE))
    context["flash"] = request.query_params.get("flash")
    return render(request, "resource.html", **context)


@router.post("/resources/{ref}/refetch")
async def resource_refetch(request: Request, ref: str):
    """The Re-fetch button: a plain form POST; the token comes from the form or cookie."""
    form = parse_qs((await request.body()).decode("utf-8", "replace"))
    csrf.check(request, form)
    given = (form.get("token") or [""])[0].strip() or presented_token(request, cookie=True)
    token = require_write(request, given or "")
    reason = (form.get("reason") or [""])[0].strip()[:500] or None
    result = await run_in_threadpool(queue_refetch, request, ref, token, "editor", reason)
    response = RedirectResponse(
        f"/resources/{result['resourceId']}?flash=queued#refetch", status_code=303
    )
    response.set_cookie(
        TOKEN_COOKIE, token, httponly=True, samesite="strict", secure=request.url.scheme == "https"
    )
    return response


def health_dashboard(request: Request, store: Store) -> HTMLResponse:
    """The link-health dashboard (``GET /health`` for a browser; api/routes_health.py)."""
    stats = store.resource_stats()
    days = store.outcomes_by_day()
    domains = store.worst_domains()
    worker = settings(request).worker
    by_status = stats["byStatus"]
    status_bars = charts.horizontal_bars(
        [(label(name), n, charts.colour(name)) for name, n in by_status.items()]
    )
    domain_bars = charts.horizontal_bars([(d["domain"], d["failing"], "#c62828") for d in domains])
    return render(
        request,
        "health.html",
        stats=stats,
        status_bars=status_bars,
        days_chart=charts.daily_outcomes(days, today=utc_now().date()),
        domains=domains,
        domain_bars=domain_bars,
        worker=worker.status() if worker else None,
    )
