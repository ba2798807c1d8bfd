"""The storage layer of citecache. It knows nothing of Scrapy or trafilatura.

``Store`` is the cache's one entry point; see ``storage/store.py`` for its parts.
"""

from .clock import iso, parse_iso, utc_now
from .content import ContentUpsert
from .errors import NotFoundError, StoreError
from .ids import InvalidURL, resource_id, url_key
from .previews import PREVIEW_MAX_CHARS, card_preview, content_hash, size_kb, stored_preview
from .registry import ImportReport, Registration
from .registry_files import RegistryFileError, read_records
from .results import FetchResult, FetchTask
from .store import DEFAULT_DB_PATH, Store
from .venues import InvalidVenue

__all__ = [
    "ContentUpsert",
    "DEFAULT_DB_PATH",
    "PREVIEW_MAX_CHARS",
    "FetchResult",
    "FetchTask",
    "ImportReport",
    "InvalidURL",
    "InvalidVenue",
    "NotFoundError",
    "Registration",
    "RegistryFileError",
    "Store",
    "StoreError",
    "card_preview",
    "content_hash",
    "iso",
    "parse_iso",
    "read_records",
    "resource_id",
    "size_kb",
    "stored_preview",
    "url_key",
    "utc_now",
]
