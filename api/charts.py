"""Inline SVG charts for the health page, made on the server: no JavaScript, no CDN."""

from __future__ import annotations

import math
from collections.abc import Iterable
from datetime import date, timedelta

from markupsafe import Markup, escape

from storage.health import GOOD_STATES

from .display import label, long_day, number, plural, short_day

# One colour per fetch outcome/status; anything else is grey.
COLOURS = {
    "ok": "#2e7d32",
    "unchanged": "#66bb6a",
    "not_modified": "#66bb6a",
    "redirected": "#9ccc65",
    "paywalled": "#f9a825",
    "blocked": "#ef6c00",
    "blocked_by_robots": "#ff8f00",
    "not_found": "#c62828",
    "http_error": "#d84315",
    "soft_404": "#ad1457",
    "timeout": "#6a1b9a",
    "dns_error": "#4527a0",
    "connection_error": "#283593",
    "unsafe_url": "#37474f",
    "dead": "#212121",
    "error": "#b71c1c",
    "pending": "#90a4ae",
}
OTHER = "#9e9e9e"
WIDTH = 720
GOOD_OUTCOMES = GOOD_STATES | {"not_modified"}
"""Fetch outcomes that brought content (or confirmed it): the first panel of the days chart."""
LOG_RATIO = 100
"""Bars whose largest value is this many times the smallest use a log scale: at 100x a
linear bar of the small one would be under 5 px wide."""
MIN_SEGMENT = 2.0
"""Pixels: a day's handful of failures stays visible on top of thousands of fetches."""
X_LABEL_EVERY = 7
"""Days between labelled ticks of the days chart, counted back from today."""


def colour(name: str) -> str:
    return COLOURS.get(name, OTHER)


def ticks(peak: float, count: int = 5) -> list[int]:
    """Round steps (1, 2 or 5 times a power of ten) from 0 to at least ``peak``."""
    raw = max(peak, 1) / count
    power = 10 ** math.floor(math.log10(raw)) if raw >= 1 else 1
    step = next(m * power for m in (1, 2, 5, 10) if m * power >= raw)
    top = math.ceil(max(peak, 1) / step) * step
    return list(range(0, top + 1, step))


def daily_outcomes(days: list[dict], today: date, span: int = 30) -> Markup:
    """Fetch outcomes per day over the ``span`` days to ``today`` (``days`` as
    ``Store.outcomes_by_day`` gives them), in two panels on their own scales: answers
    with content, and failures, which would vanish under the successes on one scale."""
    if not days:
        return Markup(f'<p class="muted">No fetches in the last {span} days.</p>')
    counts = {date.fromisoformat(d["day"]): d["outcomes"] for d in days}
    first = min(today - timedelta(days=span - 1), *counts)
    slots = [first + timedelta(days=i) for i in range((today - first).days + 1)]
    panels = []
    for title, good in (("Answered with content", True), ("Failed", False)):
        part = {
            day: {o: n for o, n in c.items() if (o in GOOD_OUTCOMES) == good}
            for day, c in counts.items()
        }
        panels.append(_days_panel(title, slots, part))
    return Markup("".join(panels))


def _days_panel(title: str, slots: list[date], counts: dict[date, dict[str, int]]) -> str:
    totals: dict[str, int] = {}
    for outcomes in counts.values():
        for outcome, n in outcomes.items():
            totals[outcome] = totals.get(outcome, 0) + n
    caption = f"{escape(title)} · {plural(sum(totals.values()), 'fetch', 'fetches')}"
    if not totals:
        return f'<figure class="panel"><figcaption>{caption}</figcaption></figure>'
    order = sorted(totals, key=lambda o: -totals[o])  # biggest at the bottom of each bar
    height, left, right, top, bottom = 170, 48, 24, 8, 24
    plot_w, plot_h = WIDTH - left - right, height - top - bottom
    y_ticks = ticks(max(sum(c.values()) for c in counts.values() if c) or 1)
    scale = plot_h / y_ticks[-1]
    step = plot_w / len(slots)
    bar = max(1.0, step * 0.7)
    base = top + plot_h
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {WIDTH} {height}" width="100%" '
        f'aria-label="{escape(title)} per day">'
    ]
    for value in y_ticks:
        y = base - value * scale
        parts.append(
            f'<line class="grid" x1="{left}" y1="{y:.1f}" x2="{WIDTH - right}" y2="{y:.1f}"/>'
            f'<text x="{left - 6}" y="{y + 4:.1f}" text-anchor="end" class="axis">'
            f"{number(value)}</text>"
        )
    for i, day in enumerate(slots):
        x = left + i * step + (step - bar) / 2
        y = base
        for outcome in order:
            n = counts.get(day, {}).get(outcome, 0)
            if not n:
                continue
            h = max(MIN_SEGMENT, n * scale)
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colour(outcome)}"><title>{long_day(day)}: {number(n)} '
                f"{escape(label(outcome))}</title></rect>"
            )
        if (len(slots) - 1 - i) % X_LABEL_EVERY == 0:
            middle = x + bar / 2
            parts.append(
                f'<line class="tick" x1="{middle:.1f}" y1="{base}" x2="{middle:.1f}" '
                f'y2="{base + 4}"/><text x="{middle:.1f}" y="{base + 16}" '
                f'text-anchor="middle" class="axis">{short_day(day)}</text>'
            )
    parts.append(
        f'<line class="axis-line" x1="{left}" y1="{base}" x2="{WIDTH - right}" y2="{base}"/>'
    )
    parts.append("</svg>")
    legend = _legend((label(o), totals[o], colour(o)) for o in order)
    return (
        f'<figure class="panel"><figcaption>{caption}</figcaption>{"".join(parts)}{legend}</figure>'
    )


def _legend(items: Iterable[tuple[str, int, str]]) -> str:
    entries = "".join(
        # An SVG fill, not a style attribute: the pages' Content-Security-Policy
        # (api/security_headers.py) refuses inline styles.
        f'<li><svg class="swatch" viewBox="0 0 1 1" aria-hidden="true">'
        f'<rect width="1" height="1" fill="{fill}"/></svg>{escape(text)} '
        f'<span class="muted">{number(n)}</span></li>'
        for text, n, fill in items
    )
    return f'<ul class="legend">{entries}</ul>'


def horizontal_bars(
    rows: list[tuple[str, int, str]], width: int = WIDTH, label_width: int = 220
) -> Markup:
    """One bar per ``(label, value, colour)``, in the order given, over a ticked axis.

    When the values span ``LOG_RATIO`` or more, the axis is logarithmic (and says so), so
    that 3 dead links still show beside 100,000 pending ones.
    """
    if not rows:
        return Markup('<p class="muted">Nothing to show.</p>')
    values = [v for _, v, _ in rows if v > 0] or [1]
    log = max(values) / min(values) >= LOG_RATIO
    row_h, axis_h = 22, 22
    plot_w = width - label_width - 70
    if log:
        decades = math.ceil(math.log10(max(values)))
        marks = [10**k for k in range(decades + 1)]

        def length(v: float) -> float:
            # the axis starts at 0.1, so that a count of 1 still has a bar
            return plot_w * (math.log10(v) + 1) / (decades + 1) if v > 0 else 0.0
    else:
        marks = ticks(max(values))

        def length(v: float) -> float:
            return plot_w * v / marks[-1]

    plot_h = row_h * len(rows)
    parts = [f'<svg class="chart" role="img" viewBox="0 0 {width} {plot_h + axis_h}" width="100%">']
    for value in marks:
        x = label_width + length(value)
        parts.append(
            f'<line class="grid" x1="{x:.1f}" y1="0" x2="{x:.1f}" y2="{plot_h}"/>'
            f'<text x="{x:.1f}" y="{plot_h + 15}" text-anchor="middle" class="axis">'
            f"{number(value)}</text>"
        )
    for i, (text, value, fill) in enumerate(rows):
        y = i * row_h + 2
        w = length(value)
        name = escape(text if len(text) <= 34 else text[:33] + "…")
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 14}" text-anchor="end" '
            f'class="legend">{name}</text>'
            f'<rect x="{label_width}" y="{y}" width="{max(w, 1):.1f}" height="{row_h - 6}" '
            f'fill="{fill}"><title>{escape(text)}: {number(value)}</title></rect>'
            f'<text x="{label_width + w + 4:.1f}" y="{y + 14}" '
            f'class="legend">{number(value)}</text>'
        )
    parts.append("</svg>")
    if log:
        parts.append(
            '<p class="muted small">Log scale: each grid line is ten times the one before.</p>'
        )
    return Markup("".join(parts))
