"""Reading resources back: snapshots, the fetch log, filtered listings and counts."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from .base import StoreBase
from .results import WarcRef

SNAPSHOT_SUMMARY_COLUMNS = ", ".join(
    f"s.{c}"
    for c in (
        "id", "resource_id", "content_hash", "fetched_at", "last_seen_at", "title",
        "content_length", "metadata", "fetch_method", "http_status", "content_type", "final_url",
        "archived_at", "archive_url",
    )
)  # fmt: skip
"""A snapshot without its (large) text columns, for listings."""


class Reads(StoreBase):
    def current_snapshot(self, resource_id: str, *, with_text: bool = True) -> dict | None:
        """The snapshot a resource serves; ``with_text=False`` leaves out the (large)
        ``full_text`` and ``preview`` columns, for listings."""
        columns = "s.*" if with_text else SNAPSHOT_SUMMARY_COLUMNS
        return self._row(
            f"SELECT {columns} FROM snapshots s JOIN resources r ON r.current_snapshot_id = s.id "
            "WHERE r.id = ?",
            [resource_id],
        )

    def snapshots(self, resource_id: str) -> list[dict]:
        """A resource's content history, newest first, without the text."""
        return self._rows(
            "SELECT id, content_hash, fetched_at, last_seen_at, title, content_length, "
            "fetch_method, http_status, archived_at, archive_url FROM snapshots "
            "WHERE resource_id = ? "
            "ORDER BY fetched_at DESC, id DESC",
            [resource_id],
        )

    def warc_original(self, resource_id: str, payload_digest: str) -> WarcRef | None:
        """The WARC record of a body this resource gave before (same payload digest)."""
        row = self._row(
            f"SELECT {WARC_COLUMNS} FROM snapshots "
            "WHERE resource_id = ? AND warc_payload_digest = ? AND warc_file IS NOT NULL",
            [resource_id, payload_digest],
        )
        return warc_ref(row)

    def warc_records(self, *, current_only: bool = False) -> Iterator[dict]:
        """Snapshots that point at a WARC record: ``id``, ``resource_id``, ``url`` and the
        record's columns; only the ones resources serve if ``current_only``."""
        join = "r.current_snapshot_id = s.id" if current_only else "r.id = s.resource_id"
        yield from self.sql.iter_rows(
            f"SELECT s.id, s.resource_id, r.url, {WARC_COLUMNS} FROM snapshots s "
            f"JOIN resources r ON {join} WHERE s.warc_file IS NOT NULL ORDER BY s.id",
            [],
        )

    def fetch_log(self, resource_id: str, limit: int = 50) -> list[dict]:
        """A resource's latest fetch attempts, newest first."""
        return self._rows(
            "SELECT * FROM fetch_log WHERE resource_id = ? ORDER BY id DESC LIMIT ?",
            [resource_id, limit],
        )

    def iter_resources(
        self,
        *,
        status: str | None = None,
        type: str | None = None,
        publication: str | None = None,
        limit: int | None = None,
        offset: int = 0,
    ) -> Iterator[dict]:
        """Resources in registration order, filtered as :meth:`resource_filter` says."""
        where, params = self.resource_filter(status=status, type=type, publication=publication)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        sql = f"SELECT r.* FROM resources r{clause} ORDER BY r.{self.sql.insertion_order}"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [int(limit), int(offset)]
        yield from self.sql.iter_rows(sql, params)

    def count_resources(
        self, *, status: str | None = None, type: str | None = None, publication: str | None = None
    ) -> int:
        """How many resources :meth:`iter_resources` would yield with these filters."""
        where, params = self.resource_filter(status=status, type=type, publication=publication)
        clause = (" WHERE " + " AND ".join(where)) if where else ""
        return self._scalar(f"SELECT count(*) FROM resources r{clause}", params)

    def resource_filter(
        self,
        *,
        status: str | None = None,
        type: str | None = None,
        publication: str | None = None,
    ) -> tuple[list[str], list[Any]]:
        """Conditions on ``resources r`` and their parameters, for every listing.

        ``publication`` is the venue as the card shows it: the resource's explicit
        publication, else the venue its domain matches.
        """
        where: list[str] = []
        params: list[Any] = []
        if status:
            where.append("r.fetch_status = ?")
            params.append(status)
        if type:
            where.append("r.type = ?")
            params.append(type)
        if publication:
            where.append("r.venue_id = ?")
            params.append(publication)
        return where, params

    def distinct_values(self, column: str) -> list[str]:
        """Values of ``fetch_status`` or ``type`` in use, for filter menus."""
        if column not in ("fetch_status", "type"):
            raise ValueError(column)
        rows = self._rows(
            f"SELECT DISTINCT {column} AS v FROM resources WHERE {column} IS NOT NULL ORDER BY 1"
        )
        return [r["v"] for r in rows]

    def stats(self) -> dict:
        """Counts of resources by status, snapshots, fetches, pages, citations, venues."""
        by_status = {
            r["fetch_status"]: r["n"]
            for r in self._rows(
                "SELECT fetch_status, count(*) AS n FROM resources "
                "GROUP BY fetch_status ORDER BY 2 DESC, 1"
            )
        }
        one = self._row(
            "SELECT (SELECT count(*) FROM resources) AS resources, "
            "(SELECT count(*) FROM snapshots) AS snapshots, "
            "(SELECT count(*) FROM fetch_log) AS fetches, "
            "(SELECT count(*) FROM pages) AS pages, "
            "(SELECT count(*) FROM citations) AS citations, "
            "(SELECT count(*) FROM publications) AS publications, "
            "(SELECT coalesce(sum(content_length), 0) FROM snapshots) AS text_chars, "
            "(SELECT max(started_at) FROM fetch_log) AS last_fetch_at"
        )
        return {**(one or {}), "by_status": by_status}


WARC_COLUMNS = "warc_file, warc_offset, warc_length, warc_payload_digest"
"""A snapshot's pointer at its WARC response record (storage/warc.py)."""


def warc_ref(snapshot: dict | None) -> WarcRef | None:
    """The WARC record a snapshot row points at, if any."""
    if not snapshot or not snapshot.get("warc_file"):
        return None
    return WarcRef(
        snapshot["warc_file"],
        snapshot["warc_offset"],
        snapshot["warc_length"],
        snapshot["warc_payload_digest"],
    )
