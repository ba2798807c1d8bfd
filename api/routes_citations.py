"""The wiki's citation-content API under ``/api/citations``, as its own server answers.

Reads and writes of the wiki's tools (its page renderer, readers, coverage dashboard
and fetchers) work against citecache unchanged; see docs/api.md. An upsert goes the
crawl's way (storage/content.py): text becomes a snapshot in the history, a failure
never replaces the last good copy.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request

from storage import ContentUpsert, InvalidURL, Store, StoreError, parse_iso, utc_now

from . import serialize
from .citation_models import (
    CitationContent,
    ContentList,
    ContentStats,
    LinkAnswer,
    UpsertAnswer,
    UpsertBody,
)
from .deps import read_store, settings, writer_only
from .errors import APIError
from .models import error_responses
from .routes_api import valid_url

router = APIRouter(prefix="/api/citations", tags=["wiki citation content"])

ReadStore = Annotated[Store, Depends(read_store)]
MAX_LIST = 5000
MAX_OFFSET = 2**63 - 1
"""The largest OFFSET either engine takes (a 64-bit integer)."""
CLOCK_SKEW = timedelta(hours=1)
"""How far in the future an upsert's fetchedAt may be (the sender's clock runs ahead)."""


@router.get(
    "/content",
    summary="Cached content of a URL",
    response_model=CitationContent,
    responses=error_responses(401, 404),
)
def content(store: ReadStore, url: str | None = None) -> dict:
    url = valid_url(url)
    resource = store.find_by_url(url)
    body = serialize.citation_content(store, url, resource) if resource else None
    if body is None:
        raise APIError(404, "not_found", f"No content for url: {url}")
    return body


@router.post(
    "/content/upsert",
    summary="Store content the wiki's tools fetched (a snapshot in the history)",
    response_model=UpsertAnswer,
    responses=error_responses(401, 403),
    dependencies=[Depends(writer_only)],
)
def upsert(body: UpsertBody, request: Request) -> dict:
    url = valid_url(body.url)
    if parse_iso(body.fetchedAt) > utc_now() + CLOCK_SKEW:
        raise APIError(400, "validation_error", f"fetchedAt: in the future ({body.fetchedAt})")
    content_upsert = ContentUpsert(
        url=url,
        fetched_at=body.fetchedAt,
        full_text=body.fullText,
        preview=body.fullTextPreview,
        http_status=body.httpStatus,
        content_type=body.contentType,
        title=body.pageTitle,
        content_hash=body.contentHash,
        fetch_method=body.fetchMethod,
        resource_id=body.resourceId,
    )
    with settings(request).writer() as store:
        try:
            store.upsert_content(content_upsert)
        except (InvalidURL, StoreError) as exc:
            raise APIError(400, "validation_error", str(exc)) from None
    return {"url": body.url}


@router.get(
    "/content/list",
    summary="Sources tried, newest first, without text",
    response_model=ContentList,
    responses=error_responses(401),
)
def list_content(
    store: ReadStore,
    limit: int = Query(100, ge=1, le=MAX_LIST),
    offset: int = Query(0, ge=0, le=MAX_OFFSET),
) -> dict:
    counts = store.content_counts()
    return {
        "entries": [
            serialize.content_entry(r) for r in store.content_entries(limit=limit, offset=offset)
        ],
        "total": counts["total"],
        "withFullText": counts["with_text"],
        "withPreview": counts["with_text"],
        "limit": limit,
        "offset": offset,
    }


@router.get(
    "/content/stats",
    summary="Coverage of the cached content",
    response_model=ContentStats,
    responses=error_responses(401),
)
def stats(store: ReadStore) -> dict:
    return serialize.content_stats(store.content_counts())


@router.post(
    "/content/link-resources",
    summary="Link content to its resource (citecache links it when storing: usually 0)",
    response_model=LinkAnswer,
    responses=error_responses(401, 403),
    dependencies=[Depends(writer_only)],
)
def link_resources(request: Request) -> dict:
    with settings(request).writer() as store:
        return {"linked": store.link_content()}
