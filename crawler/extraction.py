"""Main text and metadata of a fetched page: ``extract(html, url) -> Extracted``.

Pure and process-safe: no I/O, no Scrapy. The crawl runs it in worker processes.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field

import trafilatura
from trafilatura.settings import Extractor

# Built once: trafilatura re-reads its config for every call that does not pass one.
_OPTIONS = Extractor(output_format="txt", with_metadata=True)


@dataclass
class Extracted:
    """What extraction found on one page. ``text`` is never None."""

    text: str = ""
    """Main text, paragraphs separated by blank lines; "" when there is none."""
    title: str | None = None
    authors: list[str] = field(default_factory=list)
    published: str | None = None
    """Publication date, ISO 8601 (YYYY-MM-DD)."""
    site_name: str | None = None
    description: str | None = None
    language: str | None = None
    canonical_url: str | None = None
    page_type: str | None = None
    """paper, blog, web, government, reference, ... when the page says so."""
    page_status: str = "ok"
    """ok, paywalled or blocked: what the content itself shows."""
    failure_reason: str | None = None
    """Why no text came out, when none did."""
    metadata_sources: dict[str, str] = field(default_factory=dict)
    """Per metadata field, where its value came from (e.g. "json-ld", "og")."""

    def to_dict(self) -> dict:
        return asdict(self)


def _decode(html: str | bytes) -> str:
    if isinstance(html, str):
        return html
    return html.decode("utf-8", errors="replace")


def extract(html: str | bytes, url: str | None = None) -> Extracted:
    """Extract the main text and metadata of ``html``; never raises."""
    try:
        document = trafilatura.bare_extraction(_decode(html), url=url, options=_OPTIONS)
    except Exception as exc:  # trafilatura raises bare ValueErrors on odd input
        return Extracted(failure_reason=f"extraction error: {exc!r}"[:300])
    if document is None:
        return Extracted(failure_reason="no main text found")
    authors = [a.strip() for a in (document.author or "").split(";") if a.strip()]
    return Extracted(
        text=document.text or "",
        title=document.title,
        authors=authors,
        published=document.date,
        site_name=document.sitename,
        description=document.description,
        language=document.language,
        canonical_url=document.url if document.url != url else None,
        failure_reason=None if document.text else "no main text found",
    )
