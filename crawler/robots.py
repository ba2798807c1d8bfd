"""robots.txt, obeyed for every request waiting on the same host's file.

Scrapy 2.19's RobotsTxtMiddleware hands one Deferred to every request that arrives
while a host's robots.txt is downloading. The first waiter consumes its result and the
others receive None, which means "allow everything": with several URLs of one host in
flight, disallowed pages were fetched (3 of 5 in docs/scrapy-bugs.md, under the asyncio
and the epoll reactor alike). Each waiter here gets a Deferred of its own, fed from the
shared one.

That means reading the middleware's private ``_parsers`` (netloc -> parser, or the
Deferred of a download in progress); the middleware refuses to start when it is gone or
holds something else, rather than let requests through unchecked.

A refusal is raised as ForbiddenByRobots, so that it is told apart by type.
"""

from __future__ import annotations

import scrapy
from scrapy.downloadermiddlewares.robotstxt import RobotsTxtMiddleware
from scrapy.exceptions import IgnoreRequest
from scrapy.utils.defer import maybe_deferred_to_future
from scrapy.utils.httpobj import urlparse_cached
from twisted.internet.defer import Deferred


class ForbiddenByRobots(IgnoreRequest):
    """The site's robots.txt disallows this URL for our user agent."""


def _internals_changed(what: str) -> RuntimeError:
    return RuntimeError(
        f"crawler.robots.SharedRobotsTxtMiddleware works around a Scrapy 2.19 bug through "
        f"RobotsTxtMiddleware._parsers, which in Scrapy {scrapy.__version__} {what}. See "
        f"docs/scrapy-bugs.md: check whether the bug is fixed in this Scrapy (then use "
        f"Scrapy's middleware again in crawler/settings.py) or port the workaround."
    )


class SharedRobotsTxtMiddleware(RobotsTxtMiddleware):
    def __init__(self, crawler):
        super().__init__(crawler)
        if not isinstance(getattr(self, "_parsers", None), dict):
            raise _internals_changed("is missing or not a dict")

    async def process_request(self, request):  # type: ignore[override]
        try:
            await super().process_request(request)
        except IgnoreRequest as exc:
            # Scrapy's middleware raises IgnoreRequest only for a disallowed URL.
            raise ForbiddenByRobots(str(exc)) from exc

    async def robot_parser(self, request):
        pending = self._parsers.get(urlparse_cached(request).netloc)
        if pending is None or hasattr(pending, "allowed"):
            return await super().robot_parser(request)  # not fetched yet, failed, or parsed
        if not isinstance(pending, Deferred):
            raise _internals_changed(f"holds a {type(pending).__name__} while downloading")
        mine: Deferred = Deferred()

        def forward(result):
            mine.callback(result)
            return result  # leave it for the next waiter

        pending.addBoth(forward)
        return await maybe_deferred_to_future(mine)
