"""The cache seen as the wiki's table of citation content: one row per source tried.

A source has a row once it was fetched or upserted (``last_attempt_at``). Listings and
counts read the resource rows only, never a snapshot's text (m010 keeps the current
snapshot's length on the resource).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

from .base import StoreBase
from .errors import StoreError
from .previews import content_hash
from .results import FetchResult

if TYPE_CHECKING:
    from .registry import Registration

ATTEMPTED = "r.last_attempt_at IS NOT NULL"
ENTRIES_SQL = (
    "SELECT r.url, r.last_attempt_at, r.http_status, r.content_type, "
    "coalesce(s.title, r.title) AS title, r.content_length, r.content_hash, "
    "r.current_snapshot_id IS NOT NULL AS has_text, r.registered_at, r.updated_at "
    # The page's ids first, from the index alone: the rows an OFFSET skips are never
    # read, nor joined.
    "FROM (SELECT id FROM resources r "
    f"WHERE {ATTEMPTED} ORDER BY r.last_attempt_at DESC, r.id DESC LIMIT ? OFFSET ?) "
    "page JOIN resources r ON r.id = page.id "
    "LEFT JOIN snapshots s ON s.id = r.current_snapshot_id "
    "ORDER BY r.last_attempt_at DESC, r.id DESC"
)
"""A page of :meth:`Content.content_entries` (parameters: limit, offset)."""
UPSERT_METHOD = "upsert"
"""The fetch method of an upsert whose sender named none."""


@dataclass(frozen=True)
class ContentUpsert:
    """What the wiki's tools fetched themselves, as ``POST /api/citations/content/upsert``
    sends it."""

    url: str
    fetched_at: str
    """ISO 8601 UTC, ending in Z."""
    full_text: str | None = None
    preview: str | None = None
    http_status: int | None = None
    content_type: str | None = None
    title: str | None = None
    content_hash: str | None = None
    """Checked against the text when given: our hash or a plain sha256 of the text."""
    fetch_method: str | None = None
    resource_id: str | None = None
    """The wiki's id for the source; the id a new resource gets."""

    @property
    def text(self) -> str | None:
        """The text to keep: the full text, else the preview when that is all there is."""
        for text in (self.full_text, self.preview):
            if text and text.strip():
                return text
        return None

    def outcome(self) -> str:
        """Text with a good answer is content; an HTTP error or no text is a failed fetch."""
        if self.http_status is not None and self.http_status >= 400:
            return "http_error"
        return "ok" if self.text else "extraction_failed"


class Content(StoreBase):
    def content_entries(self, *, limit: int, offset: int = 0) -> list[dict]:
        """Rows of sources tried, newest attempt first, without text."""
        return self._rows(ENTRIES_SQL, [int(limit), int(offset)])

    def content_counts(self) -> dict:
        """Sources tried, those with text, by last answer (200, 400 and above), mean length."""
        row = self._row(
            "SELECT count(*) AS total, count(r.current_snapshot_id) AS with_text, "
            "coalesce(sum(CASE WHEN r.http_status = 200 THEN 1 ELSE 0 END), 0) AS ok, "
            "coalesce(sum(CASE WHEN r.http_status >= 400 THEN 1 ELSE 0 END), 0) AS dead, "
            "avg(r.content_length) AS avg_length "
            f"FROM resources r WHERE {ATTEMPTED}"
        )
        assert row is not None
        return row

    if TYPE_CHECKING:  # from storage.registry and storage.recording

        def find_by_url(self, url: str) -> dict | None: ...
        def resolve(self, ref: str) -> dict | None: ...
        def register(self, url: str, **kwargs) -> Registration: ...
        def record_result(self, result: FetchResult) -> str: ...

    def upsert_content(self, upsert: ContentUpsert) -> str:
        """Record content fetched elsewhere as a fetch of its source; returns the status.

        It goes the crawl's way (storage/recording.py): text becomes a snapshot in the
        history (the same text: no new one), a failure is logged and never replaces the
        last good copy. An unknown URL is registered first. Raises StoreError when the
        content hash does not match the text.
        """
        outcome = upsert.outcome()
        text = upsert.text if outcome == "ok" else None
        digest = _checked_hash(text, upsert.content_hash) if text else None
        with self._writing():
            resource = self.find_by_url(upsert.url)
            if resource is None:
                # The wiki's id when it is free; one naming another resource would move
                # that resource to this URL.
                wanted = upsert.resource_id
                free = wanted and wanted.strip() and self.resolve(wanted) is None
                resource = self.register(upsert.url, id=wanted if free else None).resource
            status = self.record_result(
                FetchResult(
                    resource_id=resource["id"],
                    url=upsert.url,
                    started_at=upsert.fetched_at,
                    outcome=outcome,
                    http_status=upsert.http_status,
                    content_type=upsert.content_type,
                    text=text,
                    title=upsert.title,
                    preview=upsert.preview if upsert.full_text and upsert.preview else None,
                    content_hash=digest,
                    fetch_method=upsert.fetch_method or UPSERT_METHOD,
                    error=None if outcome == "ok" else f"upsert: {outcome}",
                )
            )
        if status == "store_error":
            raise StoreError(f"the content of {upsert.url} could not be stored (see the log)")
        return status

    def link_content(self) -> int:
        """Point every resource that has snapshots but no current one at its latest.

        Recording links each snapshot as it stores it, so this finds none unless a row was
        edited by hand; returns how many resources it linked.
        """
        with self._writing():
            rows = self._rows(
                "SELECT r.id, (SELECT s.id FROM snapshots s WHERE s.resource_id = r.id "
                "ORDER BY s.last_seen_at DESC, s.id DESC LIMIT 1) AS snapshot_id "
                "FROM resources r WHERE r.current_snapshot_id IS NULL "
                "AND EXISTS (SELECT 1 FROM snapshots s WHERE s.resource_id = r.id)"
            )
            for row in rows:
                snapshot = self._row(
                    "SELECT content_hash, content_length FROM snapshots WHERE id = ?",
                    [row["snapshot_id"]],
                )
                assert snapshot is not None
                self._update_resource(
                    row["id"], {"current_snapshot_id": row["snapshot_id"], **snapshot}
                )
        return len(rows)


def _checked_hash(text: str, given: str | None) -> str:
    """Our hash of ``text``; a given hash must be it or a plain sha256 hex of the text."""
    digest = content_hash(text)
    if given is None:
        return digest
    plain = hashlib.sha256(text.encode("utf-8")).hexdigest()
    if given.strip().lower() not in (digest, plain):
        raise StoreError(
            "contentHash does not match the text: want the sha256 hex of the text "
            f"({plain}) or of its normalized form ({digest})"
        )
    return digest
