"""An in-memory token bucket per API token, for re-fetch requests.

Each key gets ``capacity`` requests at once and earns one more every
``refill_seconds``. State lives in the process: a restart forgives everyone, and
several server processes each keep their own buckets (fine for one uvicorn worker).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

DEFAULT_CAPACITY = 10
"""Burst: an editor re-fetching a page's ten sources in a row is normal use."""
DEFAULT_REFILL_SECONDS = 6.0
"""Sustained: 10 per minute, well above editing speed, well below crawling speed."""


class TokenBucket:
    def __init__(
        self,
        capacity: int = DEFAULT_CAPACITY,
        refill_seconds: float = DEFAULT_REFILL_SECONDS,
        clock: Callable[[], float] = time.monotonic,
    ):
        self.capacity = capacity
        self.refill_seconds = refill_seconds
        self.clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}
        self._lock = threading.Lock()

    def take(self, key: str) -> float:
        """Spend one token of ``key``: 0.0 if allowed, else seconds until one is free."""
        with self._lock:
            now = self.clock()
            tokens, since = self._buckets.get(key, (float(self.capacity), now))
            tokens = min(self.capacity, tokens + (now - since) / self.refill_seconds)
            if tokens >= 1:
                self._buckets[key] = (tokens - 1, now)
                return 0.0
            self._buckets[key] = (tokens, now)
            return (1 - tokens) * self.refill_seconds
