"""The Wayback Machine fallback (crawler/wayback.py), against a local stand-in of its API
(tests/waybackserver.py) and a small web of live, dying, dead and walled sources
(tests/smallweb.py): real crawls and workers through the CLI, real stores."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from scrapy.exceptions import NotConfigured
from scrapy.http import Request
from scrapy.utils.test import get_crawler

from api import create_app
from crawler.middlewares import SafeURLMiddleware
from crawler.resolver import SafeResolver
from crawler.wayback import (
    META,
    Capture,
    WaybackEndpoints,
    WaybackFallback,
    closest_capture,
    latest_good_capture,
    worth_asking,
)
from storage import FetchResult, Store
from storage.urlsafety import UnsafeURL

from .smallweb import CAPTURED_AT, FAILING, SmallWeb, archive_small_web
from .test_crawl import citecache
from .test_pages_html import get
from .waybackserver import WaybackServer

DELAY = 0.2  # between archive requests in these tests (1 s by default)


@pytest.fixture
def web() -> Iterator[SmallWeb]:
    server = SmallWeb(per_kind=2).start()
    yield server
    server.stop()


@pytest.fixture
def archive() -> Iterator[WaybackServer]:
    server = WaybackServer().start()
    yield server
    server.stop()


def crawl(db: Path, archive: WaybackServer, *settings: str) -> dict:
    wayback = ["-s", "CITECACHE_WAYBACK_ENABLED=1", "-s", f"CITECACHE_WAYBACK_URL={archive.base}"]
    wayback += ["-s", f"CITECACHE_WAYBACK_DELAY={DELAY}"]
    for setting in settings:
        wayback += ["-s", setting]
    done = citecache(db, "crawl", "--all", "--allow-private", "--json", *wayback)
    return json.loads(done.stdout)


def copies(db: Path) -> dict[str, dict]:
    """url -> the resource's state and where its current copy came from."""
    with Store(db) as store:
        rows = store._rows(
            "SELECT r.url, r.fetch_status, r.failure_count, s.fetch_method, s.archived_at, "
            "s.archive_url FROM resources r "
            "LEFT JOIN snapshots s ON s.id = r.current_snapshot_id"
        )
    return {row["url"]: row for row in rows}


def register(db: Path, urls: list[str]) -> None:
    with Store(db) as store:
        for url in urls:
            store.register(url)


def test_the_fallback_fills_dead_and_blocked_sources_with_dated_archived_copies(
    web, archive, db_path
):
    held = archive_small_web(web, archive)
    register(db_path, list(held))

    summary = crawl(db_path, archive)

    found = copies(db_path)
    for url in web.urls("live"):  # a live copy; the archive is not even asked
        assert found[url]["fetch_method"] == "scrapy"
        assert not archive.asked_about(url)
    for kind in FAILING:
        for url in web.urls(kind):
            row = found[url]
            if kind == "dying":  # alive in this first crawl
                assert row["fetch_method"] == "scrapy"
            elif held[url]:
                assert row["fetch_method"] == "wayback", (kind, row)
                assert row["archived_at"] == "2024-03-15T12:00:00Z"
                assert row["archive_url"] == f"{archive.base}/web/{CAPTURED_AT}/{url}"
            else:  # the archive holds nothing: no copy, and it was asked
                assert row["fetch_method"] is None and archive.asked_about(url)
    # The source's own health is the live fetch's, archived copy or not.
    assert {found[u]["fetch_status"] for u in web.urls("walled")} == {"blocked"}
    assert {found[u]["fetch_status"] for u in web.urls("robots")} == {"blocked_by_robots"}
    assert {found[u]["fetch_status"] for u in web.urls("soft404")} == {"soft_404"}
    assert {found[u]["failure_count"] for u in web.urls("dead")} == {1}
    assert summary["archivedCopies"] == 4
    assert summary["stored"] == summary["tasks"] == sum(summary["byStatus"].values())
    # One archive request at a time, DELAY apart when sent (their arrival here varies by
    # the time a connection takes: a few tens of ms).
    times = sorted(entry["time"] for entry in archive.log)
    assert min(b - a for a, b in zip(times, times[1:], strict=False)) >= DELAY * 0.6
    # The CLI shows where the copy came from.
    dead = web.urls("dead")[0]
    shown = json.loads(citecache(db_path, "show", dead, "--json").stdout)
    assert shown["provenance"] == {
        "source": "archive",
        "label": "archived copy from 2024-03-15",
        "archivedAt": "2024-03-15T12:00:00Z",
        "archiveUrl": f"{archive.base}/web/{CAPTURED_AT}/{dead}",
    }
    assert "The dead article 0 (archived)" in shown["fullTextPreview"]
    card = citecache(db_path, "show", dead, "--card").stdout
    assert "Cached Content Preview (archived copy from 2024-03-15: http://127.0.0.1" in card


def test_an_archived_copy_never_overrides_a_live_one_and_a_live_one_replaces_it(
    web, archive, db_path
):
    archive_small_web(web, archive)
    dying, walled = web.urls("dying")[0], web.urls("walled")[0]
    register(db_path, [dying, walled])
    save = ("CITECACHE_WAYBACK_SAVE=1", "CITECACHE_WAYBACK_ACCESS_KEY=key")
    crawl(db_path, archive, *save, "CITECACHE_WAYBACK_SECRET_KEY=secret")
    assert copies(db_path)[walled]["fetch_method"] == "wayback"
    # Save Page Now: the source fetched well for the first time, with the keys.
    saved = [e for e in archive.log if e["path"] == "/save"]
    assert [(e["query"]["url"], e["authorization"]) for e in saved] == [([dying], "LOW key:secret")]

    web.phase = 2  # dying/0 now answers 404; walled/0 lets us in
    crawl(db_path, archive, "CITECACHE_DEAD_AFTER=1", *save, "CITECACHE_WAYBACK_SECRET_KEY=secret")
    assert not archive.asked_about(dying)  # it has a live copy and is not dead yet
    crawl(db_path, archive, "CITECACHE_DEAD_AFTER=1")

    found = copies(db_path)
    assert len([e for e in archive.log if e["path"] == "/save"]) == 1  # saved once only
    assert found[dying]["fetch_status"] == "dead"
    assert archive.asked_about(dying)  # dead: asked, but its capture is older
    assert found[dying]["fetch_method"] == "scrapy"
    assert found[walled]["fetch_status"] in ("ok", "unchanged")
    assert found[walled]["fetch_method"] == "scrapy"  # the live copy won


def test_a_worker_with_leases_falls_back_too_and_rests_when_the_archive_asks(web, archive, db_path):
    archive.throttle_left = 1  # the first API request: 429, Retry-After: 1
    held = archive_small_web(web, archive)
    urls = web.urls("walled") + web.urls("dead")
    register(db_path, urls)

    citecache(
        db_path,
        "worker",
        "--leases",
        "--allow-private",
        "--max-runtime",
        "60s",
        "-s",
        "CITECACHE_WORKER_UNTIL_IDLE=1",
        "-s",
        "CITECACHE_WAYBACK_ENABLED=1",
        "-s",
        f"CITECACHE_WAYBACK_URL={archive.base}",
        "-s",
        f"CITECACHE_WAYBACK_DELAY={DELAY}",
    )

    found = copies(db_path)
    assert {u: found[u]["fetch_method"] == "wayback" for u in urls} == {u: held[u] for u in urls}
    times = sorted(entry["time"] for entry in archive.log)
    assert times[1] - times[0] >= 0.95  # nothing sent to the archive during the rest asked


def test_the_archive_base_may_be_local_without_opening_local_addresses_to_sources():
    base = "http://127.0.0.1:8999"
    settings = {"CITECACHE_WAYBACK_ENABLED": True, "CITECACHE_WAYBACK_URL": base}
    middleware = SafeURLMiddleware.from_crawler(get_crawler(settings_dict=settings))
    capture = Capture("20240315120000", "https://example.org/a")
    archived = Request(WaybackEndpoints(base).raw(capture), meta={META: None})

    async def check(request: Request) -> str:
        try:
            await middleware.process_request(request)
        except UnsafeURL:
            return "refused"
        return "allowed"

    import asyncio

    assert asyncio.run(check(archived)) == "allowed"
    assert asyncio.run(check(Request(archived.url))) == "refused"  # not the archive's
    assert asyncio.run(check(Request("http://127.0.0.1:9000/x", meta={META: None}))) == "refused"
    resolver = SafeResolver(None, trusted_hosts=frozenset({"127.0.0.1"}))
    assert resolver.checked_addresses("127.0.0.1")
    with pytest.raises(UnsafeURL):
        SafeResolver(None).checked_addresses("127.0.0.1")


def test_the_answers_of_the_archive_are_read_as_documented():
    closest = {
        "archived_snapshots": {
            "closest": {
                "available": True,
                "url": "http://web.archive.org/web/20130919044612/http://example.com/",
                "timestamp": "20130919044612",
                "status": "200",
            }
        }
    }
    found = closest_capture(json.dumps(closest).encode())
    assert found == Capture("20130919044612", "http://example.com/")
    assert found.archived_at == "2013-09-19T04:46:12Z"
    assert closest_capture(b'{"archived_snapshots": {}}') is None
    closest["archived_snapshots"]["closest"]["status"] = "404"
    assert closest_capture(json.dumps(closest).encode()) is None
    header = ["urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length"]
    rows = [header, ["k", "2019", "http://x/", "text/html", "200", "D", "1"]]
    rows.append(["k", "2021", "http://x/", "text/html", "200", "D", "1"])
    assert latest_good_capture(json.dumps(rows).encode()) == Capture("2021", "http://x/")
    assert latest_good_capture(b"[]") is None
    endpoints = WaybackEndpoints()
    assert (
        endpoints.raw(Capture("2021", "http://x/"))
        == "https://web.archive.org/web/2021id_/http://x/"
    )


@pytest.mark.parametrize(
    ("outcome", "status", "no_copy_or_dead", "asked"),
    [
        ("blocked", 403, False, True),
        ("http_error", 403, False, True),
        ("blocked_by_robots", None, False, True),
        ("soft_404", 200, False, True),
        ("http_error", 404, False, False),  # has a copy, not dead (yet)
        ("http_error", 404, True, True),
        ("timeout", None, True, True),
        ("ok", 200, True, False),
        ("unsafe_url", None, True, False),
        ("paywalled", 402, True, False),
    ],
)
def test_which_failures_ask_the_archive(outcome, status, no_copy_or_dead, asked):
    result = FetchResult("r", "https://x.org/a", "2026-01-01T00:00:00Z", outcome)
    result.http_status, result.archive_fallback = status, no_copy_or_dead
    assert worth_asking(result) is asked


def archived_result(resource_id: str, text: str, archived_at: str) -> FetchResult:
    return FetchResult(
        resource_id,
        "https://example.org/a",
        "2026-01-02T00:00:00Z",
        "ok",
        http_status=200,
        text=text,
        title="A",
        fetch_method="wayback",
        archived_at=archived_at,
        archive_url="https://web.archive.org/web/20240101000000/https://example.org/a",
    )


def test_the_store_takes_an_archived_copy_only_where_nothing_as_recent_is_live(db):
    with Store(db) as store:
        rid = store.register("https://example.org/a").resource["id"]
        failed = FetchResult(rid, "https://example.org/a", "2026-01-01T00:00:00Z", "blocked")
        failed.http_status = 403
        assert store.record_result(failed) == "blocked"
        before = store.resolve(rid)

        assert store.record_result(archived_result(rid, "Old text " * 50, "2024-01-01T00:00:00Z"))
        after = store.resolve(rid)
        assert store.current_snapshot(rid)["fetch_method"] == "wayback"
        for column in ("fetch_status", "failure_count", "next_fetch_at", "last_attempt_at"):
            assert after[column] == before[column]  # the source's health untouched
        assert len(store.fetch_log(rid)) == 1

        live = FetchResult(rid, "https://example.org/a", "2026-01-03T00:00:00Z", "ok")
        live.http_status, live.text, live.title = 200, "Old text " * 50, "A"
        assert store.record_result(live) == "ok"  # the first live copy, same text
        current = store.current_snapshot(rid)
        assert (current["fetch_method"], current["archived_at"]) == ("scrapy", None)

        older = archived_result(rid, "Other text " * 50, "2025-01-01T00:00:00Z")
        assert store.record_result(older) == "archive_not_used"  # the live copy is newer
        assert store.current_snapshot(rid)["fetch_method"] == "scrapy"


def test_the_resource_page_and_the_api_say_where_a_preview_came_from(tmp_path):
    path = tmp_path / "c.db"
    ids = {}
    with Store(path) as store:
        for method in ("scrapy", "wayback", "browser"):
            rid = store.register(f"https://example.org/{method}").resource["id"]
            ids[method] = rid
            result = archived_result(rid, f"The {method} text. " * 40, "2024-03-15T12:00:00Z")
            result.url = f"https://example.org/{method}"
            if method != "wayback":
                result.fetch_method, result.archived_at, result.archive_url = method, None, None
            store.record_result(result)
    app = create_app(path, api_token="t", start_worker=False)

    archived = get(app, f"/resources/{ids['wayback']}").text
    assert "Archived copy from <time" in archived and "15 Mar 2024" in archived
    archive_url = "https://web.archive.org/web/20240101000000/https://example.org/a"
    assert f'<a href="{archive_url}"' in archived
    assert "Rendered in a browser" in get(app, f"/resources/{ids['browser']}").text
    assert "Live copy, fetched from the source" in get(app, f"/resources/{ids['scrapy']}").text

    body = get(app, f"/api/resources/{ids['wayback']}").json()
    assert body["provenance"]["source"] == "archive"
    assert body["provenance"]["archivedAt"] == "2024-03-15T12:00:00Z"
    assert body["snapshot"]["archiveUrl"] == archive_url
    content = get(app, "/api/citations/content?url=https://example.org/wayback").json()
    assert content["fetchMethod"] == "wayback"  # the wiki's shape, pinned, as it was
    history = get(app, f"/api/resources/{ids['wayback']}/snapshots").json()
    assert history["items"][0]["archivedAt"] == "2024-03-15T12:00:00Z"
    labels = {m: get(app, f"/api/resources/{rid}").json()["provenance"] for m, rid in ids.items()}
    no_archive = {"archivedAt": None, "archiveUrl": None}
    assert labels["browser"] == {
        "source": "browser",
        "label": "rendered in a browser",
        **no_archive,
    }
    assert labels["scrapy"] == {"source": "live", "label": "live copy", **no_archive}


@pytest.mark.parametrize(
    ("settings", "on"),
    [
        ({"CITECACHE_WAYBACK_ENABLED": True}, True),
        ({"CITECACHE_WAYBACK_ENABLED": False}, False),  # switched off
        ({"CITECACHE_WAYBACK_ENABLED": True, "CITECACHE_MIRROR_URL": "http://m"}, False),  # offline
    ],
)
def test_the_fallback_can_be_switched_off_and_is_off_in_mirror_runs(settings, on):
    crawler = get_crawler(settings_dict=settings)
    if on:
        assert WaybackFallback.from_crawler(crawler).endpoints.availability_base == (
            "https://archive.org"
        )
    else:
        with pytest.raises(NotConfigured):
            WaybackFallback.from_crawler(crawler)
