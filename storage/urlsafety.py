"""Which URLs a URL submitted from outside may reach (server-side request forgery).

One rule for the service's early check (``check_url_safety``, before queueing, for a
clear 400) and the crawl's SafeURLMiddleware (``check_url_safety_async``, at fetch time,
every redirect hop included): an http(s) URL whose host resolves to public addresses
only. A host that does not resolve passes: the crawl records it as a DNS error.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit


class UnsafeURL(ValueError):
    """The URL's scheme or address is one a submitted URL must not reach."""


# Raised for a host that cannot be resolved: no such name, an IDNA label too long, a port
# out of range. Such a URL passes; its fetch fails and is recorded as such.
UNRESOLVABLE = (socket.gaierror, UnicodeError, ValueError)


def unsafe_address(address: str) -> bool:
    """True for private, loopback, link-local, multicast, reserved or unspecified addresses."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def check_url_safety(url: str, *, allow_private: bool = False, hint: str = "") -> None:
    """Raise UnsafeURL unless ``url`` is http(s) and its host resolves to public addresses.

    ``hint`` is appended to the message of a refused address (how to allow it).
    """
    parts, host = _http_host(url)
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(host, _port(parts), type=socket.SOCK_STREAM)
    except UNRESOLVABLE:
        return
    _refuse_unsafe(host, infos, hint)


async def check_url_safety_async(url: str, *, hint: str = "") -> None:
    """``check_url_safety`` without blocking the event loop on DNS."""
    parts, host = _http_host(url)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, _port(parts), type=socket.SOCK_STREAM)
    except UNRESOLVABLE:
        return
    _refuse_unsafe(host, infos, hint)


def _http_host(url: str) -> tuple[SplitResult, str]:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL(f"refused scheme {parts.scheme!r}: only http and https URLs")
    if not parts.hostname:
        raise UnsafeURL("URL has no host")
    return parts, parts.hostname


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)  # ValueError if out of range


def _refuse_unsafe(host: str, infos: list, hint: str) -> None:
    for info in infos:
        address = info[4][0]
        if unsafe_address(address):
            raise UnsafeURL(f"refused {host}: resolves to non-public address {address}{hint}")
