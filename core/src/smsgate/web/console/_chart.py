"""The channel page's chart: messages per hour of the last 24 hours, stacked by status, as inline SVG.

Rendered on the server (no JavaScript, no external request); colours come from the stylesheet's classes, so the
page's Content-Security-Policy needs no inline style. Every bar segment has a `<title>` (a tooltip, and what a
screen reader announces), and the page repeats the numbers in a table.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape

from markupsafe import Markup

# bottom to top; the order people read a message's life in
STATUSES = ("received", "queued", "errored", "wired", "sent", "delivered", "read", "failed")

_W, _H, _LEFT, _BOTTOM, _TOP = 720, 150, 34, 18, 8


def hourly_svg(hours: Sequence[str], counts: Mapping[str, Mapping[str, int]], *, title: str, chart_id: str
               ) -> Markup:
    """A stacked bar per hour of `hours` (`YYYY-MM-DDTHH`); `counts[hour][status]` messages in each segment."""
    totals = [sum(counts.get(h, {}).values()) for h in hours]
    peak = max(totals, default=0)
    top = _nice(peak)
    plot_h = _H - _BOTTOM - _TOP
    slot = (_W - _LEFT) / max(len(hours), 1)
    bar = max(slot * 0.75, 1.0)
    parts = [f'<svg class="chart" viewBox="0 0 {_W} {_H}" role="img" aria-labelledby="{chart_id}-t" '
             f'xmlns="http://www.w3.org/2000/svg">',
             f'<title id="{chart_id}-t">{escape(title)}: {sum(totals)} messages in the last {len(hours)} hours, '
             f'at most {peak} in one hour</title>']
    for fraction in (0.5, 1.0):  # gridlines with their values (whole messages only)
        if top * fraction != int(top * fraction):
            continue
        y = _TOP + plot_h * (1 - fraction)
        parts.append(f'<line class="grid" x1="{_LEFT}" x2="{_W}" y1="{y:.1f}" y2="{y:.1f}"/>')
        parts.append(f'<text class="axis" x="{_LEFT - 4}" y="{y + 4:.1f}" text-anchor="end">'
                     f'{_short(top * fraction)}</text>')
    parts.append(f'<line class="axis-line" x1="{_LEFT}" x2="{_W}" y1="{_TOP + plot_h}" y2="{_TOP + plot_h}"/>')
    for i, hour in enumerate(hours):
        x = _LEFT + i * slot + (slot - bar) / 2
        y = _TOP + plot_h
        for status in STATUSES:
            n = counts.get(hour, {}).get(status, 0)
            if not n or not top:
                continue
            h = plot_h * n / top
            y -= h
            parts.append(f'<rect class="s-{status}" x="{x:.1f}" y="{y:.1f}" width="{bar:.1f}" height="{h:.1f}">'
                         f'<title>{hour[11:13]}:00 UTC: {n} {status}</title></rect>')
        if i % 6 == 0 or i == len(hours) - 1:
            parts.append(f'<text class="axis" x="{_LEFT + i * slot + slot / 2:.1f}" y="{_H - 4}" '
                         f'text-anchor="middle">{hour[11:13]}h</text>')
    parts.append("</svg>")
    return Markup("".join(parts))


def _nice(peak: int) -> int:
    """The axis top: the smallest 1, 2 or 5 times a power of ten at or above `peak`."""
    if peak <= 0:
        return 0
    magnitude = 1
    while True:
        for step in (1, 2, 5):
            if step * magnitude >= peak:
                return step * magnitude
        magnitude *= 10


def _short(value: float) -> str:
    if value >= 1000:
        return f"{value / 1000:g}k"
    return f"{value:g}"
