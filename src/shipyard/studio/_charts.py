"""Small charts as inline SVG, drawn here: a metric's points over steps or time, a
metric compared across runs or columns (bars), a column's baseline against current
proportions, tuning trials in parallel coordinates, a pipeline's steps as a DAG.

Numbers reach the SVG, and labels (run names, column names, hyperparameter names)
escaped here; a chart's title is outside it, escaped by the template. It uses
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


def _esc(text: str) -> str:
    return html.escape(text, quote=True)


BAR_H, LABEL_W = 18, 150


def bar_chart(bars: Sequence[tuple[str, float]]) -> str:
    """Horizontal bars, one per ``(label, value)``: a metric compared across runs.

    Labels are escaped here (they are user strings: run names, job ids)."""
    rows = [(label, float(v)) for label, v in bars
            if isinstance(v, int | float) and math.isfinite(v)]
    if not rows:
        return ""
    low = min(0.0, *(v for _, v in rows))
    high = max(0.0, *(v for _, v in rows))
    if high == low:
        high = low + 1
    inner = WIDTH * 2 - LABEL_W - 60
    height = PAD + len(rows) * (BAR_H + 4)

    def sx(v: float) -> float:
        return LABEL_W + (v - low) / (high - low) * inner

    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {WIDTH * 2} {height}" '
             f'width="{WIDTH * 2}" height="{height}" role="img" class="chart compare">']
    for i, (label, v) in enumerate(rows):
        y = PAD // 2 + i * (BAR_H + 4)
        x0, x1 = sorted((sx(0.0), sx(v)))
        parts.append(
            f'<text x="{LABEL_W - 4}" y="{y + BAR_H - 5}" font-size="10" fill="#333" '
            f'text-anchor="end">{_esc(label[:28])}</text>'
            f'<rect class="bar" x="{x0:.1f}" y="{y}" width="{max(x1 - x0, 1):.1f}" '
            f'height="{BAR_H}" fill="#1f6feb"/>'
            f'<text x="{x1 + 4:.1f}" y="{y + BAR_H - 5}" font-size="10" fill="#555">'
            f'{_fmt(v)}</text>')
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


def parallel_coordinates(axes: Sequence[str], lines: Sequence[Sequence[float]],
                         shades: Sequence[float]) -> str:
    """One polyline per line across ``axes`` (each value already scaled to 0..1, NaN for
    none), coloured by its shade (0..1: 1 is the best objective). Axis names are escaped."""
    if len(axes) < 2 or not lines:
        return ""
    side = 70  # room for an axis name centred under the first and the last axis
    width = max(WIDTH * 2, 120 * len(axes))
    height = 220
    top, bottom = PAD, height - PAD - 20
    step = (width - 2 * side) / (len(axes) - 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width} {height}" '
             f'width="{width}" height="{height}" role="img" class="chart parallel">']
    parts.append(f'<text x="{side - 6}" y="{top + 4}" font-size="9" fill="#555" '
                 f'text-anchor="end">high</text><text x="{side - 6}" y="{bottom}" '
                 'font-size="9" fill="#555" text-anchor="end">low</text>')
    for i, name in enumerate(axes):
        x = side + i * step
        parts.append(f'<line x1="{x:.1f}" y1="{top}" x2="{x:.1f}" y2="{bottom}" '
                     'stroke="#999"/>'
                     f'<text class="axis" x="{x:.1f}" y="{height - 8}" font-size="10" '
                     f'fill="#333" text-anchor="middle">{_esc(name[:24])}</text>')
    for values, shade in sorted(zip(lines, shades, strict=True), key=lambda p: p[1]):
        points = [(side + i * step, bottom - v * (bottom - top))
                  for i, v in enumerate(values) if math.isfinite(v)]
        if len(points) < 2:
            continue
        s = min(max(shade, 0.0), 1.0)
        # From grey-blue (worst) to orange (best): presentation attributes only.
        colour = f"#{int(60 + 157 * s):02x}{int(110 + 9 * s):02x}{int(200 - 194 * s):02x}"
        line = " ".join(f"{x:.1f},{y:.1f}" for x, y in points)
        parts.append(f'<polyline class="trial" points="{line}" fill="none" '
                     f'stroke="{colour}" stroke-width="1.5"/>')
    parts.append("</svg>")
    return "".join(parts)


#: A step's fill by its status (anything else: grey).
STEP_FILL = {"Succeeded": "#d1f0d8", "Failed": "#f8d4d4", "Running": "#fff1c2",
             "Starting": "#fff1c2", "Pending": "#f3f3f3", "Skipped": "#e6e6e6",
             "Stopped": "#e6e6e6"}
BOX_W, BOX_H, GAP_X, GAP_Y = 150, 34, 50, 14


def dag(steps: Sequence[tuple[str, str | None]], needs: Mapping[str, Sequence[str]]) -> str:
    """Steps as boxes in columns by how many steps they wait for in a row (a step is one
    column right of the last one it waits for), arrows from what each waits for; a box is
    filled by its status (``None``: not started). Names are escaped here."""
    names = [n for n, _ in steps]
    if not names:
        return ""
    column: dict[str, int] = {}

    def depth(name: str, seen: frozenset[str] = frozenset()) -> int:
        if name not in column:
            before = [d for d in needs.get(name, ()) if d in names and d not in seen]
            column[name] = 1 + max((depth(d, seen | {name}) for d in before), default=-1)
        return column[name]

    rows: dict[int, int] = {}
    place: dict[str, tuple[float, float]] = {}
    for name in names:
        c = depth(name)
        r = rows.get(c, 0)
        rows[c] = r + 1
        place[name] = (PAD / 2 + c * (BOX_W + GAP_X), PAD / 2 + r * (BOX_H + GAP_Y))
    width = PAD + (max(column.values()) + 1) * (BOX_W + GAP_X) - GAP_X
    height = PAD + max(rows.values()) * (BOX_H + GAP_Y) - GAP_Y
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {width:.0f} {height:.0f}" '
             f'width="{width:.0f}" height="{height:.0f}" role="img" class="chart dag">']
    for name in names:
        x, y = place[name]
        for d in needs.get(name, ()):
            if d in place:
                dx, dy = place[d]
                parts.append(f'<line class="edge" x1="{dx + BOX_W:.1f}" y1="{dy + BOX_H / 2:.1f}" '
                             f'x2="{x:.1f}" y2="{y + BOX_H / 2:.1f}" stroke="#888"/>'
                             f'<circle cx="{x:.1f}" cy="{y + BOX_H / 2:.1f}" r="3" '
                             'fill="#888"/>')
    for name, status in steps:
        x, y = place[name]
        fill = STEP_FILL.get(status or "", "#ffffff")
        parts.append(f'<g class="node"><rect x="{x:.1f}" y="{y:.1f}" width="{BOX_W}" '
                     f'height="{BOX_H}" rx="4" fill="{fill}" stroke="#666"/>'
                     f'<text x="{x + 8:.1f}" y="{y + 14:.1f}" font-size="11" fill="#111">'
                     f'{_esc(name[:22])}</text><text x="{x + 8:.1f}" y="{y + 28:.1f}" '
                     f'font-size="9" fill="#555">{_esc(status or "")}</text></g>')
    parts.append("</svg>")
    return "".join(parts)
