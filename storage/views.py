"""How a resource is shown: the camelCase record of ``show --json`` and the API, and the card."""

from __future__ import annotations

import json
import textwrap

from .ids import short_url
from .previews import card_preview_parts
from .store import Store
from .venues import CREDIBILITY_LEVELS


def _json_list(value: str | None) -> list:
    return json.loads(value) if value else []


def credibility(store: Store, resource: dict) -> dict | None:
    """The resource's rating: its own override, else its venue's."""
    venue = store.venue_for(resource)
    if resource.get("credibility_override"):
        rating, source = resource["credibility_override"], "override"
    elif venue and venue.get("credibility"):
        rating, source = venue["credibility"], "venue"
    else:
        return None
    return {
        "rating": rating,
        "description": CREDIBILITY_LEVELS[rating],
        "source": source,
        "venue": venue["name"] if venue else None,
    }


def resource_view(
    store: Store, resource: dict, *, full_text: bool = False, preview: bool = True
) -> dict:
    """The resource as one JSON-ready dict with camelCase keys.

    ``preview=False`` (listings) leaves out ``fullTextPreview`` and does not read the text.
    """
    snapshot = None
    if resource["current_snapshot_id"]:
        snapshot = store.current_snapshot(resource["id"], with_text=full_text or preview)
    venue = store.venue_for(resource)
    found = snapshot_metadata(snapshot)  # what extraction found, where registration is silent
    view = {
        "id": resource["id"],
        "stableId": "sid_" + resource["stable_id"],
        "url": resource["url"],
        "finalUrl": resource["final_url"],
        "title": resource["title"] or (snapshot["title"] if snapshot else None),
        "type": resource["type"],
        "authors": _json_list(resource["authors"]) or found.get("authors") or [],
        "publishedDate": resource["published_date"] or found.get("published"),
        "publication": (
            {
                "id": venue["id"],
                "name": venue["name"],
                "type": venue["type"],
                "peerReviewed": None
                if venue["peer_reviewed"] is None
                else bool(venue["peer_reviewed"]),
            }
            if venue
            else None
        ),
        "credibility": credibility(store, resource),
        "summary": resource["summary"],
        "review": resource["review"],
        "keyPoints": _json_list(resource["key_points"]),
        "abstract": resource["abstract"],
        "tags": _json_list(resource["tags"]),
        "fetchStatus": resource["fetch_status"],
        "statusReason": resource["status_reason"],
        "httpStatus": resource["http_status"],
        "contentType": resource["content_type"],
        "fetchedAt": resource["last_fetched_at"],
        "lastAttemptAt": resource["last_attempt_at"],
        "nextFetchAt": resource["next_fetch_at"],
        "failureCount": resource["failure_count"],
        "contentHash": resource["content_hash"],
        "contentLength": snapshot["content_length"] if snapshot else None,
        "fetchMethod": snapshot["fetch_method"] if snapshot else None,
        "provenance": provenance(snapshot),
        "fullTextPreview": snapshot["preview"] if snapshot and preview else None,
        "citedBy": [
            {"page": c["slug"], "title": c["title"], "type": c["type"], "quality": c["quality"]}
            for c in store.cited_by(resource["id"])
        ],
        "registeredAt": resource["registered_at"],
        "updatedAt": resource["updated_at"],
    }
    if not preview:
        del view["fullTextPreview"]
    if full_text:
        view["fullText"] = snapshot["full_text"] if snapshot else None
    return view


def provenance(snapshot: dict | None) -> dict | None:
    """Where the served copy came from: ``source`` live, archive (with the capture's date
    and the archive's URL of it) or browser (rendered), and a ``label`` saying so."""
    if not snapshot:
        return None
    method = snapshot.get("fetch_method")
    if method == "wayback":
        archived_at = snapshot.get("archived_at")
        return {
            "source": "archive",
            "label": f"archived copy from {(archived_at or '?')[:10]}",
            "archivedAt": archived_at,
            "archiveUrl": snapshot.get("archive_url"),
        }
    # The same keys whatever the source, for typed clients (api/models.py).
    if method == "browser":
        return {
            "source": "browser",
            "label": "rendered in a browser",
            "archivedAt": None,
            "archiveUrl": None,
        }
    return {"source": "live", "label": "live copy", "archivedAt": None, "archiveUrl": None}


def snapshot_metadata(snapshot: dict | None) -> dict:
    """What extraction found on a snapshot (``extraction.Extracted`` fields but the text)."""
    if not snapshot or not snapshot.get("metadata"):
        return {}
    return json.loads(snapshot["metadata"]) or {}


def citation_data(store: Store, resource: dict) -> tuple[dict, dict]:
    """The resource's view and its current snapshot's metadata, for citation formats."""
    view = resource_view(store, resource, preview=False)
    snapshot = None
    if resource["current_snapshot_id"]:
        snapshot = store.current_snapshot(resource["id"], with_text=False)
    return view, snapshot_metadata(snapshot)


def author_line(authors: list[str]) -> str:
    """ "A", "A and B", "A, B and C"; past three names "A et al."."""
    if len(authors) > 3:
        return f"{authors[0]} et al."
    return " and ".join([", ".join(authors[:-1]), authors[-1]] if len(authors) > 1 else authors)


def _page_label(citation: dict) -> str:
    quality = citation["quality"]
    parts = [citation["title"] or citation["page"], citation["type"] or "-"]
    parts.append("-" if quality is None else f"{float(quality):.1f}")
    return " | ".join(parts)


def render_card(store: Store, resource: dict, width: int = 80) -> str:
    """The text card: title and type, year/authors/venue/URL, credibility, cited by, preview, ids.

    Wrapped to ``width`` columns (a URL or word longer than that is not broken).
    """
    view = resource_view(store, resource, full_text=True)
    badge = f"[{view['type'] or 'web'}]"
    title, *lines = _wrap_text(view["title"] or view["url"], width - len(badge) - 2) or [""]
    lines.insert(0, f"{title}{' ' * max(2, width - len(title) - len(badge))}{badge}")
    head = []
    if view["publishedDate"]:
        head.append(view["publishedDate"][:4])
    if view["authors"]:
        head.append(author_line(view["authors"]))
    if view["publication"]:
        head.append(
            view["publication"]["name"]
            + (" (peer reviewed)" if view["publication"]["peerReviewed"] else "")
        )
    head.append(short_url(view["url"]))
    lines += _wrap_text(" · ".join(head), width)
    cred = view["credibility"]
    if cred:
        indent = " " * 25
        label = f"Credibility Rating  {cred['rating']}/5  "
        lines += _wrap(cred["description"], label, indent, width)
        if cred["source"] == "venue":
            lines.append(f"{indent}Rating inherited from publication venue: {cred['venue']}")
        else:
            lines.append(f"{indent}Rating set for this resource")
    cited = view["citedBy"]
    if cited:
        noun = "page" if len(cited) == 1 else "pages"
        label = f"Cited by {len(cited)} {noun}:  "
        lines.append(label + _page_label(cited[0]))
        lines += [" " * len(label) + _page_label(c) for c in cited[1:]]
    origin = view["provenance"]
    if origin and origin["source"] != "live":
        where = f": {origin['archiveUrl']}" if origin.get("archiveUrl") else ""
        lines.append(f"Cached Content Preview ({origin['label']}{where})")
    else:
        lines.append("Cached Content Preview")
    if view["fullText"]:
        # Paragraphs wrapped and single-spaced; a blank line before the truncation line.
        text, note = card_preview_parts(view["fullText"], view["contentLength"])
        for paragraph in text.split("\n"):
            lines += _wrap_text(paragraph, width, indent="  ")
        if note:
            lines += ["", "  " + note]
    else:
        status = view["fetchStatus"]
        reason = f" ({view['statusReason']})" if view["statusReason"] else ""
        lines.append(f"  (no cached content: {status}{reason})")
    lines.append(f"{view['id']} | Stable ID: {view['stableId']}")
    return "\n".join(lines)


def _wrap(text: str, label: str, indent: str, width: int) -> list[str]:
    wrapped = textwrap.wrap(text, width=width - len(indent)) or [""]
    return [label + wrapped[0]] + [indent + w for w in wrapped[1:]]


def _wrap_text(text: str, width: int, indent: str = "") -> list[str]:
    """``text`` in lines of at most ``width`` columns, each after ``indent``; none if blank."""
    return textwrap.wrap(
        text,
        width=max(width, len(indent) + 20),  # a very narrow terminal: still a readable line
        initial_indent=indent,
        subsequent_indent=indent,
        break_long_words=False,
        break_on_hyphens=False,
    )
