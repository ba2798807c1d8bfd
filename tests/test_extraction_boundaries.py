"""extraction/ stands alone: what importing it (and storage/) loads, and the bot-challenge
markers it shares with the spider."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from scrapy.http import HtmlResponse

from crawler.spiders.resources import _judge_error_page
from extraction import extract
from extraction.page_status import challenge_reason
from tests.mockserver import CHALLENGE_PAGE

ROOT = Path(__file__).resolve().parent.parent


def _loaded_after(code: str, packages: tuple[str, ...]) -> list[str]:
    """The top-level ``packages`` in sys.modules after running ``code`` in a fresh process."""
    probe = (
        code
        + "\nimport json, sys\nprint(json.dumps(sorted({m.split('.')[0] for m in sys.modules})))"
    )
    out = subprocess.run(
        [sys.executable, "-c", probe], cwd=ROOT, capture_output=True, text=True, check=True
    ).stdout
    return [name for name in json.loads(out.splitlines()[-1]) if name in packages]


def test_extraction_loads_no_scrapy_or_twisted():
    # extract() too, not just the import: readability, pypdf and htmldate load lazily
    code = (
        "from extraction import extract\n"
        "extract(b'<html><body><article><p>' + b'word ' * 80 + b'</p></article></body></html>')\n"
        "extract(b'%PDF-1.4 truncated')\n"
    )
    assert _loaded_after(code, ("scrapy", "twisted")) == []


def test_storage_loads_no_scrapy_or_trafilatura():
    code = (
        "import importlib, pkgutil, storage\n"
        "for m in pkgutil.iter_modules(storage.__path__):\n"
        "    importlib.import_module('storage.' + m.name)\n"
    )
    assert _loaded_after(code, ("scrapy", "twisted", "trafilatura", "extraction")) == []


AKAMAI_DENIED = (
    "<HTML><HEAD>\n<TITLE>Access Denied</TITLE>\n</HEAD><BODY>\n<H1>Access Denied</H1>\n"
    'You don\'t have permission to access "http&#58;&#47;&#47;example&#46;org&#47;a" on this'
    " server.<P>\nReference&#32;&#35;18&#46;1234</BODY>\n</HTML>\n"
)
DDOS_GUARD = (
    "<!DOCTYPE html><html><head><title>DDoS-Guard</title></head><body>"
    "<p>Checking your browser before accessing example.org</p>"
    "<script src='https://check.ddos-guard.net/check.js'></script></body></html>"
)
MAINTENANCE = (
    "<html><head><title>Down for maintenance</title></head><body><h1>Back soon</h1>"
    "<p>We are upgrading the database and will be back within the hour.</p></body></html>"
)
# Cloudflare's bot-detection script sits on ordinary pages too: not a challenge.
ORDINARY_BEHIND_CLOUDFLARE = (
    "<html><head><title>Service unavailable</title></head><body><p>The service is"
    " temporarily unavailable.</p><script src='/cdn-cgi/challenge-platform/scripts/jsd/"
    "main.js'></script></body></html>"
)


@pytest.mark.parametrize(
    ("body", "blocked"),
    [
        (CHALLENGE_PAGE, True),
        (AKAMAI_DENIED, True),
        (DDOS_GUARD, True),
        (MAINTENANCE, False),
        (ORDINARY_BEHIND_CLOUDFLARE, False),
    ],
    ids=["cloudflare", "akamai", "ddos-guard", "maintenance", "cloudflare-script-only"],
)
def test_spider_and_page_status_agree_on_challenges(body, blocked):
    raw = body.encode()
    response = HtmlResponse("https://example.org/a", status=503, body=raw)
    spider_outcome, spider_reason = _judge_error_page(response)
    assert (spider_outcome == "blocked") is blocked, spider_reason
    assert (challenge_reason(raw) is not None) is blocked
    # the same body served with 200 OK: extraction judges it the same way
    found = extract(raw, "https://example.org/a")
    assert (found.page_status == "blocked") is blocked, found.failure_reason
