"""Citations: which wiki pages cite which resources."""

from __future__ import annotations

from collections.abc import Iterable

from .base import StoreBase


class Citations(StoreBase):
    def cited_by(self, resource_id: str) -> list[dict]:
        """The pages citing a resource (slug, title, type, quality), by slug."""
        return self._rows(
            "SELECT p.slug, p.title, p.type, p.quality FROM citations c "
            "JOIN pages p ON p.slug = c.page_slug WHERE c.resource_id = ? ORDER BY p.slug",
            [resource_id],
        )

    def upsert_page(self, slug: str, **values) -> None:
        """Record a wiki page (title, type, quality, path, scanned_at)."""
        self.sql.upsert("pages", {"slug": slug, **values}, key="slug")

    def replace_page_citations(self, slug: str, resource_ids: Iterable[str], source: str) -> None:
        """Set the resources a page cites (from ``source``) to exactly ``resource_ids``."""
        wanted = set(resource_ids)
        with self._writing():
            self.sql.execute(
                "DELETE FROM citations WHERE page_slug = ? AND source = ?", [slug, source]
            )
            for resource_id in sorted(wanted):
                self._cite(resource_id, slug, source)

    def _cite(self, resource_id: str, slug: str, source: str) -> bool:
        """Record that page ``slug`` cites the resource; True if it was not known yet."""
        slug = str(slug).strip()
        if not slug:
            return False
        self.sql.insert_ignore("pages", {"slug": slug})
        return self.sql.insert_ignore(
            "citations",
            {"resource_id": resource_id, "page_slug": slug, "source": source},
        )
