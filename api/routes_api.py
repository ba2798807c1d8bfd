"""The JSON API under ``/api``."""

from __future__ import annotations

import json
import re
from concurrent.futures import ThreadPoolExecutor
from typing import Annotated

from fastapi import APIRouter, Depends, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from citation import csl_item
from storage import InvalidURL, NotFoundError, Store, StoreError
from storage.fields import BIBLIO_FIELDS, camel_case
from storage.health import FETCH_STATES
from storage.ids import check_url
from storage.urlsafety import UnsafeURL, check_url_safety
from storage.views import citation_data

from . import models, serialize
from .deps import Settings, read_store, require_write, settings, take_refetch_slot
from .errors import APIError
from .models import error_responses
from .openapi import json_body

CSL_JSON = "application/vnd.citationstyles.csl+json"
"""The media type of CSL-JSON (the Citation Style Language's data)."""

router = APIRouter(prefix="/api")

MAX_LIMIT = 200
"""Largest page of a listing and largest registration batch."""
MAX_INTEGER = 2**63 - 1
"""The largest integer the databases hold: a larger offset or id is a 400, not a 500."""
LOOKUP_THREADS = 8
"""Address checks (DNS look-ups) of a registration batch run at most this many at a time."""

ReadStore = Annotated[Store, Depends(read_store)]

REGISTER_FIELDS = {camel_case(name): name for name in BIBLIO_FIELDS}
"""camelCase body keys -> Store.register keyword arguments."""


def _get(store: Store, ref: str) -> dict:
    row = store.resolve(ref)
    if row is None:
        raise APIError(404, "not_found", f"No resource: {ref}")
    return row


def valid_url(url: str | None) -> str:
    """``url`` checked (absolute http or https); 400 validation_error otherwise."""
    if url is None or not url.strip():
        raise APIError(400, "validation_error", "url is required")
    try:
        return check_url(url)
    except InvalidURL as exc:
        raise APIError(400, "validation_error", f"invalid url: {exc}") from None


@router.get(
    "/resources/lookup",
    summary="Find a resource by URL (exact, then variants)",
    response_model=models.ResourceDetail,
    responses=error_responses(401, 404),
)
def lookup(store: ReadStore, url: str | None = None) -> dict:
    url = valid_url(url)
    resource = store.find_by_url(url)
    if resource is None:
        raise APIError(404, "not_found", f"No resource for url: {url}")
    return serialize.resource_detail(store, resource)


@router.get(
    "/resources/search",
    summary="Full-text search over title, summary and text",
    response_model=models.SearchResults,
    responses=error_responses(401),
)
def search_resources(
    store: ReadStore,
    q: str = Query(min_length=1, max_length=500),
    limit: int = Query(20, ge=1, le=MAX_LIMIT),
) -> dict:
    rows = store.search(q, limit=limit)
    return {
        "query": q,
        "items": [
            {
                "id": r["id"],
                "stableId": "sid_" + r["stable_id"],
                "url": r["url"],
                "title": r["title"],
                "type": r["type"],
                "fetchStatus": r["fetch_status"],
                "snippet": (r["snippet"] or "").replace("\x02", "").replace("\x03", ""),
                "score": round(-r["score"], 6),
            }
            for r in rows
        ],
    }


@router.get(
    "/resources/stats",
    summary="Counts of resources by status, type, venue",
    response_model=models.ResourceStats,
    responses=error_responses(401),
)
def stats_resources(store: ReadStore) -> dict:
    return store.resource_stats()


@router.get(
    "/content/stats",
    summary="Figures on the cached text",
    response_model=models.ContentFigures,
    responses=error_responses(401),
)
def stats_content(store: ReadStore) -> dict:
    return serialize.zulu_all(store.content_stats())


@router.get(
    "/resources",
    summary="List resources, filtered and paginated",
    response_model=models.ResourceList,
    responses=error_responses(401),
)
def list_(
    store: ReadStore,
    status: str | None = None,
    type: str | None = None,
    publication: str | None = None,
    limit: int = Query(50, ge=1, le=MAX_LIMIT),
    offset: int = Query(0, ge=0, le=MAX_INTEGER),
) -> dict:
    if status and status not in FETCH_STATES:
        raise APIError(
            400, "validation_error", f"unknown status {status!r}: one of {', '.join(FETCH_STATES)}"
        )
    rows, total = store.list_resources(
        status=status, type=type, publication=publication, limit=limit, offset=offset
    )
    return {
        "total": total,
        "limit": limit,
        "offset": offset,
        "items": [serialize.resource_item(store, r) for r in rows],
    }


@router.get(
    "/resources/{ref}",
    summary="One resource by id or stable id",
    response_model=models.ResourceDetail,
    responses=error_responses(401, 404),
)
def get_resource(ref: str, store: ReadStore) -> dict:
    return serialize.resource_detail(store, _get(store, ref))


@router.get(
    "/resources/{ref}/csl",
    summary="One resource as a CSL-JSON item (for Zotero, pandoc)",
    response_class=JSONResponse,
    responses={
        200: {
            "description": "A CSL-JSON array of one item",
            "content": {CSL_JSON: {"schema": {"type": "array", "items": {"type": "object"}}}},
        },
        **error_responses(401, 404),
    },
)
def get_resource_csl(ref: str, store: ReadStore) -> JSONResponse:
    view, found = citation_data(store, _get(store, ref))
    return JSONResponse([csl_item(view, found)], media_type=CSL_JSON)


@router.get(
    "/resources/{ref}/snapshots",
    summary="A resource's content history",
    response_model=models.SnapshotList,
    responses=error_responses(401, 404),
)
def snapshots(ref: str, store: ReadStore) -> dict:
    resource = _get(store, ref)
    return {
        "resourceId": resource["id"],
        "currentSnapshotId": resource["current_snapshot_id"],
        "items": [
            serialize.zulu_all(serialize.snapshot_summary(s))
            for s in store.snapshots(resource["id"])
        ],
    }


@router.get(
    "/refetch/{request_id}",
    summary="State of a re-fetch request",
    response_model=models.RefetchRequest,
    responses=error_responses(401, 404),
)
def refetch_status(request_id: Annotated[int, Path(le=MAX_INTEGER)], store: ReadStore) -> dict:
    row = store.request(request_id)
    if row is None:
        raise APIError(404, "not_found", f"No re-fetch request: {request_id}")
    return serialize.refetch_request(row, store.resolve(row["resource_id"]))


# ---- writes ---------------------------------------------------------------------------


async def _json_body(request: Request):
    raw = await request.body()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError as exc:
        raise APIError(400, "validation_error", f"body is not valid JSON: {exc}") from None
    except RecursionError:
        raise APIError(
            400, "validation_error", "body is not valid JSON: nested too deeply"
        ) from None


def _registration_args(item) -> tuple[str, dict, list[str]]:
    if not isinstance(item, dict):
        raise APIError(400, "validation_error", "each resource must be a JSON object")
    unknown = set(item) - set(REGISTER_FIELDS) - {"url", "citedBy"}
    if unknown:
        raise APIError(400, "validation_error", f"unknown field(s): {', '.join(sorted(unknown))}")
    url = item.get("url")
    if not isinstance(url, str):
        raise APIError(400, "validation_error", "url is required and must be a string")
    cited_by = item.get("citedBy") or []
    if isinstance(cited_by, str):
        cited_by = [cited_by]
    if not isinstance(cited_by, list) or not all(isinstance(s, str) for s in cited_by):
        raise APIError(400, "validation_error", "citedBy must be a list of page slugs")
    fields = {REGISTER_FIELDS[k]: v for k, v in item.items() if k in REGISTER_FIELDS}
    return url, fields, cited_by


def _checked(item, allow_private: bool) -> tuple[str, dict, list[str]]:
    """A registration's arguments once valid and safe; the address check may wait on DNS."""
    url, fields, cited_by = _registration_args(item)
    url = valid_url(url)
    _check_safe(url, allow_private)
    return url, fields, cited_by


def _check_safe(url: str, allow_private: bool) -> None:
    try:
        check_url_safety(url, allow_private=allow_private)
    except UnsafeURL as exc:
        raise APIError(400, "unsafe_url", str(exc)) from None


def _store_one(store: Store, url: str, fields: dict, cited_by: list[str]) -> tuple[dict, bool]:
    try:
        result = store.register(url, cited_by=cited_by, citation_source="api", **fields)
    except (InvalidURL, StoreError) as exc:
        raise APIError(400, "validation_error", str(exc)) from None
    return serialize.resource_detail(store, result.resource), result.created


def _register_single(conf: Settings, item) -> JSONResponse:
    args = _checked(item, conf.allow_private)
    with conf.writer() as store:
        view, created = _store_one(store, *args)
    return JSONResponse({"created": created, "resource": view}, status_code=201 if created else 200)


def _register_batch(conf: Settings, batch: list) -> JSONResponse:
    def checked(item) -> tuple[str, dict, list[str]] | APIError:
        try:
            return _checked(item, conf.allow_private)
        except APIError as exc:
            return exc

    # The look-ups run side by side and before the write lock: a slow resolver holds
    # neither the other items nor the other writers.
    with ThreadPoolExecutor(LOOKUP_THREADS) as pool:
        items = list(pool.map(checked, batch))
    results, counts = [], {"created": 0, "updated": 0, "failed": 0}
    with conf.writer() as store:
        for index, args in enumerate(items):
            try:
                if isinstance(args, APIError):
                    raise args
                view, created = _store_one(store, *args)
            except APIError as exc:
                counts["failed"] += 1
                results.append({"index": index, "error": exc.code, "message": exc.message})
                continue
            counts["created" if created else "updated"] += 1
            results.append(
                {"index": index, "created": created, "id": view["id"], "url": view["url"]}
            )
    return JSONResponse({**counts, "results": results}, status_code=200)


@router.post(
    "/resources",
    summary="Register one URL, or a batch of up to 200",
    status_code=201,
    response_model=models.Registered,
    responses={
        200: {"model": models.Registered | models.BatchRegistered, "description": "Known"},
        **error_responses(400, 401, 403),
    },
    openapi_extra=json_body("ResourceIn", "ResourceBatch", "ResourceIn[]"),
)
async def register(request: Request):
    require_write(request)
    body = await _json_body(request)
    batch = body.get("resources") if isinstance(body, dict) and "resources" in body else None
    if isinstance(body, list):
        batch = body
    conf = settings(request)
    if batch is None:
        if not isinstance(body, dict):
            raise APIError(400, "validation_error", "body must be a resource object or a batch")
        # DNS look-ups and SQLite writes block: they run in the thread pool, not on the loop
        return await run_in_threadpool(_register_single, conf, body)
    if not isinstance(batch, list) or not batch:
        raise APIError(400, "validation_error", "resources must be a non-empty list")
    if len(batch) > MAX_LIMIT:
        raise APIError(400, "validation_error", f"a batch holds at most {MAX_LIMIT} resources")
    return await run_in_threadpool(_register_batch, conf, batch)


def queue_refetch(
    request: Request, ref: str, token: str, by: str | None, reason: str | None
) -> dict:
    """Check, rate-limit and queue a re-fetch; wakes the worker. Shared with the HTML form.

    It blocks (DNS, SQLite): async routes call it through ``run_in_threadpool``.
    """
    conf = settings(request)
    with Store(conf.db_path, readonly=True) as store:
        resource = _get(store, ref)
    _check_safe(resource["url"], conf.allow_private)
    take_refetch_slot(request, token)
    with conf.writer() as store:
        try:
            request_id = store.request_refetch(resource["id"], by=by, reason=reason)
        except NotFoundError:
            raise APIError(404, "not_found", f"No resource: {ref}") from None
        row = store.get_request(request_id)
    if conf.worker is not None:
        conf.worker.wake()
    return serialize.refetch_request(row, resource)


_SHORT_TEXT = re.compile(r"^[^\x00-\x1f]{0,500}$")


@router.post(
    "/resources/{ref}/refetch",
    summary="Queue a fresh fetch",
    status_code=202,
    response_model=models.RefetchRequest,
    responses=error_responses(400, 401, 403, 404, 429),
    openapi_extra=json_body("RefetchBody", required=False),
)
async def refetch(ref: str, request: Request):
    token = require_write(request)
    body = await _json_body(request) or {}
    if not isinstance(body, dict):
        raise APIError(400, "validation_error", "body must be a JSON object")
    by, reason = body.get("by"), body.get("reason")
    for name, value in (("by", by), ("reason", reason)):
        if value is not None and not (isinstance(value, str) and _SHORT_TEXT.match(value)):
            raise APIError(400, "validation_error", f"{name} must be a line of at most 500 chars")
    queued = await run_in_threadpool(queue_refetch, request, ref, token, by, reason)
    return JSONResponse(queued, status_code=202)
