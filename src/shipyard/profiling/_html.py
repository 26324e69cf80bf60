"""The HTML report of a profile: one self-contained page, or a fragment for notebooks.

A renderer only: everything comes from the :class:`Profile` (so a stored snapshot
renders the same report). Styles are inline, images are inline (SVG bars, an SVG
heatmap as a data URL), no script runs and nothing is fetched: the page works
offline. Every name and value from the data is escaped.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

from shipyard.profiling import _svg
from shipyard.profiling._result import (
    ColumnProfile,
    FeatureAssociation,
    Matrix,
    Profile,
    ProfileWarning,
    TargetAnalysis,
)

#: Feature-against-target plots drawn (the most predictive features).
TARGET_PLOTS = 12
#: Warnings listed in the notebook view before "… and N more".
FRAGMENT_WARNINGS = 15

_CSS = """
.sy-profile{font-family:system-ui,-apple-system,Segoe UI,Roboto,sans-serif;color:#111827;
 font-size:13px;line-height:1.4;max-width:1200px}
.sy-profile h2{font-size:18px;margin:18px 0 6px;border-bottom:1px solid #e5e7eb;padding-bottom:3px}
.sy-profile h3{font-size:14px;margin:0 0 4px}
.sy-profile table{border-collapse:collapse;margin:4px 0}
.sy-profile td,.sy-profile th{padding:2px 8px;text-align:left;border-bottom:1px solid #f3f4f6;
 vertical-align:top}
.sy-profile th{font-weight:600;color:#374151}
.sy-profile .num{text-align:right;font-variant-numeric:tabular-nums}
.sy-profile .muted{color:#6b7280}
.sy-profile .grid{display:flex;flex-wrap:wrap;gap:10px}
.sy-profile .card{border:1px solid #e5e7eb;border-radius:6px;padding:8px 10px;width:560px}
.sy-profile .small{width:300px}
.sy-profile .sev{border-radius:3px;padding:0 6px;color:#fff;font-size:11px}
.sy-profile .high{background:#dc2626}.sy-profile .medium{background:#d97706}
.sy-profile .low{background:#6b7280}
.sy-profile code{font-size:11px;background:#f3f4f6;padding:1px 3px;border-radius:3px}
.sy-profile .facts td:first-child{color:#6b7280}
.sy-profile img{max-width:100%}
"""


def _num(value: Any, digits: int = 4) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.{digits}g}" if abs(value) < 1e15 else f"{value:.3e}"
    return escape(str(value))


def _pct(share: float | None) -> str:
    if share is None:
        return "–"
    return "&lt;0.1%" if 0 < share < 0.0005 else f"{100 * share:.1f}%"


def _bytes(n: int) -> str:
    size = float(n)
    for unit in ("B", "KB", "MB", "GB"):
        if size < 1024 or unit == "GB":
            return f"{size:.0f} {unit}" if unit == "B" else f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GB"  # pragma: no cover


def _table(headers: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int]) -> str:
    """Cells are HTML already (escaped by the caller)."""
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = "".join(
        "<tr>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
                         for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _facts(pairs: Sequence[tuple[str, str]]) -> str:
    rows = "".join(f"<tr><td>{escape(k)}</td><td class='num'>{v}</td></tr>" for k, v in pairs)
    return f"<table class='facts'>{rows}</table>"


# -- sections --------------------------------------------------------------------------------
def _overview(p: Profile) -> str:
    cells = p.rows * len(p.columns)
    kinds: dict[str, int] = {}
    for c in p.columns:
        kinds[c.semantic_type] = kinds.get(c.semantic_type, 0) + 1
    types = ", ".join(f"{escape(k)} {v}" for k, v in sorted(kinds.items()))
    sample = (f"{p.sample_rows:,} rows (seed {p.seed})" if p.sample_rows < p.rows
              else f"all {p.rows:,} rows")
    missing = p.missing_cells / cells if cells else 0.0
    pairs = [("rows", f"{p.rows:,}"), ("columns", f"{len(p.columns):,}"),
             ("missing cells", f"{p.missing_cells:,} ({_pct(missing)})"),
             ("duplicate rows", f"{p.duplicate_rows:,} ({_pct(p.duplicate_share)})"),
             ("memory", _bytes(p.memory_bytes)), ("column types", types),
             ("sample for associations", sample),
             ("computed in", f"{float(p.timings.get('total', 0.0)):.2f} s")]
    return "<h2>Overview</h2>" + _facts(pairs)


def _suggestion(s: Mapping[str, Any] | None) -> str:
    return "" if not s else f"<code>{escape(json.dumps(s, default=str))}</code>"


def _warnings(warnings: Sequence[ProfileWarning], limit: int | None) -> str:
    if not warnings:
        return "<h2>Warnings</h2><p class='muted'>No warnings.</p>"
    shown = warnings[:limit] if limit else warnings
    rows = [[f"<span class='sev {escape(w.severity)}'>{escape(w.severity)}</span>",
             escape(w.kind.replace("_", " ")), escape(w.message), _suggestion(w.suggestion)]
            for w in shown]
    more = (f"<p class='muted'>… and {len(warnings) - len(shown)} more (see the full report)</p>"
            if len(shown) < len(warnings) else "")
    return (f"<h2>Warnings ({len(warnings)})</h2>"
            + _table(["severity", "kind", "finding", "suggested recipe step"], rows, set())
            + more)


def _feature_plot(f: FeatureAssociation, t: TargetAnalysis) -> str:
    plot = f.plot or {}
    bins = [str(b) for b in plot.get("bins") or []]
    if "class_shares" in plot:
        chart = _svg.stacked(bins, plot["class_shares"], label=f"{f.column} by {t.column}")
    elif "target_mean" in plot:
        chart = _svg.hbars(bins, [float(v) for v in plot["target_mean"]], fmt="{:.4g}",
                           label=f"mean {t.column} by {f.column}")
    else:
        chart = ""
    what = "class shares" if "class_shares" in plot else f"mean {t.column}"
    return (f"<div class='card small'><h3>{escape(f.column)}</h3><div class='muted'>"
            f"{escape(what)} by {escape(f.column)}</div>{chart}</div>")


def _target(t: TargetAnalysis, column: ColumnProfile) -> str:
    model = t.model or {}
    pairs = [("target", escape(t.column)), ("problem type", escape(t.problem_type)),
             ("rows without a target", f"{t.missing:,}")]
    if t.imbalance_ratio is not None:
        pairs.append(("majority / minority class", f"{t.imbalance_ratio:.2f}"))
    if model.get("metric"):
        pairs.append(("quick model", f"{escape(str(model.get('kind')))}, "
                      f"{escape(str(model['metric']))} {_num(model.get('score'))} on "
                      f"{_num(model.get('holdout_rows'))} held-out rows"))
    out = ["<h2>Target</h2>", _facts(pairs)]
    if t.classes:
        out.append("<h3>Classes</h3>" + _svg.hbars([c["value"] for c in t.classes],
                                                   [int(c["count"]) for c in t.classes],
                                                   width=420, label="classes"))
    elif column.histogram:
        out.append("<h3>Distribution</h3>" + _svg.histogram(column.histogram, width=420,
                                                             label=f"histogram of {t.column}"))
    rows = [[str(f.rank), escape(f.column) + (" <span class='sev high'>leak?</span>" if f.leak
                                              else " <span class='sev medium'>strong</span>"
                                              if f.strong else ""),
             _num(f.importance, 3), _num(f.mutual_info, 3),
             f"{_num(f.association, 3)} <span class='muted'>"
             f"{escape((f.measure or '').replace('_', ' '))}</span>"]
            for f in t.features]
    out.append("<h3>Features by predictive power</h3>"
               + _table(["rank", "feature", "importance", "mutual information (nats)",
                         "association"], rows, {0, 2, 3}))
    plots = [_feature_plot(f, t) for f in t.features[:TARGET_PLOTS] if f.plot]
    if plots:
        out.append("<h3>Features against the target</h3><div class='grid'>"
                   + "".join(plots) + "</div>")
    return "".join(out)


def _column_stats(c: ColumnProfile) -> list[tuple[str, str]]:
    pairs = [("values", f"{c.count:,}"), ("missing", f"{c.missing:,} ({_pct(c.missing_share)})"),
             ("distinct", f"{c.distinct:,} ({_pct(c.distinct_share)})"),
             ("memory", _bytes(c.memory_bytes))]
    n = c.numeric
    if n:
        q = n.get("quantiles") or {}
        pairs += [("mean", _num(n.get("mean"))), ("std", _num(n.get("std"))),
                  ("min", _num(n.get("min"))), ("5% · 25%", f"{_num(q.get('p05'))} · "
                                                            f"{_num(q.get('p25'))}"),
                  ("median", _num(q.get("p50"))),
                  ("75% · 95%", f"{_num(q.get('p75'))} · {_num(q.get('p95'))}"),
                  ("max", _num(n.get("max"))), ("skew", _num(n.get("skew"), 3)),
                  ("kurtosis", _num(n.get("kurtosis"), 3)),
                  ("zeros · negatives", f"{_num(n.get('zeros'))} · {_num(n.get('negatives'))}"),
                  ("outliers IQR · z", f"{_num(n.get('outliers_iqr'))} · "
                                       f"{_num(n.get('outliers_z'))}")]
        if n.get("infinite"):
            pairs.append(("infinite", _num(n["infinite"])))
    if c.text:
        t = c.text
        pairs += [("length min · mean · max", f"{_num(t.get('min_length'))} · "
                   f"{_num(t.get('mean_length'), 3)} · {_num(t.get('max_length'))}"),
                  ("empty strings", _num(t.get("empty")))]
    if c.datetime:
        d = c.datetime
        pairs += [("first", escape(str(d.get("min")))), ("last", escape(str(d.get("max")))),
                  ("span (days)", _num(d.get("range_days"), 5))]
    return pairs


def _column(c: ColumnProfile, flagged: set[str]) -> str:
    chart = _svg.histogram(c.histogram, label=f"histogram of {c.name}") if c.histogram else ""
    top = ""
    if c.top and c.semantic_type not in ("numeric",):
        top = "<div class='muted'>most frequent</div>" + _svg.hbars(
            [v["value"] for v in c.top], [int(v["count"]) for v in c.top],
            label=f"most frequent values of {c.name}")
    flag = " <span class='sev medium'>warned</span>" if c.name in flagged else ""
    return (f"<div class='card'><h3>{escape(c.name)}{flag}</h3><div class='muted'>"
            f"{escape(c.semantic_type)} · {escape(c.dtype)}</div><div class='grid'>"
            f"<div>{_facts(_column_stats(c))}</div><div>{chart}{top}</div></div></div>")


def _strongest(corr: Matrix, measure: str, limit: int = 10) -> list[list[str]]:
    pairs = []
    for i, a in enumerate(corr.rows):
        for j, b in enumerate(corr.columns):
            v = corr.values[i][j]
            if v is not None and a != b and (corr.rows != corr.columns or i < j):
                pairs.append((abs(v), a, b, v))
    pairs.sort(key=lambda t: -t[0])
    return [[escape(a), escape(b), escape(measure), _num(v, 3)] for _, a, b, v in pairs[:limit]]


def _correlations(p: Profile) -> str:
    from shipyard.profiling._plots import combined, heatmap

    corr = p.correlations
    matrix = combined(corr)
    if len(matrix.rows) < 2:
        return ""
    try:
        svg = base64.b64encode(heatmap(matrix, "Associations")).decode("ascii")
        image = f"<img alt='association heatmap' src='data:image/svg+xml;base64,{svg}'>"
    except ModuleNotFoundError as exc:  # a core install without matplotlib: tables only
        image = f"<p class='muted'>{escape(str(exc))}</p>"
    sample = (f"on a seeded sample of {corr.sample_rows:,} rows" if corr.sample_rows < p.rows
              else f"on all {p.rows:,} rows")
    rows = (_strongest(corr.pearson, "Pearson") + _strongest(corr.spearman, "Spearman")
            + _strongest(corr.cramers_v, "Cramér's V")
            + _strongest(corr.correlation_ratio, "correlation ratio"))
    rows.sort(key=lambda r: -abs(float(r[3].replace(",", ""))) if r[3] != "–" else 0.0)
    return (f"<h2>Correlations</h2><p class='muted'>Pearson for numeric pairs, Cramér's V for "
            f"categorical pairs, the correlation ratio for mixed pairs; pairwise complete rows, "
            f"{sample}.</p><div class='grid'><div class='card'>{image}</div><div>"
            "<h3>Strongest pairs</h3>"
            + _table(["column", "column", "measure", "value"], rows[:15], {3})
            + "</div></div>")


def render_fragment(p: Profile, full: bool = False) -> str:
    """The report as one ``<div>`` with its own styles (a notebook shows this)."""
    flagged = {c for w in p.warnings for c in w.columns}
    parts = [f"<style>{_CSS}</style><div class='sy-profile'>", _overview(p),
             _warnings(p.warnings, None if full else FRAGMENT_WARNINGS)]
    if p.target is not None:
        parts.append(_target(p.target, p.column(p.target.column)))
    parts.append("<h2>Columns</h2><div class='grid'>"
                 + "".join(_column(c, flagged) for c in p.columns) + "</div>")
    parts.append(_correlations(p))
    parts.append(f"<p class='muted'>Shipyard profile, format {p.format_version}.</p></div>")
    return "".join(parts)


def render_page(p: Profile, title: str | None = None) -> str:
    """A whole HTML document: self-contained, offline, no scripts."""
    name = title or "Data profile"
    return ("<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            "<meta name='viewport' content='width=device-width, initial-scale=1'>"
            f"<title>{escape(name)}</title></head><body>"
            f"<h1 style='font-family:system-ui,sans-serif;font-size:22px'>{escape(name)}</h1>"
            f"{render_fragment(p, full=True)}</body></html>")
