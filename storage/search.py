"""Full-text search over title, summary and the current text, and the filtered listing."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from . import sqlite
from .base import StoreBase

_WORD = re.compile(r"\w+", re.UNICODE)


def fts_query(text: str) -> str | None:
    """A safe FTS5 query from free text: every word quoted, all required, the last a prefix.

    FTS5 syntax characters typed by a user (quotes, ``-``, ``:``, ``NEAR``) would raise
    a syntax error; quoting each word makes any input a valid query.
    """
    words = _WORD.findall(text)
    if not words:
        return None
    quoted = [f'"{w}"' for w in words]
    quoted[-1] += "*"
    return " ".join(quoted)


class Search(StoreBase):
    if TYPE_CHECKING:  # from storage.reads

        def resource_filter(
            self,
            *,
            status: str | None = None,
            type: str | None = None,
            publication: str | None = None,
        ) -> tuple[list[str], list[Any]]: ...

    def search(self, text: str, *, limit: int = 20, offset: int = 0) -> list[dict]:
        """Resources matching ``text`` in title, summary or current text, best first.

        Each row has ``snippet`` (hits marked \\x02…\\x03) and ``score`` (lower is better).
        """
        query = fts_query(text)
        if query is None:
            return []
        return self._rows(
            "SELECT r.id, r.stable_id, r.url, coalesce(r.title, s.title) AS title, r.type, "
            f"r.fetch_status, {sqlite.SEARCH_COLUMNS} FROM {sqlite.SEARCH_SOURCE} "
            "LEFT JOIN snapshots s ON s.id = r.current_snapshot_id "
            f"WHERE {sqlite.SEARCH_MATCH} ORDER BY score LIMIT ? OFFSET ?",
            [query, int(limit), int(offset)],
        )

    def list_resources(
        self,
        *,
        status: str | None = None,
        type: str | None = None,
        publication: str | None = None,
        query: str | None = None,
        limit: int = 50,
        offset: int = 0,
    ) -> tuple[list[dict], int]:
        """``(rows, total)``: resources matching the filters (and the text query, best first)."""
        where, params = self.resource_filter(status=status, type=type, publication=publication)
        fts = fts_query(query) if query else None
        if query and fts is None:
            return [], 0
        if fts:
            where.insert(0, sqlite.SEARCH_MATCH)
            params.insert(0, fts)
            source, columns, order = sqlite.SEARCH_SOURCE, f"r.*, {sqlite.SEARCH_COLUMNS}", "score"
        else:
            source, columns, order = "resources r", "r.*", f"r.{sqlite.INSERTION_ORDER}"
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        total = self._scalar(f"SELECT count(*) FROM {source}{clause}", params)
        rows = self._rows(
            f"SELECT {columns} FROM {source}{clause} ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, int(limit), int(offset)],
        )
        return rows, total

    def rebuild_search_index(self) -> None:
        """Re-index every resource (after a VACUUM, which may renumber rowids)."""
        sqlite.rebuild_search_index(self.db)
