"""Record which pages cite which sources: the ``pages scan`` command's engine."""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

from storage import InvalidURL, Store, StoreError, iso, utc_now

from .pages import Page, iter_page_files, parse_page

CITATION_SOURCE = "scan"
"""``citations.source`` of what a scan records; a re-scan replaces only these."""


@dataclass
class ScanReport:
    pages: int = 0
    citations: int = 0
    """Citations found, duplicates within a page included."""
    linked: int = 0
    """Distinct (page, resource) pairs recorded."""
    registered: int = 0
    """New URLs registered as resources."""
    by_kind: Counter = field(default_factory=Counter)
    unresolved: list[dict] = field(default_factory=list)
    """``<R id>`` tags naming no known resource."""
    invalid: list[dict] = field(default_factory=list)
    """URLs that could not be registered, with the reason."""
    errors: list[dict] = field(default_factory=list)
    """Pages whose frontmatter could not be read (still scanned, title from the slug)."""

    def to_dict(self) -> dict:
        return {
            "pages": self.pages,
            "citations": self.citations,
            "linked": self.linked,
            "registered": self.registered,
            "byKind": dict(self.by_kind),
            "unresolved": self.unresolved,
            "invalid": self.invalid,
            "errors": self.errors,
        }


def record_page(store: Store, page: Page, report: ScanReport) -> None:
    """Upsert the page and set its scan citations to exactly what it cites now."""
    resource_ids: set[str] = set()
    with store.atomic():
        for citation in page.citations:
            report.citations += 1
            report.by_kind[citation.kind] += 1
            where = f"{page.path}:{citation.line}"
            if citation.kind == "ref":
                row = store.resolve(citation.target) if citation.id_kind else None
                if row is None:
                    report.unresolved.append(
                        {"page": page.slug, "where": where, "id": citation.target}
                    )
                    continue
                resource_ids.add(row["id"])
                continue
            row = store.find_by_url(citation.target)
            if row is None:
                try:
                    registration = store.register(citation.target, title=citation.text or None)
                except (InvalidURL, StoreError) as exc:
                    report.invalid.append(
                        {
                            "page": page.slug,
                            "where": where,
                            "url": citation.target,
                            "reason": str(exc),
                        }
                    )
                    continue
                row = registration.resource
                report.registered += int(registration.created)
            resource_ids.add(row["id"])
        store.upsert_page(
            page.slug,
            title=page.title,
            type=page.type,
            quality=page.quality,
            path=page.path,
            scanned_at=iso(utc_now()),
        )
        store.replace_page_citations(page.slug, resource_ids, CITATION_SOURCE)
    report.linked += len(resource_ids)


def scan_pages(store: Store, root: str | Path) -> ScanReport:
    """Parse every page under ``root`` and record its citations; one transaction per page."""
    report = ScanReport()
    for path in iter_page_files(Path(root)):
        page = parse_page(path)
        if page.error:
            report.errors.append({"page": page.slug, "path": page.path, "error": page.error})
        record_page(store, page, report)
        report.pages += 1
    return report
