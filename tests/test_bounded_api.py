"""The service under hostile requests (issue 14): writes are refused before their body
is read, bodies are bounded, huge numbers and deep JSON are 400s, HEAD answers, and the
pages carry a Content-Security-Policy."""

from __future__ import annotations

import json
import re
import sqlite3
import subprocess
from subprocess import PIPE

import httpx
import pytest

from api import create_app
from api.bodyguard import MAX_BODY_BYTES, UPSERT_MAX_BODY_BYTES, UPSERT_PATH
from api.citation_models import MAX_FULL_TEXT
from storage import Store

from .test_api import TOKEN, Client, Lines, auth, build_db, serve_command

CHUNK = 64 * 1024


@pytest.fixture
def app(db_path):
    ids = build_db(str(db_path))
    app = create_app(str(db_path), api_token=TOKEN, start_worker=False)
    app.state.test_ids = ids
    return app


def post_stream(app, path: str, total: int, headers: dict) -> tuple[httpx.Response, int]:
    """POST ``total`` bytes in chunks (no Content-Length unless given); the response and
    how many bytes the server read."""
    sent = 0

    async def body():
        nonlocal sent
        while sent < total:
            sent += CHUNK
            yield b"x" * CHUNK

    response = Client(app).post(path, content=body(), headers=headers)
    return response, sent


@pytest.mark.parametrize(
    ("path", "headers", "status"),
    [
        ("/api/resources", {}, 401),
        ("/api/resources", auth("wrong"), 401),
        ("/api/resources/x/refetch", {}, 401),
        ("/resources/x/refetch", {}, 403),  # a form without its CSRF cookie
    ],
)
def test_a_write_without_credentials_is_refused_before_its_body_is_read(app, path, headers, status):
    response, read = post_stream(app, path, 1024**3, headers)  # "1 GB"
    assert response.status_code == status, response.text
    assert read <= CHUNK  # at most what the transport buffers ahead; 1 GB before


def test_every_request_body_is_capped(app):
    response, read = post_stream(app, "/api/resources", 1024**3, auth())
    assert response.status_code == 413
    assert response.json() == {"error": "too_large", "message": "the request body is over 1024 KB"}
    assert read <= MAX_BODY_BYTES + 2 * CHUNK
    declared = Client(app).post(
        "/api/resources", content=b"{}", headers={**auth(), "Content-Length": str(1024**3)}
    )
    assert declared.status_code == 413
    # a body under the cap goes through
    ok = Client(app).post(
        "/api/resources", json={"url": "https://new.example.com/"}, headers=auth()
    )
    assert ok.status_code == 201, ok.text


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [
        ("GET", f"/api/resources?offset={2**63}", None),
        ("GET", f"/api/refetch/{2**70}", None),
        (
            "POST",
            "/api/resources",
            '{"url": "https://n.example.com/", "credibilityOverride": 1e400}',
        ),
        ("POST", "/api/resources", "[" * 100_000 + "]" * 100_000),
        ("POST", "/api/resources", '{"resources": ' + "[" * 50_000 + "]" * 50_000 + "}"),
        ("POST", "/api/resources", '{"url": "https://n.example.com/' + "a" * 2100 + '"}'),
    ],
    ids=["offset", "refetch-id", "1e400", "deep-json", "deep-batch", "long-url"],
)
def test_hostile_values_are_400_not_500(app, method, path, body):
    headers = {**auth(), "Content-Type": "application/json"}
    response = Client(app).request(method, path, content=body, headers=headers)
    assert response.status_code == 400, response.text
    assert response.json()["error"] == "validation_error"


def test_head_answers_on_every_get_route(app):
    ids = app.state.test_ids
    ref = next(iter(ids.values()))
    paths = []
    for route in app.routes:
        if "GET" not in getattr(route, "methods", ()) or "{" in route.path.replace("{ref}", ""):
            continue
        paths.append(route.path.replace("{ref}", ref))
    paths += ["/api/refetch/1", "/api/resources/lookup?url=https://example.org/gone"]
    client = Client(app)
    for path in paths:
        get, head = client.get(path), client.request("HEAD", path)
        assert head.status_code == get.status_code, (path, head.status_code, get.status_code)
        assert head.content == b""
        assert head.headers.get("content-type") == get.headers.get("content-type"), path


def test_pages_carry_a_content_security_policy_and_refuse_frames(app):
    ref = next(iter(app.state.test_ids.values()))
    client = Client(app)
    for path in ["/", "/resources", f"/resources/{ref}", "/health", "/no-such-page"]:
        response = client.get(path, headers={"Accept": "text/html"}, follow_redirects=True)
        assert response.headers["content-type"].startswith("text/html"), path
        policy = response.headers.get("content-security-policy", "")
        assert "default-src 'none'" in policy and "frame-ancestors 'none'" in policy, path
        assert response.headers.get("x-frame-options") == "DENY", path
        assert ' style="' not in response.text, path  # no inline style for the policy to refuse
    assert "content-security-policy" not in client.get("/api/resources").headers


def test_an_oversized_form_is_refused_without_reading_it(app):
    # with its CSRF cookie but 1 GB of "reason": bounded like the API's bodies
    response, read = post_stream(
        app, "/resources/x/refetch", 1024**3, {"Cookie": "citecache_csrf=" + "a" * 32}
    )
    assert response.status_code == 413
    assert read <= MAX_BODY_BYTES + 2 * CHUNK


def test_a_write_meeting_a_busy_database_is_a_503_to_retry_not_a_500(app, db_path):
    # issue 14: under a crawl's writes, POST /api/resources answered 500 "database is
    # locked". Another writer now holds the database past the write's wait.
    app.state.settings.write_busy_timeout_ms = 100
    holder = sqlite3.connect(db_path, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    try:
        busy = Client(app).post(
            "/api/resources", json={"url": "https://b.example.com/"}, headers=auth()
        )
    finally:
        holder.execute("ROLLBACK")
        holder.close()
    assert busy.status_code == 503, busy.text
    assert busy.json()["error"] == "busy"
    assert busy.headers["retry-after"] == "5"
    again = Client(app).post(
        "/api/resources", json={"url": "https://b.example.com/"}, headers=auth()
    )
    assert again.status_code == 201


def test_serve_serves_the_database_given_before_the_command(tmp_path):
    # issue 14: `citecache --db X serve` served data/citecache.db; HEAD through uvicorn.
    with Store(str(tmp_path / "data" / "citecache.db")) as default:
        default.register("https://default.example.com/")
    with Store(str(tmp_path / "chosen.db")) as chosen:
        chosen.register("https://chosen.example.com/")
    command = serve_command(str(tmp_path / "chosen.db"), "--port", "0")
    with subprocess.Popen(command, cwd=tmp_path, stdout=PIPE, stderr=PIPE, text=True) as proc:
        stderr = Lines(proc.stderr)
        try:
            (announced,) = stderr.wait_for(lambda line: line.startswith("serving "))
            base = re.search(r"on (http://127\.0\.0\.1:\d+)$", announced).group(1)
            with httpx.Client(base_url=base, timeout=10) as http:
                listed = http.get("/api/resources")
                head = http.head("/api/resources")
        finally:
            proc.terminate()
            proc.wait(20)
    assert [item["url"] for item in listed.json()["items"]] == ["https://chosen.example.com/"]
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len(listed.content))


def test_the_venue_filter_uses_its_index(db_path):
    # issue 14: ?publication= / ?venue= took 3.1 s on 401k resources (a function per
    # row); resources.venue_id is a column with an index (m007).
    with Store(str(db_path)) as store:
        where, params = store.resource_filter(publication="nature")
        plan = store.sql.db.execute(
            f"EXPLAIN QUERY PLAN SELECT r.* FROM resources r WHERE {' AND '.join(where)} "
            f"ORDER BY r.rowid LIMIT 50",
            params,
        ).fetchall()
    assert "USING INDEX resources_venue" in " ".join(row[-1] for row in plan)


def test_the_wiki_upsert_may_carry_its_5_mib_of_text_escaped_and_no_more(app):
    # 5 MiB of code units, each escaped by JSON as \ud83d-style (6 bytes): 31.5 MB
    text = "\U0001f600" * (MAX_FULL_TEXT // 2)
    body = json.dumps({"url": "https://new.example.com/e", "fetchedAt": "2026-01-17T09:22:15Z"})
    big = body[:-1] + ', "fullText": ' + json.dumps(text) + "}"
    assert len(big) > 6 * MAX_FULL_TEXT
    response = Client(app).post(
        UPSERT_PATH, content=big, headers={**auth(), "Content-Type": "application/json"}
    )
    assert response.status_code == 200, response.text[:300]
    response, read = post_stream(app, UPSERT_PATH, 1024**3, auth())
    assert response.status_code == 413
    assert read <= UPSERT_MAX_BODY_BYTES + 2 * CHUNK
