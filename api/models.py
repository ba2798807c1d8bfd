"""The JSON answers of the service as pydantic models: what /openapi.json publishes.

The wiki's citation-content surface has its own module (api/citation_models.py).
Field names are the wire's camelCase; timestamps are ISO 8601 strings in UTC.
"""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, Field


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
