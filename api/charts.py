"""Inline SVG charts for the health page, made on the server: no JavaScript, no CDN."""

from __future__ import annotations

from markupsafe import Markup, escape

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
    "error": "#b71c1c",
    "pending": "#90a4ae",
}
OTHER = "#9e9e9e"


def colour(name: str) -> str:
    return COLOURS.get(name, OTHER)


def stacked_days(days: list[dict], width: int = 720, height: int = 220) -> Markup:
    """A stacked bar per day of fetch outcomes, with a legend."""
    if not days:
        return Markup('<p class="muted">No fetches recorded yet.</p>')
    outcomes = sorted({o for d in days for o in d["outcomes"]})
    peak = max(sum(d["outcomes"].values()) for d in days) or 1
    left, bottom, top = 40, 30, 10
    plot_h = height - bottom - top
    step = (width - left) / len(days)
    bar = max(2.0, step * 0.8)
    legend_h = 20 * ((len(outcomes) + 5) // 6)
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {height + legend_h}" '
        f'width="100%" aria-label="Fetch outcomes per day">',
        f'<line x1="{left}" y1="{top + plot_h}" x2="{width}" y2="{top + plot_h}" stroke="#888"/>',
        f'<text x="{left - 4}" y="{top + 8}" text-anchor="end" class="axis">{peak}</text>',
        f'<text x="{left - 4}" y="{top + plot_h}" text-anchor="end" class="axis">0</text>',
    ]
    for i, day in enumerate(days):
        x = left + i * step + (step - bar) / 2
        y = top + plot_h
        for outcome in outcomes:
            n = day["outcomes"].get(outcome, 0)
            if not n:
                continue
            h = plot_h * n / peak
            y -= h
            parts.append(
                f'<rect x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}" '
                f'fill="{colour(outcome)}"><title>{escape(day["day"])}: {n} '
                f"{escape(outcome)}</title></rect>"
            )
        if len(days) <= 10 or i % max(1, len(days) // 6) == 0:
            parts.append(
                f'<text x="{x + bar / 2:.1f}" y="{top + plot_h + 16}" text-anchor="middle" '
                f'class="axis">{escape(day["day"][5:])}</text>'
            )
    for j, outcome in enumerate(outcomes):
        lx = left + (j % 6) * 112
        ly = height + 8 + 20 * (j // 6)
        parts.append(
            f'<rect x="{lx}" y="{ly - 9}" width="10" height="10" fill="{colour(outcome)}"/>'
            f'<text x="{lx + 14}" y="{ly}" class="legend">{escape(outcome)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))


def horizontal_bars(
    rows: list[tuple[str, float, str]], width: int = 720, label_width: int = 220, unit: str = ""
) -> Markup:
    """One bar per ``(label, value, colour)``, longest first as given."""
    if not rows:
        return Markup('<p class="muted">Nothing to show.</p>')
    peak = max(v for _, v, _ in rows) or 1
    row_h = 22
    parts = [
        f'<svg class="chart" role="img" viewBox="0 0 {width} {row_h * len(rows) + 4}" width="100%">'
    ]
    for i, (label, value, fill) in enumerate(rows):
        y = i * row_h + 2
        w = (width - label_width - 60) * value / peak
        text = escape(label if len(label) <= 34 else label[:33] + "…")
        shown = f"{value:g}{unit}"
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 14}" text-anchor="end" '
            f'class="legend">{text}</text>'
            f'<rect x="{label_width}" y="{y}" width="{max(w, 1):.1f}" height="{row_h - 6}" '
            f'fill="{fill}"><title>{escape(label)}: {escape(shown)}</title></rect>'
            f'<text x="{label_width + w + 4:.1f}" y="{y + 14}" '
            f'class="legend">{escape(shown)}</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))
