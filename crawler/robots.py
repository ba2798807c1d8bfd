"""robots.txt, obeyed for every request waiting on the same host's file.

Scrapy 2.19's RobotsTxtMiddleware hands one Deferred to every request that arrives
while a host's robots.txt is downloading. Under the asyncio reactor the first waiter
consumes its result and the others receive None, which means "allow everything": with
several URLs of one host in flight, disallowed pages were fetched. Each waiter here
gets a Deferred of its own, fed from the shared one.
"""

from __future__ import annotations

from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred


class SharedRobotsTxtMiddleware(RobotsTxtMiddleware):
    async def robot_parser(self, request):
        pending = self._parsers.get(urlparse_cached(request).netloc)
        if not isinstance(pending, Deferred):
            return await super().robot_parser(request)
        mine: Deferred = Deferred()

        def forward(result):
            mine.callback(result)
            return result  # leave it for the next waiter

        pending.addBoth(forward)
        return await maybe_deferred_to_future(mine)
