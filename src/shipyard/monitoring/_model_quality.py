"""Model quality in production: captured predictions joined with ground truth, per time window.

Predictions are a capture window (``inference_id``, ``timestamp``, ``prediction``
and, for classifiers, ``probability.<class>``; see ``shipyard.serving``). Ground
truth arrives later as rows with the same key (the inference id by default, or
any key column both frames hold) and a label column. The metrics are those of
:mod:`shipyard.evaluation` (the same functions that scored the model before it
shipped), computed per window; a metric that gets worse than the baseline by
more than its threshold raises an alert.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.humanize import number
from shipyard.monitoring._alerts import Alert
from shipyard.monitoring._common import as_frame, category_text, num

PROBLEM_TYPES = ("binary", "multiclass", "regression")
#: Metrics where a larger value is better; every other metric is better when smaller.
HIGHER_IS_BETTER = frozenset({
    "accuracy", "balanced_accuracy", "precision", "recall", "f1", "precision_macro",
    "recall_macro", "f1_macro", "roc_auc", "pr_auc", "r2",
})
LOWER_IS_BETTER = frozenset({"rmse", "mae", "mape", "log_loss"})


@dataclass(frozen=True)
class MetricThreshold:
    """How much worse than the baseline a metric may get: absolute and/or relative drop."""

    metric: str
    max_drop: float | None = None
    max_relative_drop: float | None = None

    def __post_init__(self) -> None:
        if self.metric not in HIGHER_IS_BETTER | LOWER_IS_BETTER:
            raise InvalidRequest(
                f"Unknown metric {self.metric!r} for a quality threshold; expected one of "
                f"{', '.join(sorted(HIGHER_IS_BETTER | LOWER_IS_BETTER))}."
            )
        if self.max_drop is None and self.max_relative_drop is None:
            raise InvalidRequest(f"The threshold on {self.metric!r} needs max_drop or "
                                 "max_relative_drop.")
        for value in (self.max_drop, self.max_relative_drop):
            if value is not None and (not isinstance(value, int | float) or value < 0):
                raise InvalidRequest(f"Thresholds on {self.metric!r} must be non-negative "
                                     f"numbers; got {value!r}.")

    def worse_by(self, value: float, baseline: float) -> tuple[float, float | None]:
        """How much worse ``value`` is than ``baseline``: absolute, and relative (None at 0)."""
        drop = baseline - value if self.metric in HIGHER_IS_BETTER else value - baseline
        return drop, (drop / abs(baseline) if baseline else None)

    def crossed(self, value: float, baseline: float) -> bool:
        drop, relative = self.worse_by(value, baseline)
        if self.max_drop is not None and drop > self.max_drop:
            return True
        return bool(self.max_relative_drop is not None and relative is not None
                    and relative > self.max_relative_drop)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


#: The thresholds a monitor uses unless told otherwise, per problem type.
DEFAULT_THRESHOLDS: dict[str, tuple[MetricThreshold, ...]] = {
    "binary": (MetricThreshold("roc_auc", 0.05, 0.10), MetricThreshold("accuracy", 0.05, 0.10)),
    "multiclass": (MetricThreshold("accuracy", 0.05, 0.10),
                   MetricThreshold("f1_macro", 0.05, 0.10)),
    "regression": (MetricThreshold("rmse", None, 0.10), MetricThreshold("mae", None, 0.10)),
}


@dataclass(frozen=True)
class WindowMetrics:
    """The metrics of one time window ``[start, end)`` over its ``n`` labelled predictions."""

    start: str
    end: str
    n: int
    metrics: dict[str, float | None]

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class ModelQualityResult:
    """Metrics per window and overall, the baseline they are compared with, and the alerts."""

    problem_type: str
    windows: tuple[WindowMetrics, ...]
    overall: dict[str, float | None]
    baseline: dict[str, float] | None
    thresholds: tuple[MetricThreshold, ...]
    alerts: tuple[Alert, ...]
    n_predictions: int
    n_labels: int
    n_matched: int
    notes: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "problem_type": self.problem_type, "windows": [w.to_dict() for w in self.windows],
            "overall": self.overall, "baseline": self.baseline,
            "thresholds": [t.to_dict() for t in self.thresholds],
            "alerts": [a.to_dict() for a in self.alerts],
            "n_predictions": self.n_predictions, "n_labels": self.n_labels,
            "n_matched": self.n_matched, "notes": list(self.notes),
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> ModelQualityResult:
        return cls(
            problem_type=doc["problem_type"],
            windows=tuple(WindowMetrics(**w) for w in doc["windows"]),
            overall=dict(doc["overall"]), baseline=doc.get("baseline"),
            thresholds=tuple(MetricThreshold(**t) for t in doc["thresholds"]),
            alerts=tuple(Alert.from_dict(a) for a in doc["alerts"]),
            n_predictions=int(doc["n_predictions"]), n_labels=int(doc["n_labels"]),
            n_matched=int(doc["n_matched"]), notes=tuple(doc.get("notes") or ()),
        )


def join_ground_truth(predictions: Any, ground_truth: Any, *, key: str = "inference_id",
                      label_column: str = "label") -> pd.DataFrame:
    """Predictions with their true label as a ``label`` column (inner join on ``key``).

    A key labelled twice keeps its last label (a correction wins).

    Raises:
        InvalidRequest: ``key`` or the label column missing from a frame.
    """
    preds = as_frame(predictions, "predictions")
    truth = as_frame(ground_truth, "ground truth")
    for frame, what, needed in ((preds, "predictions", (key, "prediction")),
                                (truth, "ground truth", (key, label_column))):
        for name in needed:
            if name not in frame.columns:
                raise InvalidRequest(
                    f"The {what} have no column {name!r}; they have "
                    f"{', '.join(map(str, frame.columns[:10]))}. Pass key= or label_column=."
                )
    labels = truth[[key, label_column]].drop_duplicates(subset=key, keep="last")
    labels = labels.rename(columns={label_column: "label"})
    joined = preds.drop(columns=["label"], errors="ignore").merge(labels, on=key, how="inner")
    return joined[joined["label"].notna()]


def model_quality(predictions: Any, ground_truth: Any, *, problem_type: str,
                  labels: Sequence[str] | None = None, key: str = "inference_id",
                  label_column: str = "label", window: str = "1D",
                  baseline_metrics: Mapping[str, Any] | None = None,
                  thresholds: Sequence[MetricThreshold] | None = None,
                  min_rows: int = 30) -> ModelQualityResult:
    """Join predictions with ground truth and score them per time window against a baseline.

    Args:
        predictions: a capture window (``timestamp``, ``prediction``, ``probability.*``).
        ground_truth: rows with ``key`` and ``label_column``.
        problem_type: binary, multiclass or regression.
        labels: class names in model order; by default the ``probability.<class>``
            columns' order.
        window: pandas frequency of the windows (``"1h"``, ``"1D"``, ``"7D"``…).
        baseline_metrics: the model's metrics before it shipped (e.g. its test split);
            without them no alert can fire.
        thresholds: how much worse each metric may get; :data:`DEFAULT_THRESHOLDS`.
        min_rows: windows with fewer labelled rows are reported but raise no alert.

    Raises:
        InvalidRequest: an unknown problem type, frames without the columns needed,
            or labels that cannot be scored.
    """
    if problem_type not in PROBLEM_TYPES:
        raise InvalidRequest(f"Unknown problem type {problem_type!r}; model quality needs one "
                             f"of {', '.join(PROBLEM_TYPES)}.")
    preds = as_frame(predictions, "predictions")
    truth = as_frame(ground_truth, "ground truth")
    joined = join_ground_truth(preds, truth, key=key, label_column=label_column)
    if "timestamp" not in joined.columns:
        raise InvalidRequest("The predictions have no 'timestamp' column to window by; pass a "
                             "capture window (read_capture) or add the column.")
    notes: list[str] = []
    score, joined = _scorer(problem_type, joined, labels, notes)
    try:
        step = pd.tseries.frequencies.to_offset(window)
    except ValueError:
        raise InvalidRequest(f"window {window!r} is not a pandas frequency; use e.g. '1h', "
                             "'1D' or '7D'.") from None
    stamps = pd.to_datetime(joined["timestamp"], utc=True)
    joined = joined.assign(timestamp=stamps).sort_values("timestamp", kind="stable")
    windows = []
    for start, part in joined.groupby(pd.Grouper(key="timestamp", freq=window)):
        if len(part):
            end = pd.Timestamp(start) + step
            windows.append(WindowMetrics(pd.Timestamp(start).isoformat(), end.isoformat(),
                                         len(part), score(part)))
    overall = score(joined) if len(joined) else {}
    chosen = tuple(thresholds) if thresholds is not None else DEFAULT_THRESHOLDS[problem_type]
    base = _scalars(baseline_metrics) if baseline_metrics else None
    alerts = _alerts(windows, base, chosen, min_rows) if base else []
    if base is None:
        notes.append("No baseline metrics were given, so no model-quality alert can fire.")
    return ModelQualityResult(
        problem_type=problem_type, windows=tuple(windows), overall=overall, baseline=base,
        thresholds=chosen, alerts=tuple(alerts), n_predictions=len(preds),
        n_labels=len(truth), n_matched=len(joined), notes=tuple(notes),
    )


def _scorer(problem_type: str, joined: pd.DataFrame, labels: Sequence[str] | None,
            notes: list[str]) -> tuple[Callable[[pd.DataFrame], dict[str, float | None]],
                                       pd.DataFrame]:
    """A function scoring a part of ``joined``, and the rows it can score."""
    from shipyard.evaluation import classification_metrics, regression_metrics, scalar_metrics

    def keep(metrics: Mapping[str, Any]) -> dict[str, float | None]:
        out = scalar_metrics(metrics)
        out.pop("n_samples", None)
        return {k: num(v) for k, v in out.items()}

    if problem_type == "regression":
        pred = pd.to_numeric(joined["prediction"], errors="coerce")
        true = pd.to_numeric(joined["label"], errors="coerce")
        bad = int(pred.isna().sum())
        if bad:
            raise InvalidRequest(f"{bad} joined rows have a prediction that is not a number; "
                                 "regression quality needs numeric predictions.")
        if true.isna().any():  # as a class a model does not have: left out, not fatal
            unknown = sorted(set(joined.loc[true.isna(), "label"].map(str)))[:5]
            notes.append(f"{int(true.isna().sum())} labels are not numbers (e.g. "
                         f"{', '.join(map(repr, unknown))}) and were left out.")
        joined = joined.assign(label=true, prediction=pred)[true.notna()]
        return (lambda part: keep(regression_metrics(part["label"].to_numpy(float),
                                                     part["prediction"].to_numpy(float))),
                joined)
    proba_cols = [c for c in joined.columns if str(c).startswith("probability.")]
    names = list(labels) if labels is not None else [c[len("probability."):] for c in proba_cols]
    if len(names) < 2:
        raise InvalidRequest("Classification quality needs the class labels: pass labels= or "
                             "predictions with probability.<class> columns.")
    index = {name: i for i, name in enumerate(names)}
    joined = joined.assign(label=joined["label"].map(category_text))
    known = joined["label"].isin(index)
    if not known.all():
        unknown = sorted(set(joined.loc[~known, "label"]))[:5]
        notes.append(f"{int((~known).sum())} labels are not classes of the model (e.g. "
                     f"{', '.join(map(repr, unknown))}) and were left out.")
        joined = joined[known]
    wanted = [f"probability.{n}" for n in names]
    has_proba = all(c in joined.columns for c in wanted)
    if not has_proba:
        notes.append("The predictions carry no probabilities; ranking metrics use the "
                     "predicted class as a 0/1 score.")

    def score(part: pd.DataFrame) -> dict[str, float | None]:
        y = part["label"].map(index).to_numpy(int)
        if has_proba:
            proba = part[wanted].to_numpy(float)
        else:
            proba = np.zeros((len(part), len(names)))
            hit = part["prediction"].map(category_text).map(index)
            rows = np.flatnonzero(hit.notna().to_numpy())
            proba[rows, hit.dropna().to_numpy(int)] = 1.0
            proba[np.flatnonzero(hit.isna().to_numpy())] = 1.0 / len(names)
        return keep(classification_metrics(y, proba, names))

    return score, joined


def _scalars(metrics: Mapping[str, Any]) -> dict[str, float]:
    return {k: float(v) for k, v in metrics.items()
            if isinstance(v, int | float) and not isinstance(v, bool) and np.isfinite(v)}


def _alerts(windows: Sequence[WindowMetrics], base: Mapping[str, float],
            thresholds: Sequence[MetricThreshold], min_rows: int) -> list[Alert]:
    out = []
    for w in windows:
        if w.n < min_rows:
            continue
        for t in thresholds:
            value, ref = w.metrics.get(t.metric), base.get(t.metric)
            if value is None or ref is None or not t.crossed(value, ref):
                continue
            drop, relative = t.worse_by(value, ref)
            rel = f" ({relative:.1%})" if relative is not None else ""
            out.append(Alert(
                "model_quality", t.metric, None, value,
                {"baseline": ref, "max_drop": t.max_drop,
                 "max_relative_drop": t.max_relative_drop},
                f"{t.metric} is {number(value)} in the window from {w.start}, {number(drop)}{rel} "
                f"worse than the baseline {number(ref)}; allowed: "
                f"{_allowed(t)}.",
                window=w.start,
            ))
    return out


def _allowed(t: MetricThreshold) -> str:
    parts = []
    if t.max_drop is not None:
        parts.append(f"{t.max_drop:g} absolute")
    if t.max_relative_drop is not None:
        parts.append(f"{t.max_relative_drop:.0%} relative")
    return " or ".join(parts)
