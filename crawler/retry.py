"""Retries that back off: exponential delays with jitter, and Retry-After obeyed.

Scrapy's RetryMiddleware retries at once. A server that answers 503 or 429 is asking
for time, so each retry here waits ``base * 2**attempt`` seconds (jittered), or what the
server's ``Retry-After`` says, whichever is longer. A wait longer than
CITECACHE_RETRY_MAX_DELAY, or one that would end past the run's deadline
(CITECACHE_MAX_RUNTIME), is not waited out in this run: the fetch is recorded as failed
and its next attempt is scheduled by the store's backoff.
"""

from __future__ import annotations

import asyncio
import random
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from time import monotonic

from scrapy.downloadermiddlewares.retry import RetryMiddleware
from scrapy.utils.response import response_status_message


def retry_after_seconds(value: bytes | str | None, now: datetime | None = None) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    text = value.decode("latin-1") if isinstance(value, bytes) else value
    text = text.strip()
    if text.isdigit():
        return float(text)
    try:
        when = parsedate_to_datetime(text)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


class BackoffRetryMiddleware(RetryMiddleware):
    def __init__(self, settings):
        super().__init__(settings)
        self.base = settings.getfloat("CITECACHE_RETRY_BACKOFF_BASE", 1.0)
        self.max_delay = settings.getfloat("CITECACHE_RETRY_MAX_DELAY", 60.0)
        runtime = settings.getfloat("CITECACHE_MAX_RUNTIME")
        self.deadline = monotonic() + runtime if runtime > 0 else None

    def delay_for(self, request, asked: float | None) -> float | None:
        """How long to wait before the next attempt; None when it is too long for this run."""
        attempt = request.meta.get("retry_times", 0)
        backoff = self.base * 2**attempt * random.uniform(0.75, 1.25)
        delay = max(backoff, asked or 0.0)
        if delay > self.max_delay or (self.deadline and monotonic() + delay >= self.deadline):
            return None
        return delay

    async def process_response(self, request, response):  # type: ignore[override]
        if request.meta.get("dont_retry") or response.status not in self.retry_http_codes:
            return response
        asked = retry_after_seconds(response.headers.get("Retry-After"))
        delay = self.delay_for(request, asked)
        if delay is None:
            self.crawler.stats.inc_value("citecache/retry/deferred")
            return response  # recorded as a failure; the store schedules the next try
        retry = self._retry(request, response_status_message(response.status))
        if retry is None:
            return response
        if asked is not None:
            self.crawler.stats.inc_value("citecache/retry/retry_after_honoured")
        await asyncio.sleep(delay)
        return retry

    async def process_exception(self, request, exception):  # type: ignore[override]
        if request.meta.get("dont_retry") or not isinstance(exception, self.exceptions_to_retry):
            return None
        delay = self.delay_for(request, None)
        if delay is None:
            self.crawler.stats.inc_value("citecache/retry/deferred")
            return None  # recorded as a failure; the store schedules the next try
        retry = self._retry(request, exception)
        if retry is not None:
            await asyncio.sleep(delay)
        return retry
