"""What the spider hands to the pipelines: the facts of one fetch, nothing extracted yet."""

from __future__ import annotations

from dataclasses import dataclass, field

from storage.results import WarcRef
from storage.warc import Exchange


@dataclass
class FetchedPage:
    """One fetch attempt of one resource, as the spider saw it."""

    resource_id: str
    url: str
    """The URL as registered (the request's first hop)."""
    started_at: str
    """When the request was sent, ISO 8601 UTC ending in Z."""
    outcome: str
    """fetched (a body to extract) or a failure: http_error, not_html, too_large, timeout,
    dns_error, connection_error, blocked_by_robots, unsafe_url, not_modified, error."""
    duration_ms: int | None = None
    http_status: int | None = None
    final_url: str | None = None
    content_type: str | None = None
    body: bytes = b""
    """The raw body, for extraction; dropped once extracted."""
    bytes: int | None = None
    error: str | None = None
    """One line saying why the fetch failed."""
    etag: str | None = None
    last_modified: str | None = None
    request_id: int | None = None
    """The editor's re-fetch request this fetch serves."""
    redirect_chain: list[str] = field(default_factory=list)
    """URLs requested before ``final_url``, in order."""
    cross_host: bool = False
    """The redirects ended on another host: flag the content, do not take it as the article."""
    lease_token: int | None = None
    """The host lease the task was claimed under (storage/leases.py)."""
    host_delay: float | None = None
    """Seconds the server asked us to wait before the next request (Retry-After)."""
    exchange: Exchange | None = None
    """The request and response as sent and received, for the WARC files (crawler/warc.py);
    dropped once written."""
    warc: WarcRef | None = None
    """Where the WARC response record of this body is kept, once written."""
    archive_fallback: bool = False
    """Ask a web archive if this fetch fails: the source has no copy yet, or is dead."""
    fetch_method: str = "scrapy"
    """scrapy (live), wayback (a capture from the web archive, crawler/wayback.py) or
    browser (rendered in Chromium: crawler/browser.py)."""
    archived_at: str | None = None
    """For a capture: when the archive made it, ISO 8601 UTC ending in Z."""
    archive_url: str | None = None
    """For a capture: where a reader can see it in the archive."""
    needs_browser: bool = False
    """An operator marked the source to be always rendered in a browser."""
