"""The evaluation of one model: metrics per split, training curves, baseline; and its HTML."""

from __future__ import annotations

import base64
import copy
import html
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

from shipyard.errors import InvalidRequest
from shipyard.evaluation._common import check_problem_type
from shipyard.evaluation._plots import render_plots
from shipyard.humanize import number

#: The metrics a summary table shows first, per problem type.
HEADLINE: dict[str, tuple[str, ...]] = {
    "binary": ("roc_auc", "pr_auc", "accuracy", "balanced_accuracy", "precision", "recall",
               "f1", "log_loss"),
    "multiclass": ("accuracy", "balanced_accuracy", "precision_macro", "recall_macro",
                   "f1_macro", "roc_auc", "pr_auc", "log_loss"),
    "regression": ("rmse", "mae", "r2", "mape"),
    "clustering": ("silhouette", "n_clusters", "n_noise"),
    "anomaly_detection": ("share_flagged", "mean", "std"),
    "dimensionality_reduction": ("n_components", "total"),
}


def scalar_metrics(metrics: Mapping[str, Any]) -> dict[str, float]:
    """The top-level numbers of a result (``accuracy``, ``rmse``…), e.g. to log each one.

    Nested values (curves, per class, residuals), strings, booleans, None and settings
    that are not measurements (the decision ``threshold``) are left out.
    """
    return {
        key: float(value) for key, value in metrics.items()
        if isinstance(value, int | float) and not isinstance(value, bool)
        and key not in _SETTINGS
    }


_SETTINGS = frozenset({"threshold"})


@dataclass(frozen=True)
class EvaluationReport:
    """Metrics per split (``{"validation": {...}, "test": {...}}``), curves and baseline.

    ``baseline`` holds :func:`baseline_metrics` results by split, so each split's
    model metrics sit next to what a trivial model scores on the same rows.
    """

    FORMAT_VERSION: ClassVar[int] = 1

    problem_type: str
    metrics: dict[str, dict[str, Any]]
    curves: dict[str, list[float | None]] | None = None
    baseline: dict[str, dict[str, Any]] | None = None
    #: Sentences a reader must see: a model at chance level, a very large bundle.
    warnings: list[str] | None = None

    def __post_init__(self) -> None:
        check_problem_type(self.problem_type)
        for name, value in (("metrics", self.metrics), ("baseline", self.baseline),
                            ("curves", self.curves)):
            if value is not None and not isinstance(value, Mapping):
                raise InvalidRequest(
                    f"EvaluationReport.{name} must be a dict keyed by split; "
                    f"got {type(value).__name__}."
                )

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON (``evaluation.json`` of a model bundle)."""
        return copy.deepcopy({
            "format_version": self.FORMAT_VERSION, "problem_type": self.problem_type,
            "metrics": self.metrics, "curves": self.curves, "baseline": self.baseline,
            "warnings": self.warnings or [],
        })

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EvaluationReport:
        """Read what :meth:`to_dict` wrote.

        Raises:
            InvalidRequest: not a report, or written by a newer format.
        """
        if not isinstance(data, Mapping) or "problem_type" not in data:
            raise InvalidRequest("Not an evaluation report: expected an object with problem_type.")
        version = data.get("format_version", cls.FORMAT_VERSION)
        if not isinstance(version, int) or version > cls.FORMAT_VERSION:
            raise InvalidRequest(
                f"Evaluation report format {version!r} is newer than this Shipyard reads "
                f"({cls.FORMAT_VERSION}); upgrade Shipyard."
            )
        return cls(
            problem_type=data["problem_type"],
            metrics=copy.deepcopy(dict(data.get("metrics") or {})),
            curves=copy.deepcopy(data.get("curves")),
            baseline=copy.deepcopy(data.get("baseline")),
            warnings=[str(w) for w in data.get("warnings") or []] or None,
        )

    def headline(self) -> dict[str, dict[str, Any]]:
        """The headline metrics by row: each split, then each split's baseline."""
        keys = HEADLINE[self.problem_type]
        rows = {split: {k: m.get(k) for k in keys} for split, m in self.metrics.items() if m}
        for split, m in (self.baseline or {}).items():
            if m:
                rows[f"{split} (baseline)"] = {k: m.get(k) for k in keys}
        return rows

    def plots(self) -> dict[str, bytes]:
        """Every plot of the report, PNG bytes by file name (see :func:`render_plots`)."""
        return render_plots(self.problem_type, self.metrics, self.curves)

    def _repr_html_(self) -> str:
        keys = HEADLINE[self.problem_type]
        head = "".join(f"<th>{html.escape(k)}</th>" for k in keys)
        body = "".join(
            f"<tr><td>{html.escape(row)}</td>"
            + "".join(f"<td>{_cell(values[k])}</td>" for k in keys) + "</tr>"
            for row, values in self.headline().items()
        )
        try:
            images = "".join(
                f'<img src="data:image/png;base64,{base64.b64encode(png).decode()}" '
                f'alt="{html.escape(name)}" title="{html.escape(name)}" '
                'style="max-width:48%;margin:4px">'
                for name, png in self.plots().items()
            )
        except ModuleNotFoundError as exc:
            images = f"<p>{html.escape(str(exc))}</p>"
        return (
            '<div class="shipyard-evaluation">'
            f"<h4>Evaluation ({html.escape(self.problem_type)})</h4>"
            f"<table><thead><tr><th>split</th>{head}</tr></thead><tbody>{body}</tbody></table>"
            f"<div>{images}</div></div>"
        )


def _cell(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return number(value)
    return html.escape(str(value))
