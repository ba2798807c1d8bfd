"""Timestamps as the cache stores them: ISO 8601 in UTC, to the second, ending in ``Z``."""

from __future__ import annotations

from datetime import UTC, datetime


def utc_now() -> datetime:
    return datetime.now(UTC)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def iso_ms(moment: datetime) -> str:
    """To the millisecond, for rests shorter than a second (``hosts.next_allowed_at``).
    Compare such a value only with another ``iso_ms``: ``...:04Z`` sorts after
    ``...:04.200Z``."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def parse_iso(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))
