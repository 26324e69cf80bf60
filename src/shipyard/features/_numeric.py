"""Numeric recipe steps: ``bin`` (quantile or fixed edges), ``spline`` (a smooth basis),
``clip`` (outliers), ``log``.

Each keeps a small state per column: the inner edges of the bins, the spline's knots, the
two clip bounds, the offset of the log. Missing values stay missing (an ``impute`` step
fills them), so the steps can come before or after imputation.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest
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


def _edges(raw: Any, col: str) -> list[float]:
    if isinstance(raw, Mapping):
        if col not in raw:
            raise InvalidRequest(f"Bin edges name no edges for column {col!r}; give "
                                 '{"column": [edges…]} for every binned column.')
        raw = raw[col]
    if isinstance(raw, str) or not isinstance(raw, Sequence) or not raw:
        raise InvalidRequest(f"Bin edges must be a list of numbers, e.g. [18, 30, 45, 65]; "
                             f"got {raw!r}.")
    try:
        edges = [float(v) for v in raw]
    except (TypeError, ValueError):
        raise InvalidRequest(f"Bin edges must be numbers; got {raw!r}.") from None
    if any(not math.isfinite(e) for e in edges) or any(
            b <= a for a, b in zip(edges, edges[1:], strict=False)):
        raise InvalidRequest(f"Bin edges must be finite and strictly increasing; got {edges}.")
    return edges


def bin_labels(edges: list[float]) -> list[str]:
    """Readable names of the bins cut at ``edges``: ``<18``, ``[18, 30)``, …, ``>=65``."""
    if not edges:
        return ["all"]
    inner = [f"[{a:g}, {b:g})" for a, b in zip(edges, edges[1:], strict=False)]
    return [f"<{edges[0]:g}", *inner, f">={edges[-1]:g}"]


@register_step
class Bin(Step):
    name = "bin"
    description = ("Cut numbers into bins: training quantiles (n_bins), or fixed edges such as "
                   "age groups; the bin number, or one-hot columns named by the bin.")
    defaults = {"method": "quantile", "n_bins": 5, "edges": None, "output": "ordinal"}
    accepts = "numeric"

    def fit(self, df: pd.DataFrame, y: pd.Series | None) -> State:
        method, output = self.params["method"], self.params["output"]
        if method not in BIN_METHODS:
            raise InvalidRequest(f"Bin method must be one of {list(BIN_METHODS)}; got {method!r}.")
        if output not in BIN_OUTPUTS:
            raise InvalidRequest(f"Bin output must be one of {list(BIN_OUTPUTS)}; "
                                 f"got {output!r}.")
        n_bins = int(self.params["n_bins"])
        if method == "quantile" and not 2 <= n_bins <= 100:
            raise InvalidRequest(f"n_bins must be between 2 and 100; got {n_bins}.")
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
        new: dict[str, pd.Series] = {}
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
            out = out.drop(columns=[col], errors="ignore")
            for i, label in enumerate(fit["labels"]):
                new[f"{col}={label}"] = pd.Series((codes == i).astype("float64"), index=out.index)
        return pd.concat([out, pd.DataFrame(new, index=out.index)], axis=1) if new else out

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
    description = ("Smooth B-spline basis columns of a number (knots at training quantiles), "
                   "so a linear model's effect of it may bend; the column is kept.")
    defaults = {"n_knots": 5, "degree": 3}
    accepts = "numeric"

    def fit(self, df: pd.DataFrame, y: pd.Series | None) -> State:
        n_knots, degree = self.params["n_knots"], self.params["degree"]
        if isinstance(n_knots, bool) or not isinstance(n_knots, int) or not 2 <= n_knots <= 50:
            raise InvalidRequest(f"Spline n_knots must be an integer from 2 to 50; "
                                 f"got {n_knots!r:.40}.")
        if isinstance(degree, bool) or not isinstance(degree, int) or not 1 <= degree <= 5:
            raise InvalidRequest(f"Spline degree must be an integer from 1 to 5 (3: cubic); "
                                 f"got {degree!r:.40}.")
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


def _bound(v: Any, what: str) -> float | None:
    if v is None:
        return None
    try:
        value = float(v)
    except (TypeError, ValueError):
        raise InvalidRequest(
            f"The clip {what} bound must be a number or null; got {v!r}.") from None
    return value


@register_step
class Clip(Step):
    name = "clip"
    description = ("Clip outliers to bounds learnt on the training rows: quantiles (lower, "
                   "upper), Tukey's fences (iqr, factor), or given values.")
    defaults = {"method": "quantile", "lower": 0.01, "upper": 0.99, "factor": 1.5}
    accepts = "numeric"

    def fit(self, df: pd.DataFrame, y: pd.Series | None) -> State:
        method = self.params["method"]
        if method not in CLIP_METHODS:
            raise InvalidRequest(f"Clip method must be one of {list(CLIP_METHODS)}; "
                                 f"got {method!r}.")
        lower, upper = _bound(self.params["lower"], "lower"), _bound(self.params["upper"], "upper")
        if method == "quantile" and not (
                0 <= (lower or 0.0) < (1.0 if upper is None else upper) <= 1):
            raise InvalidRequest("Clip quantiles need 0 <= lower < upper <= 1, e.g. lower 0.01 "
                                 f"and upper 0.99; got {lower} and {upper}. For fixed bounds "
                                 "use method 'values'.")
        if method == "values" and lower is not None and upper is not None and lower > upper:
            raise InvalidRequest(f"The clip lower bound {lower} is above the upper {upper}.")
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
    description = ("Natural log of (x + offset), for skewed positive numbers; offset 1 is "
                   "log1p, 'auto' shifts so the training minimum maps to log(1). Values at or "
                   "below -offset become missing.")
    defaults = {"offset": 1.0}
    accepts = "numeric"

    def fit(self, df: pd.DataFrame, y: pd.Series | None) -> State:
        offset = self.params["offset"]
        fitted: dict[str, float] = {}
        for col in self.select(df):
            if offset == "auto":
                low = _float(_numbers(df[col]).min())
                fitted[col] = 1.0 - low if low < 0 else 1.0
            elif isinstance(offset, int | float) and not isinstance(offset, bool) \
                    and math.isfinite(offset):
                fitted[col] = float(offset)
            else:
                raise InvalidRequest(f"Log offset must be a number or 'auto'; got {offset!r}.")
        return {"columns": fitted}

    def transform(self, df: pd.DataFrame, state: State) -> pd.DataFrame:
        out = df.copy()
        for col, offset in state["columns"].items():
            if col in out.columns:
                shifted = _numbers(out[col]) + float(offset)
                with np.errstate(divide="ignore", invalid="ignore"):
                    out[col] = np.log(shifted.where(shifted > 0))
        return out
