"""One resource as a CSL-JSON item (the format of Zotero, Citoid, pandoc and citeproc)."""

from __future__ import annotations

from typing import Any

from nameparser import HumanName

from citation.names import is_organisation

# citecache's resource and page types -> CSL item types (CSL 1.0.2)
CSL_TYPES = {
    "paper": "article-journal",
    "blog": "post-weblog",
    "news": "article-newspaper",
    "forum": "post",
    "web": "webpage",
    "government": "webpage",
    "reference": "entry-encyclopedia",
    "report": "report",
    "book": "book",
    "video": "motion_picture",
    "talk": "speech",
    "podcast": "broadcast",
    "document": "document",
}


def csl_item(view: dict, found: dict | None = None) -> dict[str, Any]:
    """The CSL-JSON item of a resource.

    ``view`` is the resource's camelCase view; ``found`` what extraction found on its
    current snapshot (authors, doi, arxiv_id, isbn, pmid, site_name, language), if any.
    What the registration states wins over what extraction found.
    """
    found = found or {}
    kind = view.get("type") or found.get("page_type") or "web"
    item: dict[str, Any] = {
        "id": view["id"],
        "type": CSL_TYPES.get(kind, "webpage"),
        "title": view.get("title") or view["url"],
        "URL": view.get("finalUrl") or view["url"],
    }
    names = view.get("authors") or found.get("authors") or []
    if names:
        item["author"] = [csl_name(name) for name in names]
    issued = _date_parts(view.get("publishedDate") or found.get("published"))
    if issued:
        item["issued"] = issued
    accessed = _date_parts(view.get("fetchedAt"))
    if accessed:
        item["accessed"] = accessed
    venue = (view.get("publication") or {}).get("name") or found.get("site_name")
    if venue:
        item["container-title"] = venue
    if found.get("doi"):
        item["DOI"] = found["doi"]
    if found.get("isbn"):
        item["ISBN"] = found["isbn"]
    if found.get("pmid"):
        item["PMID"] = found["pmid"]
    if found.get("arxiv_id"):
        item["number"] = f"arXiv:{found['arxiv_id']}"
        item.setdefault("container-title", "arXiv")
    if found.get("language"):
        item["language"] = found["language"]
    if view.get("abstract"):
        item["abstract"] = view["abstract"]
    return item


def csl_name(name: str) -> dict[str, str]:
    """A CSL name: ``family``/``given`` for a person, ``literal`` for an organisation or a
    one-word name (a user name has no family part)."""
    if is_organisation(name) or len(name.split()) == 1:
        return {"literal": name}
    parsed = HumanName(name)
    if not parsed.last:
        return {"literal": name}
    person = {
        "family": parsed.last,
        "given": " ".join(p for p in (parsed.first, parsed.middle) if p),
    }
    if parsed.suffix:
        person["suffix"] = parsed.suffix
    return {k: v for k, v in person.items() if v}


def _date_parts(value: str | None) -> dict | None:
    """``{"date-parts": [[2020, 5, 17]]}`` from an ISO date or timestamp."""
    if not value:
        return None
    parts = []
    for piece in value[:10].split("-"):
        if not piece.isdigit():
            break
        parts.append(int(piece))
    return {"date-parts": [parts]} if parts else None
