"""Plots of evaluation results, as PNG bytes.

Renderers only: each takes a result dict of this package and draws it; none
computes a metric. Matplotlib is imported on the first plot, and figures are
drawn on their own Agg canvas (no pyplot), so plotting never touches a
notebook's backend or global figure state and is safe in threads.
"""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np

from shipyard.errors import InvalidRequest
from shipyard.evaluation._common import CLASSIFICATION, check_problem_type

if TYPE_CHECKING:  # pragma: no cover
    from matplotlib.axes import Axes
    from matplotlib.figure import Figure

DPI = 100
#: Above this many classes, cells carry no numbers and curves no legend.
MAX_ANNOTATED = 20
_SPLIT_NAME = re.compile(r"^[A-Za-z0-9_-]+$")


def plot_confusion_matrix(metrics: Mapping[str, Any]) -> bytes:
    """The confusion matrix of a classification result, shaded by share of each actual class."""
    cm = _need(metrics, "confusion_matrix")
    labels = [str(v) for v in cm["labels"]]
    matrix = np.asarray(cm["matrix"], dtype=float)
    k = len(labels)
    side = min(max(4.5, 0.45 * k + 2.5), 14.0)
    fig = _figure(side + 1, side, fit=True)
    ax = fig.add_subplot()
    shares = matrix / np.maximum(matrix.sum(axis=1, keepdims=True), 1)
    image = ax.imshow(shares, cmap="Blues", vmin=0, vmax=1)
    if k <= MAX_ANNOTATED:
        for i in range(k):
            for j in range(k):
                ax.text(j, i, f"{int(matrix[i, j])}", ha="center", va="center",
                        color="white" if shares[i, j] > 0.5 else "black", fontsize=9)
    ticks = range(k)
    ax.set_xticks(ticks, labels, rotation=45 if k > 3 else 0, ha="right" if k > 3 else "center")
    ax.set_yticks(ticks, labels)
    ax.set_xlabel("Predicted")
    ax.set_ylabel("Actual")
    ax.set_title(f"Confusion matrix (n = {int(matrix.sum())})")
    fig.colorbar(image, ax=ax, fraction=0.046, pad=0.04, label="share of the actual class")
    return _png(fig)


def plot_roc_pr(metrics: Mapping[str, Any]) -> bytes:
    """ROC and precision-recall curves side by side (one curve per class for multiclass)."""
    fig = _figure(11, 4.8)
    roc_ax, pr_ax = fig.subplots(1, 2)
    _curve_panel(roc_ax, metrics.get("roc_curve"), metrics.get("roc_auc"), "fpr", "tpr", "AUC")
    roc_ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    roc_ax.set_xlabel("False positive rate")
    roc_ax.set_ylabel("True positive rate")
    roc_ax.set_title("ROC curve")
    _curve_panel(pr_ax, metrics.get("pr_curve"), metrics.get("pr_auc"), "recall", "precision",
                 "AP")
    pr_ax.set_xlabel("Recall")
    pr_ax.set_ylabel("Precision")
    pr_ax.set_title("Precision-recall curve")
    for ax in (roc_ax, pr_ax):
        ax.set_xlim(-0.01, 1.01)
        ax.set_ylim(-0.01, 1.01)
        ax.grid(alpha=0.3)
    return _png(fig)


def plot_residuals(metrics: Mapping[str, Any]) -> bytes:
    """Residuals (actual − predicted) against the prediction, and their histogram."""
    residuals = _need(metrics, "residuals")
    sample = residuals.get("sample") or {"y_true": [], "y_pred": []}
    predicted = np.asarray(sample["y_pred"], dtype=float)
    actual = np.asarray(sample["y_true"], dtype=float)
    fig = _figure(11, 4.5)
    scatter_ax, hist_ax = fig.subplots(1, 2)
    scatter_ax.scatter(predicted, actual - predicted, s=9, alpha=0.5, linewidths=0)
    scatter_ax.axhline(0, color="grey", linestyle="--", linewidth=1)
    scatter_ax.set_xlabel("Predicted")
    scatter_ax.set_ylabel("Residual (actual − predicted)")
    scatter_ax.set_title(f"Residuals vs predicted ({predicted.size} rows shown)", pad=14)
    hist = residuals.get("histogram") or {}
    if hist.get("counts"):
        hist_ax.stairs(hist["counts"], hist["edges"], fill=True, alpha=0.7)
    hist_ax.axvline(0, color="grey", linestyle="--", linewidth=1)
    hist_ax.set_xlabel("Residual")
    hist_ax.set_ylabel("Rows")
    hist_ax.set_title(_caption(metrics, ("rmse", "mae", "r2")) or "Residual distribution", pad=14)
    for ax in (scatter_ax, hist_ax):
        ax.grid(alpha=0.3)
        # Targets like prices would print six-digit ticks that run into each other.
        ax.ticklabel_format(style="sci", scilimits=(-3, 4), useMathText=True)
    return _png(fig)


def plot_learning_curve(
    curves: Mapping[str, Sequence[float | None]], *, title: str = "Learning curve"
) -> bytes:
    """Per-iteration curves, one panel per metric, one line per split.

    Keys are ``"<split>.<metric>"`` (``"train.logloss"``); a key without a dot is
    its own metric.
    """
    panels: dict[str, list[tuple[str, Sequence[float | None]]]] = {}
    for key, values in curves.items():
        split, _, metric = key.partition(".") if "." in key else ("", "", key)
        panels.setdefault(metric, []).append((split or key, values))
    cols = max(1, min(len(panels), 3))
    rows = max(1, -(-len(panels) // cols))
    fig = _figure(4.8 * cols + 0.6, 3.8 * rows + 0.4)
    axes = np.atleast_1d(fig.subplots(rows, cols, squeeze=False)).ravel()
    for ax, (metric, lines) in zip(axes, panels.items(), strict=False):
        for split, values in lines:
            y = np.asarray([np.nan if v is None else v for v in values], dtype=float)
            # A series measured at some iterations only (text-bert's validation, once per
            # epoch) shows as points: a line needs two neighbours.
            marker = "o" if np.isnan(y).any() else None
            ax.plot(np.arange(1, y.size + 1), y, label=split, linewidth=1.5, marker=marker,
                    markersize=4)
        ax.set_xlabel("Iteration")
        ax.set_ylabel(metric)
        ax.grid(alpha=0.3)
        ax.legend()
    for ax in axes[len(panels):]:
        ax.axis("off")
    if not panels:
        axes[0].text(0.5, 0.5, "No curves recorded", ha="center", va="center")
    fig.suptitle(title)
    return _png(fig)


def plot_score_distribution(metrics: Mapping[str, Any]) -> bytes:
    """The histogram of anomaly scores, flagged rows highlighted, with the median."""
    hist = _need(metrics, "histogram")
    fig = _figure(7, 4.5)
    ax = fig.add_subplot()
    if hist.get("counts"):
        ax.stairs(hist["counts"], hist["edges"], fill=True, alpha=0.6, label="all rows")
    if hist.get("flagged_counts"):
        ax.stairs(hist["flagged_counts"], hist["edges"], fill=True, alpha=0.8,
                  color="tab:red", label="flagged")
    median = (metrics.get("quantiles") or {}).get("p50")
    if median is not None:
        ax.axvline(median, color="grey", linestyle="--", linewidth=1, label="median")
    ax.set_xlabel("Anomaly score")
    ax.set_ylabel("Rows")
    share = metrics.get("share_flagged")
    ax.set_title("Score distribution" + (f" ({share:.1%} flagged)" if share is not None else ""))
    ax.legend()
    ax.grid(alpha=0.3)
    return _png(fig)


def plot_explained_variance(metrics: Mapping[str, Any]) -> bytes:
    """Explained variance per component (bars) and cumulative (line)."""
    ratio = np.asarray(_need(metrics, "explained_variance_ratio"), dtype=float)
    cumulative = np.asarray(metrics.get("cumulative") or [], dtype=float)
    fig = _figure(7, 4.5)
    ax = fig.add_subplot()
    components = np.arange(1, ratio.size + 1)
    ax.bar(components, ratio, label="per component")
    if cumulative.size:
        ax.plot(components, cumulative, marker="o", color="tab:orange", label="cumulative")
    ax.set_xlabel("Component")
    ax.set_ylabel("Share of variance explained")
    ax.set_ylim(0, 1.05)
    ax.set_title("Explained variance")
    ax.legend()
    ax.grid(alpha=0.3)
    return _png(fig)


def render_plots(
    problem_type: str, metrics_by_split: Mapping[str, Mapping[str, Any] | None],
    curves: Mapping[str, Sequence[float | None]] | None,
) -> dict[str, bytes]:
    """Every plot that fits the problem type, by file name (``test_confusion_matrix.png``…).

    Splits without metrics (None or empty) are skipped; ``learning_curve.png`` is
    drawn when a curve has points.

    Raises:
        InvalidRequest: an unknown problem type, or a split name unfit for a file name.
    """
    check_problem_type(problem_type)
    out: dict[str, bytes] = {}
    for split, metrics in metrics_by_split.items():
        if not metrics:
            continue
        if not _SPLIT_NAME.match(split):
            raise InvalidRequest(
                f"Split name {split!r} cannot name a plot file; use letters, digits, _ or -."
            )
        if problem_type in CLASSIFICATION:
            out[f"{split}_confusion_matrix.png"] = plot_confusion_matrix(metrics)
            if metrics.get("roc_curve") or metrics.get("pr_curve"):
                out[f"{split}_roc_pr.png"] = plot_roc_pr(metrics)
        elif problem_type == "regression":
            out[f"{split}_residuals.png"] = plot_residuals(metrics)
        elif problem_type == "anomaly_detection":
            out[f"{split}_score_distribution.png"] = plot_score_distribution(metrics)
        elif problem_type == "dimensionality_reduction":
            out[f"{split}_explained_variance.png"] = plot_explained_variance(metrics)
    if curves and any(len(values) for values in curves.values()):
        out["learning_curve.png"] = plot_learning_curve(curves)
    return out


def _curve_panel(
    ax: Axes, curve: Mapping[str, Any] | None, auc: float | None, x: str, y: str, score: str
) -> None:
    if not curve:
        ax.text(0.5, 0.5, "Undefined: one class present", ha="center", va="center")
        return
    if "per_class" in curve:
        per_class = curve["per_class"]
        for label, points in per_class.items():
            name = f"{label} ({score} {points['auc']:.3f})" if points.get("auc") is not None \
                else str(label)
            ax.plot(points[x], points[y], linewidth=1.3, label=name)
        if len(per_class) <= MAX_ANNOTATED:
            ax.legend(fontsize=8, loc="lower right" if x == "fpr" else "lower left")
        return
    label = f"{score} {auc:.3f}" if auc is not None else None
    ax.plot(curve[x], curve[y], linewidth=1.6, label=label)
    if auc is not None:
        ax.legend(loc="lower right" if x == "fpr" else "lower left")


def _caption(metrics: Mapping[str, Any], keys: Sequence[str]) -> str:
    return ", ".join(
        f"{k.upper() if k != 'r2' else 'R²'} {metrics[k]:.4g}"
        for k in keys if metrics.get(k) is not None
    )


def _need(metrics: Mapping[str, Any], key: str) -> Any:
    value = metrics.get(key) if isinstance(metrics, Mapping) else None
    if value is None:
        raise InvalidRequest(
            f"These metrics have no {key!r} to plot; pass the dict the matching "
            "*_metrics function returned."
        )
    return value


def _figure(width: float, height: float, *, fit: bool = False) -> Figure:
    # ``fit`` lays the figure out around its labels (constrained layout): right for
    # class names of any length, but it doubles the drawing time, so the plots with
    # known labels use fixed margins instead.
    try:
        from matplotlib.backends.backend_agg import FigureCanvasAgg
        from matplotlib.figure import Figure
    except ModuleNotFoundError as exc:  # pragma: no cover - the dev install has it
        raise ModuleNotFoundError(
            "Evaluation plots need matplotlib; install it with: pip install 'shipyard[ml]'"
        ) from exc
    fig = Figure(figsize=(width, height), dpi=DPI, layout="constrained" if fit else None)
    if not fit:
        fig.subplots_adjust(left=0.09, right=0.97, bottom=0.13, top=0.88, wspace=0.28,
                            hspace=0.4)
    FigureCanvasAgg(fig)
    return fig


def _png(fig: Figure) -> bytes:
    buffer = io.BytesIO()
    # No Software/date metadata: the same result gives the same bytes.
    fig.savefig(buffer, format="png", metadata={"Software": None})
    return buffer.getvalue()
