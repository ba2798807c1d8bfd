"""Main text and metadata of a fetched page: ``extract(html_or_bytes, url) -> Extracted``."""

from extraction.pipeline import Extracted, extract

__all__ = ["Extracted", "extract"]
