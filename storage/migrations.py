"""The schema, as an ordered list of sqlite-utils migrations. Append; never edit a shipped one."""

from __future__ import annotations

import json
import logging

from sqlite_utils import Database
from sqlite_utils.migrations import Migrations

from . import ids  # not store: store imports this module
from .venues import VenueMatcher

migrations = Migrations("citecache")
logger = logging.getLogger(__name__)


@migrations()
def m001_core(db: Database) -> None:
    db.execute(
        """
        CREATE TABLE resources (
            id TEXT PRIMARY KEY,            -- sha256(url as registered)[:16], or as imported
            stable_id TEXT NOT NULL UNIQUE, -- 10 chars [A-Za-z0-9], shown as sid_XXXXXXXXXX
            url TEXT NOT NULL UNIQUE,       -- as registered
            url_key TEXT NOT NULL,          -- storage.ids.url_key(url), finds URL variants
            title TEXT,
            type TEXT,
            authors TEXT,                   -- JSON array
            published_date TEXT,            -- YYYY-MM-DD
            publication_id TEXT,            -- explicit venue; else found by domain
            summary TEXT,
            review TEXT,
            key_points TEXT,                -- JSON array
            abstract TEXT,
            tags TEXT,                      -- JSON array
            credibility_override INTEGER CHECK (credibility_override BETWEEN 1 AND 5),
            registered_at TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            -- fetch state
            fetch_status TEXT NOT NULL DEFAULT 'pending',
            status_reason TEXT,
            http_status INTEGER,
            final_url TEXT,
            content_type TEXT,
            last_attempt_at TEXT,
            last_fetched_at TEXT,           -- last success
            next_fetch_at TEXT,
            failure_count INTEGER NOT NULL DEFAULT 0,
            content_hash TEXT,              -- of the current snapshot
            current_snapshot_id INTEGER,
            etag TEXT,
            last_modified TEXT
        )
        """
    )
    db.execute("CREATE INDEX resources_url_key ON resources(url_key)")
    db.execute("CREATE INDEX resources_fetch_status ON resources(fetch_status)")
    db.execute("CREATE INDEX resources_next_fetch ON resources(next_fetch_at)")
    db.execute("CREATE INDEX resources_type ON resources(type)")
    db.execute("CREATE INDEX resources_publication ON resources(publication_id)")
    db.execute(
        """
        CREATE TABLE snapshots (
            id INTEGER PRIMARY KEY,
            resource_id TEXT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
            content_hash TEXT NOT NULL,
            fetched_at TEXT NOT NULL,       -- first time this content was seen
            last_seen_at TEXT NOT NULL,     -- latest fetch that gave the same content
            title TEXT,
            full_text TEXT NOT NULL,
            content_length INTEGER NOT NULL,-- characters of full_text
            preview TEXT NOT NULL,          -- full_text cut to PREVIEW_MAX_CHARS
            metadata TEXT,                  -- JSON of what extraction found
            fetch_method TEXT,
            http_status INTEGER,
            content_type TEXT,
            final_url TEXT,
            UNIQUE (resource_id, content_hash)
        )
        """
    )
    db.execute(
        """
        CREATE TABLE fetch_log (
            id INTEGER PRIMARY KEY,
            resource_id TEXT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
            started_at TEXT NOT NULL,
            duration_ms INTEGER,
            http_status INTEGER,
            final_url TEXT,
            content_type TEXT,
            bytes INTEGER,
            outcome TEXT NOT NULL,
            error TEXT,
            content_hash TEXT
        )
        """
    )
    db.execute("CREATE INDEX fetch_log_resource ON fetch_log(resource_id, started_at)")
    db.execute("CREATE INDEX fetch_log_started ON fetch_log(started_at)")
    db.execute(
        """
        CREATE TABLE pages (
            slug TEXT PRIMARY KEY,          -- the wiki page's file name without extension
            title TEXT,
            type TEXT,
            quality REAL,
            path TEXT,
            scanned_at TEXT
        )
        """
    )
    db.execute(
        """
        CREATE TABLE citations (
            resource_id TEXT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
            page_slug TEXT NOT NULL,
            source TEXT NOT NULL DEFAULT 'registry',  -- registry | scan | api
            PRIMARY KEY (resource_id, page_slug)
        )
        """
    )
    db.execute("CREATE INDEX citations_page ON citations(page_slug)")
    db.execute(
        """
        CREATE TABLE publications (
            id TEXT PRIMARY KEY,
            name TEXT NOT NULL,
            domains TEXT NOT NULL,          -- JSON array; an entry may carry a path prefix
            type TEXT,
            credibility INTEGER CHECK (credibility BETWEEN 1 AND 5),
            peer_reviewed INTEGER,
            description TEXT
        )
        """
    )
    db.execute(
        """
        CREATE TABLE refetch_requests (
            id INTEGER PRIMARY KEY,
            resource_id TEXT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
            requested_at TEXT NOT NULL,
            requested_by TEXT,
            reason TEXT,
            status TEXT NOT NULL DEFAULT 'queued',   -- queued | running | done | failed
            started_at TEXT,
            finished_at TEXT,
            outcome TEXT
        )
        """
    )
    db.execute("CREATE INDEX refetch_requests_status ON refetch_requests(status, requested_at)")


@migrations()
def m002_aliases(db: Database) -> None:
    # Other names that lead to a resource: an id or stable id it had before a merge or
    # an import, or a URL it was registered under before an edit.
    db.execute(
        """
        CREATE TABLE aliases (
            alias TEXT PRIMARY KEY,
            resource_id TEXT NOT NULL REFERENCES resources(id) ON DELETE CASCADE,
            kind TEXT NOT NULL              -- id | stable_id | url
        )
        """
    )
    db.execute("CREATE INDEX aliases_resource ON aliases(resource_id)")
    db.execute(
        "ALTER TABLE resources ADD COLUMN stable_id_origin TEXT NOT NULL DEFAULT 'generated'"
    )


@migrations()
def m003_search(db: Database) -> None:
    # Full-text search over title, summary and the current snapshot's text (FTS5,
    # external content, so the text is not stored twice). Triggers on `resources`
    # keep it in sync: the crawler's writes update `current_snapshot_id` and the index
    # follows without the crawler knowing. The index is keyed by resources.rowid, which
    # VACUUM may renumber: run Store.rebuild_search_index() after a VACUUM.
    db.execute(
        """
        CREATE VIEW resource_search_source AS
        SELECT r.rowid AS rid, coalesce(r.title, s.title) AS title, r.summary AS summary,
               s.full_text AS body
        FROM resources r LEFT JOIN snapshots s ON s.id = r.current_snapshot_id
        """
    )
    db.execute(
        """
        CREATE VIRTUAL TABLE resource_search USING fts5(
            title, summary, body,
            content='resource_search_source', content_rowid='rid',
            tokenize='unicode61 remove_diacritics 2'
        )
        """
    )
    insert_new = (
        "INSERT INTO resource_search(rowid, title, summary, body) "
        "SELECT rid, title, summary, body FROM resource_search_source WHERE rid = new.rowid;"
    )
    delete_old = (
        "INSERT INTO resource_search(resource_search, rowid, title, summary, body) "
        "SELECT 'delete', rid, title, summary, body FROM resource_search_source "
        "WHERE rid = old.rowid;"
    )
    watched = "title, summary, current_snapshot_id"
    db.execute(
        f"CREATE TRIGGER resource_search_ai AFTER INSERT ON resources BEGIN {insert_new} END"
    )
    db.execute(
        f"CREATE TRIGGER resource_search_bu BEFORE UPDATE OF {watched} ON resources "
        f"BEGIN {delete_old} END"
    )
    db.execute(
        f"CREATE TRIGGER resource_search_au AFTER UPDATE OF {watched} ON resources "
        f"BEGIN {insert_new} END"
    )
    # BEFORE: the snapshots a delete cascades to are still there to compute old values.
    db.execute(
        f"CREATE TRIGGER resource_search_bd BEFORE DELETE ON resources BEGIN {delete_old} END"
    )
    db.execute("INSERT INTO resource_search(resource_search) VALUES ('rebuild')")


@migrations()
def m004_link_health(db: Database) -> None:
    # Redirects and canonical URLs (recorded per fetch and per resource), and whether
    # an editor's request asks for an unconditional fetch.
    db.execute("ALTER TABLE fetch_log ADD COLUMN redirect_chain TEXT")  # JSON array of URLs
    db.execute("ALTER TABLE resources ADD COLUMN canonical_url TEXT")
    db.execute("ALTER TABLE resources ADD COLUMN redirect_chain TEXT")
    db.execute("ALTER TABLE refetch_requests ADD COLUMN force INTEGER NOT NULL DEFAULT 0")
    db.execute("CREATE INDEX fetch_log_outcome ON fetch_log(resource_id, outcome, started_at)")


@migrations()
def m005_url_keys_on_w3lib(db: Database) -> None:
    # url_key now meets IDN hosts, non-ASCII paths and escape case (storage/ids.py);
    # stored keys were made by the old function and would miss those variants. Exact
    # URLs and url aliases resolve without the key, so they find what they found before.
    recompute_url_keys(db)


@migrations()
def m006_request_claims(db: Database) -> None:
    # Which run (storage.lock.FetchRun) claimed a running request: only a request whose
    # run is gone is put back in the queue.
    db.execute("ALTER TABLE refetch_requests ADD COLUMN claimed_by TEXT")
    db.execute("CREATE INDEX refetch_requests_claimed ON refetch_requests(claimed_by)")


def recompute_url_keys(db: Database) -> int:
    """Store ``ids.url_key(url)`` for every resource; returns how many keys changed.

    For migrations: append one that calls this whenever url_key changes.
    """
    changes = []
    for rowid, url, stored in db.execute("SELECT rowid, url, url_key FROM resources"):
        try:
            key = ids.url_key(url)
        except ValueError:
            continue  # a URL the new rules refuse keeps the key it had
        if key != stored:
            changes.append((key, rowid))
    db.conn.executemany("UPDATE resources SET url_key = ? WHERE rowid = ?", changes)
    if changes:
        _warn_about_shared_keys(db, {key for key, _ in changes})
    return len(changes)


def _warn_about_shared_keys(db: Database, keys: set[str]) -> None:
    # Resources registered under URLs that now meet share a key: an operator should know
    # that a variant of the newer one now finds the older one.
    shared = [
        (key, count)
        for key, count in db.execute(
            "SELECT url_key, count(*) FROM resources GROUP BY url_key HAVING count(*) > 1"
        )
        if key in keys
    ]
    if shared:
        examples = ", ".join(f"{key} ({count})" for key, count in shared[:5])
        logger.warning(
            "%d URL key(s) now shared by several resources, e.g. %s: a variant URL finds "
            "the oldest of them, each still resolves by its exact URL.",
            len(shared),
            examples,
        )


@migrations()
def m007_venue_ids(db: Database) -> None:
    # The venue a card shows (explicit publication, else domain match), stored so that
    # listings filter on an indexed column in any engine instead of calling Python per
    # row. Kept current by registration and by every venue import.
    db.execute("ALTER TABLE resources ADD COLUMN venue_id TEXT")
    db.execute("CREATE INDEX resources_venue ON resources(venue_id)")
    venues = [
        {"id": venue_id, "domains": json.loads(domains)}
        for venue_id, domains in db.execute("SELECT id, domains FROM publications")
    ]
    matcher = VenueMatcher(venues)
    db.conn.executemany(
        "UPDATE resources SET venue_id = ? WHERE rowid = ?",
        [
            (matcher.venue_of(url, publication_id), rowid)
            for rowid, url, publication_id in db.execute(
                "SELECT rowid, url, publication_id FROM resources"
            ).fetchall()
        ],
    )


@migrations()
def m008_hosts(db: Database) -> None:
    # The frontier by host (storage/leases.py): each resource's host, the lease its
    # fetch was claimed under, and per host when it next has due work, when it may next
    # be fetched, and who leases it until when (with a fencing token).
    db.execute("ALTER TABLE resources ADD COLUMN host TEXT")
    db.execute("ALTER TABLE resources ADD COLUMN lease_token INTEGER")
    db.conn.executemany(
        "UPDATE resources SET host = ? WHERE rowid = ?",
        [
            (ids.host_of(url), rowid)
            for rowid, url in db.execute("SELECT rowid, url FROM resources").fetchall()
        ],
    )
    db.execute("CREATE INDEX resources_host_due ON resources(host, next_fetch_at)")
    db.execute(
        """
        CREATE TABLE hosts (
            host TEXT PRIMARY KEY,
            next_due_at TEXT NOT NULL DEFAULT '', -- '' requested, '0' new, else earliest due
            next_allowed_at TEXT,           -- not before (crawl delay, Retry-After)
            leased_by TEXT,                 -- run id (storage/lock.py) holding the lease
            lease_until TEXT,
            lease_token INTEGER NOT NULL DEFAULT 0  -- grows at every lease: fencing
        )
        """
    )
    # (next_due_at, host): the claim's ORDER BY, so that it stops at its LIMIT even when
    # tens of thousands of hosts are due at the same moment (bench/claim_bench.py).
    db.execute("CREATE INDEX hosts_due ON hosts(next_due_at, host)")
    # A host's editor requests are found from its resources.
    db.execute("CREATE INDEX refetch_requests_resource ON refetch_requests(resource_id)")
    db.execute(
        "INSERT INTO hosts (host, next_due_at) "
        "SELECT host, min(coalesce(next_fetch_at, '0')) FROM resources GROUP BY host"
    )
    db.execute(
        "UPDATE hosts SET next_due_at = '' WHERE host IN (SELECT r.host FROM refetch_requests q "
        "JOIN resources r ON r.id = q.resource_id WHERE q.status = 'queued')"
    )


@migrations()
def m009_hosts_by_turn(db: Database) -> None:
    # Hosts due at the same moment (a registry import: every source new) take turns: the
    # claim orders them by how many leases they had (the lease token), then by name. By
    # name alone, the first hosts of the alphabet came back first and the last ones
    # were left for the end of a crawl, when few hosts remain to fill the workers.
    db.execute("DROP INDEX hosts_due")
    db.execute("CREATE INDEX hosts_due ON hosts(next_due_at, lease_token, host)")


@migrations()
def m010_content_listing(db: Database) -> None:
    # The wiki's content listing (storage/content.py): the current snapshot's length on
    # the resource, so that a page of 5,000 entries never reads a snapshot row (SQLite
    # stores content_length after full_text: reading it walks the text's overflow
    # pages), and its order, newest attempt first, from an index.
    db.execute("ALTER TABLE resources ADD COLUMN content_length INTEGER")
    db.execute(BACKFILL_CONTENT_LENGTH)
    db.execute("CREATE INDEX resources_attempted ON resources(last_attempt_at, id)")


BACKFILL_CONTENT_LENGTH = (
    "UPDATE resources SET content_length = (SELECT s.content_length FROM snapshots s "
    "WHERE s.id = resources.current_snapshot_id) WHERE current_snapshot_id IS NOT NULL"
)
"""m010's backfill, the same statement in both engines."""


@migrations()
def m013_snapshot_warc(db: Database) -> None:
    # Each snapshot points at the WARC response record of the bytes it was extracted
    # from (storage/warc.py): a file of the WARC folder, the record's gzip member there,
    # and its payload digest, by which an unchanged re-fetch becomes a revisit record.
    db.execute("ALTER TABLE snapshots ADD COLUMN warc_file TEXT")
    db.execute("ALTER TABLE snapshots ADD COLUMN warc_offset INTEGER")
    db.execute("ALTER TABLE snapshots ADD COLUMN warc_length INTEGER")
    db.execute("ALTER TABLE snapshots ADD COLUMN warc_payload_digest TEXT")


@migrations()
def m014_archived_snapshots(db: Database) -> None:
    # A snapshot taken from a web archive (fetch_method "wayback", crawler/wayback.py):
    # when the archive captured it (ISO 8601 UTC) and where the capture can be seen.
    db.execute("ALTER TABLE snapshots ADD COLUMN archived_at TEXT")
    db.execute("ALTER TABLE snapshots ADD COLUMN archive_url TEXT")


@migrations()
def m015_needs_browser(db: Database) -> None:
    # Sources an operator marks to be always rendered in a browser (crawler/browser.py):
    # `citecache browser REF...`.
    db.execute("ALTER TABLE resources ADD COLUMN needs_browser INTEGER NOT NULL DEFAULT 0")
