"""The crawl's name resolver: a connection only ever gets addresses that were checked.

SafeURLMiddleware checks a request's host before it is sent, but the connection then
resolves the name again, and a hostile name server may answer differently the second
time (DNS rebinding: public for the check, 127.0.0.1 for the connection). Installed as
Scrapy's TWISTED_DNS_RESOLVER, this resolver is where Twisted's connections get their
addresses: it resolves, refuses the whole answer if any address is not public
(storage/urlsafety.py's rule) and hands over exactly the addresses it checked. A refused
name gets no address, so its connection fails as a DNS lookup error. Checked answers are
cached, as Scrapy's own resolver caches (DNSCACHE_ENABLED, DNSCACHE_SIZE).

With CITECACHE_ALLOW_PRIVATE it checks nothing (tests, intranets, --mirror runs).
"""

from __future__ import annotations

import logging
import socket

import idna
from scrapy.resolver import HostResolution
from scrapy.utils.datatypes import LocalCache
from twisted.internet.address import IPv4Address, IPv6Address
from twisted.internet.interfaces import IHostnameResolver
from twisted.internet.threads import deferToThreadPool
from zope.interface import implementer

from crawler.wayback import endpoints_from
from storage.urlsafety import UNRESOLVABLE, UnsafeURL, refuse_unsafe

logger = logging.getLogger(__name__)


@implementer(IHostnameResolver)
class SafeResolver:
    def __init__(
        self,
        reactor,
        *,
        allow_private: bool = False,
        cache_size: int = 0,
        trusted_hosts: frozenset[str] = frozenset(),
    ):
        self.reactor = reactor
        self.allow_private = allow_private
        # Host names an operator chose (the archive's, CITECACHE_WAYBACK_URL): not checked.
        # SafeURLMiddleware lets only the archive's own requests reach them.
        self.trusted_hosts = trusted_hosts
        self.cache_size = cache_size
        self.cache: LocalCache[str, list[tuple]] = LocalCache(cache_size)

    @classmethod
    def from_crawler(cls, crawler, reactor):
        settings = crawler.settings
        archive = endpoints_from(settings)
        cache_size = settings.getint("DNSCACHE_SIZE") if settings.getbool("DNSCACHE_ENABLED") else 0
        return cls(
            reactor,
            allow_private=settings.getbool("CITECACHE_ALLOW_PRIVATE"),
            cache_size=cache_size,
            trusted_hosts=frozenset(archive.hosts() if archive else ()),
        )

    def install_on_reactor(self) -> None:
        self.reactor.installNameResolver(self)

    def resolveHostName(
        self,
        resolutionReceiver,
        hostName: str,
        portNumber: int = 0,
        addressTypes=None,
        transportSemantics: str = "TCP",
    ):
        resolution = HostResolution(hostName)
        resolutionReceiver.resolutionBegan(resolution)
        wanted = tuple(addressTypes or (IPv4Address, IPv6Address))

        def deliver(sockaddrs: list[tuple]) -> None:
            if self.cache_size:
                self.cache[hostName] = sockaddrs
            for sockaddr in sockaddrs:
                if len(sockaddr) == 4 and IPv6Address in wanted:
                    host, _port, flow, scope = sockaddr
                    resolutionReceiver.addressResolved(
                        IPv6Address("TCP", host, portNumber, flow, scope)
                    )
                elif len(sockaddr) == 2 and IPv4Address in wanted:
                    resolutionReceiver.addressResolved(IPv4Address("TCP", sockaddr[0], portNumber))

        def refused(failure) -> None:
            if failure.check(UnsafeURL):
                logger.warning("no connection to %s: %s", hostName, failure.value)
            elif not failure.check(*UNRESOLVABLE):
                logger.error("resolving %s failed: %s", hostName, failure.value)

        if hostName in self.cache:
            deliver(self.cache[hostName])
            resolutionReceiver.resolutionComplete()
            return resolution
        pool = self.reactor.getThreadPool()
        looked_up = deferToThreadPool(self.reactor, pool, self.checked_addresses, hostName)
        looked_up.addCallbacks(deliver, refused)
        looked_up.addBoth(lambda _: resolutionReceiver.resolutionComplete())
        return resolution

    def checked_addresses(self, host: str) -> list[tuple]:
        """The socket addresses (port 0) ``host`` resolves to, all public unless private
        ones are allowed; raises UnsafeURL or one of UNRESOLVABLE. Blocking: it runs in
        the reactor's thread pool."""
        # Twisted hands resolvers an IDNA name in its Unicode form; Python's own codec
        # (IDNA 2003) would look faß.de up as fass.de, another name.
        ascii_host = host if host.isascii() else idna.encode(host).decode("ascii")
        infos = socket.getaddrinfo(ascii_host, 0, type=socket.SOCK_STREAM)
        sockaddrs = list(dict.fromkeys(info[4] for info in infos))
        if not self.allow_private and host not in self.trusted_hosts:
            refuse_unsafe(host, [str(sockaddr[0]) for sockaddr in sockaddrs])
        return sockaddrs
