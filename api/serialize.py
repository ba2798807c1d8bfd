"""The JSON bodies of the API, built from store rows and storage.views."""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime

from storage import Store
from storage.previews import PREVIEW_MAX_CHARS, stored_preview
from storage.views import resource_view

_STORED_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
"""storage.clock.iso: to the second, in UTC."""
_NAIVE_ISO = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d(:\d\d(\.\d+)?)?$")


def zulu(value):
    """An ISO 8601 timestamp in UTC ending in ``Z`` (stored ones already are)."""
    if not isinstance(value, str):
        return value
    if value.endswith("+00:00"):
        return value[:-6] + "Z"
    if _NAIVE_ISO.match(value):
        return value + "Z"
    return value


def js_time(value: str | None) -> str | None:
    """A stored timestamp as JavaScript's ``Date.toISOString()`` writes it:
    ``2026-01-17T09:22:15.000Z`` (the wiki's endpoints)."""
    if not value:
        return value
    if _STORED_ISO.match(value):  # as the store writes them: no parsing (a listing has 15k)
        return value[:-1] + ".000Z"
    moment = datetime.fromisoformat(zulu(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def js_times(data: dict) -> dict:
    """``js_time`` applied to the ``...At`` keys of a flat body."""
    return {k: js_time(v) if k.endswith("At") else v for k, v in data.items()}


def zulu_all(data):
    """``zulu`` applied to every ``...At`` key, at any depth."""
    if isinstance(data, dict):
        return {
            k: zulu(v) if k.endswith("At") and isinstance(v, str) else zulu_all(v)
            for k, v in data.items()
        }
    if isinstance(data, list):
        return [zulu_all(v) for v in data]
    return data


def snapshot_summary(row: dict | None) -> dict | None:
    if not row:
        return None
    return {
        "id": row["id"],
        "contentHash": row["content_hash"],
        "fetchedAt": row["fetched_at"],
        "lastSeenAt": row["last_seen_at"],
        "title": row["title"],
        "contentLength": row["content_length"],
        "fetchMethod": row.get("fetch_method"),
        "httpStatus": row.get("http_status"),
        "archivedAt": row.get("archived_at"),
        "archiveUrl": row.get("archive_url"),
    }


def resource_detail(store: Store, resource: dict) -> dict:
    """``GET /api/resources/{id}``: the resource view plus its current snapshot's summary."""
    view = resource_view(store, resource, preview=False)
    snapshot = None
    if resource["current_snapshot_id"]:
        snapshot = store.current_snapshot(resource["id"], with_text=False)
    view["snapshot"] = snapshot_summary(snapshot)
    view["links"] = {
        "self": f"/api/resources/{resource['id']}",
        "snapshots": f"/api/resources/{resource['id']}/snapshots",
        "html": f"/resources/{resource['id']}",
    }
    return zulu_all(view)


def resource_item(store: Store, resource: dict) -> dict:
    """One row of a listing: the resource view without text and citations."""
    view = resource_view(store, resource, preview=False)
    for key in ("review", "abstract", "keyPoints"):
        view.pop(key, None)
    return zulu_all(view)


def citation_content(store: Store, url: str, resource: dict) -> dict | None:
    """The wiki's ``/api/citations/content`` shape; None when nothing was ever fetched."""
    snapshot = store.current_snapshot(resource["id"]) if resource["current_snapshot_id"] else None
    if snapshot is None and not resource["last_attempt_at"]:
        return None
    if snapshot is None:
        # Attempted but never any content (dead link, blocked): the fetch facts, no text.
        return js_times(
            {
                "url": url,
                "resourceId": resource["id"],
                "fetchedAt": resource["last_attempt_at"],
                "httpStatus": resource["http_status"],
                "contentType": resource["content_type"],
                "pageTitle": resource["title"],
                "fullTextPreview": None,
                "fullText": None,
                "contentLength": None,
                "contentHash": None,
                "fetchMethod": None,
                "createdAt": resource["registered_at"],
                "updatedAt": resource["updated_at"],
            }
        )
    return js_times(
        {
            "url": url,
            "resourceId": resource["id"],
            "fetchedAt": snapshot["last_seen_at"],
            "httpStatus": snapshot["http_status"],
            "contentType": snapshot["content_type"],
            "pageTitle": snapshot["title"] or resource["title"],
            # Stored before the limit counted UTF-16 code units, a preview may be longer.
            "fullTextPreview": stored_preview(snapshot["preview"], PREVIEW_MAX_CHARS),
            "fullText": snapshot["full_text"],
            "contentLength": snapshot["content_length"],
            "contentHash": snapshot["content_hash"],
            "fetchMethod": snapshot["fetch_method"],
            "createdAt": snapshot["fetched_at"],
            "updatedAt": snapshot["last_seen_at"],
        }
    )


def refetch_request(row: dict, resource: dict | None = None) -> dict:
    body = {
        "requestId": row["id"],
        "resourceId": row["resource_id"],
        "status": row["status"],
        "outcome": row["outcome"],
        "requestedAt": row["requested_at"],
        "startedAt": row["started_at"],
        "finishedAt": row["finished_at"],
        "requestedBy": row["requested_by"],
        "reason": row["reason"],
        "links": {
            "self": f"/api/refetch/{row['id']}",
            "resource": f"/api/resources/{row['resource_id']}",
        },
    }
    if resource is not None:
        body["fetchStatus"] = resource["fetch_status"]
        body["httpStatus"] = resource["http_status"]
    return zulu_all(body)


def content_entry(row: dict) -> dict:
    """A row of ``GET /api/citations/content/list`` from ``Store.content_entries``."""
    return js_times(
        {
            "url": row["url"],
            "fetchedAt": row["last_attempt_at"],
            "httpStatus": row["http_status"],
            "contentType": row["content_type"],
            "pageTitle": row["title"],
            "contentLength": row["content_length"],
            "contentHash": row["content_hash"],
            "hasFullText": bool(row["has_text"]),
            "hasPreview": bool(row["has_text"]),
            "createdAt": row["registered_at"],
            "updatedAt": row["updated_at"],
        }
    )


def content_stats(counts: dict) -> dict:
    """``GET /api/citations/content/stats`` from ``Store.content_counts``."""
    # Rounded as JavaScript's Math.round: half up.
    total, with_text = counts["total"], counts["with_text"]
    average = counts["avg_length"]
    return {
        "total": total,
        "withFullText": with_text,
        "withPreview": with_text,
        "coverage": (200 * with_text + total) // (2 * total) if total else 0,
        "okCount": counts["ok"],
        "deadCount": counts["dead"],
        "avgContentLength": None if average is None else math.floor(float(average) + 0.5),
    }
