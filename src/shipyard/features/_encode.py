"""The ``encode`` step: labels as one-hot columns, ordinal codes, or target statistics.

``onehot`` groups rare labels as ``__other__`` exactly as the ``categorical`` step
does (its fitted state has the same shape, so the serving fast path covers both).
``ordinal`` gives each label its position in an order (given, or sorted).
``count`` replaces a label by how many training rows have it (``normalize``: their
share), as category_encoders' ``CountEncoder`` does: a label no training row has gets 0,
and a missing value counts as a label of its own. It needs no target, so nothing leaks.
``target`` replaces a label by the smoothed mean of the target for that label
(regression, binary), or one column per class (multiclass). So the model never
learns from a row's own target, the training rows are encoded out of fold: the
rows are cut into ``folds`` parts and each part is encoded with statistics of the
others (cross-fitting). New rows use the statistics of all training rows.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.features._params import (
    boolean,
    integer,
    label,
    list_of,
    mapping_of,
    number,
    one_of,
    seed,
)
from shipyard.features._semantic import is_numeric_dtype
from shipyard.features._steps import (
    MISSING,
    Categorical,
    Lineage,
    State,
    Step,
    _labels,
    passthrough,
    register_step,
)

ENCODE_METHODS = ("onehot", "ordinal", "target", "count")
TARGET_TASKS = ("auto", "regression", "classification")


def target_task(y: pd.Series, task: str = "auto") -> str:
    """``regression`` or ``classification`` for target ``y``.

    ``auto``: numbers with more than two distinct values are a regression target;
    anything else (labels, booleans, two numbers) is classification.
    """
    if task not in TARGET_TASKS:
        raise InvalidRequest(f"task must be one of {list(TARGET_TASKS)}; got {task!r}.")
    if task != "auto":
        return task
    if is_numeric_dtype(y) and y.nunique(dropna=True) > 2:
        return "regression"
    return "classification"


def target_classes(y: pd.Series) -> list[str]:
    """The distinct labels of a classification target, ordered as training orders classes."""
    values = y.dropna()
    distinct = pd.unique(values)
    if pd.api.types.is_numeric_dtype(values.dtype) or pd.api.types.is_bool_dtype(values.dtype):
        return [str(v) for v in sorted(distinct)]
    return sorted(str(v) for v in distinct)


def target_matrix(y: pd.Series, task: str) -> tuple[np.ndarray, list[str] | None]:
    """The target as a float matrix: one column (regression, binary) or one per class.

    A row whose target is missing is all NaN.
    """
    if task == "regression":
        return pd.to_numeric(y, errors="coerce").to_numpy(dtype="float64")[:, None], None
    classes = target_classes(y)
    codes, uniques = pd.factorize(y)
    column = {c: i for i, c in enumerate(classes)}
    where = np.array([column[str(u)] for u in uniques], dtype=np.intp)
    onehot = np.zeros((len(y), len(classes)))
    seen = np.flatnonzero(codes >= 0)
    onehot[seen, where[codes[seen]]] = 1.0
    onehot[codes < 0] = np.nan
    if len(classes) == 2:  # one column: the share of the second (positive) class
        return onehot[:, 1:], classes[1:]
    return onehot, classes


def _label_codes(s: pd.Series) -> tuple[np.ndarray, list[str]]:
    """Each row's label as a code into the sorted labels (missing is the label __missing__)."""
    codes, uniques = pd.factorize(_labels(s).fillna(MISSING), sort=True)
    return codes, [str(u) for u in uniques]


def _smoothed(codes: np.ndarray, n_labels: int, target: np.ndarray, prior: np.ndarray,
              m: float) -> tuple[np.ndarray, np.ndarray]:
    """Per label: (sum + m * prior) / (count + m) of the target, and the label counts."""
    counts = np.bincount(codes, minlength=n_labels).astype("float64")
    sums = np.column_stack([np.bincount(codes, weights=target[:, j], minlength=n_labels)
                            for j in range(target.shape[1])])
    with np.errstate(invalid="ignore", divide="ignore"):
        values = (sums + m * prior) / (counts[:, None] + m)
    values[counts == 0] = prior  # a label these rows never show: the prior
    return values, counts


@register_step
class Encode(Step):
    name = "encode"
    description = ("Labels as one-hot columns (rare ones grouped as __other__), ordinal codes "
                   "(given or sorted order), target statistics with K-fold cross-fitting, or "
                   "their count in the training rows.")
    defaults = {"method": "onehot", "max_categories": 20, "min_count": 5, "order": {},
                "smoothing": 10.0, "folds": 5, "seed": 0, "task": "auto",
                "unknown_value": -1.0, "normalize": False}
    checks = {"method": one_of(*ENCODE_METHODS), "max_categories": integer(1),
              "min_count": integer(0),
              "order": mapping_of(list_of(label()), what=(
                  'an object from a column to its labels in order, e.g. {"size": ["small", '
                  '"medium", "large"]}')),
              "smoothing": number(0), "folds": integer(2), "seed": seed(),
              "task": one_of(*TARGET_TASKS), "unknown_value": number(),
              "normalize": boolean()}
    accepts = "text"

    def fit(self, df: pd.DataFrame, y: pd.Series | None) -> State:
        method = self.params["method"]
        if method == "onehot":
            return {**self._onehot().fit(df, y), "method": "onehot"}
        if method == "ordinal":
            return self._fit_ordinal(df)
        if method == "count":
            return self._fit_count(df)
        if y is None:
            raise InvalidRequest("Target encoding needs the target column; fit the recipe "
                                 "with target=… or use method 'onehot' or 'ordinal'.")
        return self._fit_target(df, y)

    def fit_transform(self, df: pd.DataFrame, y: pd.Series | None,
                      ) -> tuple[State, pd.DataFrame, pd.Series | None]:
        state = self.fit(df, y)
        if state["method"] == "target" and y is not None:
            return state, self._cross_fitted(df, y, state), y
        return state, self.transform(df, state), y

    def _onehot(self) -> Categorical:
        # Its values are this step's, checked when it was made (or fitted before).
        return Categorical(self.columns, {"encoding": "onehot",
                                          "max_categories": self.params["max_categories"],
                                          "min_count": self.params["min_count"]}, check=False)

    def _fit_ordinal(self, df: pd.DataFrame) -> State:
        order = self.params["order"]
        fitted = {}
        for col in self.select(df):
            if col in order:
                cats = [str(v) for v in order[col]]
            else:
                cats = sorted(str(v) for v in _labels(df[col]).dropna().unique())
            fitted[col] = {"categories": cats}
        return {"method": "ordinal", "columns": fitted,
                "unknown_value": float(self.params["unknown_value"])}

    def _fit_count(self, df: pd.DataFrame) -> State:
        normalize = self.params["normalize"]
        fitted = {}
        for col in self.select(df):
            counts = _labels(df[col]).fillna(MISSING).value_counts(sort=False)
            scale = 1.0 / max(len(df), 1) if normalize else 1.0
            fitted[col] = {"mapping": {str(k): float(n) * scale for k, n in counts.items()}}
        return {"method": "count", "normalize": normalize, "columns": fitted}

    def _fit_target(self, df: pd.DataFrame, y: pd.Series) -> State:
        m = float(self.params["smoothing"])
        task = target_task(y, self.params["task"])
        target, classes = target_matrix(y, task)
        keep = ~np.isnan(target).any(axis=1)
        prior = target[keep].mean(axis=0) if keep.any() else np.zeros(target.shape[1])
        fitted: dict[str, dict[str, Any]] = {}
        for col in self.select(df):
            codes, labels = _label_codes(df[col])
            values, counts = _smoothed(codes[keep], len(labels), target[keep], prior, m)
            mapping = {label: [float(v) for v in row]
                       for label, row, n in zip(labels, values, counts, strict=True) if n > 0}
            fitted[col] = {"categories": [k for k in mapping if k != MISSING],
                           "mapping": mapping}
        return {"method": "target", "task": task, "classes": classes,
                "prior": [float(v) for v in prior], "columns": fitted}

    def _cross_fitted(self, df: pd.DataFrame, y: pd.Series, state: State) -> pd.DataFrame:
        """The training rows encoded out of fold: each fold with the other folds' statistics."""
        from sklearn.model_selection import KFold

        folds = min(int(self.params["folds"]), len(df))
        if folds < 2:
            return self.transform(df, state)
        m = float(self.params["smoothing"])
        target, _ = target_matrix(y, state["task"])
        labelled = {col: _label_codes(df[col]) for col in state["columns"]}
        encoded = {col: np.empty((len(df), target.shape[1])) for col in labelled}
        splitter = KFold(n_splits=folds, shuffle=True, random_state=int(self.params["seed"]))
        for fit_rows, encode_rows in splitter.split(df):
            rows = fit_rows[~np.isnan(target[fit_rows]).any(axis=1)]
            prior = target[rows].mean(axis=0) if len(rows) else np.asarray(state["prior"])
            for col, (codes, labels) in labelled.items():
                values, _ = _smoothed(codes[rows], len(labels), target[rows], prior, m)
                encoded[col][encode_rows] = values[codes[encode_rows]]
        new = {name: encoded[col][:, i] for col in labelled
               for i, name in enumerate(target_output_names(col, state))}
        rest = df.drop(columns=list(labelled))
        return pd.concat([rest, pd.DataFrame(new, index=df.index)], axis=1)

    def transform(self, df: pd.DataFrame, state: State) -> pd.DataFrame:
        method = state.get("method", "onehot")
        if method == "onehot":
            return self._onehot().transform(df, state)
        if method == "ordinal":
            return _ordinal(df, state)
        if method == "count":
            return _count(df, state)
        return _target(df, state)

    def lineage(self, state: State, inputs: list[str]) -> Lineage:
        method = state.get("method", "onehot")
        if method == "onehot":
            return self._onehot().lineage(state, inputs)
        if method == "ordinal":
            return passthrough(inputs, add={col: (col,) for col in state["columns"]})
        if method == "count":
            return passthrough(inputs, drop=state["columns"],
                               add={f"{col}.count": (col,) for col in state["columns"]})
        return passthrough(inputs, drop=state["columns"], add={
            name: (col,) for col in state["columns"]
            for name in target_output_names(col, state)})


def _ordinal(df: pd.DataFrame, state: State) -> pd.DataFrame:
    out = df.copy()
    unknown = float(state["unknown_value"])
    for col, fit in state["columns"].items():
        labels = _labels(out[col]) if col in out.columns else pd.Series(
            None, index=out.index, dtype="object")
        codes = pd.Index(fit["categories"], dtype="object").get_indexer(labels)
        out[col] = np.where(codes >= 0, codes, unknown).astype("float64")
    return out


def _filled_labels(df: pd.DataFrame, col: str) -> pd.Series:
    """``df[col]`` as labels, a missing value (or a missing column) as ``__missing__``."""
    if col not in df.columns:
        return pd.Series(MISSING, index=df.index, dtype="object")
    return _labels(df[col]).fillna(MISSING)


def _count(df: pd.DataFrame, state: State) -> pd.DataFrame:
    out = df.copy()
    new: dict[str, pd.Series] = {}
    for col, fit in state["columns"].items():
        labels = _filled_labels(out, col)
        new[f"{col}.count"] = labels.map(fit["mapping"]).astype("float64").fillna(0.0)
        out = out.drop(columns=[col], errors="ignore")
    return pd.concat([out, pd.DataFrame(new, index=out.index)], axis=1) if new else out


def target_output_names(col: str, state: State) -> list[str]:
    """The columns target encoding makes of ``col``: one, or one per class (multiclass)."""
    classes = state.get("classes")
    if state["task"] == "regression" or classes is None or len(classes) == 1:
        return [f"{col}.target"]
    return [f"{col}.target={c}" for c in classes]


def _target(df: pd.DataFrame, state: State) -> pd.DataFrame:
    out = df.copy()
    prior = [float(v) for v in state["prior"]]
    new: dict[str, pd.Series] = {}
    for col, fit in state["columns"].items():
        labels = _filled_labels(out, col)
        codes = pd.Index(list(fit["mapping"]), dtype="object").get_indexer(labels)
        table = np.array([*fit["mapping"].values(), prior], dtype="float64").reshape(
            -1, len(prior))
        values = table[np.where(codes >= 0, codes, len(table) - 1)]
        for i, name in enumerate(target_output_names(col, state)):
            new[name] = pd.Series(values[:, i], index=out.index)
        out = out.drop(columns=[col], errors="ignore")
    return pd.concat([out, pd.DataFrame(new, index=out.index)], axis=1) if new else out
