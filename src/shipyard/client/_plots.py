"""Charts the SDK draws (PNG bytes), with matplotlib imported on the first chart.

Figures are drawn on their own Agg canvas, never through pyplot, so drawing
neither needs a display nor touches a notebook's current figure.
"""

from __future__ import annotations

import io
from collections.abc import Mapping, Sequence
from typing import Any

from shipyard.errors import InvalidRequest, ShipyardError

PASS, FAIL, UNJUDGED = "#16a34a", "#dc2626", "#6b7280"


def _figure(width: float, height: float) -> Any:
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ImportError as exc:
        raise ShipyardError(
            "Charts need matplotlib, which is not installed; run "
            "pip install 'shipyard[ml]'.", code="missing_dependency") from exc
    fig = Figure(figsize=(width, height), dpi=100)
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Any) -> bytes:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", bbox_inches="tight")
    return buf.getvalue()


def _colour(passed: Any) -> str:
    return PASS if passed is True else FAIL if passed is False else UNJUDGED


def compare_png(experiment: str, key: str, runs: Sequence[Mapping[str, Any]],
                criterion: Mapping[str, Any] | None = None) -> bytes:
    """Horizontal bars of ``key`` per run, best at the top, coloured by pass/fail.

    Args:
        runs: ranked runs (as ``/experiments/{name}/runs`` returns them), best first.
        criterion: the success criterion on ``key``, drawn as a dashed line.
    """
    if not runs:
        raise InvalidRequest(
            f"Experiment {experiment!r} has no run with the metric {key!r} to plot."
        )
    labels = [f"{r.get('job_id')} ({r.get('algorithm') or r.get('kind') or '?'})" for r in runs]
    values = [float(r["metrics"][key]) for r in runs]
    colours = [_colour((r.get("criteria") or {}).get("passed")) for r in runs]
    fig = _figure(7.0, 1.2 + 0.35 * len(runs))
    ax = fig.add_subplot()
    positions = list(range(len(runs)))[::-1]  # the best run on top
    ax.barh(positions, values, color=colours)
    ax.set_yticks(positions, labels, fontsize=8)
    for y, v in zip(positions, values, strict=True):
        ax.annotate(f"{v:.4g}", (v, y), xytext=(3, 0), textcoords="offset points",
                    va="center", fontsize=8)
    if criterion is not None:
        threshold = float(criterion["threshold"])
        ax.axvline(threshold, color="#111827", linestyle="--", linewidth=1,
                   label=f"{criterion.get('op', '>=')} {threshold:g}")
        ax.legend(loc="lower right", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.set_xlabel(key)
    ax.set_title(f"{experiment}: {key}", fontsize=10, loc="left")
    ax.margins(x=0.15)
    return _png(fig)
