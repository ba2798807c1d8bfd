"""Which addresses a URL submitted from outside must never reach (server-side request
forgery). Shared by the crawl's middleware and the service's early check."""

from __future__ import annotations

import ipaddress


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
