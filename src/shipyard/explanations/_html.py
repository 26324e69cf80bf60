"""The explanation report as one offline HTML page: beeswarm, waterfalls, partial dependence.

Plots are matplotlib (Agg) figures inlined as SVG: no script, no CDN. Every string
that comes from the user's data (column names, values, class labels) is escaped,
in the page and in the plots (matplotlib's mathtext ``$`` is escaped too).
"""

from __future__ import annotations

import html
import io
from typing import Any

import numpy as np
import pandas as pd

from shipyard.explanations._explanation import Explanation
from shipyard.explanations._pdp import PartialDependence
from shipyard.explanations._report import ExplainReport
from shipyard.humanize import count, number

#: Columns in the beeswarm, at most (the most important).
BEESWARM_COLUMNS = 15
#: Bars in a waterfall, at most; the rest are summed as "other columns".
WATERFALL_BARS = 10
_CSS = """body{font-family:system-ui,sans-serif;margin:2em;color:#222;max-width:1100px}
h1{font-size:1.5em}h2{font-size:1.2em;margin-top:2em}table{border-collapse:collapse}
td,th{padding:2px 8px;border-bottom:1px solid #eee;text-align:left}.muted{color:#777}
.grid{display:flex;flex-wrap:wrap;gap:1em}"""


def e(value: Any) -> str:
    return html.escape(str(value), quote=True)


def _label(text: Any, n: int = 40) -> str:
    """A user string as a matplotlib label: clipped, no mathtext."""
    s = str(text)
    s = s if len(s) <= n else s[: n - 1] + "…"
    return s.replace("$", r"\$")


def _svg(fig: Any) -> str:
    import matplotlib.pyplot as plt

    buf = io.StringIO()
    fig.savefig(buf, format="svg", bbox_inches="tight")
    plt.close(fig)
    text = buf.getvalue()
    text = text[text.index("<svg"):]
    # The RDF metadata block names outside namespaces and the time of drawing: not needed.
    head, _, rest = text.partition("<metadata>")
    return head + rest.partition("</metadata>")[2] if rest else text


def _figure(w: float, h: float) -> tuple[Any, Any]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    matplotlib.rcParams["svg.hashsalt"] = "shipyard"
    return plt.subplots(figsize=(w, h))


def _numbers(s: pd.Series) -> np.ndarray:
    if pd.api.types.is_bool_dtype(s.dtype):
        return s.astype("float64").to_numpy()
    return pd.to_numeric(s, errors="coerce").to_numpy(dtype="float64") \
        if pd.api.types.is_numeric_dtype(s.dtype) else np.full(len(s), np.nan)


def beeswarm(x: Explanation, output: int = 0) -> str:
    """Each row's SHAP value per column (most important on top), coloured by the value."""
    top = [c for c, _ in x.global_importance()[:BEESWARM_COLUMNS]]
    fig, ax = _figure(8, 0.4 * len(top) + 1.2)
    rng = np.random.default_rng(0)
    for rank, col in enumerate(reversed(top)):
        j = x.columns.index(col)
        shap = x.values[:, j, output]
        v = _numbers(x.data[col])
        lo, hi = np.nanmin(v) if np.isfinite(v).any() else 0, \
            np.nanmax(v) if np.isfinite(v).any() else 1
        scaled = (v - lo) / (hi - lo) if hi > lo else np.full(len(v), 0.5)
        colours = np.where(np.isfinite(scaled), scaled, np.nan)
        y = rank + rng.uniform(-0.3, 0.3, len(shap))
        known = np.isfinite(colours)
        ax.scatter(shap[~known], y[~known], s=6, c="#999999", alpha=0.6, rasterized=True)
        ax.scatter(shap[known], y[known], s=6, c=colours[known], cmap="coolwarm", vmin=0,
                   vmax=1, alpha=0.8, rasterized=True)
    ax.set_yticks(range(len(top)), [_label(c) for c in reversed(top)])
    ax.axvline(0, color="#888", lw=0.8)
    ax.set_xlabel(_label(f"SHAP value ({x.output_space} of {x.outputs[output]})", 80))
    return _svg(fig)


def waterfall(x: Explanation, i: int, output: int = 0) -> str:
    """One row: from the base value, each column's push, to the model's output."""
    local = x.row(i)
    shap = local.values[:, output]
    order = list(np.argsort(-np.abs(shap), kind="stable"))
    shown, rest = order[:WATERFALL_BARS], order[WATERFALL_BARS:]
    items = [(f"{_label(x.columns[j], 28)} = {_label(_brief(local.data[j]), 18)}",
              float(shap[j])) for j in shown]
    if rest:
        items.append((f"{len(rest)} other columns", float(shap[rest].sum())))
    fig, ax = _figure(7, 0.35 * len(items) + 1.2)
    start = float(local.base_values[output])
    ends = [start]
    for k, (_name, v) in enumerate(items):
        y = len(items) - 1 - k
        ax.barh(y, v, left=start, color="#d62728" if v > 0 else "#1f77b4")
        start += v
        ends.append(start)
    # Bars stick to the axis at their ends; pad explicitly so the base line shows.
    lo, hi = min(ends), max(ends)
    pad = 0.08 * (hi - lo) or 0.1
    ax.set_xlim(lo - pad, hi + pad)
    ax.set_yticks(range(len(items)), [n for n, _ in reversed(items)])
    ax.axvline(float(local.base_values[output]), color="#888", lw=0.8, ls="--")
    ax.axvline(start, color="#222", lw=0.8)
    ax.set_xlabel(_label(f"{x.output_space} of {x.outputs[output]}: base "
                         f"{local.base_values[output]:.4g} → {start:.4g}", 80))
    return _svg(fig)


def pdp_plot(p: PartialDependence, output: int = 0) -> str:
    fig, ax = _figure(4.2, 3)
    y = p.values[:, output]
    if p.kind == "numeric":
        ax.plot([float(g) for g in p.grid], y, marker="o", ms=3)
    else:
        ax.bar(range(len(p.grid)), y)
        ax.set_xticks(range(len(p.grid)), [_label(g, 14) for g in p.grid], rotation=45,
                      ha="right")
    ax.set_title(_label(p.column))
    ax.set_ylabel(_label(f"{p.output_space} of {p.outputs[output]}", 60))
    return _svg(fig)


def _brief(v: Any) -> str:
    if isinstance(v, float):
        return "missing" if v != v else f"{v:.4g}"
    return "missing" if v is None else str(v)


def render_html(report: ExplainReport, *, title: str = "Model explanation") -> str:
    """The whole report as one self-contained page."""
    x = report.explanation
    parts = [f"<!doctype html><html><head><meta charset='utf-8'><title>{e(title)}</title>"
             f"<style>{_CSS}</style></head><body><h1>{e(title)}</h1>",
             f"<p>{e(count(len(x), 'row'))} of {e(number(report.n_dataset_rows))} explained "
             f"with {e(x.method)} SHAP, in the {e(x.output_space)} space of "
             f"{e(', '.join(map(str, x.outputs)))}; base value "
             f"{e(', '.join(f'{b:.4g}' for b in x.base_values))}. "
             f"<span class='muted'>{report.seconds:.1f} s</span></p>",
             "<h2>Which columns matter</h2><table><tr><th>column</th><th>mean |SHAP|</th></tr>"]
    parts += [f"<tr><td>{e(c)}</td><td>{v:.4g}</td></tr>"
              for c, v in x.global_importance()[:BEESWARM_COLUMNS]]
    parts.append("</table>")
    for k, name in enumerate(x.outputs):
        parts.append(f"<h2>SHAP values of every explained row: {e(name)}</h2>")
        parts.append(beeswarm(x, k) if len(x) else "<p>No rows.</p>")
    if report.local_rows:
        parts.append("<h2>Single rows</h2>")
    for i in report.local_rows:
        pred = report.predictions.iloc[i].to_dict() if len(report.predictions) else {}
        said = ", ".join(f"{k} {_brief(v)}" for k, v in pred.items())
        parts.append(f"<h3>Row {i + 1}</h3><p class='muted'>{e(said)}</p>")
        parts.append(waterfall(x, i, _output_of(x, pred)))
    if report.partial_dependence:
        parts.append("<h2>Partial dependence of the top columns</h2><div class='grid'>")
        parts += [f"<div>{pdp_plot(p)}</div>" for p in report.partial_dependence]
        parts.append("</div>")
    parts.append("</body></html>")
    return "\n".join(parts)


def _output_of(x: Explanation, prediction: dict[str, Any]) -> int:
    """The output a row's waterfall shows: its predicted class (multiclass), else the one."""
    label = prediction.get("prediction")
    return x.outputs.index(str(label)) if str(label) in x.outputs and len(x.outputs) > 1 else 0
