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

from w3lib.url import canonicalize_url, safe_url_string

STABLE_ID_PREFIX = "sid_"
STABLE_ID_LENGTH = 10
_STABLE_ALPHABET = string.ascii_letters + string.digits
_STABLE_RE = re.compile(r"^(?:sid_)?([A-Za-z0-9]{10})$")
_ID_RE = re.compile(r"^(?:kb-)?[0-9a-f]{16}$")
_IMPORTED_ID_RE = re.compile(r"[A-Za-z0-9][A-Za-z0-9_-]{0,63}\Z")
MAX_URL_LENGTH = 2083
"""Scrapy's URLLENGTH_LIMIT (after percent-encoding): a longer URL would be dropped
unfetched, without a trace, so it is refused at registration."""
_ESCAPE_RE = re.compile(r"%[0-9a-fA-F]{2}")
# Parts that canonicalize_url leaves as they are (no escapes, non-ASCII, dot segments or ";").
_PLAIN_HOST_RE = re.compile(r"[a-z0-9.-]+\Z")
_PLAIN_PATH_RE = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,=:@/]*\Z")
_PLAIN_FRAGMENT_RE = re.compile(r"[A-Za-z0-9\-._~!$&'()*+,=:@/;?]*\Z")

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


def check_imported_id(text: str) -> str:
    """An id given by a registry file: 1-64 letters, digits, ``-`` or ``_``, starting
    with a letter or digit (the wiki's are 16 hex digits, some with ``kb-``). It goes
    into URLs and paths: no ``/``, ``?``, ``#``, ``..`` or spaces."""
    if not _IMPORTED_ID_RE.match(text):
        shown = text if len(text) <= 80 else text[:77] + "..."
        raise ValueError(
            f"invalid id {shown!r}: want 1-64 letters, digits, '-' or '_', "
            "starting with a letter or digit"
        )
    return text


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
    if not parts.scheme or "." in parts.scheme:  # "example.com:8080/a": a host, not a scheme
        raise InvalidURL(f"no scheme in {url!r} (want http:// or https://)")
    if parts.scheme.lower() not in ("http", "https"):
        raise InvalidURL(f"unsupported scheme {parts.scheme!r} in {url!r} (only http and https)")
    host = parts.hostname or ""
    if not host or not ("." in host or ":" in host or host == "localhost"):
        raise InvalidURL(f"no valid host in {url!r}")
    del port
    encoded = len(url) if len(url) > MAX_URL_LENGTH else len(safe_url_string(url))
    if encoded > MAX_URL_LENGTH:
        raise InvalidURL(
            f"URL too long: {encoded} characters once encoded, at most {MAX_URL_LENGTH} "
            f"(Scrapy's limit): {url[:60]}..."
        )
    return url


def _is_tracking(name: str) -> bool:
    name = name.lower()
    return name in TRACKING_PARAMS or name.startswith(_TRACKING_PREFIXES)


def url_key(url: str) -> str:
    """The key under which URL variants meet.

    Lower-cased host without ``www.``, no scheme, no default port, no trailing
    slash, tracking parameters removed, remaining parameters sorted. The fragment
    stays: the wiki registers ``/research#safety`` and ``/research`` as two sources.
    Hosts are IDNA-encoded (``bücher.de`` = ``xn--bcher-kva.de``); path and fragment
    are percent-encoded as UTF-8 with upper-case escapes (``café`` = ``caf%c3%a9`` =
    ``caf%C3%A9``) and the path's dot segments resolved, as w3lib's canonicalize_url
    does. Two URLs with the same key are taken to name the same source.

    Stored keys must be recomputed (a migration, see m005) whenever this changes.
    """
    host, port, path, query, fragment = _key_parts(url)
    # Refine the parts rather than canonicalize the raw URL: the key is then a function
    # of the pre-m005 key, so URLs that met before still meet. IPv6 hosts stay as they were.
    if host and ":" not in host:
        host, path, fragment = _canonical_parts(host, path, fragment)
    if port:
        host = f"{host}:{port}"
    return urlunsplit(("", host, path, query, fragment)).lstrip("/")


def _key_parts(url: str) -> tuple[str, str, str, str, str]:
    """Host, non-default port, path, query and fragment by the rules of keys before m005."""
    parts = urlsplit(url.strip())
    host = (parts.hostname or "").lower().rstrip(".")
    if host.startswith("www."):
        host = host[4:]
    port = parts.port
    if not port or (parts.scheme, port) in (("http", 80), ("https", 443)):
        port = None
    path = parts.path.rstrip("/")
    # parse_qsl decodes and urlencode re-encodes, so the query's escapes (case,
    # non-ASCII, + or %20) are already normalized here.
    query = [
        (k, v) for k, v in parse_qsl(parts.query, keep_blank_values=True) if not _is_tracking(k)
    ]
    query.sort()
    return host, str(port or ""), path, urlencode(query), parts.fragment


def _canonical_parts(host: str, path: str, fragment: str) -> tuple[str, str, str]:
    # Most cited URLs are plain ASCII that canonicalize_url would return unchanged;
    # skipping it for them keeps url_key about as fast as before (tests check the shortcut).
    if (
        _PLAIN_HOST_RE.match(host)
        and _PLAIN_PATH_RE.match(path)
        and "/." not in path
        and _PLAIN_FRAGMENT_RE.match(fragment)
    ):
        return host, path, fragment
    return _w3lib_parts(host, path, fragment)


def _w3lib_parts(host: str, path: str, fragment: str) -> tuple[str, str, str]:
    try:
        canonical = canonicalize_url(f"http://{host}{path}#{fragment}", keep_fragments=True)
    except ValueError:  # e.g. a host that NFKC turns into URL delimiters: keep it as is
        return host, path, fragment
    # canonical is "http://HOST/PATH[#FRAGMENT]" with a non-empty path.
    rest = canonical[len("http://") :]
    slash = rest.index("/")
    new_host, (new_path, _, new_fragment) = rest[:slash], rest[slash:].partition("#")
    if not host.isascii():
        # NFKC and IDNA can turn "ｗｗｗ.x。" into "www.x.": apply the host rules again.
        new_host = new_host.rstrip(".")
        new_host = new_host[4:] if new_host.startswith("www.") else new_host
    # canonicalize_url upper-cases escapes in the path only.
    if "%" in new_fragment:
        new_fragment = _ESCAPE_RE.sub(lambda m: m.group().upper(), new_fragment)
    # Dot segments can leave a trailing slash ("/a/b/.." is "/a/").
    return new_host, new_path.rstrip("/"), new_fragment


def host_of(url: str) -> str:
    """Lower-cased host of ``url`` without a leading ``www.``; "" for a malformed URL."""
    try:
        host = (urlsplit(url).hostname or "").lower().rstrip(".")
    except ValueError:  # e.g. an unbalanced [ in an IPv6 host
        return ""
    return host[4:] if host.startswith("www.") else host


def short_url(url: str) -> str:
    """``url`` without scheme and ``www.``, as the card shows it."""
    parts = urlsplit(url)
    host = host_of(url)
    rest = parts.path.rstrip("/")
    if parts.query:
        rest += "?" + parts.query
    return host + rest
