"""Registry and identity: which resource an id, stable id or URL names, and registering one."""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from itertools import islice
from typing import TYPE_CHECKING, Any

from . import ids
from .base import StoreBase
from .clock import iso, utc_now
from .errors import NotFoundError, StoreError
from .fields import REGISTER_FIELDS, clean_fields

IMPORT_BATCH_SIZE = 1000
"""Records per transaction of an import: a huge file commits as it goes (its WAL stays
small, readers see progress) and a failure loses at most one batch's work."""


def batched(items: Iterable, size: int) -> Iterator[list]:
    """Lists of ``size`` items in order, the last one shorter (itertools.batched, 3.12)."""
    iterator = iter(items)
    while batch := list(islice(iterator, size)):
        yield batch


@dataclass
class Registration:
    resource: dict
    created: bool
    merged_into: str | None = None
    """Set when the record's own id differed and became an alias of ``resource``."""
    changed: bool = True
    """False when a known resource was left exactly as it was (same fields, aliases and
    citations): registering it again changed nothing."""


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    merged: int = 0
    unchanged: int = 0
    errors: list[str] = field(default_factory=list)


class Registry(StoreBase):
    if TYPE_CHECKING:  # from storage.citations and storage.publications

        def _cite(self, resource_id: str, slug: str, source: str) -> bool: ...
        def venue_id_for(self, url: str, publication_id: str | None) -> str | None: ...
        def _refresh_host(self, host: str | None) -> None: ...

    # ---- lookup -------------------------------------------------------------------

    def resolve(self, ref: str) -> dict | None:
        """The resource named by an id, a stable id (with or without ``sid_``) or a URL."""
        ref = ref.strip()
        if not ref:
            return None
        if "://" in ref:
            return self.find_by_url(ref)
        row = self._resource(ref)
        if row:
            return row
        stable = ids.parse_stable_id(ref)
        if stable:
            row = self._row("SELECT * FROM resources WHERE stable_id = ?", [stable])
            if row:
                return row
        alias = self._row("SELECT resource_id FROM aliases WHERE alias IN (?, ?)", [ref, stable])
        return self._resource(alias["resource_id"]) if alias else None

    def get(self, ref: str) -> dict:
        """Like :meth:`resolve`, but raises NotFoundError when nothing answers."""
        row = self.resolve(ref)
        if row is None:
            raise NotFoundError(f"no resource for {ref!r}")
        return row

    def find_by_url(self, url: str) -> dict | None:
        """Exact URL first, then any variant (www, trailing slash, scheme, tracking params)."""
        url = url.strip()
        row = self._row("SELECT * FROM resources WHERE url = ?", [url])
        if row:
            return row
        alias = self._row("SELECT resource_id FROM aliases WHERE alias = ?", [url])
        if alias:
            return self._resource(alias["resource_id"])
        try:
            key = ids.url_key(url)
        except ValueError:
            return None
        # Several rows may share a key when imported that way; the oldest one wins.
        return self._row(
            "SELECT * FROM resources WHERE url_key = ? "
            f"ORDER BY registered_at, {self.sql.insertion_order} LIMIT 1",
            [key],
        )

    def _resource(self, resource_id: str) -> dict | None:
        return self._row("SELECT * FROM resources WHERE id = ?", [resource_id])

    # ---- registration -------------------------------------------------------------

    def register(
        self,
        url: str,
        *,
        id: str | None = None,
        stable_id: str | None = None,
        cited_by: Iterable[str] = (),
        citation_source: str = "registry",
        **fields,
    ) -> Registration:
        """Add a cited URL, or update the resource it already names. Never duplicates.

        A known value is never overwritten by a missing one. An imported id or stable id
        that differs from the existing resource's is kept as an alias.
        """
        url = ids.check_url(url)
        unknown = set(fields) - set(REGISTER_FIELDS)
        if unknown:
            raise StoreError(f"unknown field(s): {', '.join(sorted(unknown))}")
        values = clean_fields(fields)
        if stable_id is not None:
            bare = ids.parse_stable_id(str(stable_id))
            if bare is None:
                raise StoreError(f"invalid stable id {stable_id!r}: want 10 characters [A-Za-z0-9]")
            stable_id = bare
        if id is not None:
            try:
                id = ids.check_imported_id(str(id).strip())
            except ValueError as exc:
                raise StoreError(str(exc)) from None
        now = iso(utc_now())
        with self._writing():
            existing = self._resource(id) if id else None
            if existing and not self._names(existing, url):
                # An id is the hash of a URL: a record that gives another URL is a
                # mistake (or a forgery), not an edit (Store.update_url moves one).
                raise StoreError(f"id {id} names {existing['url']}, not {url}")
            existing = existing or self.find_by_url(url)
            if existing is None and stable_id:
                existing = self._row("SELECT * FROM resources WHERE stable_id = ?", [stable_id])
            if existing is None:
                row = {
                    "id": id or ids.resource_id(url),
                    "stable_id": stable_id or self._fresh_stable_id(),
                    "stable_id_origin": "imported" if stable_id else "generated",
                    "url": url,
                    "url_key": ids.url_key(url),
                    "registered_at": now,
                    "updated_at": now,
                    **values,
                    "venue_id": self.venue_id_for(url, values.get("publication_id")),
                    "host": ids.host_of(url),
                }
                if self._row("SELECT 1 AS x FROM aliases WHERE alias = ?", [row["id"]]):
                    raise StoreError(f"id {row['id']} is already an alias of another resource")
                self.sql.insert("resources", row)
                self._refresh_host(row["host"])  # never fetched: its host is due
                resource_id, created, merged, changed = row["id"], True, None, True
            else:
                resource_id, created = existing["id"], False
                merged = id if id and id != resource_id else None
                changed = merged is not None and self._add_alias(merged, resource_id, "id")
                update = {k: v for k, v in values.items() if v is not None and v != existing[k]}
                if not self._names(existing, url):
                    # Known by its id or stable id under another URL: the URL was edited.
                    owner = self.find_by_url(url)
                    if owner and owner["id"] != resource_id:
                        raise StoreError(
                            f"{url} belongs to resource {owner['id']}, not {resource_id}"
                        )
                    changed = self._add_alias(existing["url"], resource_id, "url") or changed
                    update.update(url=url, url_key=ids.url_key(url), host=ids.host_of(url))
                if stable_id and stable_id != existing["stable_id"]:
                    if existing["stable_id_origin"] == "generated":
                        # The registry's own stable id wins over one we made up; ours
                        # stays an alias so that links handed out earlier still work.
                        self._add_alias(existing["stable_id"], resource_id, "stable_id")
                        update["stable_id"] = stable_id
                        update["stable_id_origin"] = "imported"
                    else:
                        changed = self._add_alias(stable_id, resource_id, "stable_id") or changed
                if "url" in update or "publication_id" in update:
                    update["venue_id"] = self.venue_id_for(
                        update.get("url", existing["url"]),
                        update.get("publication_id", existing["publication_id"]),
                    )
                if update:
                    changed = True
                    update["updated_at"] = now
                    self._update_resource(resource_id, update)
                if "host" in update:
                    self._refresh_host(existing["host"])
                    self._refresh_host(update["host"])
            for slug in cited_by:
                changed = self._cite(resource_id, slug, citation_source) or changed
        return Registration(self.get(resource_id), created, merged, changed)

    def update_url(self, ref: str, new_url: str) -> dict:
        """Point a resource at a new URL; its id and stable id stay, the old URL resolves."""
        new_url = ids.check_url(new_url)
        row = self.get(ref)
        with self._writing():
            other = self.find_by_url(new_url)
            if other and other["id"] != row["id"]:
                raise StoreError(f"{new_url} already belongs to resource {other['id']}")
            self._add_alias(row["url"], row["id"], "url")
            self._update_resource(
                row["id"],
                {
                    "url": new_url,
                    "url_key": ids.url_key(new_url),
                    "venue_id": self.venue_id_for(new_url, row["publication_id"]),
                    "host": ids.host_of(new_url),
                    "updated_at": iso(utc_now()),
                },
            )
            self._refresh_host(row["host"])
            self._refresh_host(ids.host_of(new_url))
        return self.get(row["id"])

    def mark_needs_browser(self, ref: str, needed: bool = True) -> dict:
        """Mark a resource to be always rendered in a browser (or no longer); returns it."""
        row = self.get(ref)
        with self._writing():
            self._update_resource(
                row["id"], {"needs_browser": int(needed), "updated_at": iso(utc_now())}
            )
        return self.get(row["id"])

    def import_records(self, records: Iterable[tuple[str, dict]]) -> ImportReport:
        """Register many records, each ``(where, record)``; a bad one is reported and skipped."""
        report = ImportReport()
        for batch in batched(records, IMPORT_BATCH_SIZE):
            with self._writing():  # a commit per batch; each record is its own savepoint
                for where, record in batch:
                    self._import_one(where, record, report)
        return report

    def _import_one(self, where: str, record: dict, report: ImportReport) -> None:
        """Register one imported record and count it in ``report``."""
        try:
            record = dict(record)
            if "_error" in record:
                raise StoreError(record["_error"])
            url = record.pop("url", None)
            if not url or not isinstance(url, str):
                raise StoreError("no url")
            kwargs: dict[str, Any] = {k: record.get(k) for k in REGISTER_FIELDS if k in record}
            cited_by = record.get("cited_by") or []
            if isinstance(cited_by, str):
                cited_by = [cited_by]
            result = self.register(  # a savepoint: a refused record leaves no trace
                url,
                id=record.get("id"),
                stable_id=record.get("stable_id"),
                cited_by=cited_by,
                **kwargs,
            )
        except (ValueError, TypeError, self.sql.IntegrityError) as exc:
            report.errors.append(f"{where}: {exc}")
            return
        if result.created:
            report.added += 1
        elif not result.changed:
            report.unchanged += 1
        elif result.merged_into is not None:
            report.merged += 1
        else:
            report.updated += 1

    # ---- helpers --------------------------------------------------------------------

    def _names(self, resource: dict, url: str) -> bool:
        """Whether ``url`` is the resource's URL, a variant of it or one of its aliases."""
        return ids.url_key(url) == resource["url_key"] or url in self._aliases_of(resource["id"])

    def _aliases_of(self, resource_id: str) -> set[str]:
        rows = self._rows("SELECT alias FROM aliases WHERE resource_id = ?", [resource_id])
        return {row["alias"] for row in rows}

    def _fresh_stable_id(self) -> str:
        while True:
            candidate = ids.new_stable_id()
            taken = self._row(
                "SELECT 1 AS x FROM resources WHERE stable_id = ? "
                "UNION SELECT 1 FROM aliases WHERE alias = ?",
                [candidate, candidate],
            )
            if not taken:
                return candidate

    def _add_alias(self, alias: str, resource_id: str, kind: str) -> bool:
        """Keep ``alias`` as another name of the resource; True if it is new."""
        return self.sql.insert_ignore(
            "aliases", {"alias": alias, "resource_id": resource_id, "kind": kind}
        )
