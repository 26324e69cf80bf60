"""Numeric recipe steps: ``bin`` (quantile or fixed edges), ``spline`` (a smooth basis),
``clip`` (outliers), ``log``.

Each keeps a small state per column: the inner edges of the bins, the spline's knots, the
two clip bounds, the offset of the log. Missing values stay missing (an ``impute`` step
fills them), so the steps can come before or after imputation.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.features._params import (
    Check,
    either,
    integer,
    is_text,
    number,
    one_of,
    optional,
    strictly_increasing,
)
from shipyard.features._steps import (
    Lineage,
    State,
    Step,
    _float,
    _numbers,
    passthrough,
    register_step,
)

BIN_METHODS = ("quantile", "edges")
BIN_OUTPUTS = ("ordinal", "onehot")
CLIP_METHODS = ("quantile", "iqr", "values")


def _edges_valid(raw: Any) -> bool:
    if isinstance(raw, Mapping):
        return bool(raw) and all(is_text(k) and strictly_increasing(v) for k, v in raw.items())
    return strictly_increasing(raw)


#: Fixed bin edges: one list for every binned column, or a list per column.
EDGES = Check("a non-empty list of finite, strictly increasing numbers such as "
              '[18, 30, 45, 65], or an object {"column": [edges…]} of such lists',
              _edges_valid)


def _edges(raw: Any, col: str) -> list[float]:
    """Column ``col``'s edges (the step's checks made sure of their shape)."""
    if isinstance(raw, Mapping):
        if col not in raw:
            raise InvalidRequest(f"Bin edges name no edges for column {col!r}; give "
                                 '{"column": [edges…]} for every binned column.')
        raw = raw[col]
    return [float(v) for v in raw]


def bin_labels(edges: list[float]) -> list[str]:
    """Readable names of the bins cut at ``edges``: ``<18``, ``[18, 30)``, …, ``>=65``."""
    if not edges:
        return ["all"]
    inner = [f"[{a:g}, {b:g})" for a, b in zip(edges, edges[1:], strict=False)]
    return [f"<{edges[0]:g}", *inner, f">={edges[-1]:g}"]


@register_step
class Bin(Step):
    name = "bin"
    numbers_only = True
    description = ("Cut numbers into bins: training quantiles (n_bins), or fixed edges such as "
                   "age groups; the bin number, or one-hot columns named by the bin.")
    defaults = {"method": "quantile", "n_bins": 5, "edges": None, "output": "ordinal"}
    checks = {"method": one_of(*BIN_METHODS), "n_bins": integer(2, 100),
              "edges": optional(EDGES), "output": one_of(*BIN_OUTPUTS)}
    accepts = "numeric"

    def check_params(self) -> None:
        if self.params["method"] == "edges" and self.params["edges"] is None:
            self.refuse("edges", EDGES.allowed + " with method 'edges'")

    def fit(self, df: pd.DataFrame, y: pd.Series | None) -> State:
        method, output = self.params["method"], self.params["output"]
        n_bins = self.params["n_bins"]
        fitted: dict[str, dict[str, Any]] = {}
        for col in self.select(df):
            if method == "edges":
                edges = _edges(self.params["edges"], col)
            else:
                s = _numbers(df[col]).dropna()
                qs = np.quantile(s, np.arange(1, n_bins) / n_bins) if len(s) else []
                edges = sorted({float(q) for q in qs})
            fitted[col] = {"edges": edges, "labels": bin_labels(edges)}
        return {"columns": fitted, "output": output}

    def transform(self, df: pd.DataFrame, state: State) -> pd.DataFrame:
        out = df.copy()
        new: dict[str, np.ndarray] = {}
        dropped: list[str] = []
        for col, fit in state["columns"].items():
            x = _numbers(out[col]) if col in out.columns else pd.Series(
                np.nan, index=out.index, dtype="float64")
            # Bins are [a, b): a value on an edge goes to the bin above it.
            codes = np.searchsorted(np.asarray(fit["edges"], dtype="float64"), x.to_numpy(),
                                    side="right").astype("float64")
            codes[x.isna().to_numpy()] = np.nan
            if state["output"] == "ordinal":
                out[col] = codes
                continue
            dropped.append(col)
            for i, label in enumerate(fit["labels"]):
                new[f"{col}={label}"] = (codes == i).astype("float64")
        if not new:
            return out
        # One drop and one block (dropped one by one, each drop copied the whole frame).
        out = out.drop(columns=[c for c in dropped if c in out.columns])
        return pd.concat([out, pd.DataFrame(np.column_stack(list(new.values())),
                                            index=out.index, columns=list(new))], axis=1)

    def lineage(self, state: State, inputs: list[str]) -> Lineage:
        if state["output"] == "ordinal":
            return passthrough(inputs, add={col: (col,) for col in state["columns"]})
        return passthrough(inputs, drop=state["columns"], add={
            f"{col}={label}": (col,) for col, fit in state["columns"].items()
            for label in fit["labels"]})


@register_step
class Spline(Step):
    """B-spline basis columns of a number, so a linear model's effect of it may bend
    smoothly (a generalised additive model's terms; scikit-learn's ``SplineTransformer``).

    The knots are the training rows' quantiles (``n_knots`` of them, min to max, repeated
    values merged); the basis is ``degree`` 3 (cubic) by default, ``n_knots + degree - 1``
    columns named ``<col>.spline<i>``, beside the column itself (kept: the basis is
    local, the column carries the trend). A value past the training range gets the
    basis at the nearest end (constant extrapolation: no polynomial shoots off); a
    missing value stays missing in every basis column. Evaluated with SciPy's
    ``BSpline.design_matrix`` from the knots alone, so the state is plain numbers.
    """

    name = "spline"
    numbers_only = True
    description = ("Smooth B-spline basis columns of a number (knots at training quantiles), "
                   "so a linear model's effect of it may bend; the column is kept.")
    defaults = {"n_knots": 5, "degree": 3}
    checks = {"n_knots": integer(2, 50), "degree": integer(1, 5)}
    accepts = "numeric"

    def fit(self, df: pd.DataFrame, y: pd.Series | None) -> State:
        n_knots, degree = int(self.params["n_knots"]), int(self.params["degree"])
        fitted: dict[str, list[float]] = {}
        for col in self.select(df):
            x = _numbers(df[col]).dropna()
            x = x[np.isfinite(x)]
            base = sorted({float(q) for q in np.quantile(x, np.linspace(0, 1, n_knots))}) \
                if len(x) else []
            if len(base) >= 2:  # a constant column has no shape to fit: left as it is
                fitted[col] = base
        return {"columns": fitted, "degree": degree}

    @staticmethod
    def knots(base: list[float], degree: int) -> np.ndarray:
        """The full knot vector: ``degree`` more knots past each end, spaced as the first
        and last intervals (as scikit-learn's ``SplineTransformer`` pads them)."""
        t = np.asarray(base, dtype="float64")
        left = t[0] - (t[1] - t[0]) * np.arange(degree, 0, -1)
        right = t[-1] + (t[-1] - t[-2]) * np.arange(1, degree + 1)
        return np.concatenate([left, t, right])

    def transform(self, df: pd.DataFrame, state: State) -> pd.DataFrame:
        from scipy.interpolate import BSpline

        out = df.copy()
        degree = int(state["degree"])
        new: dict[str, np.ndarray] = {}
        for col, base in state["columns"].items():
            x = (_numbers(out[col]) if col in out.columns else pd.Series(
                np.nan, index=out.index, dtype="float64")).to_numpy(dtype="float64")
            known = np.isfinite(x)
            basis = np.full((len(x), len(base) + degree - 1), np.nan)
            if known.any():
                inside = np.clip(x[known], base[0], base[-1])
                basis[known] = BSpline.design_matrix(
                    inside, self.knots(base, degree), degree).toarray()
            for i in range(basis.shape[1]):
                new[f"{col}.spline{i}"] = basis[:, i]
        return pd.concat([out, pd.DataFrame(new, index=out.index)], axis=1) if new else out

    def lineage(self, state: State, inputs: list[str]) -> Lineage:
        degree = int(state["degree"])
        return passthrough(inputs, add={
            f"{col}.spline{i}": (col,) for col, base in state["columns"].items()
            for i in range(len(base) + degree - 1)})


@register_step
class Clip(Step):
    name = "clip"
    numbers_only = True
    description = ("Clip outliers to bounds learnt on the training rows: quantiles (lower, "
                   "upper), Tukey's fences (iqr, factor), or given values.")
    defaults = {"method": "quantile", "lower": 0.01, "upper": 0.99, "factor": 1.5}
    checks = {"method": one_of(*CLIP_METHODS), "lower": optional(number()),
              "upper": optional(number()), "factor": number(0)}
    accepts = "numeric"

    def check_params(self) -> None:
        method, lower, upper = self.params["method"], self.params["lower"], self.params["upper"]
        if method == "quantile":
            for param in ("lower", "upper"):
                if not 0 <= (self.params[param] or 0) <= 1:
                    self.refuse(param, "null or a quantile from 0 to 1 with method 'quantile' "
                                "(e.g. lower 0.01, upper 0.99); for fixed bounds use method "
                                "'values'")
            if lower is not None and lower >= (1 if upper is None else upper):
                self.refuse("upper", f"above lower ({lower:g}) with method 'quantile', e.g. "
                            "lower 0.01 and upper 0.99")
            if lower is None and upper == 0:
                self.refuse("upper", "above 0 with method 'quantile', e.g. 0.99")
        if method == "values" and lower is not None and upper is not None and lower > upper:
            self.refuse("upper", f"at least lower ({lower:g})")

    def fit(self, df: pd.DataFrame, y: pd.Series | None) -> State:
        method = self.params["method"]
        lower = None if self.params["lower"] is None else float(self.params["lower"])
        upper = None if self.params["upper"] is None else float(self.params["upper"])
        fitted: dict[str, list[float | None]] = {}
        for col in self.select(df):
            s = _numbers(df[col]).dropna()
            if method == "values":
                fitted[col] = [lower, upper]
            elif method == "quantile":
                fitted[col] = [None if lower is None else _float(s.quantile(lower)),
                               None if upper is None else _float(s.quantile(upper))]
            else:
                q1, q3 = _float(s.quantile(0.25)), _float(s.quantile(0.75))
                k = float(self.params["factor"]) * (q3 - q1)
                fitted[col] = [q1 - k, q3 + k]
        return {"columns": fitted}

    def transform(self, df: pd.DataFrame, state: State) -> pd.DataFrame:
        out = df.copy()
        for col, (lower, upper) in state["columns"].items():
            if col in out.columns:
                out[col] = _numbers(out[col]).clip(lower=lower, upper=upper)
        return out


@register_step
class Log(Step):
    name = "log"
    numbers_only = True
    description = ("Natural log of (x + offset), for skewed positive numbers; offset 1 is "
                   "log1p, 'auto' shifts so the training minimum maps to log(1). Values at or "
                   "below -offset become missing.")
    defaults = {"offset": 1.0}
    checks = {"offset": either(one_of("auto"), number())}
    accepts = "numeric"

    def fit(self, df: pd.DataFrame, y: pd.Series | None) -> State:
        offset = self.params["offset"]
        fitted: dict[str, float] = {}
        for col in self.select(df):
            if offset == "auto":
                low = _float(_numbers(df[col]).min())
                fitted[col] = 1.0 - low if low < 0 else 1.0
            else:
                fitted[col] = float(offset)
        return {"columns": fitted}

    def transform(self, df: pd.DataFrame, state: State) -> pd.DataFrame:
        out = df.copy()
        for col, offset in state["columns"].items():
            if col in out.columns:
                shifted = _numbers(out[col]) + float(offset)
                with np.errstate(divide="ignore", invalid="ignore"):
                    out[col] = np.log(shifted.where(shifted > 0))
        return out
