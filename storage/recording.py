"""Recording fetch results: the fetch log, snapshots, and the state a fetch leaves behind."""

from __future__ import annotations

import dataclasses
import json
import logging
from collections.abc import Iterable
from datetime import datetime
from typing import TYPE_CHECKING

from .base import StoreBase
from .clock import iso, parse_iso, utc_now
from .errors import NotFoundError
from .health import GOOD_STATES, counts_toward_dead, failure_state
from .leases import StaleLease
from .previews import content_hash, stored_preview
from .results import FetchResult

logger = logging.getLogger(__name__)

ARCHIVED = "wayback"
"""The fetch method of a copy taken from a web archive (crawler/wayback.py)."""
SHELL_SHORTER_BY = 3
"""A shell's text must be this many times shorter than the copy it would replace to be
refused: a page that lost some of its text is still a change to keep."""


class Recording(StoreBase):
    if TYPE_CHECKING:  # from storage.publications and storage.requests

        def venue_for(self, resource: dict) -> dict | None: ...
        def finish_request(self, request_id: int, status: str, error: str | None) -> None: ...
        def _check_lease(self, resource: dict, token: int) -> None: ...
        def _finish_leased(self, resource: dict, token: int, delay: float) -> None: ...
        def _refresh_host(self, host: str | None) -> None: ...

    def record_results(self, results: Iterable[FetchResult]) -> list[str]:
        """Store a batch of fetch results in one transaction; each result is all or nothing.

        Returns the resource's new fetch status for each result, in order, or
        ``store_error`` for a result that could not be stored (it is logged), or
        ``stale_lease`` for one whose host lease was taken over since (not written).
        """
        statuses = []
        with self._writing():
            for result in results:
                try:
                    with self._writing():  # a savepoint: one bad result spoils only itself
                        statuses.append(self._record(result))
                except StaleLease as exc:
                    logger.warning("result for %s refused: %s", result.url, exc)
                    statuses.append("stale_lease")
                except (LookupError, ValueError, self.sql.IntegrityError) as exc:
                    logger.error("result for %s not stored: %s", result.url, exc)
                    statuses.append("store_error")
        return statuses

    def record_result(self, result: FetchResult) -> str:
        return self.record_results([result])[0]

    def _record(self, result: FetchResult) -> str:
        resource = self._row(
            "SELECT id, url, type, publication_id, content_hash, current_snapshot_id, "
            "content_length, failure_count, last_fetched_at, fetch_status, status_reason, host, "
            "lease_token "
            "FROM resources WHERE id = ?",
            [result.resource_id],
        )
        if resource is None:
            raise NotFoundError(f"no resource {result.resource_id!r}")
        if result.fetch_method == ARCHIVED:
            return self._record_archived(result, resource)
        if result.lease_token is not None:
            self._check_lease(resource, result.lease_token)
        now = utc_now()
        text = result.text or ""
        shell = _shell_over_good_copy(result, resource["content_length"], text)
        if shell:
            # An app shell or a challenge that answered 200 where a long good copy
            # exists: logged as blocked, and the copy kept (issue 14, item 5).
            result = dataclasses.replace(result, outcome="blocked", error=shell, text=None)
            text = ""
        digest = (result.content_hash or content_hash(text)) if text.strip() else None
        self.sql.insert(
            "fetch_log",
            {
                "resource_id": result.resource_id,
                "started_at": result.started_at,
                "duration_ms": result.duration_ms,
                "http_status": result.http_status,
                "final_url": result.final_url,
                "content_type": result.content_type,
                "bytes": result.bytes,
                "outcome": result.outcome,
                "error": result.error,
                "content_hash": digest,
                "redirect_chain": json.dumps(result.redirect_chain)
                if result.redirect_chain
                else None,
            },
        )
        update: dict = {
            "last_attempt_at": result.started_at,
            "http_status": result.http_status,
            "updated_at": iso(now),
        }
        if result.final_url:
            update["final_url"] = result.final_url
            update["redirect_chain"] = (
                json.dumps(result.redirect_chain) if result.redirect_chain else None
            )
        current = resource["current_snapshot_id"]
        if result.outcome == "not_modified" and current:
            status, reason = "unchanged", None
            self._seen_again(current, result.started_at)
        elif digest and result.outcome in ("ok", "redirected", "paywalled"):
            status, reason = result.outcome, result.error
            # Only a clean article replaces the current copy. A paywall's teaser or the
            # page a source now redirects to elsewhere is kept only when there is nothing
            # better: flagged, never silently taken for the article.
            if result.outcome == "ok" or not current:
                snapshot_id, is_new, length = self._upsert_snapshot(result, digest, text)
                if snapshot_id != current:
                    update.update(
                        content_hash=digest, current_snapshot_id=snapshot_id, content_length=length
                    )
                if result.outcome == "ok" and not is_new and resource["content_hash"] == digest:
                    status = "unchanged"
            if result.canonical_url:
                update["canonical_url"] = result.canonical_url
            update.update(
                content_type=result.content_type,
                etag=result.etag,
                last_modified=result.last_modified,
            )
        elif result.outcome == "not_modified":
            # Unchanged since a fetch that gave no text (say, an empty page): it would give
            # none again, so the verdict of that fetch stands, without a download.
            status = resource["fetch_status"]
            prior = resource["status_reason"] or status
            reason = prior if prior.startswith("not modified") else f"not modified since: {prior}"
        else:
            if result.http_status == 200 and result.outcome == "extraction_failed":
                # Keep the validators: the next check of the same bytes is a cheap 304.
                update.update(etag=result.etag, last_modified=result.last_modified)
            gone = self._gone_times(resource, result)
            status, reason = failure_state(result.outcome, result.http_status, gone, self.policy)
            reason = " — ".join(x for x in (result.error, reason) if x) or result.outcome
        if status in GOOD_STATES:
            update.update(last_fetched_at=result.started_at, failure_count=0)
        else:
            update["failure_count"] = resource["failure_count"] + 1
        update["fetch_status"] = status
        update["status_reason"] = reason
        venue = self.venue_for(resource)
        ttl = self.policy.ttl_for(resource["url"], venue["id"] if venue else None, resource["type"])
        next_at = self.policy.next_fetch(now, status, update.get("failure_count", 0), ttl)
        update["next_fetch_at"] = iso(next_at)
        self._update_resource(result.resource_id, update)
        if result.request_id is not None:
            self.finish_request(result.request_id, status, reason)
        if result.lease_token is not None:
            delay = self.policy.host_delay if result.host_delay is None else result.host_delay
            self._finish_leased(resource, result.lease_token, delay)
        else:
            self._refresh_host(resource["host"])
        return status

    def _gone_times(self, resource: dict, result: FetchResult) -> list[datetime]:
        """When "gone" answers came since the last success, this fetch's included."""
        if not counts_toward_dead(result.outcome, result.http_status):
            return []
        since = resource["last_fetched_at"] or ""
        rows = self._rows(
            "SELECT started_at, outcome, http_status FROM fetch_log "
            "WHERE resource_id = ? AND started_at > ? ORDER BY started_at",
            [resource["id"], since],
        )
        return [
            parse_iso(r["started_at"])
            for r in rows
            if counts_toward_dead(r["outcome"], r["http_status"])
        ]

    def _seen_again(self, snapshot_id: int, at: str) -> None:
        self.sql.execute("UPDATE snapshots SET last_seen_at = ? WHERE id = ?", [at, snapshot_id])

    def _record_archived(self, result: FetchResult, resource: dict) -> str:
        """An archived copy: the source's current copy only if it has none as recent.

        The source's own state (status, failures, next check, fetch log) is left alone:
        the archive's answer says nothing about the source. Returns ``archived`` (now
        the current copy) or ``archive_not_used`` (unusable, or not newer).
        """
        text = result.text or ""
        if result.outcome != "ok" or not text.strip() or not result.archived_at:
            return "archive_not_used"
        current = resource["current_snapshot_id"]
        if current is not None:
            row = self._row(
                "SELECT coalesce(archived_at, fetched_at) AS taken_at FROM snapshots WHERE id = ?",
                [current],
            )
            if row is not None and row["taken_at"] >= result.archived_at:
                return "archive_not_used"  # a live copy (or capture) at least as recent
        digest = result.content_hash or content_hash(text)
        snapshot_id, _, length = self._upsert_snapshot(result, digest, text)
        if snapshot_id == current:
            return "archive_not_used"
        self._update_resource(
            result.resource_id,
            {
                "content_hash": digest,
                "current_snapshot_id": snapshot_id,
                "content_length": length,
                "updated_at": iso(utc_now()),
            },
        )
        return "archived"

    def _upsert_snapshot(
        self, result: FetchResult, digest: str, text: str
    ) -> tuple[int, bool, int]:
        """The snapshot of this content (id, whether new, its length), added if new."""
        existing = self._row(
            "SELECT id, content_length, warc_file, fetch_method FROM snapshots "
            "WHERE resource_id = ? AND content_hash = ?",
            [result.resource_id, digest],
        )
        if existing:
            self._seen_again(existing["id"], result.started_at)
            if result.warc and not existing["warc_file"]:  # taken before WARC capture
                self._update_row("snapshots", existing["id"], _warc_columns(result))
            if existing["fetch_method"] == ARCHIVED and result.fetch_method != ARCHIVED:
                # The live source gives the text an archive gave: the copy is live now,
                # and new as a live one (the source's status is ok, not unchanged).
                self.sql.execute(
                    "UPDATE snapshots SET fetch_method = ?, fetched_at = ?, archived_at = NULL, "
                    "archive_url = NULL WHERE id = ?",
                    [result.fetch_method, result.started_at, existing["id"]],
                )
                return existing["id"], True, existing["content_length"]
            return existing["id"], False, existing["content_length"]
        snapshot_id = self.sql.insert(
            "snapshots",
            {
                "resource_id": result.resource_id,
                "content_hash": digest,
                "fetched_at": result.started_at,
                "last_seen_at": result.started_at,
                "title": result.title,
                "full_text": text,
                "content_length": len(text),
                "preview": result.preview or stored_preview(text, self.preview_max_chars),
                "metadata": json.dumps(result.metadata, ensure_ascii=False, default=str),
                "fetch_method": result.fetch_method,
                "http_status": result.http_status,
                "content_type": result.content_type,
                "final_url": result.final_url,
                "archived_at": result.archived_at,
                "archive_url": result.archive_url,
                **_warc_columns(result),
            },
        )
        return snapshot_id, True, len(text)


def _warc_columns(result: FetchResult) -> dict:
    """The snapshot's pointer at the WARC record of its bytes, if the fetch wrote one."""
    ref = result.warc
    if ref is None:
        return {}
    return {
        "warc_file": ref.file,
        "warc_offset": ref.offset,
        "warc_length": ref.length,
        "warc_payload_digest": ref.payload_digest,
    }


def _shell_over_good_copy(result: FetchResult, kept: int | None, text: str) -> str | None:
    """Why ``result`` must not replace the current copy (``kept`` characters long), if
    it is a page that looks like an app shell or a challenge (``shell_reason``) with a
    text much shorter than that copy's; else None."""
    if not result.shell_reason or not kept or result.outcome != "ok":
        return None
    if len(text) * SHELL_SHORTER_BY > kept:
        return None
    return (
        f"the page now looks like an app shell ({result.shell_reason}): its "
        f"{len(text):,} characters do not replace the current copy of {kept:,}"
    )
