"""Small inline SVG charts for the report: histograms, value bars, stacked shares.

Renderers only: they draw figures a profile snapshot already holds. Dozens of small
multiples are drawn per report, so they are written as SVG text directly (well under
a millisecond each) rather than through matplotlib; every label is escaped.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

PALETTE = ("#4f46e5", "#f59e0b", "#10b981", "#ef4444", "#06b6d4", "#8b5cf6", "#84cc16",
           "#ec4899", "#64748b")
TEXT = "#374151"
#: Average width of a character of the 10–11 px labels, to cut labels to their room.
CHAR_PX = 6.2


def short(value: Any, width: int = 24) -> str:
    """A value as display text of at most ``width`` characters (not escaped)."""
    text = f"{value:.4g}" if isinstance(value, float) else str(value)
    return text if len(text) <= width else text[: width - 1] + "…"


def _svg(width: int, height: int, body: str, label: str) -> str:
    return (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(label)}">'
            f"{body}</svg>")


def histogram(h: Mapping[str, Any], width: int = 280, height: int = 96, label: str = "") -> str:
    """Vertical bars of a histogram snapshot (``edges`` or ``values``, and ``counts``)."""
    counts = [int(c) for c in h.get("counts") or []]
    if not counts or max(counts) == 0:
        return ""
    if "edges" in h:
        edges = h["edges"]
        names = [f"{short(edges[k])} – {short(edges[k + 1])}" for k in range(len(counts))]
        ends = (short(edges[0]), short(edges[-1]))
    else:
        names = [short(v) for v in h.get("values") or []]
        ends = (names[0], names[-1]) if names else ("", "")
    plot_h = height - 16
    step = width / len(counts)
    top = max(counts)
    bars = []
    for k, c in enumerate(counts):
        bar_h = plot_h * c / top
        bars.append(
            f'<rect x="{k * step + 0.5:.1f}" y="{plot_h - bar_h:.1f}" '
            f'width="{max(step - 1, 1):.1f}" height="{bar_h:.1f}" fill="{PALETTE[0]}">'
            f"<title>{escape(names[k] if k < len(names) else '')}: {c:,}</title></rect>")
    axis = (f'<text x="0" y="{height - 3}" font-size="10" fill="{TEXT}">{escape(ends[0])}</text>'
            f'<text x="{width}" y="{height - 3}" font-size="10" fill="{TEXT}" '
            f'text-anchor="end">{escape(ends[1])}</text>')
    return _svg(width, height, "".join(bars) + axis, label or "histogram")


def hbars(labels: Sequence[Any], values: Sequence[float], width: int = 280,
          fmt: str = "{:,}", label: str = "") -> str:
    """Horizontal bars with their labels and values (frequent values, means per bin).

    Negative values grow left from a zero line, positive ones right.
    """
    if not values:
        return ""
    row, label_w, value_w = 16, int(width * 0.42), 58
    bar_w = width - label_w - value_w
    room = int((label_w - 6) / CHAR_PX)
    lo, hi = min(0.0, min(values)), max(0.0, max(values))
    span = (hi - lo) or 1.0
    zero = label_w + bar_w * (-lo / span)
    parts = []
    for k, (name, v) in enumerate(zip(labels, values, strict=False)):
        y = k * row
        end = label_w + bar_w * ((v - lo) / span)
        left, length = min(zero, end), abs(end - zero)
        parts.append(
            f'<text x="{label_w - 4}" y="{y + 12}" font-size="11" fill="{TEXT}" '
            f'text-anchor="end">{escape(short(name, room))}<title>{escape(str(name))}</title>'
            f'</text><rect x="{left:.1f}" y="{y + 3}" width="{length:.1f}" height="{row - 5}" '
            f'fill="{PALETTE[0] if v >= 0 else PALETTE[3]}"/><text x="{max(zero, end) + 4:.1f}" '
            f'y="{y + 12}" font-size="11" fill="{TEXT}">{escape(fmt.format(v))}</text>')
    if lo < 0:
        parts.append(f'<line x1="{zero:.1f}" x2="{zero:.1f}" y1="0" y2="{row * len(values)}" '
                     f'stroke="{TEXT}" stroke-width="0.5"/>')
    return _svg(width, row * len(values) + 2, "".join(parts), label or "bars")


def stacked(bins: Sequence[str], shares: Mapping[str, Sequence[float]],
            width: int = 280, label: str = "") -> str:
    """One horizontal bar per bin, split by each class's share (a feature against classes)."""
    if not bins or not shares:
        return ""
    row, label_w = 15, int(width * 0.4)
    bar_w = width - label_w - 2
    room = int((label_w - 6) / (CHAR_PX - 0.6))
    parts = []
    for k, name in enumerate(bins):
        y, x = k * row, float(label_w)
        parts.append(f'<text x="{label_w - 4}" y="{y + 11}" font-size="10" fill="{TEXT}" '
                     f'text-anchor="end">{escape(short(name, room))}<title>{escape(str(name))}'
                     "</title></text>")
        for ci, (cls, values) in enumerate(shares.items()):
            w = bar_w * float(values[k])
            parts.append(f'<rect x="{x:.1f}" y="{y + 2}" width="{w:.1f}" height="{row - 4}" '
                         f'fill="{PALETTE[ci % len(PALETTE)]}"><title>{escape(str(cls))}: '
                         f'{float(values[k]):.1%} of {escape(str(name))}</title></rect>')
            x += w
    legend_y = row * len(bins) + 12
    legend = []
    x = 0.0
    for ci, cls in enumerate(shares):
        legend.append(f'<rect x="{x:.0f}" y="{legend_y - 9}" width="9" height="9" '
                      f'fill="{PALETTE[ci % len(PALETTE)]}"/><text x="{x + 12:.0f}" '
                      f'y="{legend_y}" font-size="10" fill="{TEXT}">'
                      f"{escape(short(cls, 12))}</text>")
        x += 16 + 6.5 * len(short(cls, 12))
    return _svg(width, legend_y + 4, "".join(parts + legend), label or "shares")
