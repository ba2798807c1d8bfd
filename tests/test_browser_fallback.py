"""The browser fallback, through real crawls of the CLI: a page whose text only its
scripts bring is rendered in Debian's Chromium (scrapy-playwright), its text stored with
fetch_method "browser"; and nothing the rendered page's scripts ask for reaches an
address the crawl may not fetch.

How the address test tells the forbidden target apart on one machine: the crawl runs
with --allow-private (its page is on 127.0.0.1), under which a rendered page may reach
private addresses on its own origin only. A second server on another port of 127.0.0.1
stands for the intranet: the page's script tries it by fetch(), an iframe, a WebSocket
and a same-origin URL that redirects there, and the second server must see no request.
The page's own origin serves the article's text to the script (fetch), so the test
also shows that the script ran and its allowed requests went through.
"""

from __future__ import annotations

import asyncio
import gzip
import json
import subprocess
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest

from storage import Store
from storage.urlsafety import UnsafeURL
from tests.test_crawl import ROOT, citecache, crawl
from tests.test_hostile import REBINDING_CRAWL
from tests.test_worker import START_TIMEOUT, Worker

CHROMIUM = "/usr/bin/chromium"
ARTICLE = [
    f"Rendered paragraph {i}: the text arrives only once the script runs." for i in range(12)
]

pytestmark = pytest.mark.slow
needs_chromium = pytest.mark.skipif(
    not Path(CHROMIUM).exists(), reason=f"{CHROMIUM} missing: apt-get install chromium"
)

SHELL = b"""<!doctype html><html><head><title>An app</title></head><body>
<noscript>You need to enable JavaScript to run this app.</noscript>
<div id="root"></div><script src="/app.js"></script></body></html>"""

APP_JS = """
const intranet = "http://127.0.0.1:%(intranet)d";
fetch(intranet + "/by-fetch").catch(() => {});
fetch("/redirect-out").catch(() => {});
try { new WebSocket("ws://127.0.0.1:%(intranet)d/by-websocket"); } catch (e) {}
const frame = document.createElement("iframe");
frame.src = intranet + "/by-iframe";
document.body.appendChild(frame);
fetch("/api/article").then(r => r.json()).then(data => {
  const article = document.createElement("article");
  const paragraphs = data.paragraphs.map(p => "<p>" + p + "</p>").join("");
  article.innerHTML = "<h1>" + data.title + "</h1>" + paragraphs;
  document.getElementById("root").appendChild(article);
});
"""


class Recorder(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, routes):
        self.routes = routes
        self.paths: list[str] = []
        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.server_port}"


class Handler(BaseHTTPRequestHandler):
    server: Recorder

    def log_message(self, *args):
        pass

    def do_GET(self):
        self.server.paths.append(self.path)
        route = self.server.routes(self.path)
        if route is None:
            self.send_response(404)
            self.end_headers()
            return
        status, headers, body = route
        self.send_response(status)
        for name, value in headers.items():
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)


@pytest.fixture
def servers():
    intranet = Recorder(lambda path: (200, {"Content-Type": "text/plain"}, b"secret"))

    def site_routes(path):
        if path == "/app":
            return 200, {"Content-Type": "text/html"}, SHELL
        if path == "/app.js":
            js = APP_JS % {"intranet": intranet.server_port}
            return 200, {"Content-Type": "application/javascript"}, js.encode()
        if path == "/api/article":
            data = {"title": "A script-only article", "paragraphs": ARTICLE}
            return 200, {"Content-Type": "application/json"}, json.dumps(data).encode()
        if path == "/redirect-out":
            return 302, {"Location": f"{intranet.base}/by-redirect"}, b""
        return None

    site = Recorder(site_routes)
    yield site, intranet
    for server in (site, intranet):
        server.shutdown()
        server.server_close()


@needs_chromium
def test_script_only_page_is_rendered_and_cannot_reach_the_intranet(servers, tmp_path):
    site, intranet = servers
    db = tmp_path / "cache.db"
    citecache(db, "--allow-private", "add", f"{site.base}/app")
    summary = crawl(db, "--all")
    assert summary["byStatus"] == {"ok": 1}
    with Store(db) as store:
        row = store.sql.row(
            "SELECT s.full_text, s.fetch_method FROM snapshots s "
            "JOIN resources r ON r.current_snapshot_id = s.id"
        )
    assert row["fetch_method"] == "browser"
    assert ARTICLE[0] in row["full_text"] and ARTICLE[-1] in row["full_text"]
    assert "/api/article" in site.paths  # the script ran, its own origin answered
    assert "/redirect-out" in site.paths  # asked, and its redirect refused
    assert intranet.paths == []


# The script asks for a name that resolves public when the crawl checks it and to
# 127.0.0.1 at every later look-up (tests/test_hostile.py's stand-in name server), then,
# that request over, for the article. The name is "localhost": the stand-in answers in
# the crawl's process only, and a fetch that resolved the name again outside it (as
# Playwright's own did) must find 127.0.0.1 there too for the test to catch it.
REBINDING_JS = """
fetch("http://localhost:%(intranet)d/by-rebinding").catch(() => {}).finally(() =>
  fetch("/api/article").then(r => r.json()).then(data => {
    const paragraphs = data.paragraphs.map(p => "<p>" + p + "</p>").join("");
    document.getElementById("root").innerHTML =
      "<article><h1>" + data.title + "</h1>" + paragraphs + "</article>";
  }));
"""


@needs_chromium
def test_a_name_that_turns_private_after_the_check_is_not_fetched_by_the_page(servers, tmp_path):
    site, intranet = servers
    site_routes = site.routes
    js = (REBINDING_JS % {"intranet": intranet.server_port}).encode()
    site.routes = lambda path: (
        (200, {"Content-Type": "application/javascript"}, js)
        if path == "/app.js"
        else site_routes(path)
    )
    db = tmp_path / "cache.db"
    citecache(db, "--allow-private", "add", f"{site.base}/app")
    done = subprocess.run(
        [sys.executable, "-c", REBINDING_CRAWL, "localhost", "--db", str(db)]
        + ["crawl", "--allow-private", "--json", "--all"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["byStatus"] == {"ok": 1}
    with Store(db) as store:
        row = store.sql.row(
            "SELECT s.full_text, s.fetch_method FROM snapshots s "
            "JOIN resources r ON r.current_snapshot_id = s.id"
        )
    assert row["fetch_method"] == "browser"
    assert ARTICLE[-1] in row["full_text"]  # the script ran, past the refused request
    assert intranet.paths == []
    assert "refused localhost: resolves to non-public address 127.0.0.1" in done.stderr


BOUNDED_JS = """
const write = extra => fetch("/api/article").then(r => r.json()).then(data => {
  const paragraphs = data.paragraphs.map(p => "<p>" + p + "</p>").join("");
  document.getElementById("root").innerHTML =
    "<article><h1>" + data.title + "</h1>" + paragraphs + extra + "</article>";
});
fetch("/big").then(r => r.text()).then(t => write("<p>The big body arrived.</p>"),
                                       () => write(""));
"""


@needs_chromium
def test_a_rendered_pages_requests_are_decoded_and_bounded_by_the_maxsize(servers, tmp_path):
    """The page's fetches come back decoded (gzip), their bodies counted decoded: a small
    compressed body that inflates past DOWNLOAD_MAXSIZE is not handed to the page."""
    site, _intranet = servers
    site_routes = site.routes
    gzip_json = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    article = {"title": "A script-only article", "paragraphs": ARTICLE}
    pages = {
        "/app.js": ({"Content-Type": "application/javascript"}, BOUNDED_JS.encode()),
        "/api/article": (gzip_json, gzip.compress(json.dumps(article).encode())),
        "/big": ({"Content-Type": "text/plain", "Content-Encoding": "gzip"},
                 gzip.compress(b"x" * 400_000)),
    }  # fmt: skip
    site.routes = lambda path: (200, *pages[path]) if path in pages else site_routes(path)
    db = tmp_path / "cache.db"
    citecache(db, "--allow-private", "add", f"{site.base}/app")
    assert crawl(db, "--all", "-s", "DOWNLOAD_MAXSIZE=100000")["byStatus"] == {"ok": 1}
    with Store(db) as store:
        text = store.sql.scalar(
            "SELECT s.full_text FROM snapshots s JOIN resources r ON r.current_snapshot_id = s.id"
        )
    assert ARTICLE[-1] in text
    assert "/big" in site.paths and "The big body arrived" not in text


LONG_ARTICLE = (
    "<html><head><title>A long article</title></head><body><article><h1>A long article</h1>"
    + "".join(
        f"<p>Paragraph {i}: what the source said, at length and in full.</p>" for i in range(60)
    )
    + "</article></body></html>"
).encode()


def test_a_shell_does_not_replace_a_long_good_copy(tmp_path):
    """Issue 14, item 5: the second crawl meets an app shell and has no browser to
    render it (Chromium missing): it says so once and goes on; the fetch is logged, the
    article stays the copy."""
    served = {"page": LONG_ARTICLE}
    site = Recorder(
        lambda path: (200, {"Content-Type": "text/html"}, served["page"]) if path == "/a" else None
    )
    try:
        db = tmp_path / "cache.db"
        citecache(db, "--allow-private", "add", f"{site.base}/a")
        assert crawl(db, "--all", "-s", "CITECACHE_BROWSER_ENABLED=false")["byStatus"] == {"ok": 1}
        served["page"] = SHELL
        done = citecache(
            db, "crawl", "--allow-private", "--json", "--all",
            "-s", "CITECACHE_BROWSER_PATH=/nonexistent/chromium",
        )  # fmt: skip
        summary = json.loads(done.stdout)
    finally:
        site.shutdown()
        site.server_close()
    assert summary["byStatus"] == {"blocked": 1}
    with Store(db) as store:
        kept = store.sql.row(
            "SELECT s.title, s.fetch_method, r.fetch_status, r.status_reason FROM resources r "
            "JOIN snapshots s ON s.id = r.current_snapshot_id"
        )
        log = store.sql.rows("SELECT outcome, http_status, error FROM fetch_log ORDER BY id")
        snapshots = store.sql.scalar("SELECT count(*) FROM snapshots")
    assert kept["title"] == "A long article" and snapshots == 1
    assert kept["fetch_status"] == "blocked" and "app shell" in kept["status_reason"]
    assert [(r["outcome"], r["http_status"]) for r in log] == [("ok", 200), ("blocked", 200)]
    assert "JavaScript notice" in log[1]["error"]
    assert done.stderr.count("browser fallback unavailable: no browser at /nonexistent") == 1


@pytest.mark.parametrize(
    ("allow_private", "url", "allowed"),
    [
        (False, "http://127.0.0.1:8000/app.js", False),  # the page's own, yet private
        (False, "http://169.254.169.254/latest/meta-data/", False),
        (False, "http://[::ffff:10.0.0.1]/", False),
        (False, "file:///etc/passwd", False),
        (False, "data:text/plain,hello", True),
        (True, "http://127.0.0.1:8000/api", True),  # its own origin, allowed private
        (True, "http://127.0.0.1:8001/api", False),  # another port: another origin
        (True, "http://localhost:8000/api", False),
        (True, "http://10.1.2.3:8000/", False),
    ],
)
def test_address_guard(allow_private, url, allowed):
    from crawler.browser_handler import AddressGuard

    guard = AddressGuard("http://127.0.0.1:8000/app", allow_private=allow_private)
    assert asyncio.run(guard.allows(url)) is allowed


def test_the_fetchs_resolver_hands_over_only_checked_addresses():
    from crawler.browser_handler import CheckedResolver

    with pytest.raises(UnsafeURL, match="non-public address 127.0.0.1"):
        asyncio.run(CheckedResolver(allow_private=False).resolve("localhost", 80))
    found = asyncio.run(CheckedResolver(allow_private=True).resolve("localhost", 80))
    assert {(r["host"], r["port"]) for r in found} >= {("127.0.0.1", 80)}


TEASER = (
    "<html><head><title>A teaser</title></head><body><article><h1>A teaser</h1>"
    + "".join(
        f"<p>Teaser sentence {i} that a plain fetch finds in the HTML.</p>" for i in range(14)
    )
    + "</article><script src='/full.js'></script></body></html>"
).encode()
FULL_JS = b"""document.querySelector("article").innerHTML = "<h1>A teaser</h1>" +
  Array.from({length: 20}, (_, i) => "<p>Full paragraph " + i + " that only the script writes.</p>")
  .join("");"""


@needs_chromium
def test_a_marked_source_is_rendered_by_the_worker(tmp_path):
    """A page with text of its own is no shell, but an operator's mark (`citecache
    browser`) has it rendered, here by the long-running worker."""
    pages = {"/t": (TEASER, "text/html"), "/full.js": (FULL_JS, "application/javascript")}
    site = Recorder(
        lambda path: (
            (200, {"Content-Type": pages[path][1]}, pages[path][0]) if path in pages else None
        )
    )
    db = tmp_path / "cache.db"
    citecache(db, "--allow-private", "add", f"{site.base}/t")
    marked = citecache(db, "browser", f"{site.base}/t").stdout
    assert "\tbrowser\t" in marked
    worker = Worker(db)
    try:
        deadline = time.monotonic() + START_TIMEOUT
        row = None
        while row is None and time.monotonic() < deadline:
            time.sleep(0.5)
            with Store(db) as store:
                row = store.sql.row(
                    "SELECT s.full_text, s.fetch_method FROM snapshots s "
                    "JOIN resources r ON r.current_snapshot_id = s.id"
                )
        code, _summary, err = worker.stop()
    finally:
        worker.kill()
        site.shutdown()
        site.server_close()
    assert row is not None, err
    assert row["fetch_method"] == "browser"
    assert "Full paragraph 19 that only the script writes." in row["full_text"]
    assert code == 0


def test_a_registry_marks_sources_for_the_browser(tmp_path):
    """The mark can come with the registry: `needsBrowser` in a YAML or CSV file."""
    yaml_file = tmp_path / "registry.yaml"
    yaml_file.write_text(
        "- url: https://app.example.org/a\n  needsBrowser: true\n"
        "- url: https://app.example.org/b\n  needsBrowser: maybe\n"
    )
    csv_file = tmp_path / "registry.csv"
    csv_file.write_text("url,needsBrowser\nhttps://app.example.org/a,false\n")
    db = tmp_path / "cache.db"
    done = citecache(db, "import", str(yaml_file), check=False)
    assert done.returncode == 1 and "needs_browser must be true or false" in done.stderr
    with Store(db) as store:
        assert store.get("https://app.example.org/a")["needs_browser"] == 1
        assert store.tasks(mode="all")[0].needs_browser is True
    citecache(db, "import", str(csv_file))
    with Store(db) as store:
        assert store.get("https://app.example.org/a")["needs_browser"] == 0
