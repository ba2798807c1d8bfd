"""Identity of a cited source: its id, its stable id and the URL variants that find it.

Pure functions, no database. ``resource_id`` is the wiki's existing scheme, so ids
computed here match the ids in its registry files.
"""

from __future__ import annotations

import hashlib
import re
import secrets
import string
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

STABLE_ID_PREFIX = "sid_"
STABLE_ID_LENGTH = 10
_STABLE_ALPHABET = string.ascii_letters + string.digits
_STABLE_RE = re.compile(r"^(?:sid_)?([A-Za-z0-9]{10})$")
_ID_RE = re.compile(r"^(?:kb-)?[0-9a-f]{16}$")

# Query parameters that only track the click, never select the content.
TRACKING_PARAMS = frozenset(
    {
        "fbclid",
        "gclid",
        "dclid",
        "msclkid",
        "mc_cid",
        "mc_eid",
        "igshid",
        "ref_src",
        "_hsenc",
        "_hsmi",
        "mkt_tok",
        "yclid",
        "s_cid",
        "ocid",
        "cmpid",
        "sr_share",
        "triedredirect",
        "isfreemail",
    }
)
_TRACKING_PREFIXES = ("utm_", "pk_", "mtm_")


class InvalidURL(ValueError):
    """The text is not an http(s) URL with a host."""


def resource_id(url: str) -> str:
    """First 16 hex characters of sha256 of the URL exactly as registered."""
    return hashlib.sha256(url.encode("utf-8")).hexdigest()[:16]


def new_stable_id() -> str:
    """A fresh random stable id, without its ``sid_`` prefix."""
    return "".join(secrets.choice(_STABLE_ALPHABET) for _ in range(STABLE_ID_LENGTH))


def parse_stable_id(text: str) -> str | None:
    """The 10 bare characters of a stable id given with or without ``sid_``, else None."""
    match = _STABLE_RE.match(text.strip())
    return match.group(1) if match else None


def looks_like_id(text: str) -> bool:
    return bool(_ID_RE.match(text.strip()))


def check_url(url: str) -> str:
    """Return ``url`` stripped if it is an absolute http(s) URL, else raise InvalidURL."""
    url = url.strip()
    if not url:
        raise InvalidURL("empty URL")
    if any(c.isspace() for c in url):
        raise InvalidURL(f"URL contains whitespace: {url!r}")
    try:
        parts = urlsplit(url)
        port = parts.port  # raises ValueError on a bad port
    except ValueError as exc:
        raise InvalidURL(f"malformed URL {url!r}: {exc}") from None
    if parts.scheme.lower() not in ("http", "https"):
        scheme = parts.scheme or "none"
        raise InvalidURL(f"unsupported scheme {scheme!r} in {url!r} (only http and https)")
    host = parts.hostname or ""
    if not host or not ("." in host or ":" in host or host == "localhost"):
        raise InvalidURL(f"no valid host in {url!r}")
    del port
    return url


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name in TRACKING_PARAMS or name.startswith(_TRACKING_PREFIXES)


def url_key(url: str) -> str:
    """The key under which URL variants meet.

    Lower-cased host without ``www.``, no scheme, no default port, no trailing
    slash, tracking parameters removed, remaining parameters sorted. The fragment
    stays: the wiki registers ``/research#safety`` and ``/research`` as two sources.
    Two URLs with the same key are taken to name the same source.
    """
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    port = parts.port
    if port and not (
        parts.scheme == "http" and port == 80 or parts.scheme == "https" and port == 443
    ):
        host = f"{host}:{port}"
    path = parts.path or "/"
    path = path.rstrip("/") or ""
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
    ]
    query.sort()
    return urlunsplit(("", host, path, urlencode(query), parts.fragment)).lstrip("/")


def host_of(url: str) -> str:
    """Lower-cased host of ``url`` without a leading ``www.``."""
    host = (urlsplit(url).hostname or "").lower().rstrip(".")
    return host[4:] if host.startswith("www.") else host


def short_url(url: str) -> str:
    """``url`` without scheme and ``www.``, as the card shows it."""
    parts = urlsplit(url)
    host = host_of(url)
    rest = parts.path.rstrip("/")
    if parts.query:
        rest += "?" + parts.query
    return host + rest
