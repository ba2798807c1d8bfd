"""Words for people on the pages: dates, plurals and the names of states and outcomes.

The JSON API keeps the codes and ISO timestamps; the pages show these, with the ISO
value on hover.
"""

from __future__ import annotations

from datetime import UTC, date, datetime

from markupsafe import Markup, escape

from .serialize import zulu

LABELS = {
    # link states (storage/health.py) and re-fetch request states
    "pending": "pending",
    "ok": "ok",
    "unchanged": "unchanged",
    "redirected": "redirected",
    "paywalled": "paywalled",
    "blocked": "blocked",
    "blocked_by_robots": "blocked by robots.txt",
    "soft_404": "soft 404",
    "dead": "dead",
    "error": "error",
    "unsafe_url": "unsafe URL",
    # fetch outcomes (storage/results.py) that are not state names
    "not_modified": "unchanged (304)",
    "http_error": "HTTP error",
    "not_html": "not HTML",
    "too_large": "too large",
    "timeout": "timed out",
    "dns_error": "DNS failure",
    "connection_error": "connection failed",
    "redirect_loop": "redirect loop",
    "extraction_failed": "no text extracted",
}


def label(code: str | None) -> str:
    """The name a person reads for a state or outcome code."""
    if not code:
        return "-"
    return LABELS.get(code, code.replace("_", " "))


def number(n: int | float) -> str:
    return f"{n:,}" if isinstance(n, int) else f"{n:,g}"


def plural(n: int, singular: str, plural_form: str | None = None) -> str:
    """``1 run``, ``0 runs``, ``1,204 resources``."""
    word = singular if n == 1 else (plural_form or singular + "s")
    return f"{number(n)} {word}"


def short_day(day: date) -> str:
    """``1 Mar``: an axis label."""
    return f"{day.day} {day:%b}"


def long_day(day: date) -> str:
    """``1 Mar 2026``."""
    return f"{day.day} {day:%b %Y}"


def parse_time(value: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(zulu(value).replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def when(value: str | None, *, day_only: bool = False, empty: str = "-") -> Markup:
    """``1 Mar 2026, 10:00 UTC`` in a ``<time>`` whose hover shows the ISO value."""
    if not value:
        return Markup(escape(empty))
    moment = parse_time(value)
    if moment is None:
        return Markup(escape(value))
    moment = moment.astimezone(UTC)
    shown = long_day(moment.date()) + ("" if day_only else f", {moment:%H:%M} UTC")
    iso = escape(zulu(value))
    return Markup(f'<time datetime="{iso}" title="{iso}">{escape(shown)}</time>')


def install(env) -> None:
    """Make the helpers available to every template."""
    env.globals.update(label=label, plural=plural, number=number, when=when)
