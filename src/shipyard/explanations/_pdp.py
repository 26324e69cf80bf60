"""Partial dependence over a raw input column: the model's mean output as the column varies."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shipyard.bundle import InferencePipeline
from shipyard.errors import InvalidRequest
from shipyard.explanations._explanation import _floats, json_value

#: Rows averaged over, at most (a seeded sample): the grid multiplies them.
PDP_ROWS = 500


@dataclass(frozen=True, eq=False)
class PartialDependence:
    """The mean output (``values``: grid × outputs) with ``column`` set to each grid value."""

    column: str
    kind: str  # "numeric", "datetime" or "categorical"
    grid: tuple[Any, ...]
    values: np.ndarray
    outputs: tuple[str, ...]
    output_space: str

    def to_dict(self) -> dict[str, Any]:
        return {"column": self.column, "kind": self.kind,
                "grid": [json_value(g) for g in self.grid], "outputs": list(self.outputs),
                "output_space": self.output_space, "values": _floats(self.values)}


def _grid(s: pd.Series, size: int) -> tuple[str, list[Any]]:
    if pd.api.types.is_datetime64_any_dtype(s.dtype):
        stamps = s.dropna().sort_values()
        if not len(stamps):
            return "datetime", []
        at = np.unique(np.linspace(0, len(stamps) - 1, size).round().astype(int))
        return "datetime", list(dict.fromkeys(stamps.iloc[at].tolist()))
    numbers = pd.to_numeric(s, errors="coerce") if not pd.api.types.is_bool_dtype(s.dtype) \
        else None
    if numbers is not None and (pd.api.types.is_numeric_dtype(s.dtype)
                                or numbers.notna().sum() >= 0.9 * s.notna().sum() > 0):
        values = numbers.dropna().to_numpy(dtype="float64")
        if len(np.unique(values)) <= size:
            return "numeric", sorted(float(v) for v in np.unique(values))
        qs = np.unique(np.quantile(values, np.linspace(0.0, 1.0, size)))
        return "numeric", [float(q) for q in qs]
    counts = s.dropna().astype("str").value_counts()
    return "categorical", [str(v) for v in counts.index[:size]]


def partial_dependence(pipeline: InferencePipeline, df: pd.DataFrame, column: str,
                       grid: int = 20, *, rows: int = PDP_ROWS,
                       seed: int = 0) -> PartialDependence:
    """The pipeline's mean output over ``df``'s rows as ``column`` takes each grid value.

    Numbers and dates: a grid of ``grid`` quantiles (every distinct value when fewer);
    labels: the ``grid`` most frequent. Output: class probabilities (the positive class's only, for
    binary) or the predicted value; one batched model call.

    Raises:
        InvalidRequest: ``column`` is not in ``df`` or holds no values.
    """
    if column not in df.columns:
        raise InvalidRequest(f"Column {column!r} is not in the data; the columns are "
                             f"{sorted(map(str, df.columns))[:20]}.")
    kind, points = _grid(df[column], int(grid))
    if not points:
        raise InvalidRequest(f"Column {column!r} holds no values to vary.")
    base = df.sample(min(len(df), rows), random_state=seed).reset_index(drop=True)
    frame = pd.concat([base.assign(**{column: p}) for p in points], ignore_index=True)
    if kind == "datetime":
        frame[column] = frame[column].astype(df[column].dtype)
    if kind == "categorical":
        frame[column] = frame[column].astype(object)
    out = pipeline.outputs(frame)
    if pipeline.task == "regression":
        y = np.asarray(out["value"], dtype="float64").reshape(-1, 1)
        names: tuple[str, ...] = ("prediction",)
        space = "value"
    else:
        y = np.asarray(out["proba"], dtype="float64")
        classes = list(pipeline.classes or [])
        if y.shape[1] == 2:
            y, names = y[:, 1:], tuple(classes[1:])
        else:
            names = tuple(classes)
        space = "probability"
    values = y.reshape(len(points), len(base), -1).mean(axis=1)
    return PartialDependence(column=column, kind=kind, grid=tuple(points), values=values,
                             outputs=names, output_space=space)
