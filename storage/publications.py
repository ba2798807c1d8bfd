"""Publication venues in the database: importing them and finding a resource's venue."""

from __future__ import annotations

import json
from collections.abc import Iterable

from . import sqlite
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
                sqlite.upsert(
                    self.db, "publications", {**row, "domains": json.dumps(row["domains"])}, "id"
                )
        self._matcher = None
        return len(rows)

    def publications(self) -> list[dict]:
        rows = self._rows("SELECT * FROM publications ORDER BY id")
        for row in rows:
            row["domains"] = json.loads(row["domains"])
        return rows

    def venue_for(self, resource: dict) -> dict | None:
        """The resource's own publication if it names a known one, else the domain match."""
        if self._matcher is None:
            self._venues = {v["id"]: v for v in self.publications()}
            self._matcher = VenueMatcher(self._venues.values())
        if resource.get("publication_id") in self._venues:
            return self._venues[resource["publication_id"]]
        found = self._matcher.match(resource["url"])
        return self._venues.get(found) if found else None

    def venue_id_for(self, url: str, publication_id: str | None) -> str | None:
        """The id of the venue the card shows for a resource (see :meth:`venue_for`)."""
        venue = self.venue_for({"url": url, "publication_id": publication_id})
        return venue["id"] if venue else None
