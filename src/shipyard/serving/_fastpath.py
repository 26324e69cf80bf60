"""A compiled per-row form of a bundle's inference pipeline: no DataFrame per request.

:func:`compile_fast_path` reads the fitted recipe's JSON state and turns each step
into a small function over one row's dict (the values :class:`Schema` made
canonical), then calls the model's own fast entry on a NumPy array: XGBoost's
``inplace_predict``, LightGBM's ``predict`` on an array, scikit-learn on an array.
It returns ``None`` (with the reason) for anything it does not cover — a step such
as ``datetime_parts``, ``elapsed_days``, ``expression`` or ``tfidf``, KNN imputation,
a framework such as CatBoost, a task other than classification or regression — and
the caller uses the general pipeline.

The results equal :meth:`InferencePipeline.predict`'s; serving checks that on a
warm-up row at start (and the tests on hundreds of real rows). Like the recipe's
``impute``, the fast path reads ±inf as a missing value.
"""

from __future__ import annotations

import bisect
import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np

from shipyard.bundle import EnsemblePipeline, InferencePipeline
from shipyard.features import MISSING, MISSING_SUFFIX, OTHER, inverse_target
from shipyard.features._encode import target_output_names
from shipyard.features._semantic import FALSE_WORDS, TRUE_WORDS

Row = dict[str, Any]
Op = Callable[[Row], None]
NAN = float("nan")


class Unsupported(Exception):
    """The fast path does not cover this bundle; the reason is the message."""


def _num(v: Any) -> float:
    """A value as a float the way the recipe's ``_numbers`` reads it (never raises)."""
    if v is None:
        return NAN
    if isinstance(v, float):
        return v
    if isinstance(v, int):
        return float(v)
    try:
        return float(str(v).strip())
    except ValueError:
        return NAN


def _drop(state: Mapping[str, Any], kinds: Mapping[str, str]) -> Op:
    cols = list(state["columns"])

    def op(row: Row) -> None:
        for c in cols:
            row.pop(c, None)
    return op


def _boolean(state: Mapping[str, Any], kinds: Mapping[str, str]) -> Op:
    cols = list(state["columns"])
    numeric = {c for c in cols if kinds.get(c) in ("numeric", "boolean")}

    def word(v: Any) -> float:
        if v is None:
            return NAN
        w = str(v).strip().lower()
        return 1.0 if w in TRUE_WORDS else 0.0 if w in FALSE_WORDS else NAN

    def op(row: Row) -> None:
        for c in cols:
            if c in row:
                row[c] = _num(row[c]) if c in numeric else word(row[c])
    return op


def _label(v: Any) -> str | None:
    """A value as the recipe's ``_labels`` reads it: text, or None when missing."""
    return None if v is None or (isinstance(v, float) and v != v) else str(v)


def _impute(state: Mapping[str, Any], kinds: Mapping[str, str]) -> Op:
    if state.get("strategy") == "knn":
        raise Unsupported("impute strategy 'knn'")
    cols = [(c, f["value"] if isinstance(f["value"], str) else float(f["value"]),
             bool(f["indicator"])) for c, f in state["columns"].items()]

    def op(row: Row) -> None:
        for c, value, indicator in cols:
            if isinstance(value, str):
                label = _label(row.get(c))
                if indicator:
                    row[c + MISSING_SUFFIX] = 1.0 if label is None else 0.0
                row[c] = value if label is None else label
                continue
            x = _num(row.get(c))
            missing = not math.isfinite(x)  # ±inf is a gap, as the recipe's impute reads it
            if indicator:
                row[c + MISSING_SUFFIX] = 1.0 if missing else 0.0
            row[c] = value if missing else x
    return op


def _scale(state: Mapping[str, Any], kinds: Mapping[str, str]) -> Op:
    cols = [(c, float(m), float(s)) for c, (m, s) in state["columns"].items()]

    def op(row: Row) -> None:
        for c, mean, std in cols:
            if c in row:
                row[c] = (_num(row[c]) - mean) / std
    return op


def _categorical(state: Mapping[str, Any], kinds: Mapping[str, str]) -> Op:
    native = state["encoding"] == "native"
    plan: list[tuple[str, frozenset[str], dict[str, float] | list[tuple[str, str]]]] = []
    for col, fit in state["columns"].items():
        cats = list(fit["categories"])
        if native:
            levels = [*cats, OTHER, MISSING]
            plan.append((col, frozenset(cats), {lv: float(i) for i, lv in enumerate(levels)}))
            continue
        levels = list(cats)
        if fit["other"]:
            levels.append(OTHER)
        if fit["missing"]:
            levels.append(MISSING)
        plan.append((col, frozenset(cats), [(lv, f"{col}={lv}") for lv in levels]))

    def op(row: Row) -> None:
        for col, cats, out in plan:
            v = row.pop(col, None)
            label = MISSING if v is None else (s if (s := str(v)) in cats else OTHER)
            if isinstance(out, dict):
                row[col] = out[label]
            else:
                for level, name in out:
                    row[name] = 1.0 if level == label else 0.0
    return op


def _encode(state: Mapping[str, Any], kinds: Mapping[str, str]) -> Op:
    method = state.get("method", "onehot")
    if method == "onehot":
        return _categorical(state, kinds)
    if method == "ordinal":
        unknown = float(state["unknown_value"])
        codes = [(c, {lv: float(i) for i, lv in enumerate(f["categories"])})
                 for c, f in state["columns"].items()]

        def ordinal(row: Row) -> None:
            for col, table in codes:
                label = _label(row.get(col))
                row[col] = unknown if label is None else table.get(label, unknown)
        return ordinal
    if method == "count":
        counts = [(c, {k: float(v) for k, v in f["mapping"].items()})
                  for c, f in state["columns"].items()]

        def count(row: Row) -> None:
            for col, table in counts:
                label = _label(row.pop(col, None))
                row[f"{col}.count"] = table.get(MISSING if label is None else label, 0.0)
        return count
    prior = [float(v) for v in state["prior"]]
    plan = [(c, {k: [float(x) for x in v] for k, v in f["mapping"].items()},
             target_output_names(c, dict(state))) for c, f in state["columns"].items()]

    def target(row: Row) -> None:
        for col, mapping, names in plan:
            label = _label(row.pop(col, None))
            values = mapping.get(MISSING if label is None else label, prior)
            for name, x in zip(names, values, strict=True):
                row[name] = x
    return target


def _clip(state: Mapping[str, Any], kinds: Mapping[str, str]) -> Op:
    cols = [(c, lo, hi) for c, (lo, hi) in state["columns"].items()]

    def op(row: Row) -> None:
        for c, lo, hi in cols:
            if c in row:
                x = _num(row[c])
                if lo is not None and x < lo:
                    x = float(lo)
                if hi is not None and x > hi:
                    x = float(hi)
                row[c] = x
    return op


def _log(state: Mapping[str, Any], kinds: Mapping[str, str]) -> Op:
    cols = [(c, float(off)) for c, off in state["columns"].items()]

    def op(row: Row) -> None:
        for c, off in cols:
            if c in row:
                x = _num(row[c]) + off
                row[c] = math.log(x) if x > 0 else NAN
    return op


def _bin(state: Mapping[str, Any], kinds: Mapping[str, str]) -> Op:
    onehot = state["output"] == "onehot"
    plan = [(c, [float(e) for e in f["edges"]], [f"{c}={lb}" for lb in f["labels"]])
            for c, f in state["columns"].items()]

    def op(row: Row) -> None:
        for c, edges, names in plan:
            x = _num(row.pop(c, None))
            code = NAN if x != x else float(bisect.bisect_right(edges, x))
            if not onehot:
                row[c] = code
                continue
            for i, name in enumerate(names):
                row[name] = 1.0 if code == i else 0.0
    return op


def _spline(state: Mapping[str, Any], kinds: Mapping[str, str]) -> Op:
    from scipy.interpolate import BSpline

    from shipyard.features._numeric import Spline

    degree = int(state["degree"])
    plan = [(c, float(base[0]), float(base[-1]), Spline.knots(base, degree),
             [f"{c}.spline{i}" for i in range(len(base) + degree - 1)])
            for c, base in state["columns"].items()]

    def op(row: Row) -> None:
        for c, low, high, knots, names in plan:
            x = _num(row.get(c))
            if not math.isfinite(x):
                row.update(dict.fromkeys(names, NAN))
                continue
            basis = BSpline.design_matrix(np.array([min(max(x, low), high)]), knots,
                                          degree).toarray()[0]
            row.update(zip(names, basis.tolist(), strict=True))
    return op


def _select(state: Mapping[str, Any], kinds: Mapping[str, str]) -> Op:
    return _drop({"columns": list(state["dropped"])}, kinds)


def _balance(state: Mapping[str, Any], kinds: Mapping[str, str]) -> Op:
    return lambda row: None  # training only: rows pass unchanged


_STEPS: dict[str, Callable[[Mapping[str, Any], Mapping[str, str]], Op]] = {
    "drop": _drop, "boolean": _boolean, "impute": _impute, "scale": _scale,
    "categorical": _categorical, "encode": _encode, "clip": _clip, "log": _log, "bin": _bin,
    "spline": _spline,
    "select": _select, "balance": _balance,
}


@dataclass(frozen=True)
class FastPath:
    """Rows (canonical values) → the model's raw outputs, as the framework adapter gives them."""

    ops: tuple[Op, ...]
    features: tuple[str, ...]
    predict_raw: Callable[[np.ndarray], np.ndarray]
    task: str
    n_classes: int
    #: The recipe's target transform: regression values are turned back (features._target).
    target_transform: str | None = None

    def matrix(self, rows: list[Row]) -> np.ndarray:
        X = np.empty((len(rows), len(self.features)), dtype="float64")
        for i, raw in enumerate(rows):
            row = dict(raw)
            for op in self.ops:
                op(row)
            X[i] = [row.get(f, NAN) for f in self.features]
        return X

    def outputs(self, rows: list[Row]) -> dict[str, np.ndarray]:
        raw = np.asarray(self.predict_raw(self.matrix(rows)), dtype="float64")
        if self.task == "regression":
            return {"value": inverse_target(self.target_transform, raw.reshape(-1))}
        if raw.ndim == 1 or raw.shape[1] == 1:
            p = raw.reshape(-1)
            return {"proba": np.column_stack([1.0 - p, p])}
        return {"proba": raw / raw.sum(axis=1, keepdims=True)}  # XGBoost's float32 softmax


def _model_call(pipeline: InferencePipeline, n_classes: int) -> Callable[[np.ndarray], Any]:
    name, model, task = pipeline.framework.name, pipeline.model, pipeline.task
    cats = pipeline.recipe.categorical_features
    if name == "xgboost" and not cats:
        # One thread: a row costs less than waking a thread pool; instances scale by process.
        model.set_param({"nthread": 1})
        return lambda X: model.inplace_predict(X, validate_features=False)
    if name == "lightgbm":
        return lambda X: model.predict(X, num_threads=1)
    if name == "scikit-learn" and not cats:
        if task == "regression":
            return lambda X: model.predict(np.asfortranarray(X))
        index = np.asarray(model.classes_, dtype=int)

        def proba(X: np.ndarray) -> np.ndarray:
            out = np.zeros((len(X), n_classes))
            out[:, index] = model.predict_proba(np.asfortranarray(X))
            return out
        return proba
    raise Unsupported(f"framework {name!r} with {len(cats)} native categorical features")


def compile_fast_path(pipeline: InferencePipeline) -> FastPath:
    """Compile ``pipeline`` (see module doc).

    Raises:
        Unsupported: the pipeline has a step, framework or task the fast path does not cover.
    """
    if pipeline.task not in ("classification", "regression"):
        raise Unsupported(f"task {pipeline.task!r}")
    if isinstance(pipeline, EnsemblePipeline):
        raise Unsupported("an ensemble (each member has its own recipe)")
    kinds = {e["name"]: str(e["semantic_type"]) for e in pipeline.input_signature}
    ops: list[Op] = []
    for spec, state in pipeline.recipe.steps:
        build = _STEPS.get(spec.step)
        if build is None:
            raise Unsupported(f"recipe step {spec.step!r}")
        ops.append(build(state, kinds))
    n_classes = len(pipeline.classes or [])
    return FastPath(ops=tuple(ops), features=tuple(pipeline.recipe.feature_names),
                    predict_raw=_model_call(pipeline, n_classes), task=pipeline.task,
                    n_classes=n_classes, target_transform=pipeline.recipe.target_transform)


def same_outputs(a: Mapping[str, np.ndarray], b: Mapping[str, np.ndarray]) -> bool:
    """Whether two output dicts agree (to float rounding of the last bit)."""
    return a.keys() == b.keys() and all(
        np.allclose(a[k], b[k], rtol=1e-9, atol=1e-12, equal_nan=True) for k in a)


def is_nan(v: Any) -> bool:
    return isinstance(v, float) and math.isnan(v)
