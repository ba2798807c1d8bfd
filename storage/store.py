"""The cache: one SQLite file holding resources, snapshots, the fetch log and citations."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from sqlite_utils import Database

from . import ids
from .health import GOOD_STATES, HealthPolicy, counts_toward_dead, failure_state
from .migrations import migrations
from .previews import PREVIEW_MAX_CHARS, content_hash, stored_preview
from .results import FetchResult, FetchTask
from .venues import VenueMatcher, bundled_publications, clean_venue

# Fields a registration may set; lists are stored as JSON.
BIBLIO_FIELDS = (
    "title",
    "type",
    "authors",
    "published_date",
    "publication_id",
    "summary",
    "review",
    "key_points",
    "abstract",
    "tags",
    "credibility_override",
)
LIST_FIELDS = frozenset({"authors", "key_points", "tags"})


logger = logging.getLogger(__name__)

SNAPSHOT_SUMMARY_COLUMNS = ", ".join(
    f"s.{c}"
    for c in (
        "id", "resource_id", "content_hash", "fetched_at", "last_seen_at", "title",
        "content_length", "metadata", "fetch_method", "http_status", "content_type", "final_url",
    )
)  # fmt: skip


class NotFoundError(LookupError):
    """No resource answers to this id, stable id or URL."""


class StoreError(ValueError):
    """A write was refused because its input is invalid; nothing was changed."""


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


@dataclass
class Registration:
    resource: dict
    created: bool
    merged_into: str | None = None
    """Set when the record's own id differed and became an alias of ``resource``."""


@dataclass
class ImportReport:
    added: int = 0
    updated: int = 0
    merged: int = 0
    errors: list[str] = field(default_factory=list)


class Store:
    """Owns the SQLite connection and exposes the cache's verbs.

    Writers open the file read-write (WAL, so readers never wait on them);
    ``readonly=True`` opens it with ``mode=ro`` for serving.
    """

    def __init__(
        self,
        path: str | Path,
        *,
        readonly: bool = False,
        preview_max_chars: int = PREVIEW_MAX_CHARS,
        busy_timeout_ms: int = 30_000,
        policy: HealthPolicy | None = None,
    ):
        self.path = Path(path)
        self.readonly = readonly
        self.preview_max_chars = preview_max_chars
        self.policy = policy or HealthPolicy()
        if readonly:
            conn = sqlite3.connect(f"file:{self.path}?mode=ro", uri=True, check_same_thread=False)
        else:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(str(self.path), check_same_thread=False)
        conn.execute(f"PRAGMA busy_timeout = {int(busy_timeout_ms)}")
        self.db = Database(conn)
        if not readonly:
            self.db.enable_wal()
            self.db.execute("PRAGMA synchronous = NORMAL")
            self.db.execute("PRAGMA foreign_keys = ON")
            migrations.apply(self.db)
            if not self.db["publications"].count:
                self.import_publications(bundled_publications())
        self._matcher: VenueMatcher | None = None

    def close(self) -> None:
        self.db.close()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    # ---- lookup -------------------------------------------------------------------

    def _row(self, sql: str, params: Iterable = ()) -> dict | None:
        cursor = self.db.execute(sql, list(params))
        row = cursor.fetchone()
        if row is None:
            return None
        return dict(zip([c[0] for c in cursor.description], row, strict=True))

    def _rows(self, sql: str, params: Iterable = ()) -> list[dict]:
        cursor = self.db.execute(sql, list(params))
        names = [c[0] for c in cursor.description]
        return [dict(zip(names, row, strict=True)) for row in cursor.fetchall()]

    def resolve(self, ref: str) -> dict | None:
        """The resource named by an id, a stable id (with or without ``sid_``) or a URL."""
        ref = ref.strip()
        if not ref:
            return None
        if "://" in ref:
            return self.find_by_url(ref)
        row = self._row("SELECT * FROM resources WHERE id = ?", [ref])
        if row:
            return row
        stable = ids.parse_stable_id(ref)
        if stable:
            row = self._row("SELECT * FROM resources WHERE stable_id = ?", [stable])
            if row:
                return row
        alias = self._row("SELECT resource_id FROM aliases WHERE alias IN (?, ?)", [ref, stable])
        if alias:
            return self._row("SELECT * FROM resources WHERE id = ?", [alias["resource_id"]])
        return None

    def get(self, ref: str) -> dict:
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
            return self._row("SELECT * FROM resources WHERE id = ?", [alias["resource_id"]])
        try:
            key = ids.url_key(url)
        except ValueError:
            return None
        # Several rows may share a key when imported that way; the oldest one wins.
        return self._row(
            "SELECT * FROM resources WHERE url_key = ? ORDER BY registered_at, rowid LIMIT 1",
            [key],
        )

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
        unknown = set(fields) - set(BIBLIO_FIELDS)
        if unknown:
            raise StoreError(f"unknown field(s): {', '.join(sorted(unknown))}")
        values = _clean_fields(fields)
        if stable_id is not None:
            bare = ids.parse_stable_id(str(stable_id))
            if bare is None:
                raise StoreError(f"invalid stable id {stable_id!r}: want 10 characters [A-Za-z0-9]")
            stable_id = bare
        if id is not None:
            id = str(id).strip()
            if not id:
                raise StoreError("empty id")
        now = iso(utc_now())
        with self.db.atomic():
            existing = self._row("SELECT * FROM resources WHERE id = ?", [id]) if id else None
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
                }
                if self._row("SELECT 1 AS x FROM aliases WHERE alias = ?", [row["id"]]):
                    raise StoreError(f"id {row['id']} is already an alias of another resource")
                self.db["resources"].insert(row)
                resource_id, created, merged = row["id"], True, None
            else:
                resource_id, created = existing["id"], False
                merged = id if id and id != resource_id else None
                if merged:
                    self._add_alias(merged, resource_id, "id")
                update = {k: v for k, v in values.items() if v is not None}
                if ids.url_key(url) != existing["url_key"] and url not in self._aliases_of(
                    resource_id
                ):
                    # Known by its id or stable id under another URL: the URL was edited.
                    owner = self.find_by_url(url)
                    if owner and owner["id"] != resource_id:
                        raise StoreError(
                            f"{url} belongs to resource {owner['id']}, not {resource_id}"
                        )
                    self._add_alias(existing["url"], resource_id, "url")
                    update.update(url=url, url_key=ids.url_key(url))
                if stable_id and stable_id != existing["stable_id"]:
                    if existing["stable_id_origin"] == "generated":
                        # The registry's own stable id wins over one we made up; ours
                        # stays an alias so that links handed out earlier still work.
                        self._add_alias(existing["stable_id"], resource_id, "stable_id")
                        update["stable_id"] = stable_id
                        update["stable_id_origin"] = "imported"
                    else:
                        self._add_alias(stable_id, resource_id, "stable_id")
                if update:
                    update["updated_at"] = now
                    self.db["resources"].update(resource_id, update)
            for slug in cited_by:
                self._cite(resource_id, slug, citation_source)
        return Registration(self.get(resource_id), created, merged)

    def update_url(self, ref: str, new_url: str) -> dict:
        """Point a resource at a new URL; its id and stable id stay, the old URL resolves."""
        new_url = ids.check_url(new_url)
        row = self.get(ref)
        other = self.find_by_url(new_url)
        if other and other["id"] != row["id"]:
            raise StoreError(f"{new_url} already belongs to resource {other['id']}")
        with self.db.atomic():
            self._add_alias(row["url"], row["id"], "url")
            self.db["resources"].update(
                row["id"],
                {"url": new_url, "url_key": ids.url_key(new_url), "updated_at": iso(utc_now())},
            )
        return self.get(row["id"])

    def _aliases_of(self, resource_id: str) -> set[str]:
        rows = self.db.execute("SELECT alias FROM aliases WHERE resource_id = ?", [resource_id])
        return {alias for (alias,) in rows}

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

    def _add_alias(self, alias: str, resource_id: str, kind: str) -> None:
        self.db.execute(
            "INSERT OR IGNORE INTO aliases (alias, resource_id, kind) VALUES (?, ?, ?)",
            [alias, resource_id, kind],
        )

    def _cite(self, resource_id: str, slug: str, source: str) -> None:
        slug = str(slug).strip()
        if not slug:
            return
        self.db.execute("INSERT OR IGNORE INTO pages (slug) VALUES (?)", [slug])
        self.db.execute(
            "INSERT OR IGNORE INTO citations (resource_id, page_slug, source) VALUES (?, ?, ?)",
            [resource_id, slug, source],
        )

    def import_records(self, records: Iterable[tuple[str, dict]]) -> ImportReport:
        """Register many records, each ``(where, record)``; a bad one is reported and skipped."""
        report = ImportReport()
        with self.db.atomic():  # one commit for the file; each record is its own savepoint
            for where, record in records:
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
            kwargs = {k: record.get(k) for k in BIBLIO_FIELDS if k in record}
            cited_by = record.get("cited_by") or []
            if isinstance(cited_by, str):
                cited_by = [cited_by]
            result = self.register(
                url,
                id=record.get("id"),
                stable_id=record.get("stable_id"),
                cited_by=cited_by,
                **kwargs,
            )
        except (ValueError, TypeError, sqlite3.IntegrityError) as exc:
            report.errors.append(f"{where}: {exc}")
            return
        if result.created:
            report.added += 1
        elif result.merged_into is not None:
            report.merged += 1
        else:
            report.updated += 1

    # ---- venues ---------------------------------------------------------------------

    def import_publications(self, venues: Iterable[dict]) -> int:
        """Insert or replace venues (all or nothing); returns how many."""
        rows = [clean_venue(v) for v in venues]
        with self.db.atomic():
            for row in rows:
                self.db["publications"].upsert(
                    {**row, "domains": json.dumps(row["domains"])}, pk="id"
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

    # ---- citations --------------------------------------------------------------------

    def cited_by(self, resource_id: str) -> list[dict]:
        return self._rows(
            "SELECT p.slug, p.title, p.type, p.quality FROM citations c "
            "JOIN pages p ON p.slug = c.page_slug WHERE c.resource_id = ? ORDER BY p.slug",
            [resource_id],
        )

    def upsert_page(self, slug: str, **values) -> None:
        self.db["pages"].upsert({"slug": slug, **values}, pk="slug")

    def replace_page_citations(self, slug: str, resource_ids: Iterable[str], source: str) -> None:
        """Set the resources a page cites (from ``source``) to exactly ``resource_ids``."""
        wanted = set(resource_ids)
        with self.db.atomic():
            self.db.execute(
                "DELETE FROM citations WHERE page_slug = ? AND source = ?", [slug, source]
            )
            for resource_id in sorted(wanted):
                self._cite(resource_id, slug, source)

    # ---- crawling -----------------------------------------------------------------------

    def tasks(
        self,
        *,
        mode: str = "due",
        refs: Iterable[str] = (),
        limit: int | None = None,
        force: bool = False,
    ) -> list[FetchTask]:
        """Resources to fetch. ``due``: queued editor requests, never-fetched, then most
        overdue. ``requests``: queued editor requests only. ``all``: every resource.
        ``refs``: the named ones (registered if they are new URLs)."""
        if refs:
            rows = []
            for ref in refs:
                row = self.resolve(ref)
                if row is None and "://" in ref:
                    row = self.register(ref).resource
                if row is None:
                    raise NotFoundError(f"no resource for {ref!r}")
                rows.append(row)
            return [_task(r, force=force) for r in rows][:limit]
        limit_sql = f" LIMIT {int(limit)}" if limit else ""
        if mode == "all":
            rows = self._rows(
                "SELECT id, url, etag, last_modified FROM resources ORDER BY rowid" + limit_sql
            )
            return [_task(r, force=force) for r in rows]
        if mode not in ("due", "requests"):
            raise ValueError(f"unknown crawl mode {mode!r}")
        now = iso(utc_now())
        tasks: list[FetchTask] = []
        seen: set[str] = set()
        for req in self._rows(
            "SELECT q.id AS request_id, q.force, r.id, r.url, r.etag, r.last_modified "
            "FROM refetch_requests q "
            "JOIN resources r ON r.id = q.resource_id WHERE q.status = 'queued' "
            "ORDER BY q.requested_at, q.id"
        ):
            if req["id"] not in seen:
                seen.add(req["id"])
                tasks.append(
                    _task(req, force=force or bool(req["force"]), request_id=req["request_id"])
                )
        if mode == "requests":
            return tasks[:limit] if limit else tasks
        rows = self._rows(
            "SELECT id, url, etag, last_modified FROM resources "
            "WHERE next_fetch_at IS NULL OR next_fetch_at <= ? "
            # never fetched first, then the most overdue
            "ORDER BY last_attempt_at IS NOT NULL, next_fetch_at, rowid" + limit_sql,
            [now],
        )
        tasks += [_task(r, force=force) for r in rows if r["id"] not in seen]
        return tasks[:limit] if limit else tasks

    def request_tasks(self, request_ids: Iterable[int]) -> list[FetchTask]:
        """Tasks for these editor requests: forced, whatever their freshness."""
        tasks = []
        for request_id in request_ids:
            row = self._row(
                "SELECT q.id AS request_id, q.force, r.id, r.url, r.etag, r.last_modified "
                "FROM refetch_requests q JOIN resources r ON r.id = q.resource_id WHERE q.id = ?",
                [request_id],
            )
            if row is None:
                raise NotFoundError(f"no re-fetch request {request_id}")
            tasks.append(_task(row, force=bool(row["force"]), request_id=row["request_id"]))
        return tasks

    def record_results(self, results: Iterable[FetchResult]) -> list[str]:
        """Store a batch of fetch results in one transaction; each result is all or nothing.

        Returns the resource's new fetch status for each result, in order, or
        ``store_error`` for a result that could not be stored (it is logged).
        """
        statuses = []
        with self.db.atomic():
            for result in results:
                try:
                    with self.db.atomic():  # a savepoint: one bad result spoils only itself
                        statuses.append(self._record(result))
                except (LookupError, ValueError, sqlite3.IntegrityError) as exc:
                    logger.error("result for %s not stored: %s", result.url, exc)
                    statuses.append("store_error")
        return statuses

    def record_result(self, result: FetchResult) -> str:
        return self.record_results([result])[0]

    def _record(self, result: FetchResult) -> str:
        resource = self._row(
            "SELECT id, url, type, publication_id, content_hash, current_snapshot_id, "
            "failure_count, last_fetched_at, fetch_status, status_reason "
            "FROM resources WHERE id = ?",
            [result.resource_id],
        )
        if resource is None:
            raise NotFoundError(f"no resource {result.resource_id!r}")
        now = utc_now()
        text = result.text or ""
        digest = (result.content_hash or content_hash(text)) if text.strip() else None
        self.db["fetch_log"].insert(
            {
                "resource_id": result.resource_id,
                "started_at": result.started_at,
                "duration_ms": result.duration_ms,
                "http_status": result.http_status,
                "final_url": result.final_url,
                "content_type": result.content_type,
                "bytes": result.bytes,
                "outcome": result.outcome,
                "error": result.error,
                "content_hash": digest,
                "redirect_chain": json.dumps(result.redirect_chain)
                if result.redirect_chain
                else None,
            }
        )
        update: dict = {
            "last_attempt_at": result.started_at,
            "http_status": result.http_status,
            "updated_at": iso(now),
        }
        if result.final_url:
            update["final_url"] = result.final_url
            update["redirect_chain"] = (
                json.dumps(result.redirect_chain) if result.redirect_chain else None
            )
        current = resource["current_snapshot_id"]
        if result.outcome == "not_modified" and current:
            status, reason = "unchanged", None
            self.db.execute(
                "UPDATE snapshots SET last_seen_at = ? WHERE id = ?", [result.started_at, current]
            )
        elif digest and result.outcome in ("ok", "redirected", "paywalled"):
            status, reason = result.outcome, result.error
            # Only a clean article replaces the current copy. A paywall's teaser or the
            # page a source now redirects to elsewhere is kept only when there is nothing
            # better: flagged, never silently taken for the article.
            if result.outcome == "ok" or not current:
                snapshot_id, is_new = self._upsert_snapshot(result, digest, text)
                if snapshot_id != current:
                    update.update(content_hash=digest, current_snapshot_id=snapshot_id)
                if result.outcome == "ok" and not is_new and resource["content_hash"] == digest:
                    status = "unchanged"
            if result.canonical_url:
                update["canonical_url"] = result.canonical_url
            update.update(
                content_type=result.content_type,
                etag=result.etag,
                last_modified=result.last_modified,
            )
        elif result.outcome == "not_modified":
            # Unchanged since a fetch that gave no text (say, an empty page): it would give
            # none again, so the verdict of that fetch stands, without a download.
            status = resource["fetch_status"]
            prior = resource["status_reason"] or status
            reason = prior if prior.startswith("not modified") else f"not modified since: {prior}"
        else:
            if result.http_status == 200 and result.outcome == "extraction_failed":
                # Keep the validators: the next check of the same bytes is a cheap 304.
                update.update(etag=result.etag, last_modified=result.last_modified)
            gone = self._gone_times(resource, result)
            status, reason = failure_state(result.outcome, result.http_status, gone, self.policy)
            reason = " — ".join(x for x in (result.error, reason) if x) or result.outcome
        if status in GOOD_STATES:
            update.update(last_fetched_at=result.started_at, failure_count=0)
        else:
            update["failure_count"] = resource["failure_count"] + 1
        update["fetch_status"] = status
        update["status_reason"] = reason
        venue = self.venue_for(resource)
        ttl = self.policy.ttl_for(resource["url"], venue["id"] if venue else None, resource["type"])
        next_at = self.policy.next_fetch(now, status, update.get("failure_count", 0), ttl)
        update["next_fetch_at"] = iso(next_at)
        self.db["resources"].update(result.resource_id, update)
        if result.request_id is not None:
            self.finish_request(result.request_id, status, reason)
        return status

    def _gone_times(self, resource: dict, result: FetchResult) -> list[datetime]:
        """When "gone" answers came since the last success, this fetch's included."""
        if not counts_toward_dead(result.outcome, result.http_status):
            return []
        since = resource["last_fetched_at"] or ""
        rows = self.db.execute(
            "SELECT started_at, outcome, http_status FROM fetch_log "
            "WHERE resource_id = ? AND started_at > ? ORDER BY started_at",
            [resource["id"], since],
        ).fetchall()
        return [parse_iso(at) for at, outcome, code in rows if counts_toward_dead(outcome, code)]

    def _upsert_snapshot(self, result: FetchResult, digest: str, text: str) -> tuple[int, bool]:
        existing = self._row(
            "SELECT id FROM snapshots WHERE resource_id = ? AND content_hash = ?",
            [result.resource_id, digest],
        )
        if existing:
            self.db.execute(
                "UPDATE snapshots SET last_seen_at = ? WHERE id = ?",
                [result.started_at, existing["id"]],
            )
            return existing["id"], False
        cursor = self.db.execute(
            "INSERT INTO snapshots (resource_id, content_hash, fetched_at, last_seen_at, title, "
            "full_text, content_length, preview, metadata, fetch_method, http_status, "
            "content_type, final_url) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?)",
            [
                result.resource_id,
                digest,
                result.started_at,
                result.started_at,
                result.title,
                text,
                len(text),
                stored_preview(text, self.preview_max_chars),
                json.dumps(result.metadata, ensure_ascii=False, default=str),
                result.fetch_method,
                result.http_status,
                result.content_type,
                result.final_url,
            ],
        )
        return cursor.lastrowid, True

    # ---- editor requests ------------------------------------------------------------

    def request_refetch(
        self, ref: str, *, by: str | None = None, reason: str | None = None, force: bool = False
    ) -> int:
        """Queue an editor's request; ``force`` skips the conditional request (no 304)."""
        row = self.resolve(ref)
        if row is None and "://" in ref:
            row = self.register(ref).resource
        if row is None:
            raise NotFoundError(f"no resource for {ref!r}")
        cursor = self.db.execute(
            "INSERT INTO refetch_requests (resource_id, requested_at, requested_by, reason, force) "
            "VALUES (?, ?, ?, ?, ?)",
            [row["id"], iso(utc_now()), by, reason, int(force)],
        )
        self.db.conn.commit()
        return cursor.lastrowid

    def start_requests(self, request_ids: Iterable[int]) -> None:
        now = iso(utc_now())
        with self.db.atomic():
            for request_id in request_ids:
                self.db.execute(
                    "UPDATE refetch_requests SET status = 'running', started_at = ? WHERE id = ?",
                    [now, request_id],
                )

    def finish_request(self, request_id: int, status: str, error: str | None) -> None:
        done = status in GOOD_STATES
        outcome = status if not error else f"{status}: {error}"
        self.db.execute(
            "UPDATE refetch_requests SET status = ?, finished_at = ?, outcome = ? WHERE id = ?",
            ["done" if done else "failed", iso(utc_now()), outcome, request_id],
        )

    def requeue_stale_requests(self) -> int:
        """Put back requests a killed crawl left 'running'; called when a crawl starts."""
        cursor = self.db.execute(
            "UPDATE refetch_requests SET status = 'queued', started_at = NULL "
            "WHERE status = 'running'"
        )
        self.db.conn.commit()
        return cursor.rowcount

    def requests(self, *, limit: int = 100) -> list[dict]:
        return self._rows(
            "SELECT q.*, r.url FROM refetch_requests q JOIN resources r ON r.id = q.resource_id "
            "ORDER BY q.id DESC LIMIT ?",
            [limit],
        )

    def request(self, request_id: int) -> dict | None:
        return self._row("SELECT * FROM refetch_requests WHERE id = ?", [request_id])

    # ---- reads -------------------------------------------------------------------------

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
        return self._rows(
            "SELECT id, content_hash, fetched_at, last_seen_at, title, content_length, "
            "fetch_method, http_status FROM snapshots WHERE resource_id = ? "
            "ORDER BY fetched_at DESC, id DESC",
            [resource_id],
        )

    def fetch_log(self, resource_id: str, limit: int = 50) -> list[dict]:
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
        where, params = resource_filter(status=status, type=type, publication=publication)
        sql = "SELECT * FROM resources" + where + " ORDER BY rowid"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [int(limit), int(offset)]
        cursor = self.db.execute(sql, params)
        names = [c[0] for c in cursor.description]
        for row in cursor:
            yield dict(zip(names, row, strict=True))

    def stats(self) -> dict:
        by_status = dict(
            self.db.execute(
                "SELECT fetch_status, count(*) FROM resources GROUP BY fetch_status ORDER BY 2 DESC"
            ).fetchall()
        )
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
        return {**one, "by_status": by_status}


def resource_filter(
    *, status: str | None = None, type: str | None = None, publication: str | None = None
) -> tuple[str, list]:
    """`` WHERE ...`` (or "") and its parameters for the resource listing filters."""
    where, params = [], []
    for column, value in (
        ("fetch_status", status),
        ("type", type),
        ("publication_id", publication),
    ):
        if value:
            where.append(f"{column} = ?")
            params.append(value)
    return (" WHERE " + " AND ".join(where) if where else ""), params


def _task(row: dict, *, force: bool = False, request_id: int | None = None) -> FetchTask:
    return FetchTask(
        resource_id=row["id"],
        url=row["url"],
        etag=None if force else row.get("etag"),
        last_modified=None if force else row.get("last_modified"),
        request_id=request_id,
        force=force,
    )


def _clean_fields(fields: dict) -> dict:
    values = {}
    for name, value in fields.items():
        if value is None or value == "" or value == []:
            values[name] = None
            continue
        if name in LIST_FIELDS:
            if isinstance(value, str):
                value = [value]
            if not isinstance(value, list | tuple):
                raise StoreError(f"{name} must be a list, got {type(value).__name__}")
            value = json.dumps([str(v) for v in value], ensure_ascii=False)
        elif name == "credibility_override":
            try:
                value = int(value)
            except (TypeError, ValueError):
                raise StoreError(f"credibility_override must be 1-5, got {value!r}") from None
            if not 1 <= value <= 5:
                raise StoreError(f"credibility_override must be 1-5, got {value!r}")
        elif name == "published_date":
            value = str(value)[:10]
        else:
            value = str(value).strip()
        values[name] = value
    return values
