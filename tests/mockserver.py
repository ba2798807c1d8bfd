"""Fault-injecting HTTP server for crawl tests: saved real pages plus misbehaving endpoints.

Run it as a subprocess (``python -m tests.mockserver`` or ``python tests/mockserver.py``).
It binds 127.0.0.1 on an ephemeral port and prints its base URL as the first line of
stdout. Standard library only, so it starts in a fraction of a second.

Every endpoint is deterministic; state (per-key counters, mutable page versions and the
request log) lives in memory and is cleared by ``POST /control/reset``.

Pages and validators
  GET /                          home page of the mock site (target of the home redirects)
  GET /pages/<name>.html         saved page from tests/pages/, text/html; sends ETag and
                                 Last-Modified and answers 304 to matching conditionals
  GET /article/<slug>            small generated article, no validators
  GET /mutable/<key>             article whose text depends on the key's version (default 1);
                                 ETag "<key>-v<N>", Last-Modified 2024-01-01 + N days, 304 on
                                 If-None-Match / If-Modified-Since.
                                 ?validators=both|etag|lastmod|none  which validators to send
                                 ?noise=1   markup (not text) changes on every request
  POST /control/mutable/<key>?v=N   set the version of /mutable/<key>; returns JSON
  GET /private/<anything>        an article; robots.txt disallows it

Faults
  GET /robots.txt                "User-agent: *" / "Disallow: /private/"
  GET /status/<code>             that status with a small HTML body; ?retry_after=S adds
                                 Retry-After (e.g. /status/429?retry_after=2)
  GET /flaky/<key>               ?status=503 (default) for the first ?n=2 requests of this key,
                                 then 200 with an article; ?retry_after=S adds Retry-After
  GET /redirect/chain/<n>        n redirects, then the target ?to=/article/redirect-target;
                                 ?code=301|302|303|307|308 (default 302)
  GET /redirect/loop/a           a -> b -> a ... for ever (also /redirect/loop/b)
  GET /redirect/home             302 to / on the same host
  GET /redirect/cross-host       301 to the other host's home page: 127.0.0.1 <-> localhost;
                                 ?path=/ (default) picks the path on the other host
  GET /redirect/to?url=U         302 (or ?code=) to any absolute or relative URL U
  GET /soft404                   200 whose page says "Page not found" (also /soft404/<any>)
  GET /paywall                   200, Substack paid-subscriber wall after a visible teaser
  GET /challenge/<403|503>       Cloudflare-style "Just a moment..." challenge page
  GET /slow?delay=S              sleep S seconds (capped at 30) before the headers;
                                 ?when=body sends headers and half the body first
  GET /big?mb=N                  N MB (default 25, capped at 500) of valid HTML, streamed;
                                 ?chunked=1 omits Content-Length (chunked encoding)
  GET /pathological/table?mb=N   one table of N MB (default 8, capped at 20): slow to extract
                                 (seconds per MB)
  GET /pathological/tags?mb=N    N MB (default 10, capped at 20) of tiny elements: hundreds of
                                 MB of memory to parse
  GET /gzip-bomb?mb=N            gzip Content-Encoding body inflating to N MB (default 128,
                                 capped at 512); the wire body is about 1/1000 of that
  GET /charset/<case>            cp1252-as-utf8, utf8-as-cp1252, cp1252-undeclared
  GET /files/doc.pdf             application/pdf (also image.png, data.json); ?as=TYPE overrides
                                 the Content-Type, e.g. PDF bytes served as text/html

Introspection
  GET /requests                  JSON list of logged requests {method, path, headers, time};
                                 ?prefix=/mutable/ keeps paths with that prefix
  POST /control/reset            clear log, counters and versions
"""

from __future__ import annotations

import argparse
import gzip
import hashlib
import html
import io
import json
import re
import sys
import threading
import time
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime, parsedate_to_datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

PAGES_DIR = Path(__file__).resolve().parent / "pages"
MAX_DELAY = 30.0
MAX_BIG_MB = 500
MAX_BOMB_MB = 512
MAX_PATHOLOGICAL_MB = 20
# Saved pages get one fixed Last-Modified, as a static server would give unchanged files.
PAGES_LAST_MODIFIED = datetime(2024, 1, 1, tzinfo=UTC)

ROBOTS_TXT = "User-agent: *\nDisallow: /private/\n"

CHARSET_TEXT = (
    "Caf\u00e9 cr\u00e8me \u2013 \u201csmart quotes\u201d, na\u00efve fa\u00e7ade, "
    "\u00a35 and \u20ac10, \u00bd price."
)


class State:
    """Everything the endpoints remember between requests; guarded by one lock."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.reset()

    def reset(self) -> None:
        self.log: list[dict] = []
        self.counters: dict[str, int] = {}
        self.versions: dict[str, int] = {}
        self.noise = 0

    def count(self, key: str) -> int:
        """Increment and return the per-key request counter (1 on the first request)."""
        with self.lock:
            self.counters[key] = self.counters.get(key, 0) + 1
            return self.counters[key]


STATE = State()
_BOMBS: dict[int, bytes] = {}
_BOMB_LOCK = threading.Lock()


# -- page bodies ------------------------------------------------------------------------


def article_html(title: str, paragraphs: list[str], head: str = "", extra: str = "") -> str:
    """A plain article page that trafilatura extracts: nav, article, footer."""
    ps = "\n".join(f"<p>{html.escape(p)}</p>" for p in paragraphs)
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title>{head}</head>
<body>
<nav><a href="/">Home</a> | <a href="/article/about">About</a></nav>
<article><h1>{html.escape(title)}</h1>
{ps}
</article>
{extra}
<footer><p>Mock site footer. Contact: nobody@example.invalid</p></footer>
</body></html>
"""


def filler(topic: str, n: int = 5) -> list[str]:
    """Deterministic paragraphs about ``topic``, long enough for extraction."""
    return [
        f"Paragraph {i} about {topic}. This generated text is served by the citecache mock "
        f"server so that crawls have a real article body to extract, store and hash. "
        f"It is deterministic: the same request gives the same words about {topic}."
        for i in range(1, n + 1)
    ]


PAYWALL_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<title>The Members-Only Analysis - by A. Writer</title>
<meta property="og:site_name" content="Mock Newsletter">
<meta property="og:title" content="The Members-Only Analysis">
<meta property="og:type" content="article">
<meta name="author" content="A. Writer">
<script type="application/ld+json">{"@context":"https://schema.org","@type":"NewsArticle",
"headline":"The Members-Only Analysis","isAccessibleForFree":false,
"hasPart":{"@type":"WebPageElement","isAccessibleForFree":false,"cssSelector":".paywall"}}
</script></head>
<body><div id="main" class="main typography">
<div class="topbar"><a href="/">Mock Newsletter</a>
<button class="button primary">Subscribe</button><button class="button">Sign in</button></div>
<article class="typography newsletter-post post">
<div class="post-header"><h1 class="post-title published">The Members-Only Analysis</h1>
<h3 class="subtitle">A teaser is free; the rest is for paid subscribers</h3>
<div class="byline-wrapper"><a href="/">A. Writer</a>
<div class="meta">Jan 17, 2024</div></div></div>
<div class="available-content"><div dir="auto" class="body markup">
<p>This visible teaser paragraph is what a reader sees before the paywall. It is long enough
to count as the visible part of the post, and a crawler should keep it as such.</p>
<p>A second visible paragraph sets up the argument that only paying subscribers can read,
which is how paid newsletter posts usually begin.</p>
</div></div>
<div class="paywall" data-testid="paywall"><div class="container">
<h2 class="paywall-title">This post is for paid subscribers</h2>
<div class="paywall-cta">
<a class="button primary subscribe-btn" href="/subscribe">Subscribe</a></div>
<div class="paywall-login">Already a paid subscriber? <a href="/sign-in">Sign in</a></div>
</div></div>
</article></div>
<div class="footer">&copy; 2024 A. Writer &middot; Privacy &middot; Terms</div>
</body></html>
"""

SOFT_404_PAGE = """<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>Page not found | Mock Site</title></head>
<body><nav><a href="/">Home</a></nav>
<main><h1>Page not found</h1>
<p>Sorry, the page you are looking for does not exist, has been moved or was removed.
Try the search box or go back to the home page.</p></main>
<footer><p>Mock site footer.</p></footer></body></html>
"""

# Shape of Cloudflare's managed-challenge interstitial ("Just a moment...").
CHALLENGE_PAGE = """<!DOCTYPE html><html lang="en-US"><head><title>Just a moment...</title>
<meta http-equiv="Content-Type" content="text/html; charset=UTF-8">
<meta name="robots" content="noindex,nofollow">
<meta name="viewport" content="width=device-width,initial-scale=1">
<style>*{box-sizing:border-box;margin:0;padding:0}</style>
<meta http-equiv="refresh" content="390"></head>
<body class="no-js"><div class="main-wrapper" role="main"><div class="main-content">
<h1 class="zone-name-title h1">127.0.0.1</h1>
<h2 id="challenge-running" class="h2">Checking if the site connection is secure</h2>
<noscript><div id="challenge-error-title"><div class="h2"><span class="icon-wrapper"></span>
<span id="challenge-error-text">Enable JavaScript and cookies to continue</span></div></div>
</noscript>
<div id="challenge-body-text" class="core-msg spacer">127.0.0.1 needs to review the security
of your connection before proceeding.</div>
</div></div>
<script>(function(){window._cf_chl_opt={cvId: '3',cZone: "127.0.0.1",cType: 'managed',
cRay: '8a1b2c3d4e5f6a7b'};var cpo=document.createElement('script');
cpo.src='/cdn-cgi/challenge-platform/h/g/orchestrate/chl_page/v1?ray=8a1b2c3d4e5f6a7b';
document.getElementsByTagName('head')[0].appendChild(cpo);}());</script>
<div class="footer" role="contentinfo"><div class="footer-inner"><div class="clearfix
diagnostic-wrapper"><div class="ray-id">Ray ID: <code>8a1b2c3d4e5f6a7b</code></div></div>
<div class="text-center" id="footer-text">Performance &amp; security by
<a rel="noopener noreferrer" href="https://www.cloudflare.com" target="_blank">Cloudflare</a>
</div></div></div></body></html>
"""

# A one-page PDF whose content stream draws "citecache mock PDF".
PDF_BYTES = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n"
    b"2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 300 144]/Contents 4 0 R"
    b"/Resources<</Font<</F1 5 0 R>>>>>>endobj\n"
    b"4 0 obj<</Length 55>>stream\nBT /F1 18 Tf 20 60 Td (citecache mock PDF) Tj ET\n"
    b"endstream endobj\n5 0 obj<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>endobj\n"
    b"trailer<</Root 1 0 R>>\n%%EOF\n"
)
# 1x1 transparent PNG.
PNG_BYTES = bytes.fromhex(
    "89504e470d0a1a0a0000000d4948445200000001000000010806000000"
    "1f15c4890000000d49444154789c6360000002000100e221bc330000000049454e44ae426082"
)
JSON_BYTES = b'{"title": "Not a web page", "items": [1, 2, 3]}\n'
FILES = {
    "doc.pdf": ("application/pdf", PDF_BYTES),
    "image.png": ("image/png", PNG_BYTES),
    "data.json": ("application/json", JSON_BYTES),
}


def gzip_bomb(mb: int) -> bytes:
    """Gzip of an HTML page padded with ``mb`` MB of spaces; cached per size."""
    with _BOMB_LOCK:
        if mb not in _BOMBS:
            buf = io.BytesIO()
            z = gzip.GzipFile(fileobj=buf, mode="wb", compresslevel=9, mtime=0)
            z.write(b"<!DOCTYPE html><html><body><p>gzip bomb</p>")
            block = b" " * (1 << 20)
            for _ in range(mb):
                z.write(block)
            z.write(b"</body></html>")
            z.close()
            _BOMBS[mb] = buf.getvalue()
        return _BOMBS[mb]


# -- handler -----------------------------------------------------------------------------


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "citecache-mockserver/1"
    server_header: str | None = None
    """Overrides the Server header for one response (the Cloudflare challenge)."""

    # routes: (method, path regex, handler method name); first match wins
    ROUTES = [
        ("GET", r"/", "home"),
        ("GET", r"/robots\.txt", "robots"),
        ("GET", r"/requests", "requests_log"),
        ("POST", r"/control/reset", "control_reset"),
        ("POST", r"/control/mutable/(?P<key>[\w.-]+)", "control_mutable"),
        ("GET", r"/pages/(?P<name>[\w.-]+)\.html", "saved_page"),
        ("GET", r"/article/(?P<slug>[\w.-]+)", "article"),
        ("GET", r"/private/.*", "private"),
        ("GET", r"/mutable/(?P<key>[\w.-]+)", "mutable"),
        ("GET", r"/status/(?P<code>\d{3})", "status"),
        ("GET", r"/flaky/(?P<key>[\w.-]+)", "flaky"),
        ("GET", r"/redirect/chain/(?P<n>\d+)", "redirect_chain"),
        ("GET", r"/redirect/loop/(?P<side>a|b)", "redirect_loop"),
        ("GET", r"/redirect/home", "redirect_home"),
        ("GET", r"/redirect/cross-host", "redirect_cross_host"),
        ("GET", r"/redirect/to", "redirect_to"),
        ("GET", r"/soft404(/.*)?", "soft404"),
        ("GET", r"/paywall", "paywall"),
        ("GET", r"/challenge/(?P<code>403|503)", "challenge"),
        ("GET", r"/slow", "slow"),
        ("GET", r"/big", "big"),
        ("GET", r"/gzip-bomb", "bomb"),
        ("GET", r"/pathological/(?P<shape>table|tags)", "pathological"),
        ("GET", r"/charset/(?P<case>[\w-]+)", "charset"),
        ("GET", r"/files/(?P<name>[\w.-]+)", "files"),
    ]
    _COMPILED = [(m, re.compile(p + r"\Z"), h) for m, p, h in ROUTES]

    # -- plumbing

    def log_message(self, format: str, *args) -> None:  # noqa: A002 - stdlib signature
        if self.server.verbose:  # type: ignore[attr-defined]
            sys.stderr.write("mockserver: " + format % args + "\n")

    def do_GET(self) -> None:
        self.dispatch("GET")

    def do_HEAD(self) -> None:
        self.dispatch("GET")

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        if length:
            self.rfile.read(length)
        self.dispatch("POST")

    def version_string(self) -> str:
        return self.server_header or super().version_string()

    def dispatch(self, method: str) -> None:
        self.server_header = None  # the handler object lives as long as the connection
        parts = urlsplit(self.path)
        self.query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
        if not (parts.path == "/requests" or parts.path.startswith("/control/")):
            with STATE.lock:
                STATE.log.append(
                    {
                        "method": self.command,
                        "path": self.path,
                        "headers": dict(self.headers.items()),
                        "time": time.time(),
                    }
                )
        for route_method, pattern, name in self._COMPILED:
            match = pattern.match(parts.path)
            if match and route_method == method:
                try:
                    getattr(self, name)(**match.groupdict())
                except (BrokenPipeError, ConnectionResetError):
                    self.close_connection = True
                return
        self.send_html(404, "<html><body><h1>404 Not Found</h1></body></html>")

    def qint(self, name: str, default: int) -> int:
        try:
            return int(self.query.get(name, default))
        except ValueError:
            return default

    def send_body(
        self,
        status: int,
        body: bytes,
        content_type: str,
        headers: dict[str, str] | None = None,
    ) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if status != 304:
            self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        if self.command != "HEAD" and status != 304:
            self.wfile.write(body)

    def send_html(self, status: int, text: str, headers: dict[str, str] | None = None) -> None:
        self.send_body(status, text.encode("utf-8"), "text/html; charset=utf-8", headers)

    def send_json(self, status: int, data: object) -> None:
        self.send_body(status, json.dumps(data).encode(), "application/json")

    def redirect(self, location: str, code: int = 302) -> None:
        self.send_html(
            code,
            f'<html><body><a href="{html.escape(location)}">moved</a></body></html>',
            {"Location": location},
        )

    def not_modified(self, etag: str | None, last_modified: datetime | None) -> bool:
        """True when the request's conditionals match (If-None-Match wins, RFC 9110 13.2.2)."""
        inm = self.headers.get("If-None-Match")
        if inm is not None:
            if etag is None:
                return False
            tags = [t.strip().removeprefix("W/") for t in inm.split(",")]
            return "*" in tags or etag in tags
        ims = self.headers.get("If-Modified-Since")
        if ims is not None and last_modified is not None:
            try:
                return last_modified <= parsedate_to_datetime(ims)
            except (TypeError, ValueError):
                return False
        return False

    def send_validated(self, body: bytes, etag: str | None, last_modified: datetime | None) -> None:
        headers = {}
        if etag:
            headers["ETag"] = etag
        if last_modified:
            headers["Last-Modified"] = format_datetime(last_modified, usegmt=True)
        status = 304 if self.not_modified(etag, last_modified) else 200
        self.send_body(status, body, "text/html; charset=utf-8", headers)

    def other_host(self) -> str:
        """Base URL of the same server under its other name: 127.0.0.1 <-> localhost."""
        port = self.server.server_address[1]
        host = (self.headers.get("Host") or "").split(":")[0]
        other = "127.0.0.1" if host == "localhost" else "localhost"
        return f"http://{other}:{port}"

    # -- pages

    def home(self) -> None:
        names = sorted(p.stem for p in PAGES_DIR.glob("*.html"))
        links = "".join(f'<li><a href="/pages/{n}.html">{n}</a></li>' for n in names)
        self.send_html(
            200,
            "<!DOCTYPE html><html><head><title>Mock Site Home</title></head><body>"
            "<h1>Mock Site Home</h1><p>Welcome to the mock site.</p>"
            f"<ul>{links}</ul></body></html>",
        )

    def robots(self) -> None:
        self.send_body(200, ROBOTS_TXT.encode(), "text/plain")

    def saved_page(self, name: str) -> None:
        path = PAGES_DIR / f"{name}.html"
        if not path.is_file():
            self.send_html(404, "<html><body><h1>404 Not Found</h1></body></html>")
            return
        body = path.read_bytes()
        etag = '"' + hashlib.sha1(body).hexdigest()[:16] + '"'
        self.send_validated(body, etag, PAGES_LAST_MODIFIED)

    def article(self, slug: str) -> None:
        self.send_html(200, article_html(f"Article {slug}", filler(slug)))

    def private(self) -> None:
        self.send_html(200, article_html("Private article", filler("a private page")))

    def mutable(self, key: str) -> None:
        with STATE.lock:
            version = STATE.versions.get(key, 1)
            STATE.noise += 1
            noise = STATE.noise
        paragraphs = [f"This is version {version} of the {key} article."] + filler(
            f"{key} version {version}"
        )
        head = extra = ""
        if self.query.get("noise") == "1":
            head = f'<meta name="x-request" content="{noise}"><script>var served={noise};</script>'
            extra = f'<!-- request {noise} --><div class="ad" data-slot="{noise}"></div>'
        body = article_html(f"Mutable {key}", paragraphs, head, extra).encode()
        validators = self.query.get("validators", "both")
        etag = f'"{key}-v{version}"' if validators in ("both", "etag") else None
        last_modified = (
            datetime(2024, 1, 1, tzinfo=UTC) + timedelta(days=version)
            if validators in ("both", "lastmod")
            else None
        )
        self.send_validated(body, etag, last_modified)

    # -- faults

    def status(self, code: str) -> None:
        headers = {}
        if "retry_after" in self.query:
            headers["Retry-After"] = self.query["retry_after"]
        self.send_html(
            int(code),
            f"<html><body><h1>Status {code}</h1><p>Mock status page.</p></body></html>",
            headers,
        )

    def flaky(self, key: str) -> None:
        n = STATE.count(f"flaky:{key}")
        if n <= self.qint("n", 2):
            self.status(str(self.qint("status", 503)))
        else:
            self.send_html(200, article_html(f"Flaky {key}", filler(f"the flaky {key} page")))

    def redirect_chain(self, n: str) -> None:
        hops = int(n)
        target = self.query.get("to", "/article/redirect-target")
        code = self.qint("code", 302)
        if hops <= 0:
            self.redirect(target, code)
            return
        rest = {"to": target} | ({"code": code} if "code" in self.query else {})
        self.redirect(f"/redirect/chain/{hops - 1}?{urlencode(rest)}", code)

    def redirect_loop(self, side: str) -> None:
        self.redirect("/redirect/loop/b" if side == "a" else "/redirect/loop/a")

    def redirect_home(self) -> None:
        self.redirect("/", self.qint("code", 302))

    def redirect_cross_host(self) -> None:
        self.redirect(self.other_host() + self.query.get("path", "/"), self.qint("code", 301))

    def redirect_to(self) -> None:
        self.redirect(self.query.get("url", "/"), self.qint("code", 302))

    def soft404(self) -> None:
        self.send_html(200, SOFT_404_PAGE)

    def paywall(self) -> None:
        self.send_html(200, PAYWALL_PAGE)

    def challenge(self, code: str) -> None:
        self.server_header = "cloudflare"
        self.send_html(
            int(code),
            CHALLENGE_PAGE,
            {
                "CF-RAY": "8a1b2c3d4e5f6a7b-FRA",
                "cf-mitigated": "challenge",
                "Cache-Control": "private, max-age=0, no-store, no-cache, must-revalidate",
            },
        )

    def slow(self) -> None:
        try:
            delay = min(max(float(self.query.get("delay", 5)), 0.0), MAX_DELAY)
        except ValueError:
            delay = 5.0
        body = article_html("Slow article", filler("a slow page")).encode()
        if self.query.get("when") == "body":
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body[: len(body) // 2])
            self.wfile.flush()
            time.sleep(delay)
            self.wfile.write(body[len(body) // 2 :])
            return
        time.sleep(delay)
        self.send_body(200, body, "text/html; charset=utf-8")

    def big(self) -> None:
        mb = min(max(self.qint("mb", 25), 1), MAX_BIG_MB)
        head = b"<!DOCTYPE html><html><head><title>Big page</title></head><body>\n"
        tail = b"</body></html>\n"
        line = b"<p>" + b"Oversized body filler text. " * 36 + b"</p>\n"  # 1014 bytes
        block = line * 1024  # about 1 MB
        total = len(head) + mb * len(block) + len(tail)
        chunked = self.query.get("chunked") == "1"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        if chunked:
            self.send_header("Transfer-Encoding", "chunked")
        else:
            self.send_header("Content-Length", str(total))
        self.end_headers()
        if self.command == "HEAD":
            return
        write = (
            (lambda b: self.wfile.write(b"%x\r\n%s\r\n" % (len(b), b)))
            if chunked
            else (self.wfile.write)
        )
        write(head)
        for _ in range(mb):
            write(block)
        write(tail)
        if chunked:
            self.wfile.write(b"0\r\n\r\n")

    def bomb(self) -> None:
        mb = min(max(self.qint("mb", 128), 1), MAX_BOMB_MB)
        self.send_body(200, gzip_bomb(mb), "text/html; charset=utf-8", {"Content-Encoding": "gzip"})

    def pathological(self, shape: str) -> None:
        # (default MB, repeated unit, the element holding them)
        default, unit, holder = {
            "table": (8, "<tr>" + "<td>cell text here</td>" * 50 + "</tr>", "table"),
            "tags": (10, "<b>a</b>", "div"),
        }[shape]
        mb = min(max(self.qint("mb", default), 1), MAX_PATHOLOGICAL_MB)
        inner = unit * (mb * 1_000_000 // len(unit))
        body = f"<html><body><{holder}>{inner}</{holder}></body></html>"
        self.send_body(200, body.encode(), "text/html; charset=utf-8")

    def charset(self, case: str) -> None:
        paragraphs = [f"Charset test: {CHARSET_TEXT}"] + filler("character encodings", 3)
        if case == "cp1252-as-utf8":
            text, encoding, declared = (
                article_html("Charset cp1252 as UTF-8", paragraphs),
                "cp1252",
                "utf-8",
            )
        elif case == "utf8-as-cp1252":
            text, encoding, declared = (
                article_html("Charset UTF-8 as cp1252", paragraphs),
                "utf-8",
                "windows-1252",
            )
        elif case == "cp1252-undeclared":
            text, encoding, declared = (
                article_html("Charset undeclared", paragraphs),
                "cp1252",
                None,
            )
        else:
            self.send_html(404, "<html><body>unknown charset case</body></html>")
            return
        # article_html declares utf-8 in a meta tag; make the meta agree with the header
        text = text.replace(
            '<meta charset="utf-8">', f'<meta charset="{declared}">' if declared else ""
        )
        ctype = f"text/html; charset={declared}" if declared else "text/html"
        self.send_body(200, text.encode(encoding), ctype)

    def files(self, name: str) -> None:
        if name not in FILES:
            self.send_html(404, "<html><body><h1>404 Not Found</h1></body></html>")
            return
        ctype, body = FILES[name]
        self.send_body(200, body, self.query.get("as", ctype))

    # -- introspection

    def requests_log(self) -> None:
        prefix = self.query.get("prefix", "")
        with STATE.lock:
            entries = [e for e in STATE.log if e["path"].startswith(prefix)]
        self.send_json(200, entries)

    def control_reset(self) -> None:
        with STATE.lock:
            STATE.reset()
        self.send_json(200, {"ok": True})

    def control_mutable(self, key: str) -> None:
        version = self.qint("v", 0)
        if version < 1:
            self.send_json(400, {"ok": False, "error": "need ?v=N with N >= 1"})
            return
        with STATE.lock:
            STATE.versions[key] = version
        self.send_json(200, {"ok": True, "key": key, "version": version})


class MockServer(ThreadingHTTPServer):
    daemon_threads = True
    verbose = False

    def handle_error(self, request, client_address) -> None:
        exc = sys.exc_info()[1]
        if isinstance(exc, ConnectionError | TimeoutError):
            return  # clients that hang up mid-body (size caps, timeouts) are expected
        super().handle_error(request, client_address)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("-v", "--verbose", action="store_true", help="log requests to stderr")
    args = parser.parse_args(argv)
    server = MockServer((args.host, args.port), Handler)
    server.verbose = args.verbose
    host, port = server.server_address[:2]
    print(f"http://{host}:{port}", flush=True)
    # build the default gzip bomb in the background so its first request is quick
    threading.Thread(target=gzip_bomb, args=(128,), daemon=True).start()
    try:
        server.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        server.server_close()


if __name__ == "__main__":
    main()
