"""One quick check per mock server endpoint, so crawl tests can trust their fixture."""

from __future__ import annotations

import gzip
import http.client
import json
import socket
import time
from urllib.parse import urlsplit

import pytest

from tests.conftest import PAGES_DIR


def fetch(
    base: str,
    path: str,
    headers: dict[str, str] | None = None,
    method: str = "GET",
    timeout: float = 5,
    limit: int | None = None,
) -> tuple[int, http.client.HTTPMessage, bytes]:
    """One request without following redirects; reads at most ``limit`` body bytes."""
    parts = urlsplit(base)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    try:
        conn.request(method, path, headers=headers or {})
        resp = conn.getresponse()
        body = resp.read(limit) if limit else resp.read()
        return resp.status, resp.headers, body
    finally:
        conn.close()


@pytest.fixture(autouse=True)
def _reset(mockserver):
    fetch(mockserver.base, "/control/reset", method="POST")


def test_first_line_and_hosts(mockserver):
    assert mockserver.base.startswith("http://127.0.0.1:")
    assert mockserver.url("/x") == mockserver.base + "/x"
    status, _, body = fetch(mockserver.localhost_base, "/")
    assert status == 200 and b"Mock Site Home" in body


def test_saved_pages_served_with_validators(mockserver, saved_pages):
    assert 9 <= len(saved_pages) <= 13
    for page in saved_pages:
        path = f"/pages/{page['name']}.html"
        status, headers, body = fetch(mockserver.base, path)
        assert status == 200, path
        assert headers["Content-Type"].startswith("text/html")
        assert body == (PAGES_DIR / f"{page['name']}.html").read_bytes()
    etag, lastmod = headers["ETag"], headers["Last-Modified"]
    assert fetch(mockserver.base, path, {"If-None-Match": etag})[0] == 304
    assert fetch(mockserver.base, path, {"If-Modified-Since": lastmod})[0] == 304
    assert fetch(mockserver.base, "/pages/missing.html")[0] == 404


def test_mutable_versions_and_conditionals(mockserver):
    status, headers, body = fetch(mockserver.base, "/mutable/k")
    assert status == 200 and b"version 1 of the k article" in body
    assert headers["ETag"] == '"k-v1"'
    assert fetch(mockserver.base, "/mutable/k", {"If-None-Match": '"k-v1"'})[0] == 304
    ims = {"If-Modified-Since": headers["Last-Modified"]}
    assert fetch(mockserver.base, "/mutable/k", ims)[0] == 304

    assert fetch(mockserver.base, "/control/mutable/k?v=2", method="POST")[0] == 200
    status, headers, body = fetch(mockserver.base, "/mutable/k", {"If-None-Match": '"k-v1"'})
    assert status == 200 and b"version 2 of the k article" in body
    assert fetch(mockserver.base, "/mutable/k", ims)[0] == 200

    _, headers, _ = fetch(mockserver.base, "/mutable/k?validators=none")
    assert "ETag" not in headers and "Last-Modified" not in headers
    first = fetch(mockserver.base, "/mutable/k?noise=1")[2]
    assert first != fetch(mockserver.base, "/mutable/k?noise=1")[2]


def test_request_log(mockserver):
    fetch(mockserver.base, "/mutable/log", {"If-None-Match": '"x"'})
    log = json.loads(fetch(mockserver.base, "/requests?prefix=/mutable/")[2])
    assert [e["path"] for e in log] == ["/mutable/log"]
    assert log[0]["method"] == "GET" and log[0]["headers"]["If-None-Match"] == '"x"'
    fetch(mockserver.base, "/control/reset", method="POST")
    assert json.loads(fetch(mockserver.base, "/requests")[2]) == []


def test_robots_and_private(mockserver):
    status, _, body = fetch(mockserver.base, "/robots.txt")
    assert status == 200 and b"Disallow: /private/" in body
    assert fetch(mockserver.base, "/private/secret")[0] == 200


@pytest.mark.parametrize("code", [401, 402, 403, 404, 408, 410, 500])
def test_status(mockserver, code):
    assert fetch(mockserver.base, f"/status/{code}")[0] == code


def test_retry_after(mockserver):
    status, headers, _ = fetch(mockserver.base, "/status/429?retry_after=3")
    assert status == 429 and headers["Retry-After"] == "3"


def test_flaky_counts_per_key(mockserver):
    assert [fetch(mockserver.base, "/flaky/a")[0] for _ in range(3)] == [503, 503, 200]
    assert fetch(mockserver.base, "/flaky/b?n=1&status=429&retry_after=1")[1]["Retry-After"] == "1"
    assert fetch(mockserver.base, "/flaky/b?n=1&status=429")[0] == 200


def test_redirects(mockserver):
    status, headers, _ = fetch(mockserver.base, "/redirect/chain/2?code=301")
    assert status == 301
    hops = 0
    location = headers["Location"]
    while location.startswith("/redirect/"):
        status, headers, _ = fetch(mockserver.base, location)
        location = headers["Location"]
        hops += 1
    assert hops == 2 and location == "/article/redirect-target"
    assert fetch(mockserver.base, location)[0] == 200

    assert fetch(mockserver.base, "/redirect/loop/a")[1]["Location"] == "/redirect/loop/b"
    assert fetch(mockserver.base, "/redirect/loop/b")[1]["Location"] == "/redirect/loop/a"
    assert fetch(mockserver.base, "/redirect/home")[1]["Location"] == "/"
    status, headers, _ = fetch(mockserver.base, "/redirect/cross-host")
    assert status == 301 and headers["Location"] == mockserver.localhost_base + "/"
    back = fetch(mockserver.localhost_base, "/redirect/cross-host")[1]["Location"]
    assert back == mockserver.base + "/"
    assert fetch(mockserver.base, "/redirect/to?url=/x&code=307")[1]["Location"] == "/x"


def test_soft404_paywall_challenge(mockserver):
    status, _, body = fetch(mockserver.base, "/soft404/some/page")
    assert status == 200 and b"Page not found" in body
    status, _, body = fetch(mockserver.base, "/paywall")
    assert status == 200 and b"This post is for paid subscribers" in body
    assert b'class="available-content"' in body
    for code in (403, 503):
        status, headers, body = fetch(mockserver.base, f"/challenge/{code}")
        assert status == code and headers["Server"] == "cloudflare"
        assert b"Just a moment..." in body


def test_slow_times_out(mockserver):
    started = time.monotonic()
    with pytest.raises((socket.timeout, TimeoutError)):
        fetch(mockserver.base, "/slow?delay=2", timeout=0.3)
    assert time.monotonic() - started < 1.5
    assert fetch(mockserver.base, "/slow?delay=0.1")[0] == 200
    status, _, body = fetch(mockserver.base, "/slow?delay=0.2&when=body")
    assert status == 200 and body.endswith(b"</html>\n")


def test_big_body(mockserver):
    status, headers, body = fetch(mockserver.base, "/big?mb=2", limit=4096)
    assert status == 200 and int(headers["Content-Length"]) > 2_000_000 and len(body) == 4096
    status, headers, body = fetch(mockserver.base, "/big?mb=1&chunked=1")
    assert headers["Transfer-Encoding"] == "chunked" and 1_000_000 < len(body) < 1_100_000


def test_gzip_bomb(mockserver):
    status, headers, body = fetch(mockserver.base, "/gzip-bomb?mb=100", timeout=10)
    assert status == 200 and headers["Content-Encoding"] == "gzip"
    assert len(body) < 200_000
    inflated = gzip.GzipFile(fileobj=__import__("io").BytesIO(body)).read(101 << 20)
    assert len(inflated) > 100 << 20


def test_charsets(mockserver):
    text = "Caf\u00e9 cr\u00e8me \u2013 \u201csmart quotes\u201d"
    status, headers, body = fetch(mockserver.base, "/charset/cp1252-as-utf8")
    assert "utf-8" in headers["Content-Type"] and text.encode("cp1252") in body
    status, headers, body = fetch(mockserver.base, "/charset/utf8-as-cp1252")
    assert "windows-1252" in headers["Content-Type"] and text.encode("utf-8") in body
    status, headers, body = fetch(mockserver.base, "/charset/cp1252-undeclared")
    assert headers["Content-Type"] == "text/html" and b"charset" not in body


def test_files(mockserver):
    status, headers, body = fetch(mockserver.base, "/files/doc.pdf")
    assert headers["Content-Type"] == "application/pdf" and body.startswith(b"%PDF-")
    status, headers, body = fetch(mockserver.base, "/files/image.png")
    assert headers["Content-Type"] == "image/png" and body.startswith(b"\x89PNG")
    status, headers, body = fetch(mockserver.base, "/files/data.json")
    assert json.loads(body)["items"] == [1, 2, 3]
    assert fetch(mockserver.base, "/files/doc.pdf?as=text/html")[1]["Content-Type"] == "text/html"
