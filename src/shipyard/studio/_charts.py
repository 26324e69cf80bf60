"""Small charts as inline SVG, drawn here: a metric's points over steps or time, and a
column's baseline against current proportions.

Only numbers reach the SVG, apart from category names in a bar's ``<title>`` (escaped
here; a metric's name is outside the SVG, escaped by the template), and it uses
presentation attributes, no ``style``, so it renders under the studio's
Content-Security-Policy.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from typing import Any

WIDTH, HEIGHT, PAD = 320, 120, 28


def _fmt(value: float) -> str:
    if value == 0 or 1e-3 <= abs(value) < 1e5:
        return f"{value:.4g}"
    return f"{value:.2e}"


def line_chart(points: Sequence[Mapping[str, Any]]) -> str:
    """An SVG polyline of ``points`` (``value`` against ``step``, else ``timestamp``)."""
    pairs = []
    for i, p in enumerate(points):
        y = p.get("value")
        if not isinstance(y, int | float) or not math.isfinite(y):
            continue
        x: Any = p.get("step")
        if not isinstance(x, int | float):
            stamp = p.get("timestamp")
            x = stamp if isinstance(stamp, int | float) else i
        pairs.append((float(x), float(y)))
    if len(pairs) < 2:
        return ""
    xs, ys = [x for x, _ in pairs], [y for _, y in pairs]
    x0, x1 = min(xs), max(xs)
    y0, y1 = min(ys), max(ys)
    if x1 == x0:
        x1 = x0 + 1
    if y1 == y0:
        y0, y1 = y0 - 1, y1 + 1
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD

    def sx(x: float) -> float:
        return PAD + (x - x0) / (x1 - x0) * inner_w

    def sy(y: float) -> float:
        return HEIGHT - PAD - (y - y0) / (y1 - y0) * inner_h

    line = " ".join(f"{sx(x):.1f},{sy(y):.1f}" for x, y in pairs)
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'width="{WIDTH}" height="{HEIGHT}" role="img" class="chart">'
            f'<rect x="{PAD}" y="{PAD}" width="{inner_w}" height="{inner_h}" fill="none" '
            'stroke="#ccc"/>'
            f'<polyline points="{line}" fill="none" stroke="#1f6feb" stroke-width="1.5"/>'
            f'<text x="2" y="{PAD - 4}" font-size="10" fill="#555">{_fmt(y1)}</text>'
            f'<text x="2" y="{HEIGHT - 6}" font-size="10" fill="#555">{_fmt(y0)}</text>'
            f'<text x="{WIDTH - PAD}" y="{HEIGHT - 6}" font-size="10" fill="#555" '
            f'text-anchor="end">{_fmt(x1)}</text></svg>')


def bar_chart(bars: Sequence[tuple[str, float]], width: int = 420) -> str:
    """Horizontal bars, one per ``(label, value)``, largest value the longest (labels are
    escaped: they are column names)."""
    from html import escape

    rows = [(label, value) for label, value in bars if math.isfinite(value)]
    if not rows:
        return ""
    top = max(abs(v) for _, v in rows) or 1.0
    label_w, bar_h, gap = 160, 16, 6
    height = len(rows) * (bar_h + gap) + gap
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" class="chart">']
    for i, (label, value) in enumerate(rows):
        y = gap + i * (bar_h + gap)
        length = (width - label_w - 60) * abs(value) / top
        short = label if len(label) <= 24 else label[:23] + "…"
        parts.append(f'<text x="{label_w - 6}" y="{y + bar_h - 4}" font-size="11" '
                     f'text-anchor="end" fill="#333">{escape(short)}</text>'
                     f'<rect x="{label_w}" y="{y}" width="{length:.1f}" height="{bar_h}" '
                     'fill="#1f6feb"/>'
                     f'<text x="{label_w + length + 4:.1f}" y="{y + bar_h - 4}" font-size="11" '
                     f'fill="#333">{_fmt(value)}</text>')
    parts.append("</svg>")
    return "".join(parts)


def paired_bars(reference: Sequence[float], current: Sequence[float],
                labels: Sequence[str]) -> str:
    """Baseline (grey) against current (blue) proportions per bin or category, side by side.

    ``labels`` name the bars in each pair's ``<title>`` (escaped: they are the data's own
    category names).
    """
    n = min(len(reference), len(current))
    values = [(float(reference[i]), float(current[i])) for i in range(n)
              if math.isfinite(float(reference[i])) and math.isfinite(float(current[i]))]
    if not values:
        return ""
    top = max(max(r, c) for r, c in values) or 1.0
    inner_w, inner_h = WIDTH - 2 * PAD, HEIGHT - 2 * PAD
    slot = inner_w / len(values)
    bar = max(slot * 0.4, 0.5)
    parts = []
    for i, (r, c) in enumerate(values):
        name = html.escape(str(labels[i]) if i < len(labels) else str(i))
        for j, (value, colour, who) in enumerate(((r, "#aaa", "baseline"),
                                                  (c, "#1f6feb", "current"))):
            h = value / top * inner_h
            x = PAD + i * slot + j * bar
            parts.append(f'<rect x="{x:.1f}" y="{HEIGHT - PAD - h:.1f}" width="{bar:.1f}" '
                         f'height="{h:.1f}" fill="{colour}"><title>{name}: {who} '
                         f'{value:.1%}</title></rect>')
    return (f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH} {HEIGHT}" '
            f'width="{WIDTH}" height="{HEIGHT}" role="img" class="chart bars">'
            f'<rect x="{PAD}" y="{PAD}" width="{inner_w}" height="{inner_h}" fill="none" '
            'stroke="#ccc"/>' + "".join(parts) +
            f'<text x="2" y="{PAD - 4}" font-size="10" fill="#555">{top:.0%}</text>'
            f'<text x="2" y="{HEIGHT - 6}" font-size="10" fill="#555">0</text></svg>')
