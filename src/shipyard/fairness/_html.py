"""The HTML page of a bias report: offline, self-contained, with inline SVG bars.

A renderer only: it reads a :class:`BiasReport` and computes nothing but pixel
positions. Each metric gets one horizontal bar on its own axis (its range, clipped to
what the values need when the range is unbounded): the bar runs from the metric's fair
value to its value, the 0 line is drawn, and the rule-of-thumb band around the fair
value is shaded. Every string from the data is escaped, in text and SVG alike.
"""

from __future__ import annotations

import html
from typing import TYPE_CHECKING, Any

from shipyard.fairness._metrics import METRICS, Metric
from shipyard.humanize import count, number

if TYPE_CHECKING:
    from shipyard.fairness._report import BiasReport, FacetResult, MetricValue

OK, BAD, BAND, AXIS = "#4c78a8", "#f58518", "#e3f1e3", "#444"
WIDTH, HEIGHT, PAD = 260, 18, 6
_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#222}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
h3{font-size:15px;margin:14px 0 4px}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:middle}
th{background:#f5f5f5}.num{text-align:right;font-variant-numeric:tabular-nums}
.muted{color:#888}.note{color:#555;font-size:13px}svg{display:block}
"""


def e(value: Any) -> str:
    """Escape any value for HTML text or an attribute."""
    return html.escape(str(value), quote=True)


def render_html(report: BiasReport, *, full_page: bool = True,
                title: str = "Bias report") -> str:
    """The report as an HTML page (or, with ``full_page=False``, a fragment for notebooks)."""
    parts = [_summary(report)]
    parts += [_facet(f) for f in report.facets]
    parts.append(_legend())
    body = "\n".join(parts)
    if not full_page:
        return f'<div class="shipyard-bias"><style>{_CSS}</style>{body}</div>'
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}'
            f"</title><style>{_CSS}</style></head><body><h1>{e(title)}</h1>{body}</body></html>")


def _summary(report: BiasReport) -> str:
    c = report.config
    if c.label_threshold is not None:
        outcome = f"{c.label} > {c.label_threshold:g}"
    elif c.positive is not None:
        outcome = f"{c.label} in {', '.join(str(v) for v in c.positive)}"
    else:
        outcome = f"{c.label} (categories; no positive outcome)"
    dropped = report.n_rows - report.n_used
    missing = ", ".join(f"{count(n, 'row')} without {k}" for k, n in report.missing.items()
                        if n)
    rows = [("Positive outcome", outcome), ("Facet", c.facet),
            ("Group", c.group or "none (CDDL and CDDPL are DD)"),
            ("Rows", f"{number(report.n_used)} used of {number(report.n_rows)}"
                     + (f"; {number(dropped)} dropped ({missing})" if dropped else ""))]
    table = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in rows)
    notes = "".join(f'<p class="note">{e(n)}</p>' for n in report.notes)
    return f"<table>{table}</table>{notes}"


def _facet(result: FacetResult) -> str:
    share = result.positive_share
    facts = [f"facet d: {number(result.n_d)} rows", f"facet a: {number(result.n_a)} rows"]
    if share.get("d") is not None:
        facts.append(f"positive labels: d {_pct(share['d'])}, a {_pct(share['a'])}")
    if share.get("predicted_d") is not None:
        facts.append(f"positive predictions: d {_pct(share['predicted_d'])}, "
                     f"a {_pct(share['predicted_a'])}")
    parts = [f"<h2>Facet d: {e(result.facet)}</h2>",
             f'<p class="muted">{e(" · ".join(facts))}</p>',
             "<h3>Pre-training (the data)</h3>", _table(result.pre)]
    if result.post is not None:
        parts += ["<h3>Post-training (the model's predictions)</h3>", _table(result.post)]
    return "\n".join(parts)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.1f}%"


def _table(values: tuple[MetricValue, ...]) -> str:
    rows = []
    for v in values:
        m = METRICS[v.code]
        shown = number(round(v.value, 4)) if v.value is not None else \
            f'<span class="muted">null: {e(v.reason)}</span>'
        rows.append(f'<tr><th title="{e(m.description)}">{e(m.code)}</th><td>{e(m.title)}</td>'
                    f'<td class="num">{shown}</td><td>{_bar(m, v.value)}</td></tr>')
    return ("<table><tr><th>Metric</th><th>Name</th><th>Value</th><th>Bar (fair band "
            "shaded; line at 0)</th></tr>" + "".join(rows) + "</table>")


def _axis(m: Metric, value: float | None) -> tuple[float, float]:
    points = [m.fair, *m.band, 0.0] + ([value] if value is not None else [])
    low = m.low if m.low is not None else min(points) - 0.1 * (max(points) - min(points) + 1)
    high = m.high if m.high is not None else max(points) + 0.1 * (max(points) - min(points)
                                                                   + 1)
    return float(low), float(high)


def _bar(m: Metric, value: float | None) -> str:
    low, high = _axis(m, value)

    def x(v: float) -> float:
        v = min(max(v, low), high)
        return PAD + (WIDTH - 2 * PAD) * (v - low) / (high - low)

    band = (f'<rect x="{x(m.band[0]):.1f}" y="1" width="{x(m.band[1]) - x(m.band[0]):.1f}" '
            f'height="{HEIGHT - 2}" fill="{BAND}"/>')
    zero = (f'<line x1="{x(0):.1f}" x2="{x(0):.1f}" y1="0" y2="{HEIGHT}" stroke="{AXIS}" '
            'stroke-width="1"/>')
    fair = "" if m.fair == 0 else (
        f'<line x1="{x(m.fair):.1f}" x2="{x(m.fair):.1f}" y1="0" y2="{HEIGHT}" '
        f'stroke="{AXIS}" stroke-dasharray="2,2"/>')
    bar = ""
    if value is not None:
        inside = m.band[0] <= value <= m.band[1]
        left, right = sorted((x(m.fair), x(value)))
        bar = (f'<rect x="{left:.1f}" y="4" width="{max(right - left, 1.5):.1f}" '
               f'height="{HEIGHT - 8}" fill="{OK if inside else BAD}"/>')
    ticks = (f'<text x="{PAD}" y="{HEIGHT + 10}" font-size="9" fill="#888">{e(_tick(low))}</text>'
             f'<text x="{WIDTH - PAD}" y="{HEIGHT + 10}" font-size="9" fill="#888" '
             f'text-anchor="end">{e(_tick(high))}</text>')
    return (f'<svg width="{WIDTH}" height="{HEIGHT + 12}" role="img" '
            f'aria-label="{e(m.code)}">{band}{zero}{fair}{bar}{ticks}</svg>')


def _tick(v: float) -> str:
    return number(round(v, 3))


def _legend() -> str:
    return ('<p class="note">Facet d is the group the facet selects; facet a is the rest. '
            "Each bar runs from the metric's fair value (0, or 1 for DI) to its value. Signs "
            "follow SageMaker Clarify: a positive value (DI: below 1) is the direction "
            "Clarify reads as bias against facet d; docs/bias.md says what each means. "
            "The shaded band is a rule of thumb (±0.1 for differences, 0.8–1.25 for DI), not "
            "a verdict. A null metric could not be computed on these rows (the reason is "
            "shown).</p>")
