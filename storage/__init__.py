"""The sqlite-utils layer of citecache. It knows nothing of Scrapy or trafilatura."""

from .ids import InvalidURL, resource_id, url_key
from .previews import PREVIEW_MAX_CHARS, card_preview, content_hash, stored_preview
from .registry_files import RegistryFileError, read_records
from .results import FetchResult, FetchTask
from .store import ImportReport, NotFoundError, Registration, Store, StoreError, iso, utc_now
from .venues import InvalidVenue

__all__ = [
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
    "read_records",
    "resource_id",
    "stored_preview",
    "url_key",
    "utc_now",
]
