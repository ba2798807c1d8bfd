"""What is PostgreSQL's own: SQL translation, URLs in messages, migrations from nothing,
the limits of a tsvector. The behaviour both backends share is tested on both in
test_store.py, test_api.py, test_registry_import.py and test_crawl.py."""

from __future__ import annotations

import random
import string

import pytest
from click.testing import CliRunner

from citecache.cli import cli
from storage import FetchResult, Store, pg_migrations
from storage.backend import is_postgres, redact
from storage.postgres import _HELD_SQL, AdvisoryLock, _pg_sql, connect, has_schema


@pytest.mark.parametrize(
    ("portable", "psycopg"),
    [
        ("WHERE a = ? AND b IN (?, ?)", "WHERE a = %s AND b IN (%s, %s)"),
        ("SELECT '100%' AS p, ? AS x", "SELECT '100%%' AS p, %s AS x"),
        ("SELECT 'what?', \"odd?name\" WHERE a = ?", "SELECT 'what?', \"odd?name\" WHERE a = %s"),
        (
            "SELECT 'it''s?' WHERE a LIKE 'x%' AND b = ?",
            "SELECT 'it''s?' WHERE a LIKE 'x%%' AND b = %s",
        ),
        ("SELECT ?", "SELECT %s"),
    ],
)
def test_placeholders_become_psycopg_ones(portable, psycopg):
    assert _pg_sql(portable) == psycopg


def test_literal_percent_and_question_marks_reach_the_server(pg_url):
    with Store(pg_url) as store:
        row = store.sql.row("SELECT '100%' AS p, 'why?' AS q, ? AS x", ["a?%b"])
    assert row == {"p": "100%", "q": "why?", "x": "a?%b"}


@pytest.mark.parametrize(
    ("target", "shown"),
    [
        ("data/citecache.db", "data/citecache.db"),
        ("postgresql://ann@db.example/cache", "postgresql://ann@db.example/cache"),
        ("postgresql://ann:s3cret@db.example:5432/cache", "postgresql://ann:***@db.example:5432/cache"),
        ("postgres://ann:p%40ss@db/cache?sslmode=require", "postgres://ann:***@db/cache?sslmode=require"),
        ("postgresql:///cache?user=ann&password=s3cret", "postgresql:///cache?user=ann&password=***"),
    ],
)  # fmt: skip
def test_messages_never_show_a_password(target, shown):
    assert redact(target) == shown


def test_only_postgresql_urls_select_postgresql():
    assert is_postgres("postgresql://x/y") and is_postgres("postgres://x/y")
    assert not is_postgres("data/postgresql.db") and not is_postgres("sqlite:///x.db")


def test_migrations_build_the_schema_from_nothing(pg_server):
    url = pg_server.create_database()  # template0: not even the migrations table
    try:
        assert not has_schema(url)
        with Store(url) as store:
            assert pg_migrations.applied(store.sql.conn) == [
                m.__name__ for m in pg_migrations.MIGRATIONS
            ]
            tables = {
                r["table_name"]
                for r in store.sql.rows(
                    "SELECT table_name FROM information_schema.tables "
                    "WHERE table_schema = current_schema()"
                )
            }
            assert {"resources", "snapshots", "fetch_log", "resource_search"} <= tables
            assert store.publications()  # the bundled venues
        assert has_schema(url)
        with Store(url) as store:  # again: nothing left to apply
            assert pg_migrations.apply(store.sql.conn) == []
    finally:
        pg_server.drop_database(url)


def test_the_schema_has_sqlite_columns(pg_url, tmp_path):
    with Store(pg_url) as pg, Store(tmp_path / "c.db") as lite:
        for table in ("resources", "snapshots", "fetch_log", "pages", "citations",
                      "publications", "refetch_requests", "aliases"):  # fmt: skip
            pg_columns = list(pg.sql.row(f"SELECT * FROM {table} LIMIT 0") or {}) or [
                r["column_name"]
                for r in pg.sql.rows(
                    "SELECT column_name FROM information_schema.columns "
                    "WHERE table_name = ? ORDER BY ordinal_position",
                    [table],
                )
            ]
            sqlite_columns = [r["name"] for r in lite.sql.rows(f"PRAGMA table_info({table})")]
            extra = ["seq"] if table == "resources" else []  # SQLite's rowid
            assert sorted(pg_columns) == sorted(sqlite_columns + extra), table


def test_a_text_over_the_tsvector_limit_is_indexed_from_its_start(pg_url):
    # A tsvector holds at most 1 MB; a text with that many distinct words must still be
    # stored (and its start found), not fail the whole write.
    rng = random.Random(3)
    words = ["".join(rng.choices(string.ascii_lowercase, k=9)) for _ in range(150_000)]
    with Store(pg_url) as store:
        res = store.register("https://example.com/huge").resource
        result = FetchResult(
            resource_id=res["id"],
            url=res["url"],
            started_at="2026-01-01T00:00:00Z",
            outcome="ok",
            http_status=200,
            text=" ".join(words),
        )
        assert store.record_results([result]) == ["ok"]
        assert [h["id"] for h in store.search(words[5])] == [res["id"]]


def test_commands_say_what_is_wrong_with_a_url_without_its_password(pg_server):
    runner = CliRunner()
    empty = pg_server.create_database()
    try:
        shown = runner.invoke(cli, ["--db", empty, "show", "x"])
        assert shown.exit_code != 0
        assert f"no database at {empty}" in shown.output
    finally:
        pg_server.drop_database(empty)
    nowhere = "postgresql://ann:s3cret@127.0.0.1:1/cache"
    for args in (["show", "x"], ["add", "https://example.com/a"]):
        failed = runner.invoke(cli, ["--db", nowhere, *args])
        assert failed.exit_code != 0
        assert "cannot open database postgresql://ann:***@127.0.0.1:1/cache" in failed.output
        assert "s3cret" not in failed.output


def test_a_released_advisory_lock_is_free_at_once(pg_url):
    # Closing the lock's connection alone frees it only once the server's backend has
    # ended, after close() returns: a check right then saw it held 15 times in 300.
    with connect(pg_url) as watcher:
        for _ in range(60):
            lock = AdvisoryLock(pg_url, "run:test")
            assert lock.try_acquire()
            lock.release()
            held = watcher.execute(_pg_sql(_HELD_SQL), [lock.key]).fetchone()
            assert not held["held"]
            watcher.rollback()
