"""The JSON answers of the service as pydantic models: what /openapi.json publishes.

The wiki's citation-content surface has its own module (api/citation_models.py).
Field names are the wire's camelCase; timestamps are ISO 8601 strings in UTC.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class Liveness(BaseModel):
    status: Literal["ok"]


class WorkerStatus(BaseModel):
    """The supervised re-fetch worker (api/worker.py)."""

    alive: bool
    mode: str
    running: bool
    pid: int | None
    startedAt: str | None
    fallbackReason: str | None
    runs: int
    failedRuns: int
    restarts: int
    lastRunAt: str | None
    lastExit: int | None
    lastError: str | None


class DayOutcomes(BaseModel):
    day: str = Field(description="YYYY-MM-DD, UTC")
    outcomes: dict[str, int]


class FailingDomain(BaseModel):
    domain: str
    failing: int
    total: int
    share: float
    statuses: dict[str, int]


class ResourceStats(BaseModel):
    """``GET /api/resources/stats``: counts by fetch status, type and venue."""

    resources: int
    withContent: int
    pages: int
    citations: int
    pendingRequests: int
    byStatus: dict[str, int]
    byType: dict[str, int]
    byPublication: dict[str, int]


class HealthReport(BaseModel):
    """``GET /health`` for a client that does not ask for HTML.

    The figures (from ``resources`` on) come with a readable database, and when the
    server wants a token for reads, only to a caller that presents it.
    """

    status: Literal["healthy", "degraded"]
    database: Literal["ok", "error"]
    uptime: float = Field(description="Seconds since the server started")
    version: str
    worker: WorkerStatus | None = None
    resources: int | None = None
    withContent: int | None = None
    pages: int | None = None
    citations: int | None = None
    pendingRequests: int | None = None
    byStatus: dict[str, int] | None = None
    byType: dict[str, int] | None = None
    byPublication: dict[str, int] | None = None
    outcomesByDay: list[DayOutcomes] | None = None
    worstDomains: list[FailingDomain] | None = None


class ErrorBody(BaseModel):
    """Every error: a stable code and a sentence for people."""

    error: str = Field(examples=["validation_error"])
    message: str


def error_responses(*statuses: int) -> dict:
    """The ``responses`` of a route for these error statuses, each the error shape."""
    return {status: {"model": ErrorBody} for status in statuses}


class Answer(BaseModel):
    """An answer's shape is fixed: a key the model lacks is an error (caught by tests)."""

    model_config = ConfigDict(extra="forbid")


class Publication(Answer):
    id: str
    name: str
    type: str | None
    peerReviewed: bool | None


class Credibility(Answer):
    rating: int = Field(ge=1, le=5)
    description: str
    source: Literal["override", "venue"]
    venue: str | None


class CitingPage(Answer):
    page: str
    title: str | None
    type: str | None
    quality: float | None


class Provenance(Answer):
    """Where the served copy came from: live, a web archive's capture, or a browser."""

    source: Literal["live", "archive", "browser"]
    label: str
    archivedAt: str | None
    archiveUrl: str | None


class ResourceItem(Answer):
    """A resource in a listing: no text, no review, abstract or key points."""

    id: str
    stableId: str
    url: str
    finalUrl: str | None
    title: str | None
    type: str | None
    authors: list[str]
    publishedDate: str | None
    publication: Publication | None
    credibility: Credibility | None
    summary: str | None
    tags: list[str]
    fetchStatus: str
    statusReason: str | None
    httpStatus: int | None
    contentType: str | None
    fetchedAt: str | None
    lastAttemptAt: str | None
    nextFetchAt: str | None
    failureCount: int
    contentHash: str | None
    contentLength: int | None
    fetchMethod: str | None
    provenance: Provenance | None
    citedBy: list[CitingPage]
    registeredAt: str
    updatedAt: str


class SnapshotSummary(Answer):
    id: int
    contentHash: str
    fetchedAt: str
    lastSeenAt: str
    title: str | None
    contentLength: int
    fetchMethod: str | None
    httpStatus: int | None
    archivedAt: str | None
    archiveUrl: str | None


class ResourceLinks(Answer):
    self: str
    snapshots: str
    html: str


class ResourceDetail(ResourceItem):
    review: str | None
    keyPoints: list[str]
    abstract: str | None
    snapshot: SnapshotSummary | None
    links: ResourceLinks


class ResourceList(Answer):
    total: int
    limit: int
    offset: int
    items: list[ResourceItem]


class SearchHit(Answer):
    id: str
    stableId: str
    url: str
    title: str | None
    type: str | None
    fetchStatus: str
    snippet: str
    score: float


class SearchResults(Answer):
    query: str
    items: list[SearchHit]


class ContentFigures(Answer):
    """``GET /api/content/stats``: figures on the cached text."""

    snapshots: int
    resourcesWithContent: int
    totalChars: int
    averageChars: int
    lastNewContentAt: str | None
    fetches: int
    lastFetchAt: str | None
    byFetchMethod: dict[str, int]
    byContentType: dict[str, int]


class SnapshotList(Answer):
    resourceId: str
    currentSnapshotId: int | None
    items: list[SnapshotSummary]


class RequestLinks(Answer):
    self: str
    resource: str


class RefetchRequest(Answer):
    requestId: int
    resourceId: str
    status: Literal["queued", "running", "done", "failed"]
    outcome: str | None
    requestedAt: str
    startedAt: str | None
    finishedAt: str | None
    requestedBy: str | None
    reason: str | None
    links: RequestLinks
    fetchStatus: str | None = None
    httpStatus: int | None = None


class RefetchBody(Answer):
    """``POST /api/resources/{ref}/refetch`` (optional): who asks and why."""

    by: str | None = Field(None, max_length=500)
    reason: str | None = Field(None, max_length=500)


class ResourceIn(Answer):
    """A URL to register, with what is known of it (camelCase bibliographic fields)."""

    url: str
    citedBy: list[str] | str | None = None
    title: str | None = None
    type: str | None = None
    authors: list[str] | None = None
    publishedDate: str | None = None
    publicationId: str | None = None
    summary: str | None = None
    review: str | None = None
    keyPoints: list[str] | None = None
    abstract: str | None = None
    tags: list[str] | None = None
    credibilityOverride: int | None = Field(None, ge=1, le=5)


class ResourceBatch(Answer):
    resources: list[ResourceIn] = Field(min_length=1, max_length=200)


class Registered(Answer):
    created: bool
    resource: ResourceDetail


class BatchItem(Answer):
    index: int
    created: bool | None = None
    id: str | None = None
    url: str | None = None
    error: str | None = None
    message: str | None = None


class BatchRegistered(Answer):
    created: int
    updated: int
    failed: int
    results: list[BatchItem]
