"""The work done in an extraction process: text, metadata and hash of one page.

Everything CPU-heavy per page happens here, off the reactor: parsing, extraction,
normalization and hashing. Arguments and result are plain picklable values.
"""

from __future__ import annotations

from extraction import extract
from storage.previews import content_hash


def warm_up() -> bool:
    """Import and build everything once, before the first page arrives."""
    extract("<html><body><article><p>warm up</p></article></body></html>")
    return True


def process_page(body: bytes, url: str) -> dict:
    found = extract(body, url)
    metadata = found.to_dict()
    text = metadata.pop("text")
    return {
        "text": text,
        "title": found.title,
        "metadata": metadata,
        "content_hash": content_hash(text) if text.strip() else None,
        "page_status": found.page_status,
        "failure_reason": found.failure_reason,
    }
