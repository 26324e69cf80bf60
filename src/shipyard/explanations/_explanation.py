"""The result of explaining rows: SHAP values over raw input columns, and views of them."""

from __future__ import annotations

import html
import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

#: The spaces an explanation's values add up in.
OUTPUT_SPACES = ("margin", "probability", "value")


def json_value(v: Any) -> Any:
    """A raw cell as JSON: numbers stay numbers (NaN/inf become null), the rest text."""
    if v is None or v is pd.NaT:
        return None
    if isinstance(v, bool | np.bool_):
        return bool(v)
    if isinstance(v, int | np.integer):
        return int(v)
    if isinstance(v, float | np.floating):
        return float(v) if math.isfinite(v) else None
    if isinstance(v, pd.Timestamp):
        return v.isoformat()
    try:
        if pd.isna(v):
            return None
    except (TypeError, ValueError):
        pass
    return str(v)


def _floats(a: np.ndarray) -> Any:
    """A float array as nested lists, non-finite values as null."""
    if a.ndim == 0:
        x = float(a)
        return x if math.isfinite(x) else None
    return [_floats(x) for x in a]


@dataclass(frozen=True, eq=False)
class LocalExplanation:
    """One row's explanation: per raw column, its value and SHAP value for each output."""

    columns: tuple[str, ...]
    data: tuple[Any, ...]
    values: np.ndarray  # columns × outputs
    base_values: np.ndarray  # outputs
    outputs: tuple[str, ...]
    output_space: str

    @property
    def output_values(self) -> np.ndarray:
        """The model's output per output: base value + the sum of the SHAP values."""
        return self.base_values + self.values.sum(axis=0)

    def top(self, k: int = 10, output: int = 0) -> list[tuple[str, Any, float]]:
        """The ``k`` columns with the largest \\|SHAP\\| for one output: (column, value, shap)."""
        order = np.argsort(-np.abs(self.values[:, output]), kind="stable")[:k]
        return [(self.columns[i], self.data[i], float(self.values[i, output])) for i in order]

    def to_dict(self) -> dict[str, Any]:
        return {"output_space": self.output_space, "outputs": list(self.outputs),
                "base_values": _floats(self.base_values),
                "output_values": _floats(self.output_values),
                "columns": [{"column": c, "value": json_value(v), "shap": _floats(s)}
                            for c, v, s in zip(self.columns, self.data, self.values,
                                               strict=True)]}


@dataclass(frozen=True, eq=False)
class Explanation:
    """SHAP values of some rows over the model's raw input columns.

    ``values[i, j, k]`` is column ``j``'s contribution to output ``k`` of row ``i``;
    ``base_values[k] + values[i, :, k].sum()`` is the model's output ``k`` for row ``i``
    in ``output_space`` ("margin": log-odds or per-class raw scores of a tree model;
    "probability": class probabilities; "value": a regression's prediction).
    """

    columns: tuple[str, ...]
    values: np.ndarray
    base_values: np.ndarray
    outputs: tuple[str, ...]
    output_space: str
    method: str
    #: The explained rows' raw values of ``columns`` (for plots and local views).
    data: pd.DataFrame

    def __len__(self) -> int:
        return int(self.values.shape[0])

    @property
    def output_values(self) -> np.ndarray:
        """Each row's model output (rows × outputs): base values + the sum of the SHAP values."""
        return self.base_values[None, :] + self.values.sum(axis=1)

    def global_importance(self) -> list[tuple[str, float]]:
        """Mean \\|SHAP\\| per raw column (summed over outputs), largest first."""
        if not len(self):
            return [(c, 0.0) for c in self.columns]
        score = np.abs(self.values).mean(axis=0).sum(axis=1)
        order = np.argsort(-score, kind="stable")
        return [(self.columns[i], float(score[i])) for i in order]

    def row(self, i: int) -> LocalExplanation:
        """Row ``i``'s local explanation."""
        return LocalExplanation(
            columns=self.columns, data=tuple(self.data.iloc[i][list(self.columns)].tolist()),
            values=self.values[i], base_values=self.base_values, outputs=self.outputs,
            output_space=self.output_space)

    def to_dict(self, *, rows: bool = True) -> dict[str, Any]:
        """JSON-safe: method, space, outputs, base values, importance (and every row's values)."""
        out: dict[str, Any] = {
            "method": self.method, "output_space": self.output_space,
            "outputs": list(self.outputs), "columns": list(self.columns),
            "base_values": _floats(self.base_values),
            "global_importance": [{"column": c, "mean_abs_shap": v}
                                  for c, v in self.global_importance()]}
        if rows:
            out["values"] = _floats(self.values)
        return out

    def _repr_html_(self) -> str:
        top = self.global_importance()[:20]
        peak = max((v for _, v in top), default=0.0) or 1.0
        lines = [f"<div><b>SHAP values</b> ({html.escape(self.method)}, "
                 f"{html.escape(self.output_space)} of "
                 f"{html.escape(', '.join(self.outputs))}) over {len(self)} rows"
                 "<table><tr><th>column</th><th>mean |SHAP|</th><th></th></tr>"]
        for col, v in top:
            width = int(160 * v / peak)
            lines.append(f"<tr><td>{html.escape(col)}</td><td>{v:.4g}</td><td>"
                         f'<div style="background:#1f77b4;height:10px;width:{width}px"></div>'
                         "</td></tr>")
        lines.append("</table></div>")
        return "".join(lines)
