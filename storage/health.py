"""Link health: the state a fetch leaves a resource in, and when to look again. Pure.

States: ok, unchanged, redirected, paywalled, blocked, blocked_by_robots, soft_404,
dead, error, unsafe_url (and pending before the first fetch). Like the Internet
Archive's dead-link bot, a source is only called dead after repeated "gone" answers
(404, 410, DNS failure) spaced days apart; paywalls and bot walls are never dead.
"""

from __future__ import annotations

import random
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from .ids import host_of

FETCH_STATES = (
    "pending",
    "ok",
    "unchanged",
    "redirected",
    "paywalled",
    "blocked",
    "blocked_by_robots",
    "soft_404",
    "dead",
    "error",
    "unsafe_url",
)
"""Every state a resource can be in, as ``fetch_status`` holds it."""
GOOD_STATES = frozenset({"ok", "unchanged", "redirected", "paywalled"})
"""States in which the source answered with content; the schedule uses the TTL."""
PASS_THROUGH = frozenset({"blocked", "blocked_by_robots", "soft_404", "unsafe_url", "paywalled"})
"""Outcomes that are their own state."""


@dataclass
class HealthPolicy:
    """How patient to be with a source. Defaults as in the crawl issue's design."""

    dead_after: int = 3
    """Gone answers needed before a source is dead..."""
    dead_spacing: timedelta = timedelta(days=1)
    """...each at least this long after the previous one counted."""
    ttl: timedelta = timedelta(days=26)
    """Time between successful checks. The wiki's tools take content older than 30 days
    for stale and fetch it themselves: 26 days, jittered by 10%, is at most 28.6, which
    leaves a daily crawl more than a day to come round."""
    ttl_overrides: dict[str, timedelta] = field(default_factory=dict)
    """Per ``domain:HOST``, ``venue:ID`` or ``type:TYPE``; the first that matches wins,
    in that order (domain before venue before type)."""
    backoff: tuple[timedelta, ...] = (
        timedelta(hours=1),
        timedelta(hours=6),
        timedelta(days=1),
        timedelta(days=3),
    )
    """Waits after the 1st, 2nd, 3rd and later consecutive failures; capped at the TTL."""
    jitter: float = 0.1
    """Every wait is stretched or shrunk by up to this fraction so checks do not bunch up."""
    host_delay: float = 0.5
    """Seconds a host rests after a leased batch before another lease (storage/leases.py),
    unless the server asked for longer (Retry-After); workers set it from their delay
    (CITECACHE_HOST_REST)."""

    def ttl_for(self, url: str, venue_id: str | None, type_: str | None) -> timedelta:
        host = host_of(url)
        labels = host.split(".")
        for i in range(len(labels) - 1):
            found = self.ttl_overrides.get("domain:" + ".".join(labels[i:]))
            if found is not None:  # a zero TTL is falsy but still an override
                return found
        for key in (f"venue:{venue_id}", f"type:{type_}"):
            if key in self.ttl_overrides:
                return self.ttl_overrides[key]
        return self.ttl

    def next_fetch(self, now: datetime, state: str, failures: int, ttl: timedelta) -> datetime:
        if state in GOOD_STATES:
            wait = ttl
        else:
            step = min(max(failures, 1), len(self.backoff)) - 1
            wait = min(self.backoff[step], ttl)
        return now + wait * (1 + random.uniform(-self.jitter, self.jitter))


def counts_toward_dead(outcome: str, http_status: int | None) -> bool:
    """A "gone" answer: 404 or 410, or a host name that does not resolve."""
    return outcome == "dns_error" or (outcome == "http_error" and http_status in (404, 410))


def spaced_count(times: list[datetime], spacing: timedelta) -> int:
    """How many of these moments, taken oldest first, lie at least ``spacing`` apart."""
    count, last = 0, None
    for moment in sorted(times):
        if last is None or moment - last >= spacing:
            count, last = count + 1, moment
    return count


def failure_state(
    outcome: str,
    http_status: int | None,
    gone_times: list[datetime],
    policy: HealthPolicy,
) -> tuple[str, str | None]:
    """State and reason after a fetch that brought no usable content.

    ``gone_times``: when the "gone" answers since the last success came, this one included.
    """
    if outcome in PASS_THROUGH:
        return outcome, None
    if http_status in (401, 402):
        return "paywalled", f"HTTP {http_status}: the source asks for a login or payment"
    if http_status == 403:
        return "blocked", "HTTP 403: the server refuses us (bot wall or access control)"
    if counts_toward_dead(outcome, http_status):
        seen = spaced_count(gone_times, policy.dead_spacing)
        if seen >= policy.dead_after:
            return "dead", f"gone on {seen} checks at least {_days(policy.dead_spacing)} apart"
        return "error", (
            f"gone ({seen} of {policy.dead_after} checks, at least "
            f"{_days(policy.dead_spacing)} apart, before it counts as dead)"
        )
    return "error", None


def _days(delta: timedelta) -> str:
    hours = delta.total_seconds() / 3600
    if hours % 24 == 0:
        days = int(hours // 24)
        return f"{days} day" + ("s" if days != 1 else "")
    return f"{hours:g} h"
