"""Full-text search over title, summary and the current text, and the filtered listing."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from .base import StoreBase

_WORD = re.compile(r"\w+", re.UNICODE)


def query_words(text: str) -> list[str]:
    """The words of a free-text query; punctuation and query syntax are dropped."""
    return _WORD.findall(text)


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
        words = query_words(text)
        if not words:
            return []
        return self._rows(
            "SELECT r.id, r.stable_id, r.url, coalesce(r.title, s.title) AS title, r.type, "
            f"r.fetch_status, {self.sql.search_columns} FROM {self.sql.search_source} "
            "LEFT JOIN snapshots s ON s.id = r.current_snapshot_id "
            f"WHERE {self.sql.search_match} ORDER BY score, r.{self.sql.insertion_order} "
            "LIMIT ? OFFSET ?",
            [self.sql.search_query(words), int(limit), int(offset)],
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
        words = query_words(query) if query else []
        if query and not words:
            return [], 0
        if words:
            where.insert(0, self.sql.search_match)
            params.insert(0, self.sql.search_query(words))
            source, columns, order = (
                self.sql.search_source,
                f"r.*, {self.sql.search_columns}",
                f"score, r.{self.sql.insertion_order}",  # equal scores: registration order
            )
        else:
            source, columns, order = "resources r", "r.*", f"r.{self.sql.insertion_order}"
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        total = self._scalar(f"SELECT count(*) FROM {source}{clause}", params)
        rows = self._rows(
            f"SELECT {columns} FROM {source}{clause} ORDER BY {order} LIMIT ? OFFSET ?",
            [*params, int(limit), int(offset)],
        )
        return rows, total

    def rebuild_search_index(self) -> None:
        """Re-index every resource (after a VACUUM, which may renumber rowids)."""
        self.sql.rebuild_search_index()
