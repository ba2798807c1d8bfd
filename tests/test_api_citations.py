"""The wiki's citation-content API (api/routes_citations.py) in-process: each endpoint,
each error and each limit, on both backends where the store is involved."""

from __future__ import annotations

import hashlib
import re

import pytest
from sqlite_utils import Database

from api import create_app
from storage import FetchResult, Store
from storage.content import ENTRIES_SQL
from storage.migrations import migrations
from storage.previews import utf16_length

from .test_api import TOKEN, Client, assert_error, auth

BASE = "/api/citations/content"
URL = "https://example.org/essay"
TEXT = " ".join(f"Paragraph {i} of an essay about interpretability." for i in range(200))
JS_TIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
EMOJI = "\U0001f600"  # one character, two UTF-16 code units


def upsert(client: Client, **body):
    return client.post(BASE + "/upsert", json=body, headers=auth())


def good(**extra) -> dict:
    return {"url": URL, "fetchedAt": "2026-01-17T09:22:15.000Z", "fullText": TEXT, **extra}


@pytest.fixture
def client(db) -> Client:
    return Client(create_app(db, api_token=TOKEN, start_worker=False))


@pytest.fixture
def sqlite_client(db_path) -> Client:
    return Client(create_app(db_path, api_token=TOKEN, start_worker=False))


def test_round_trip_upsert_get_list_stats(client):
    response = upsert(client, **good(fetchMethod="firecrawl", httpStatus=200, pageTitle="Essay"))
    assert response.status_code == 200 and response.json() == {"url": URL}
    body = client.get(BASE, params={"url": URL}).json()
    assert len(body) == 13
    assert body["fullText"] == TEXT and body["fullTextPreview"] == TEXT
    assert body["fetchMethod"] == "firecrawl" and body["pageTitle"] == "Essay"
    assert body["fetchedAt"] == "2026-01-17T09:22:15.000Z"
    assert body["contentHash"] and body["contentLength"] == len(TEXT)
    assert all(JS_TIME.match(body[k]) for k in ("fetchedAt", "createdAt", "updatedAt"))
    listing = client.get(BASE + "/list").json()
    assert (listing["total"], listing["withFullText"], listing["withPreview"]) == (1, 1, 1)
    (entry,) = listing["entries"]
    assert entry["url"] == URL and entry["hasFullText"] and entry["hasPreview"]
    assert entry["contentLength"] == len(TEXT) and entry["contentHash"] == body["contentHash"]
    assert "fullText" not in entry and "fullTextPreview" not in entry
    stats = client.get(BASE + "/stats").json()
    assert stats == {
        "total": 1,
        "withFullText": 1,
        "withPreview": 1,
        "coverage": 100,
        "okCount": 1,
        "deadCount": 0,
        "avgContentLength": len(TEXT),
    }


def test_upserts_become_snapshots_in_the_history(client, db):
    assert (
        upsert(client, **good(fetchMethod="firecrawl", resourceId="wiki-essay")).status_code == 200
    )
    same = good(fetchedAt="2026-01-20T00:00:00Z", fetchMethod="built-in")
    assert upsert(client, **same).status_code == 200
    changed = good(fetchedAt="2026-02-01T00:00:00Z", fullText=TEXT + " A new ending.")
    assert upsert(client, **changed).status_code == 200
    with Store(db, readonly=True) as store:
        resource = store.resolve(URL)
        assert resource["id"] == "wiki-essay"  # the wiki's id, free here
        history = store.snapshots(resource["id"])
    assert [s["fetched_at"] for s in history] == ["2026-02-01T00:00:00Z", "2026-01-17T09:22:15Z"]
    assert history[1]["last_seen_at"] == "2026-01-20T00:00:00Z"  # same text: seen again
    assert history[1]["fetch_method"] == "firecrawl" and history[0]["fetch_method"] == "upsert"


def test_an_upserted_failure_keeps_the_good_copy(client, db):
    upsert(client, **good(httpStatus=200))
    failed = {"url": URL, "fetchedAt": "2026-02-01T00:00:00Z", "httpStatus": 404}
    assert upsert(client, **failed).status_code == 200
    body = client.get(BASE, params={"url": URL}).json()
    assert body["fullText"] == TEXT and body["httpStatus"] == 200
    (entry,) = client.get(BASE + "/list").json()["entries"]
    assert entry["httpStatus"] == 404 and entry["hasFullText"]
    assert entry["fetchedAt"] == "2026-02-01T00:00:00.000Z"
    stats = client.get(BASE + "/stats").json()
    assert (stats["okCount"], stats["deadCount"], stats["withFullText"]) == (0, 1, 1)
    with Store(db, readonly=True) as store:
        resource = store.resolve(URL)
        assert resource["fetch_status"] == "error"
        assert [r["outcome"] for r in store.fetch_log(resource["id"])] == ["http_error", "ok"]


def test_only_a_preview_or_nothing(client):
    preview_only = {"url": URL, "fetchedAt": "2026-01-17T09:22:15Z", "fullTextPreview": "Short."}
    assert upsert(client, **preview_only).status_code == 200
    body = client.get(BASE, params={"url": URL}).json()
    assert body["fullTextPreview"] == "Short."
    bare = {"url": "https://example.org/none", "fetchedAt": "2026-01-17T09:22:15Z"}
    assert upsert(client, **bare).status_code == 200
    body = client.get(BASE, params={"url": bare["url"]}).json()
    assert body["fullText"] is None and body["fetchedAt"] == "2026-01-17T09:22:15.000Z"
    assert client.get(BASE + "/stats").json()["coverage"] == 50


def test_a_sent_preview_is_kept_and_one_is_derived_from_emoji_text(sqlite_client):
    sent = good(fullTextPreview="The sender's own preview.")
    upsert(sqlite_client, **sent)
    body = sqlite_client.get(BASE, params={"url": URL}).json()
    assert body["fullTextPreview"] == "The sender's own preview."
    emoji_text = (EMOJI * 9 + " ") * 6_000  # 114,000 UTF-16 code units
    upsert(sqlite_client, **good(url=URL + "/emoji", fullText=emoji_text))
    preview = sqlite_client.get(BASE, params={"url": URL + "/emoji"}).json()["fullTextPreview"]
    assert 51_200 - 20 <= utf16_length(preview) <= 51_200


def test_get_clamps_a_preview_stored_under_the_old_limit(db_path):
    text = (EMOJI * 4 + " ") * 11_000  # 99,000 code units; an emoji-heavy page
    with Store(db_path) as store:
        resource = store.register(URL).resource
        store.record_result(
            FetchResult(resource["id"], URL, "2026-03-01T10:00:00Z", "ok", text=text)
        )
        # As stored before: cut at 51,200 characters, which JavaScript counts 90,000+ long.
        store.sql.execute("UPDATE snapshots SET preview = ?", [text[:51_200]])
    client = Client(create_app(db_path, api_token=TOKEN, start_worker=False))
    preview = client.get(BASE, params={"url": URL}).json()["fullTextPreview"]
    assert utf16_length(preview) <= 51_200 and preview.startswith(EMOJI * 4)


def test_content_hash_is_checked(client, db):
    plain = hashlib.sha256(TEXT.encode()).hexdigest()
    assert upsert(client, **good(contentHash=plain)).status_code == 200
    response = upsert(client, **good(url=URL + "/2", contentHash="0" * 64))
    assert "contentHash" in assert_error(response, 400, "validation_error")["message"]
    with Store(db, readonly=True) as store:
        assert store.find_by_url(URL + "/2") is None  # nothing stored


def test_link_resources_counts_what_it_linked(client, db):
    upsert(client, **good())
    link = BASE + "/link-resources"
    assert client.post(link, headers=auth()).json() == {"linked": 0}
    with Store(db) as store:
        store.sql.execute("UPDATE resources SET current_snapshot_id = NULL")
    assert client.get(BASE, params={"url": URL}).json()["fullText"] is None
    assert client.post(link, headers=auth()).json() == {"linked": 1}
    assert client.get(BASE, params={"url": URL}).json()["fullText"] == TEXT
    assert_error(client.post(link), 401, "unauthorized")


def test_list_pages_newest_first(sqlite_client):
    for day in (3, 1, 2):
        upsert(sqlite_client, **good(url=f"{URL}/{day}", fetchedAt=f"2026-01-0{day}T00:00:00Z"))
    first = sqlite_client.get(BASE + "/list", params={"limit": 2}).json()
    assert [e["url"][-1] for e in first["entries"]] == ["3", "2"]
    assert (first["total"], first["limit"], first["offset"]) == (3, 2, 0)
    rest = sqlite_client.get(BASE + "/list", params={"limit": 2, "offset": 2}).json()
    assert [e["url"][-1] for e in rest["entries"]] == ["1"]


def test_list_pages_from_the_index_alone(db_path):
    """The page's ids come from a covering index: an OFFSET skips index entries, never
    rows or their snapshots (a page at offset 95,000 of 100,000 costs what the first does)."""
    with Store(db_path) as store:
        plan = store.db.execute("EXPLAIN QUERY PLAN " + ENTRIES_SQL, [5000, 95_000]).fetchall()
    details = " | ".join(row[-1] for row in plan)
    assert "COVERING INDEX resources_attempted" in details, details


@pytest.mark.parametrize(
    ("query", "ok"),
    [
        ({"limit": 5000}, True),
        ({"limit": 1}, True),
        ({"limit": 5001}, False),
        ({"limit": 0}, False),
        ({"limit": "ten"}, False),
        ({"offset": -1}, False),
        ({"offset": 2**63}, False),
        ({"offset": 10**6}, True),
    ],
)
def test_list_limits(sqlite_client, query, ok):
    response = sqlite_client.get(BASE + "/list", params=query)
    if ok:
        assert response.status_code == 200, response.text
    else:
        assert_error(response, 400, "validation_error")


BIG = 5 * 1024 * 1024


@pytest.mark.parametrize(
    ("change", "ok"),
    [
        ({"url": "https://example.org/" + "a" * (2000 - 20)}, True),  # 2,000 characters
        ({"url": "https://example.org/" + "a" * (2001 - 20)}, False),
        ({"url": ""}, False),
        ({"url": "ftp://example.org/file"}, False),
        ({"fullTextPreview": EMOJI * 25_600}, True),  # 51,200 code units
        ({"fullTextPreview": EMOJI * 25_600 + "a"}, False),
        ({"fullTextPreview": "a" * 51_201}, False),
        ({"fullText": "a" * BIG}, True),
        ({"fullText": "a" * (BIG - 1) + EMOJI}, False),  # 5 MiB + 1 code unit
        ({"contentType": "t" * 200}, True),
        ({"contentType": "t" * 201}, False),
        ({"pageTitle": "t" * 1001}, False),
        ({"contentHash": "0" * 65}, False),
        ({"fetchMethod": "m" * 51}, False),
        ({"fetchedAt": "yesterday"}, False),
        ({"fetchedAt": "1700000000"}, False),
        ({"fetchedAt": 1700000000}, False),
        ({"fetchedAt": "2099-01-01T00:00:00Z"}, False),
        ({"fetchedAt": "2026-01-17T09:22:15+02:00"}, True),
        ({"httpStatus": "200"}, False),
        ({"httpStatus": 200.5}, False),
        ({"httpStatus": None, "pageTitle": None, "fetchMethod": None}, True),
        ({"pageTitle": 12}, False),
        ({"unknownField": 1}, True),  # ignored, as the wiki's schema strips it
    ],
)
def test_upsert_limits(sqlite_client, change, ok):
    response = upsert(sqlite_client, **good(**change))
    if ok:
        assert response.status_code == 200, response.text[:300]
    else:
        assert_error(response, 400, "validation_error")


def test_upsert_bodies_that_are_not_a_content_row(sqlite_client):
    post = sqlite_client.post
    headers = {**auth(), "Content-Type": "application/json"}
    assert_error(post(BASE + "/upsert", content=b"{not json", headers=headers), 400, "invalid_json")
    for body in (b"[]", b'"text"', b"{}", b'{"url": "https://example.org/"}'):
        assert_error(post(BASE + "/upsert", content=body, headers=headers), 400, "validation_error")
    assert_error(sqlite_client.post(BASE + "/upsert", json=good()), 401, "unauthorized")
    assert_error(
        sqlite_client.post(BASE + "/upsert", json=good(), headers=auth("wrong")),
        401,
        "unauthorized",
    )


def test_the_wiki_key_on_every_call(db_path):
    client = Client(
        create_app(db_path, api_token=TOKEN, read_token_required=True, start_worker=False)
    )
    upsert(client, **good())
    for path in (BASE + "/list", BASE + "/stats", f"{BASE}?url={URL}"):
        assert_error(client.get(path), 401, "unauthorized")
        assert_error(client.get(path, headers=auth("wrong")), 401, "unauthorized")
        # RFC 7235: the scheme is case-insensitive
        assert client.get(path, headers={"Authorization": f"bearer {TOKEN}"}).status_code == 200


def test_m010_backfills_the_length_of_the_current_copy(db_path):
    """A cache from before m010: its sources list with their lengths once migrated."""
    db = Database(db_path)
    migrations.apply(db, stop_before="m010_content_listing")
    now = "2026-01-01T00:00:00Z"
    db["resources"].insert(
        {
            "id": "r1",
            "stable_id": "AAAAAAAAAA",
            "url": URL,
            "url_key": URL,
            "registered_at": now,
            "updated_at": now,
            "last_attempt_at": now,
            "current_snapshot_id": 7,
        }
    )
    db["snapshots"].insert(
        {
            "id": 7,
            "resource_id": "r1",
            "content_hash": "h",
            "fetched_at": now,
            "last_seen_at": now,
            "full_text": TEXT,
            "content_length": len(TEXT),
            "preview": TEXT,
        }
    )
    db.close()
    with Store(db_path) as store:
        (entry,) = store.content_entries(limit=10)
    assert entry["content_length"] == len(TEXT) and entry["has_text"]
