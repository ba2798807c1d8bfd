"""Which URLs a URL submitted from outside may reach (server-side request forgery).

One rule, at three places: the service's early check (``check_url_safety``, before a URL
is registered or a re-fetch queued, for a clear 400), the crawl's SafeURLMiddleware
(``check_url_safety_async``, at fetch time, every redirect hop included) and the crawl's
resolver (crawler/resolver.py, which hands the connection only addresses that pass
``refuse_unsafe``: the address checked is the address used). The rule: an http(s) URL
whose host resolves to globally reachable addresses only.

A host that does not resolve passes the service's check: registering it fetches
nothing, and a dead citation must still be registrable (its fetch records a DNS error).
It fails the crawl's checks: nothing is fetched from a name that could not be checked.
"""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import SplitResult, urlsplit


class UnsafeURL(ValueError):
    """The URL's scheme or address is one a submitted URL must not reach."""


class UnresolvableHost(Exception):
    """The URL's host does not resolve, so its addresses could not be checked."""


# Raised for a host that cannot be resolved: no such name, an IDNA label too long, a port
# out of range.
UNRESOLVABLE = (socket.gaierror, UnicodeError, ValueError)

# Not globally reachable (IANA's special-purpose registries), but global to Python's
# ``is_global`` before 3.12.4: the IETF protocol assignments and IPv6 site-local.
_NOT_GLOBAL = (ipaddress.ip_network("192.0.0.0/24"), ipaddress.ip_network("fec0::/10"))
# IPv6 addresses that carry an IPv4 one a packet to them may end up at: IPv4-compatible
# (deprecated) and NAT64's well-known prefix. (Mapped, 6to4 and Teredo: ipaddress's own.)
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_NAT64 = ipaddress.ip_network("64:ff9b::/96")


def unsafe_address(address: str) -> bool:
    """True unless ``address`` is globally reachable: private, loopback, link-local,
    shared (100.64/10, cloud metadata), reserved, unspecified, multicast, ... and IPv6
    addresses that embed such an IPv4 one (mapped, 6to4, Teredo, NAT64)."""
    ip = ipaddress.ip_address(address.split("%")[0])
    if isinstance(ip, ipaddress.IPv6Address):
        embedded = _embedded_ipv4(ip)
        if embedded is not None:
            ip = embedded
    return not ip.is_global or ip.is_multicast or any(ip in net for net in _NOT_GLOBAL)


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped or ip.sixtofour:
        return ip.ipv4_mapped or ip.sixtofour
    if ip.teredo:
        return ip.teredo[1]  # the client's address
    if (ip in _IPV4_COMPATIBLE and int(ip) > 1) or ip in _NAT64:  # not :: or ::1
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def check_url_safety(url: str, *, allow_private: bool = False, hint: str = "") -> None:
    """Raise UnsafeURL unless ``url`` is http(s) and its host resolves to public addresses
    (the service's check: a host that does not resolve passes, see above).

    ``hint`` is appended to the message of a refused address (how to allow it).
    """
    parts, host = _http_host(url)
    if allow_private:
        return
    try:
        infos = socket.getaddrinfo(host, _port(parts), type=socket.SOCK_STREAM)
    except UNRESOLVABLE:
        return
    refuse_unsafe(host, [str(info[4][0]) for info in infos], hint)


async def check_url_safety_async(url: str, *, hint: str = "") -> None:
    """``check_url_safety`` without blocking the event loop on DNS, and failing closed:
    UnresolvableHost for a host that does not resolve."""
    parts, host = _http_host(url)
    loop = asyncio.get_running_loop()
    try:
        infos = await loop.getaddrinfo(host, _port(parts), type=socket.SOCK_STREAM)
    except UNRESOLVABLE as exc:
        raise UnresolvableHost(f"DNS lookup failed for {host}: {exc}") from exc
    refuse_unsafe(host, [str(info[4][0]) for info in infos], hint)


def _http_host(url: str) -> tuple[SplitResult, str]:
    parts = urlsplit(url.strip())
    if parts.scheme not in ("http", "https"):
        raise UnsafeURL(f"refused scheme {parts.scheme!r}: only http and https URLs")
    if not parts.hostname:
        raise UnsafeURL("URL has no host")
    return parts, parts.hostname


def _port(parts: SplitResult) -> int:
    return parts.port or (443 if parts.scheme == "https" else 80)  # ValueError if out of range


def refuse_unsafe(host: str, addresses: list[str], hint: str = "") -> None:
    """Raise UnsafeURL if any of the addresses ``host`` resolved to is not public."""
    for address in addresses:
        if unsafe_address(address):
            raise UnsafeURL(f"refused {host}: resolves to non-public address {address}{hint}")
