"""Publication venues in the database: importing them and finding a resource's venue."""

from __future__ import annotations

import json
from collections.abc import Iterable

from .base import StoreBase
from .venues import VenueMatcher, clean_venue


class Publications(StoreBase):
    _matcher: VenueMatcher | None = None
    _venues: dict[str, dict]

    def import_publications(self, venues: Iterable[dict]) -> int:
        """Insert or replace venues (all or nothing); returns how many."""
        rows = [clean_venue(v) for v in venues]
        with self._writing():
            for row in rows:
                self.sql.upsert(
                    "publications", {**row, "domains": json.dumps(row["domains"])}, "id"
                )
            self._matcher = None
            self._refresh_venue_ids()
        return len(rows)

    def publications(self) -> list[dict]:
        rows = self._rows("SELECT * FROM publications ORDER BY id")
        for row in rows:
            row["domains"] = json.loads(row["domains"])
        return rows

    def venue_for(self, resource: dict) -> dict | None:
        """The resource's own publication if it names a known one, else the domain match."""
        found = self.venue_id_for(resource["url"], resource.get("publication_id"))
        return self._venues.get(found) if found else None

    def venue_id_for(self, url: str, publication_id: str | None) -> str | None:
        """The id of the venue the card shows for a resource (see :meth:`venue_for`)."""
        if self._matcher is None:
            self._venues = {v["id"]: v for v in self.publications()}
            self._matcher = VenueMatcher(self._venues.values())
        return self._matcher.venue_of(url, publication_id)

    def _refresh_venue_ids(self) -> int:
        """Store every resource's venue (``resources.venue_id``, the listings' filter)
        after the venues changed; returns how many changed."""
        changed = 0
        with self._writing():
            for row in self._rows("SELECT id, url, publication_id, venue_id FROM resources"):
                venue_id = self.venue_id_for(row["url"], row["publication_id"])
                if venue_id != row["venue_id"]:
                    self._update_resource(row["id"], {"venue_id": venue_id})
                    changed += 1
        return changed
