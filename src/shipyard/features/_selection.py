"""Feature selection: which numeric columns to keep, and for each dropped one, why.

:func:`select_features` looks at a table and its target with one method and
returns a :class:`SelectionResult`: the kept columns, and every dropped column with
its reason and the figure behind it.

``variance``     drop a column whose variance is at or below ``threshold`` (default 0:
                 constants)
``correlation``  for each pair with \\|Pearson r\\| above ``threshold`` (default 0.9), drop
                 the one less associated with the target (\\|r\\| with the target, or with
                 a class indicator for classification); without a target, or when the two
                 are within 0.01, the one with more missing values, then the later one
``mutual_info``  scikit-learn's mutual information with the target; keep the ``k`` best,
                 or drop those at or below ``threshold`` (default 0)
``importance``   a quick random forest's impurity importances; keep the ``k`` best, or
                 drop those at or below ``threshold`` (default 0)

Columns that are not numeric are not judged: they are kept and listed as skipped.
The ``select`` recipe step runs the same on the training rows, and its fitted
state is the kept list, so selection never sees validation or test rows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.features._encode import TARGET_TASKS, target_matrix, target_task
from shipyard.features._params import integer, number, one_of, optional, seed, shown
from shipyard.features._semantic import is_numeric_dtype
from shipyard.features._steps import Lineage, State, Step, _numbers, passthrough, register_step

SELECTION_METHODS = ("variance", "correlation", "mutual_info", "importance")
_DEFAULT_THRESHOLD = {"variance": 0.0, "correlation": 0.9, "mutual_info": 0.0,
                      "importance": 0.0}
#: Target associations closer than this are a tie (the column with more gaps goes).
ASSOCIATION_TOLERANCE = 0.01
#: Rows the mutual-information and importance methods look at, at most (a seeded sample).
MAX_ROWS = 20_000
#: The rules of ``k`` and ``threshold`` on their own; :func:`settings_problem` ties them
#: to the method. The ``select`` step and :func:`select` share both.
K = optional(integer(1))
THRESHOLD = optional(number())


def settings_problem(method: str, threshold: float | None,
                     k: int | None) -> tuple[str, str] | None:
    """The setting that ``method`` does not allow with the others, and what it allows;
    None when they go together."""
    if k is not None and method in ("variance", "correlation"):
        return "k", f"null with method {method!r}, which uses a threshold, not k"
    if method == "correlation" and threshold is not None and not 0 < threshold <= 1:
        return "threshold", "null or in (0, 1] with method 'correlation'"
    return None


@dataclass(frozen=True)
class Dropped:
    """One dropped column: why, and the figure behind it."""

    column: str
    reason: str
    value: float


@dataclass(frozen=True)
class SelectionResult:
    """What a selection kept and dropped; ``scores`` holds each judged column's figure."""

    method: str
    threshold: float | None
    k: int | None
    kept: tuple[str, ...]
    dropped: tuple[Dropped, ...]
    scores: dict[str, float]
    skipped: tuple[str, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {"method": self.method, "threshold": self.threshold, "k": self.k,
                "kept": list(self.kept), "skipped": list(self.skipped),
                "dropped": [{"column": d.column, "reason": d.reason, "value": d.value}
                            for d in self.dropped],
                "scores": dict(self.scores)}


def select_features(df: pd.DataFrame, target: str | None = None, method: str = "correlation",
                    *, threshold: float | None = None, k: int | None = None,
                    task: str = "auto", seed: int = 0) -> SelectionResult:
    """Select the numeric columns of ``df`` (all but ``target``) with ``method``.

    Raises:
        InvalidRequest: an unknown method, a missing target where the method needs one,
            or a bad ``threshold``/``k``.
    """
    if target is not None and target not in df.columns:
        raise InvalidRequest(f"The target column {target!r} is not in the data.")
    y = df[target] if target is not None else None
    X = df.drop(columns=[target]) if target is not None else df
    return select(X, y, method, threshold=threshold, k=k, task=task, seed=seed)


def select(X: pd.DataFrame, y: pd.Series | None, method: str, *, threshold: float | None,
           k: int | None, task: str = "auto", seed: int = 0) -> SelectionResult:
    """:func:`select_features` on features ``X`` and target ``y`` (aligned rows)."""
    if method not in SELECTION_METHODS:
        raise InvalidRequest(f"Selection method must be one of {list(SELECTION_METHODS)}; "
                             f"got {method!r}.")
    if not K(k):
        raise InvalidRequest(f"k must be {K.allowed} (the columns to keep); got {shown(k)}.")
    if not THRESHOLD(threshold):
        raise InvalidRequest(f"threshold must be {THRESHOLD.allowed}; got {shown(threshold)}.")
    problem = settings_problem(method, threshold, k)
    if problem:
        value = k if problem[0] == "k" else threshold
        raise InvalidRequest(f"{problem[0]} must be {problem[1]}; got {shown(value)}.")
    if threshold is None and k is None:
        threshold = _DEFAULT_THRESHOLD[method]
    numeric = [str(c) for c in X.columns if is_numeric_dtype(X[c])
               or pd.api.types.is_bool_dtype(X[c].dtype)]
    skipped = tuple(str(c) for c in X.columns if str(c) not in numeric)
    frame = pd.DataFrame({c: _numbers(X[c]) for c in numeric}, index=X.index)
    if method == "variance":
        scores, dropped = _by_variance(frame, float(threshold or 0.0))
    elif method == "correlation":
        scores, dropped = _by_correlation(frame, y, float(threshold or 0.0), task)
    else:
        if y is None:
            raise InvalidRequest(f"Selection by {method} needs the target column.")
        scores = (_mutual_info if method == "mutual_info" else _importance)(frame, y, task, seed)
        dropped = _by_score(scores, method, threshold, k)
    gone = {d.column for d in dropped}
    kept = tuple(str(c) for c in X.columns if str(c) not in gone)
    return SelectionResult(method=method, threshold=threshold, k=k, kept=kept,
                           dropped=tuple(dropped), scores=scores, skipped=skipped)


def _by_variance(frame: pd.DataFrame, threshold: float) -> tuple[dict[str, float], list[Dropped]]:
    variances = {c: _finite(frame[c].var(ddof=0)) for c in frame.columns}
    dropped = [Dropped(c, f"variance {v:.4g} is at or below the threshold {threshold:g}", v)
               for c, v in variances.items() if v <= threshold]
    return variances, dropped


def _association(frame: pd.DataFrame, y: pd.Series | None, task: str) -> dict[str, float]:
    """|r| of each column with the target (the largest over class indicators)."""
    if y is None:
        return {}
    matrix, _ = target_matrix(y, target_task(y, task))
    out: dict[str, float] = {}
    for c in frame.columns:
        x = frame[c].to_numpy(dtype="float64")
        rs = [abs(_pearson(x, matrix[:, j])) for j in range(matrix.shape[1])]
        out[c] = max(rs) if rs else 0.0
    return out


def _pearson(x: np.ndarray, t: np.ndarray) -> float:
    """Pearson r over the rows where both are present (0 when it is undefined)."""
    both = ~(np.isnan(x) | np.isnan(t))
    x, t = x[both], t[both]
    if len(x) < 2 or x.std() == 0 or t.std() == 0:
        return 0.0
    return _finite(np.corrcoef(x, t)[0, 1])


def _by_correlation(frame: pd.DataFrame, y: pd.Series | None, threshold: float,
                    task: str) -> tuple[dict[str, float], list[Dropped]]:
    corr = frame.corr().abs().fillna(0.0).to_numpy() if len(frame.columns) else np.zeros((0, 0))
    names = list(frame.columns)
    assoc = _association(frame, y, task)
    missing = frame.isna().sum().to_dict()
    pairs = sorted(((corr[i, j], i, j) for i in range(len(names)) for j in range(i + 1, len(names))
                    if corr[i, j] > threshold), reverse=True)
    gone: dict[str, Dropped] = {}
    for r, i, j in pairs:
        a, b = names[i], names[j]
        if a in gone or b in gone:
            continue
        loser, winner, why = _loser(a, b, assoc, missing)
        gone[loser] = Dropped(loser, f"correlated with {winner} (|r| = {r:.3f} > {threshold:g}); "
                                     f"{why}", float(r))
    top = {c: float(max((corr[i, j] for j in range(len(names)) if j != i), default=0.0))
           for i, c in enumerate(names)}
    return top, list(gone.values())


def _loser(a: str, b: str, assoc: dict[str, float], missing: dict[str, Any],
           ) -> tuple[str, str, str]:
    if assoc and abs(assoc[a] - assoc[b]) > ASSOCIATION_TOLERANCE:
        lo, hi = (a, b) if assoc[a] < assoc[b] else (b, a)
        return lo, hi, (f"its target association |r| {assoc[lo]:.3f} is below "
                        f"{hi}'s {assoc[hi]:.3f}")
    if missing[a] != missing[b]:
        lo, hi = (a, b) if missing[a] > missing[b] else (b, a)
        return lo, hi, f"it has more missing values ({missing[lo]} against {missing[hi]})"
    return b, a, ("as associated with the target (within 0.01) and as complete; the later "
                  "column goes")


def _sample(frame: pd.DataFrame, y: pd.Series, seed: int) -> tuple[np.ndarray, pd.Series]:
    keep = y.notna().to_numpy()
    X, y = frame.loc[keep], y.loc[keep]
    if len(X) > MAX_ROWS:
        rows = np.sort(np.random.default_rng(seed).choice(len(X), MAX_ROWS, replace=False))
        X, y = X.iloc[rows], y.iloc[rows]
    medians = X.median().fillna(0.0)
    return X.fillna(medians).to_numpy(dtype="float64"), y


def _labels_or_values(y: pd.Series, task: str) -> np.ndarray:
    if task == "regression":
        return pd.to_numeric(y, errors="coerce").to_numpy(dtype="float64")
    return pd.factorize(y.astype("object").map(str), sort=True)[0]


def _mutual_info(frame: pd.DataFrame, y: pd.Series, task: str, seed: int) -> dict[str, float]:
    from sklearn.feature_selection import mutual_info_classif, mutual_info_regression

    if not len(frame.columns):
        return {}
    X, ys = _sample(frame, y, seed)
    kind = target_task(ys, task)
    fn = mutual_info_regression if kind == "regression" else mutual_info_classif
    mi = fn(X, _labels_or_values(ys, kind), random_state=seed)
    return {c: float(v) for c, v in zip(frame.columns, mi, strict=True)}


def _importance(frame: pd.DataFrame, y: pd.Series, task: str, seed: int) -> dict[str, float]:
    from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

    if not len(frame.columns):
        return {}
    X, ys = _sample(frame, y, seed)
    kind = target_task(ys, task)
    cls = RandomForestRegressor if kind == "regression" else RandomForestClassifier
    model = cls(n_estimators=60, min_samples_leaf=3, random_state=seed, n_jobs=1)
    model.fit(X, _labels_or_values(ys, kind))
    return {c: float(v) for c, v in zip(frame.columns, model.feature_importances_, strict=True)}


def _by_score(scores: dict[str, float], method: str, threshold: float | None,
              k: int | None) -> list[Dropped]:
    figure = "mutual information" if method == "mutual_info" else "importance"
    ranked = sorted(scores, key=lambda c: (-scores[c], c))
    dropped: list[Dropped] = []
    for rank, c in enumerate(ranked, start=1):
        if k is not None and rank > k:
            dropped.append(Dropped(c, f"{figure} {scores[c]:.4g} ranks {rank} of {len(ranked)}; "
                                      f"only the top {k} are kept", scores[c]))
        elif threshold is not None and scores[c] <= threshold:
            dropped.append(Dropped(c, f"{figure} {scores[c]:.4g} is at or below the threshold "
                                      f"{threshold:g}", scores[c]))
    return dropped


def _finite(v: Any) -> float:
    return float(v) if v is not None and np.isfinite(v) else 0.0


@register_step
class Select(Step):
    name = "select"
    description = ("Feature selection fitted on the training rows (variance, correlation, "
                   "mutual information or model importance); keeps the kept list, drops the rest.")
    defaults = {"method": "correlation", "threshold": None, "k": None, "task": "auto", "seed": 0}
    checks = {"method": one_of(*SELECTION_METHODS), "threshold": THRESHOLD, "k": K,
              "task": one_of(*TARGET_TASKS), "seed": seed()}

    def check_params(self) -> None:
        problem = settings_problem(self.params["method"], self.params["threshold"],
                                   self.params["k"])
        if problem:
            self.refuse(*problem)

    def fit(self, df: pd.DataFrame, y: pd.Series | None) -> State:
        frame = df[self.select(df)]
        result = select(frame, y, self.params["method"], threshold=self.params["threshold"],
                        k=self.params["k"], task=self.params["task"],
                        seed=int(self.params["seed"]))
        return {"method": result.method, "kept": list(result.kept),
                "dropped": {d.column: {"reason": d.reason, "value": d.value}
                            for d in result.dropped}}

    def transform(self, df: pd.DataFrame, state: State) -> pd.DataFrame:
        return df.drop(columns=[c for c in state["dropped"] if c in df.columns])

    def lineage(self, state: State, inputs: list[str]) -> Lineage:
        return passthrough(inputs, drop=state["dropped"])
