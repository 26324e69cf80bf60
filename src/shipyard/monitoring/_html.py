"""The HTML page of a monitoring report: self-contained, offline, with inline SVG charts.

A renderer only: it reads a :class:`MonitoringReport` (or its snapshot) and
computes nothing but pixel positions. Every string from the data (column names,
categories, messages) is escaped, in text and in SVG alike. The charts are
hand-written SVG rather than matplotlib images so that a page with dozens of
features renders in milliseconds and needs no plotting library.
"""

from __future__ import annotations

import html
import math
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from shipyard.monitoring._stattests import TESTS

if TYPE_CHECKING:
    from shipyard.monitoring._baseline import Baseline
    from shipyard.monitoring._drift import ColumnDrift, DriftResult
    from shipyard.monitoring._model_quality import ModelQualityResult
    from shipyard.monitoring._report import MonitoringReport

REF, CUR, BAD, MUTED = "#4c78a8", "#f58518", "#c0392b", "#888"
_CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;margin:24px;color:#222}
h1{font-size:22px}h2{font-size:18px;margin-top:28px;border-bottom:1px solid #ddd}
table{border-collapse:collapse;margin:8px 0;font-size:13px}
td,th{border:1px solid #ddd;padding:3px 8px;text-align:left;vertical-align:top}
th{background:#f5f5f5}.bad{color:#c0392b;font-weight:600}.ok{color:#1e8449}
.muted{color:#888}.cards{display:flex;flex-wrap:wrap;gap:12px}
.card{border:1px solid #ddd;border-radius:6px;padding:8px;width:340px}
.card h3{font-size:14px;margin:0 0 4px}.legend span{display:inline-block;width:10px;height:10px}
.badge{display:inline-block;padding:2px 8px;border-radius:10px;background:#eee;margin-right:6px}
"""


def e(value: Any) -> str:
    """Escape any value for HTML text or an attribute."""
    return html.escape(str(value), quote=True)


def render_html(report: MonitoringReport, *, full_page: bool = True,
                title: str = "Monitoring report") -> str:
    """The report as an HTML page (or, with ``full_page=False``, a fragment for notebooks)."""
    parts = [_summary(report), _alerts(report)]
    if report.quality is not None:
        parts.append(_quality(report))
    if report.unseen_categories and report.unseen_categories.get("rows"):
        parts.append(_unseen(report.unseen_categories))
    if report.drift is not None:
        parts.append(_drift(report.drift))
    if report.model_quality is not None:
        parts.append(_model_quality(report.model_quality))
    if report.bias_drift is not None:
        parts.append(_bias_drift(report.bias_drift))
    if report.attribution_drift is not None:
        parts.append(_attribution_drift(report.attribution_drift))
    body = "\n".join(parts)
    if not full_page:
        return f'<div class="shipyard-monitoring"><style>{_CSS}</style>{body}</div>'
    return (f'<!DOCTYPE html><html lang="en"><head><meta charset="utf-8"><title>{e(title)}'
            f"</title><style>{_CSS}</style></head><body><h1>{e(title)}</h1>{body}</body></html>")


def baseline_html(baseline: Baseline) -> str:
    """A table of a baseline's per-column statistics (its notebook view)."""
    rows = []
    for name, s in baseline.columns.items():
        spread = (f"{_fmt(s.get('min'))} … {_fmt(s.get('max'))}" if s["kind"] == "numeric"
                  else f"{s.get('distinct', '')} distinct")
        rows.append(f"<tr><td>{e(name)}</td><td>{e(s['kind'])}</td><td>{s['count']}</td>"
                    f"<td>{s['completeness']:.2%}</td><td>{e(spread)}</td></tr>")
    return (f"<div><b>Baseline</b> of {baseline.n_rows} rows<table><tr><th>column</th>"
            "<th>kind</th><th>count</th><th>complete</th><th>values</th></tr>"
            f"{''.join(rows)}</table></div>")


def _summary(r: MonitoringReport) -> str:
    n_alerts = len(r.alerts)
    badges = [f'<span class="badge">{e(r.created_at)}</span>',
              f'<span class="badge">baseline {r.n_baseline_rows:,} rows</span>',
              f'<span class="badge">current {r.n_current_rows:,} rows</span>',
              f'<span class="badge {"bad" if n_alerts else "ok"}">{n_alerts} alerts</span>']
    if r.drift is not None:
        d = r.drift
        cls = "bad" if d.dataset_drift else "ok"
        badges.append(f'<span class="badge {cls}">{len(d.drifted_columns)} of {d.n_tested} '
                      f"columns drifted ({d.share_drifted:.0%}; dataset drift at "
                      f"{d.drift_share:.0%})</span>")
    meta = "".join(f"<tr><th>{e(k)}</th><td>{e(v)}</td></tr>" for k, v in r.meta.items())
    return f"<div>{''.join(badges)}</div>" + (f"<table>{meta}</table>" if meta else "")


def _alerts(r: MonitoringReport) -> str:
    if not r.alerts:
        return '<h2>Alerts</h2><p class="ok">No alerts.</p>'
    rows = "".join(
        f"<tr><td>{e(a.kind)}</td><td>{e(a.check)}</td><td>{e(a.column or '')}</td>"
        f"<td>{e(a.message)}</td></tr>" for a in r.alerts)
    return ("<h2>Alerts</h2><table><tr><th>kind</th><th>check</th><th>column</th>"
            f"<th>message</th></tr>{rows}</table>")


def _quality(r: MonitoringReport) -> str:
    q = r.quality
    assert q is not None
    head = f"<h2>Data quality</h2><p>{q.columns_checked} columns checked over {q.n_rows:,} rows."
    if q.ok:
        return head + ' <span class="ok">No violations.</span></p>'
    rows = "".join(
        f"<tr><td>{e(v.column)}</td><td>{e(v.check)}</td><td>{e(_brief(v.observed))}</td>"
        f"<td>{e(_brief(v.expected))}</td></tr>" for v in q.violations)
    return (head + "</p><table><tr><th>column</th><th>check</th><th>observed</th>"
            f"<th>expected</th></tr>{rows}</table>")


def _unseen(u: dict[str, Any]) -> str:
    rows = "".join(
        f"<tr><td>{e(name)}</td><td>{c['rows']:,}</td><td>{c['share']:.2%}</td><td>"
        f"{e(', '.join(f'{v} ({n:,})' for v, n in c['values'].items()))}</td></tr>"
        for name, c in u.get("columns", {}).items())
    return (f"<h2>Categories the model never saw</h2><p>{u['rows']:,} rows "
            f"({u['share']:.2%}) held a category absent from the model's training data; "
            "its predictions there are guesses.</p><table><tr><th>column</th><th>rows</th>"
            f"<th>share</th><th>categories</th></tr>{rows}</table>")


def _bias_drift(b: dict[str, Any]) -> str:
    out = [f"<h2>Bias drift ({e(b.get('facet'))})</h2>"]
    if b.get("note"):
        out.append(f"<p class='muted'>{e(b['note'])}</p>")
    current = b.get("current") or {}
    base = b.get("baseline") or {}
    tol = float(b.get("tolerance") or 0)
    rows = []
    for split in sorted(set(base) | set(current)):
        for code in b.get("metrics") or []:
            now, before = (current.get(split) or {}).get(code), (base.get(split) or {}).get(code)
            moved = now is not None and before is not None and abs(now - before) > tol
            rows.append(f"<tr><td>{e(split)}</td><td>{e(code)}</td><td>{_fmt(before)}</td>"
                        f"<td>{'<b>' if moved else ''}{_fmt(now)}{'</b>' if moved else ''}"
                        "</td></tr>")
    out.append(f"<p class='muted'>Post-training bias metrics of the labelled window against "
               f"the baseline; a change above {tol:g} alerts.</p><table><tr><th>facet</th>"
               f"<th>metric</th><th>baseline</th><th>window</th></tr>{''.join(rows)}</table>")
    return "\n".join(out)


def _attribution_drift(a: dict[str, Any]) -> str:
    if a.get("note"):
        return f"<h2>Attribution drift</h2><p class='muted'>{e(a['note'])}</p>"
    base, now = a.get("baseline") or {}, a.get("current") or {}
    rank_now = {k: i + 1 for i, k in enumerate(now)}
    top = max([*base.values(), *now.values(), 1e-12])
    rows = "".join(
        f"<tr><td>{i + 1}</td><td>{e(k)}</td><td>{_fmt(v)}</td><td>{rank_now.get(k, '')}</td>"
        f"<td>{_fmt(now.get(k))}</td><td><div style='background:#4c78a8;height:8px;width:"
        f"{120 * v / top:.0f}px'></div><div style='background:#f58518;height:8px;width:"
        f"{120 * float(now.get(k) or 0) / top:.0f}px'></div></td></tr>"
        for i, (k, v) in enumerate(base.items()))
    return (f"<h2>Attribution drift</h2><p>NDCG of the window's ranking of input columns by "
            f"mean |SHAP| against the baseline's: <b>{_fmt(a.get('ndcg'))}</b> (alert below "
            f"{_fmt(a.get('threshold'))}).</p><table><tr><th>baseline rank</th><th>column</th>"
            "<th>baseline</th><th>window rank</th><th>window</th><th>blue: baseline, "
            f"orange: window</th></tr>{rows}</table>")


def _drift(d: DriftResult) -> str:
    out = ["<h2>Drift</h2>", _drift_table(d.columns)]
    tested = [c for c in d.columns if c.tested]
    if tested:
        out.append("<h3>Drift scores</h3><p class='muted'>Score relative to its threshold "
                   "(1 = threshold; p-values on a log scale).</p>" + _score_chart(tested))
        out.append(_legend() + _cards(tested))
    if d.outputs:
        out += ["<h2>Prediction drift</h2>", _drift_table(d.outputs), _cards(
            [c for c in d.outputs if c.tested])]
    return "\n".join(out)


def _drift_table(columns: Sequence[ColumnDrift]) -> str:
    rows = []
    for c in columns:
        if c.tested:
            verdict = ('<span class="bad">drift</span>' if c.drifted
                       else '<span class="ok">ok</span>')
            title = TESTS[c.test].title if c.test in TESTS else c.test
            cells = (f"<td>{e(title)}</td><td>{_fmt(c.score)}</td><td>{_fmt(c.threshold)}</td>"
                     f"<td>{verdict}</td>")
        else:
            cells = f'<td colspan="4" class="muted">skipped: {e(c.reason)}</td>'
        rows.append(f"<tr><td>{e(c.column)}</td><td>{e(c.kind)}</td>{cells}</tr>")
    return ("<table><tr><th>column</th><th>kind</th><th>test</th><th>score</th>"
            f"<th>threshold</th><th>result</th></tr>{''.join(rows)}</table>")


def strength(c: ColumnDrift) -> float:
    """A column's drift score over its threshold: 1 at the threshold, more means more drift."""
    if c.score is None or not c.threshold or c.test not in TESTS:
        return 0.0
    if TESTS[c.test].higher_is_drift:
        return c.score / c.threshold
    return math.log10(max(c.score, 1e-300)) / math.log10(c.threshold) if c.threshold < 1 else 0.0


def _score_chart(columns: Sequence[ColumnDrift]) -> str:
    cap, row, label_w, bar_w = 3.0, 18, 160, 360
    height = row * len(columns) + 20
    x1 = label_w + bar_w / cap
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{label_w + bar_w + 90}" '
             f'height="{height}" role="img" aria-label="drift scores">']
    for i, c in enumerate(columns):
        s = min(strength(c), cap)
        y = i * row + 4
        color = BAD if c.drifted else REF
        parts.append(f'<text x="{label_w - 6}" y="{y + 12}" text-anchor="end" '
                     f'font-size="12">{e(_clip(c.column, 24))}</text>'
                     f'<rect x="{label_w}" y="{y + 2}" width="{max(s / cap * bar_w, 1):.1f}" '
                     f'height="{row - 6}" fill="{color}"><title>{e(c.column)}: '
                     f"{e(_fmt(c.score))}</title></rect>"
                     f'<text x="{label_w + bar_w + 4}" y="{y + 12}" font-size="11" '
                     f'fill="{MUTED}">{e(_fmt(c.score))}</text>')
    parts.append(f'<line x1="{x1:.1f}" x2="{x1:.1f}" y1="0" y2="{height - 14}" stroke="{BAD}" '
                 'stroke-dasharray="4 3"/>'
                 f'<text x="{x1:.1f}" y="{height - 2}" font-size="11" text-anchor="middle" '
                 f'fill="{BAD}">threshold</text></svg>')
    return "".join(parts)


def _legend() -> str:
    return (f'<p class="legend"><span style="background:{REF}"></span> baseline &nbsp; '
            f'<span style="background:{CUR}"></span> current</p>')


def _cards(columns: Sequence[ColumnDrift]) -> str:
    cards = []
    for c in columns:
        if not c.distribution:
            continue
        chart = (_histogram(c.distribution) if c.distribution.get("type") == "histogram"
                 else _bars(c.distribution))
        verdict = ' <span class="bad">drift</span>' if c.drifted else ""
        cards.append(f'<div class="card"><h3>{e(c.column)}{verdict}</h3>{chart}'
                     f'<div class="muted">{e(c.test)} = {e(_fmt(c.score))}</div></div>')
    return f'<div class="cards">{"".join(cards)}</div>'


def _histogram(dist: dict[str, Any]) -> str:
    ref, cur = dist["reference"], dist["current"]
    edges = dist["edges"]
    w, h, pad = 320, 130, 18
    top = max([*ref, *cur, 1e-12])
    bw = w / max(len(ref), 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h + pad}">']
    for i, (p, q) in enumerate(zip(ref, cur, strict=True)):
        x = i * bw
        for k, (v, color) in enumerate(((p, REF), (q, CUR))):
            bh = v / top * h
            parts.append(f'<rect x="{x + k * bw / 2:.1f}" y="{h - bh:.1f}" '
                         f'width="{max(bw / 2 - 0.5, 0.5):.1f}" height="{bh:.1f}" '
                         f'fill="{color}"/>')
    parts.append(f'<text x="0" y="{h + 13}" font-size="10" fill="{MUTED}">{e(_fmt(edges[0]))}'
                 f'</text><text x="{w}" y="{h + 13}" font-size="10" text-anchor="end" '
                 f'fill="{MUTED}">{e(_fmt(edges[-1]))}</text>')
    below, above = dist.get("below", [0, 0]), dist.get("above", [0, 0])
    if any(below) or any(above):
        parts.append(f'<text x="{w / 2}" y="{h + 13}" font-size="10" text-anchor="middle" '
                     f'fill="{MUTED}">outside: {below[1] + above[1]:.1%} now, '
                     f"{below[0] + above[0]:.1%} before</text>")
    parts.append("</svg>")
    return "".join(parts)


def _bars(dist: dict[str, Any]) -> str:
    labels, ref, cur = dist["labels"], dist["reference"], dist["current"]
    row, label_w, w = 14, 110, 320
    top = max([*ref, *cur, 1e-12])
    h = row * len(labels) + 4
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}">']
    for i, (label, p, q) in enumerate(zip(labels, ref, cur, strict=True)):
        y = i * row + 2
        parts.append(
            f'<text x="{label_w - 4}" y="{y + 10}" font-size="10" text-anchor="end">'
            f"{e(_clip(label, 18))}</text>"
            f'<rect x="{label_w}" y="{y}" width="{p / top * (w - label_w):.1f}" height="5" '
            f'fill="{REF}"><title>{e(label)}: {p:.2%} before</title></rect>'
            f'<rect x="{label_w}" y="{y + 6}" width="{q / top * (w - label_w):.1f}" height="5" '
            f'fill="{CUR}"><title>{e(label)}: {q:.2%} now</title></rect>')
    parts.append("</svg>")
    return "".join(parts)


def _model_quality(m: ModelQualityResult) -> str:
    out = [f"<h2>Model quality ({e(m.problem_type)})</h2>",
           f"<p>{m.n_matched:,} of {m.n_predictions:,} predictions matched to "
           f"{m.n_labels:,} labels.</p>"]
    out += [f'<p class="muted">{e(n)}</p>' for n in m.notes]
    metrics = [t.metric for t in m.thresholds] or sorted(m.overall)
    for metric in dict.fromkeys(metrics):
        points = [(w.start, w.metrics.get(metric)) for w in m.windows]
        base = (m.baseline or {}).get(metric)
        out.append(f'<div class="card" style="width:auto"><h3>{e(metric)} over time</h3>'
                   f"{_line(points, base)}</div>")
    rows = "".join(
        f"<tr><td>{e(w.start)}</td><td>{w.n}</td>"
        + "".join(f"<td>{_fmt(w.metrics.get(k))}</td>" for k in metrics) + "</tr>"
        for w in m.windows)
    head = "".join(f"<th>{e(k)}</th>" for k in metrics)
    out.append(f"<table><tr><th>window</th><th>n</th>{head}</tr>{rows}</table>")
    return "\n".join(out)


def _line(points: Sequence[tuple[str, float | None]], base: float | None) -> str:
    w, h, pad = 520, 140, 30
    values = [v for _, v in points if v is not None] + ([base] if base is not None else [])
    if not values:
        return '<p class="muted">No values.</p>'
    lo, hi = min(values), max(values)
    span = (hi - lo) or 1.0
    lo, hi = lo - span * 0.1, hi + span * 0.1

    def y(v: float) -> float:
        return h - (v - lo) / (hi - lo) * h + 5

    n = max(len(points) - 1, 1)
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w + pad}" height="{h + 30}">']
    if base is not None:
        parts.append(f'<line x1="{pad}" x2="{w + pad}" y1="{y(base):.1f}" y2="{y(base):.1f}" '
                     f'stroke="{MUTED}" stroke-dasharray="4 3"/><text x="{w + pad}" '
                     f'y="{y(base) - 3:.1f}" font-size="10" text-anchor="end" fill="{MUTED}">'
                     f"baseline {e(_fmt(base))}</text>")
    xy = [(pad + i / n * w, y(v)) for i, (_, v) in enumerate(points) if v is not None]
    if len(xy) > 1:
        path = " ".join(f"{x:.1f},{yy:.1f}" for x, yy in xy)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{CUR}" stroke-width="2"/>')
    parts += [f'<circle cx="{x:.1f}" cy="{yy:.1f}" r="3" fill="{CUR}"/>' for x, yy in xy]
    if points:
        parts.append(f'<text x="{pad}" y="{h + 24}" font-size="10" fill="{MUTED}">'
                     f"{e(points[0][0][:16])}</text><text x=\"{w + pad}\" y=\"{h + 24}\" "
                     f'font-size="10" text-anchor="end" fill="{MUTED}">'
                     f"{e(points[-1][0][:16])}</text>")
    parts.append("</svg>")
    return "".join(parts)


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:.4g}"
    return str(value)


def _brief(value: Any) -> str:
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items())
    return _fmt(value)


def _clip(text: str, n: int) -> str:
    return text if len(text) <= n else text[: n - 1] + "…"
