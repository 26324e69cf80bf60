"""Config → calculation → report: the bias metrics of every facet split, as one frozen result.

:func:`bias_report` is the pure core: a DataFrame, a :class:`BiasConfig` and, after
training, the model's predicted labels in; a :class:`BiasReport` out. Rows missing the
label, the facet or a prediction are dropped and counted. Input mistakes (an unknown
column, a value that matches no row, a facet split with an empty side) raise
:class:`~shipyard.errors.InvalidRequest`; a metric that divides by zero on valid input
is null with its reason.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.fairness._config import (
    BiasConfig,
    FacetSplit,
    facet_splits,
    like_labels,
    positive_mask,
    require_columns,
)
from shipyard.fairness._features import encode_features
from shipyard.fairness._metrics import METRICS, FacetData, Undefined
from shipyard.humanize import count, number

#: The flip test queries at most this many facet-d rows (a seeded sample above it). Each
#: k-nearest-neighbour query costs about O(log n_a) on a few features but up to O(n_a)
#: on many one-hot columns; FT is a mean of per-row values in {−1, 0, 1}, so a sample
#: of 100,000 rows pins it to within ±0.0032 (one standard error at most). On flights
#: (57,782 d rows, 269,564 a rows, 8 feature dimensions) every row takes ~1.5 s.
FT_MAX_ROWS = 100_000


@dataclass(frozen=True)
class MetricValue:
    """One metric on one facet split: its value, or None and the reason."""

    code: str
    value: float | None
    reason: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"value": self.value, "reason": self.reason}


@dataclass(frozen=True)
class FacetResult:
    """The metrics of one disadvantaged facet *d* against the rest (*a*)."""

    facet: str
    value: Any
    n_a: int
    n_d: int
    #: Share of positive labels (``a``, ``d``) and predictions (``predicted_a``, …).
    positive_share: Mapping[str, float | None]
    pre: tuple[MetricValue, ...]
    post: tuple[MetricValue, ...] | None = None
    #: The facet-d rows the flip test queried (n_d, or a sample of FT_MAX_ROWS).
    ft_rows: int | None = None

    def metric(self, code: str) -> MetricValue:
        for m in (*self.pre, *(self.post or ())):
            if m.code == code:
                return m
        raise KeyError(f"No metric {code!r} in this result; codes: {list(METRICS)}.")

    def to_dict(self) -> dict[str, Any]:
        return {"facet": self.facet, "value": _json_value(self.value), "n_a": self.n_a,
                "n_d": self.n_d, "positive_share": dict(self.positive_share),
                "pre": {m.code: m.to_dict() for m in self.pre},
                "post": None if self.post is None else {m.code: m.to_dict()
                                                        for m in self.post},
                "ft_rows": self.ft_rows}


@dataclass(frozen=True)
class BiasReport:
    """The result of :func:`bias_report`: every facet split's pre- and post-training metrics."""

    config: BiasConfig
    n_rows: int
    n_used: int
    #: Rows missing each column (a row can miss several); dropped rows = n_rows − n_used.
    missing: Mapping[str, int]
    label_mode: str
    facets: tuple[FacetResult, ...]
    notes: tuple[str, ...] = field(default_factory=tuple)

    def facet(self, name_or_value: Any) -> FacetResult:
        """The result of one facet split, by its name (``"female = 1"``) or its value."""
        for f in self.facets:
            if name_or_value in (f.facet, f.value) or str(name_or_value) == str(f.value):
                return f
        raise KeyError(f"No facet split {name_or_value!r}; they are "
                       f"{[f.facet for f in self.facets]}.")

    def to_dict(self) -> dict[str, Any]:
        """The report as JSON-safe data: every float finite or None."""
        return {"config": self.config.to_dict(),
                "rows": {"total": self.n_rows, "used": self.n_used,
                         "dropped": self.n_rows - self.n_used, "missing": dict(self.missing)},
                "label_mode": self.label_mode,
                "facets": [f.to_dict() for f in self.facets],
                "metrics": {code: m.to_dict() for code, m in METRICS.items()},
                "notes": list(self.notes)}

    def _repr_html_(self) -> str:
        from shipyard.fairness._html import render_html

        return render_html(self, full_page=False)


def bias_report(df: pd.DataFrame, config: BiasConfig, predicted: Any = None, *,
                features: Sequence[str] | None = None, ft_max_rows: int = FT_MAX_ROWS,
                seed: int = 0) -> BiasReport:
    """Compute the pre-training metrics and, given predictions, the post-training ones.

    Args:
        df: The rows (the label, facet and optional group columns, and the features).
        config: What to compare.
        predicted: The model's predicted labels, one per row of ``df`` (in the label's
            own terms: class values, or numbers compared with ``label_threshold``).
        features: The columns the flip test finds neighbours on; by default every
            column but the label and the facet.
        ft_max_rows: The flip test queries at most this many facet-d rows (seeded sample).
        seed: Seed of that sample.

    Raises:
        InvalidRequest: an unknown column, a value matching no row, a threshold on a
            non-numeric column, no rows left, or a facet split with an empty side.
    """
    require_columns(df, config)
    if predicted is not None:
        predicted = pd.Series(np.asarray(predicted), index=df.index, name="prediction") \
            if len(predicted) == len(df) else _wrong_length(predicted, df)
        predicted = like_labels(predicted, df[config.label])
    missing = {"label": int(df[config.label].isna().sum()),
               "facet": int(df[config.facet].isna().sum())}
    keep = (df[config.label].notna() & df[config.facet].notna()).to_numpy(bool)
    if predicted is not None:
        missing["prediction"] = int(predicted.isna().sum())
        keep = keep & predicted.notna().to_numpy(bool)
    rows = df[keep]
    if rows.empty:
        raise InvalidRequest(f"No row has both a label ({config.label!r}) and a facet "
                             f"({config.facet!r}); {count(len(df), 'row')} in all.")
    label = rows[config.label]
    notes = []
    if config.binary:
        y: np.ndarray | None = positive_mask(label, config)
        labels = np.asarray(y, dtype=np.int64)
        mode = "binary"
    else:
        y, labels = None, pd.factorize(label)[0].astype(np.int64)
        mode = "categories"
        notes.append("The label has no positive outcome (no 'positive' values and no "
                     "'label_threshold'): the distribution metrics compare its categories; "
                     "the metrics that need a positive outcome are null.")
    yhat = None
    if predicted is not None and config.binary:
        yhat = positive_mask(predicted[keep].reset_index(drop=True), config,
                             what="predicted label", check=False)
    group = None if config.group is None else \
        pd.factorize(rows[config.group], use_na_sentinel=False)[0].astype(np.int64)
    matrix = None
    if yhat is not None:
        names = [c for c in (features if features is not None else rows.columns)
                 if c not in (config.label, config.facet)]
        matrix = encode_features(rows, names)
    results = []
    rng = np.random.default_rng(seed)
    for split in facet_splits(rows[config.facet], config):
        check_sides(split, config)
        d_rows = np.flatnonzero(split.mask)
        ft_rows = None
        if yhat is not None and len(d_rows) > ft_max_rows:
            ft_rows = np.sort(rng.choice(d_rows, size=ft_max_rows, replace=False))
            notes.append(f"{split.name}: the flip test (FT) queried a seeded sample of "
                         f"{number(ft_max_rows)} of the {count(len(d_rows), 'facet-d row')}.")
        data = FacetData(d=split.mask, labels=labels, y=y, yhat=yhat, group=group,
                         features=matrix, ft_rows=ft_rows)
        results.append(_facet_result(split, data, predicted is not None))
    return BiasReport(config=config, n_rows=len(df), n_used=len(rows), missing=missing,
                      label_mode=mode, facets=tuple(results), notes=tuple(notes))


def _wrong_length(predicted: Any, df: pd.DataFrame) -> Any:
    raise InvalidRequest(f"There are {count(len(predicted), 'predicted label')} for "
                         f"{count(len(df), 'row')}; give one per row.")


def check_sides(split: FacetSplit, config: BiasConfig) -> None:
    n_d = int(split.mask.sum())
    if n_d == 0:
        raise InvalidRequest(f"Facet d ({split.name}) has no rows; choose a facet threshold "
                             f"or values that select some rows of {config.facet!r}.")
    if n_d == len(split.mask):
        raise InvalidRequest(f"Facet d ({split.name}) holds every row, so facet a is empty; "
                             f"choose values or a threshold that leave rows of "
                             f"{config.facet!r} out.")


def _facet_result(split: FacetSplit, data: FacetData, post: bool) -> FacetResult:
    d = data.d
    share: dict[str, float | None] = {"a": None, "d": None}
    if data.y is not None:
        share = {"a": float(data.y[~d].mean()), "d": float(data.y[d].mean())}
    if data.yhat is not None:
        share |= {"predicted_a": float(data.yhat[~d].mean()),
                  "predicted_d": float(data.yhat[d].mean())}
    pre = tuple(_value(code, data) for code, m in METRICS.items() if m.stage == "pre")
    post_values = tuple(_value(code, data) for code, m in METRICS.items()
                        if m.stage == "post") if post else None
    ft_rows = None
    if data.yhat is not None:
        ft_rows = len(data.ft_rows) if data.ft_rows is not None else int(d.sum())
    return FacetResult(facet=split.name, value=split.value, n_a=int((~d).sum()),
                       n_d=int(d.sum()), positive_share=share, pre=pre, post=post_values,
                       ft_rows=ft_rows)


def _value(code: str, data: FacetData) -> MetricValue:
    try:
        value = float(METRICS[code].compute(data))
    except Undefined as exc:
        return MetricValue(code, None, str(exc))
    if not math.isfinite(value):
        return MetricValue(code, None, "the value is not a finite number")
    return MetricValue(code, value)


def _json_value(value: Any) -> Any:
    if isinstance(value, list):
        return [_json_value(v) for v in value]
    if hasattr(value, "item"):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if value is None or isinstance(value, bool | int | float | str):
        return value
    return str(value)
