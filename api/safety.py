"""URL safety for URLs that arrive over HTTP: the crawl's rules, checked before queueing.

The crawl's SafeURLMiddleware checks again at fetch time (redirect hops included), so
this early check is for a clear 400 to the caller, not the only line of defence.
"""

from __future__ import annotations

import socket
from urllib.parse import urlsplit

from storage.urlsafety import unsafe_address


class UnsafeURL(ValueError):
    """The URL's scheme or address is one a submitted URL must not reach."""


def check_url_safety(url: str, *, allow_private: bool = False) -> None:
    """Raise UnsafeURL unless ``url`` is http(s) and its host resolves to public addresses.

    A host that does not resolve passes: the crawl records it as a DNS error.
    """
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL(f"refused scheme {parts.scheme!r}: only http and https URLs")
    host = parts.hostname
    if not host:
        raise UnsafeURL("URL has no host")
    if allow_private:
        return
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except (socket.gaierror, UnicodeError, ValueError):
        return
    for info in infos:
        address = info[4][0]
        if unsafe_address(address):
            raise UnsafeURL(f"refused {host}: resolves to non-public address {address}")
