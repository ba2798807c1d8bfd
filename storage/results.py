"""The plain records that cross the border between the crawler and the store."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class WarcRef:
    """Where a WARC record is kept: a file of the WARC folder, its gzip member's offset
    and length there, and the payload digest of the response it holds."""

    file: str
    offset: int
    length: int
    payload_digest: str


@dataclass(frozen=True)
class FetchTask:
    """One resource the crawler should fetch."""

    resource_id: str
    url: str
    etag: str | None = None
    last_modified: str | None = None
    request_id: int | None = None
    """The editor's re-fetch request this task serves, if any."""
    force: bool = False
    """Bypass conditional GET (an editor asked for a fresh copy)."""
    lease_token: int | None = None
    """The host lease this task was claimed under (storage/leases.py), if any."""
    status: str | None = None
    """The resource's fetch status before this fetch (storage/health.py's states)."""
    has_copy: bool = False
    """The resource already has a copy to serve (a current snapshot, live or archived)."""
    needs_browser: bool = False
    """An operator marked the source to be always rendered in a browser."""


@dataclass
class FetchResult:
    """What one fetch attempt produced; the store turns it into rows in one transaction."""

    resource_id: str
    url: str
    started_at: str
    """ISO 8601 UTC, ending in Z."""
    outcome: str
    """ok | redirected (content from another host) | not_modified | http_error | not_html |
    too_large | timeout | dns_error | connection_error | redirect_loop | blocked_by_robots |
    unsafe_url | extraction_failed | paywalled | blocked | soft_404 | error"""
    duration_ms: int | None = None
    http_status: int | None = None
    final_url: str | None = None
    content_type: str | None = None
    bytes: int | None = None
    error: str | None = None
    """Why the fetch failed, in one line."""
    text: str | None = None
    """Extracted main text, when there is some."""
    title: str | None = None
    preview: str | None = None
    """The sender's own preview of ``text`` (an upsert); else the store cuts one."""
    metadata: dict = field(default_factory=dict)
    content_hash: str | None = None
    """Hash of ``text`` (storage.previews.content_hash); computed by the store when None."""
    fetch_method: str = "scrapy"
    """scrapy (live), wayback (an archived capture) or browser (rendered)."""
    archived_at: str | None = None
    """For an archived copy: when the archive captured it, ISO 8601 UTC ending in Z."""
    archive_url: str | None = None
    """For an archived copy: where a reader can see the capture in the archive."""
    archive_fallback: bool = False
    """Ask a web archive if this fetch fails (crawler/wayback.py); the store ignores it."""
    shell_reason: str | None = None
    """Why the page looks like an app shell or a challenge rather than the article (its
    text comes from scripts), when it does: such a page never replaces a much longer
    current copy."""
    etag: str | None = None
    last_modified: str | None = None
    request_id: int | None = None
    redirect_chain: list[str] = field(default_factory=list)
    """Every URL requested before ``final_url``, when the server redirected."""
    canonical_url: str | None = None
    """The page's ``<link rel=canonical>``."""
    lease_token: int | None = None
    """The host lease the task was claimed under: a result under a lease that has been
    taken over since is refused (``stale_lease``), never written over newer state."""
    host_delay: float | None = None
    """Seconds before the host may be fetched again (a Retry-After), when known."""
    warc: WarcRef | None = None
    """The response record of this fetch's body (storage/warc.py), or of the same body
    fetched earlier (a revisit); None when WARC capture is off or there was no body."""
