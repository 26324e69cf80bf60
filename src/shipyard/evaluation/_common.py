"""Helpers shared by the metric modules: input checks, JSON-able numbers, summaries.

Every result this package returns is made of ``dict``, ``list``, ``str``, ``int``,
``float`` and ``None`` only, so it goes through ``json.dumps`` unchanged: NumPy
scalars become Python numbers and non-finite floats become ``None``.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from types import ModuleType
from typing import Any, TypeVar

import numpy as np

from shipyard.errors import InvalidRequest

#: Problem types Shipyard knows; the task of each is fixed by it.
PROBLEM_TYPES = (
    "binary", "multiclass", "regression", "clustering", "dimensionality_reduction",
    "anomaly_detection",
)
CLASSIFICATION = ("binary", "multiclass")

#: The quantiles every distribution summary reports, by key.
QUANTILES: dict[str, float] = {
    "min": 0.0, "p01": 0.01, "p05": 0.05, "p25": 0.25, "p50": 0.5,
    "p75": 0.75, "p95": 0.95, "p99": 0.99, "max": 1.0,
}
HISTOGRAM_BINS = 30

T = TypeVar("T")


def sklearn_metrics() -> ModuleType:
    """``sklearn.metrics``, imported on first use so importing this package stays light."""
    try:
        import sklearn.metrics
    except ModuleNotFoundError as exc:  # pragma: no cover - the dev install has it
        raise ModuleNotFoundError(
            "Evaluation metrics need scikit-learn; install it with: pip install 'shipyard[ml]'"
        ) from exc
    return sklearn.metrics


@contextmanager
def quiet() -> Iterator[None]:
    """Silence library warnings about undefined metrics: undefined values come back as None."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        yield


def defined(fn: Callable[[], T]) -> T | None:
    """``fn()`` with its warnings silenced, or None when the library finds it undefined."""
    with quiet():
        try:
            return fn()
        except ValueError:
            return None


def num(value: Any) -> float | None:
    """A JSON-able float: Python ``float``, or None for missing, NaN and infinities."""
    if value is None:
        return None
    out = float(value)
    return out if np.isfinite(out) else None


def nums(values: Any) -> list[float | None]:
    """:func:`num` over a sequence."""
    return [num(v) for v in np.asarray(values, dtype=float).ravel()]


def as_vector(values: Any, name: str, *, numeric: bool = True) -> np.ndarray:
    """A 1-D array from ``values``, with a clear error when it is not one (or not finite).

    Raises:
        InvalidRequest: not one-dimensional, or (numeric) not finite numbers.
    """
    arr = np.asarray(values)
    if arr.ndim == 2 and arr.shape[1] == 1:
        arr = arr[:, 0]
    if arr.ndim != 1:
        raise InvalidRequest(f"{name} must be one-dimensional; got shape {arr.shape}.")
    if not numeric:
        return arr
    try:
        arr = arr.astype(float)
    except (TypeError, ValueError) as exc:
        raise InvalidRequest(f"{name} must hold numbers; got dtype {arr.dtype}.") from exc
    bad = np.flatnonzero(~np.isfinite(arr))
    if bad.size:
        raise InvalidRequest(
            f"{name} must hold finite numbers; got {arr[bad[0]]} at position {int(bad[0])} "
            f"({bad.size} such values). Drop or impute those rows before evaluating."
        )
    return arr


def same_length(n: int, m: int, what: str) -> None:
    """Raise a clear error when two inputs that pair row by row differ in length."""
    if n != m:
        raise InvalidRequest(f"{what} must have the same number of rows; got {n} and {m}.")


def distribution(values: np.ndarray, *, bins: int = HISTOGRAM_BINS) -> dict[str, Any]:
    """Quantiles, mean, std and a histogram of ``values`` (finite, maybe empty)."""
    if values.size == 0:
        return {
            "count": 0, "mean": None, "std": None,
            "quantiles": dict.fromkeys(QUANTILES),
            "histogram": {"edges": [], "counts": []},
        }
    counts, edges = np.histogram(values, bins=bins)
    qs = np.quantile(values, list(QUANTILES.values()))
    return {
        "count": int(values.size),
        "mean": num(values.mean()),
        "std": num(values.std()),
        "quantiles": dict(zip(QUANTILES, nums(qs), strict=True)),
        "histogram": {"edges": nums(edges), "counts": [int(c) for c in counts]},
    }


def thin(n: int, limit: int) -> np.ndarray:
    """At most ``limit`` evenly spaced positions of ``range(n)``, always keeping both ends."""
    if n <= limit:
        return np.arange(n)
    return np.unique(np.round(np.linspace(0, n - 1, limit)).astype(int))


def sample_positions(n: int, limit: int, seed: int = 0) -> np.ndarray:
    """A fixed random subset of ``range(n)`` of at most ``limit`` positions, in order."""
    if n <= limit:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=limit, replace=False))


def check_problem_type(problem_type: str, allowed: Sequence[str] = PROBLEM_TYPES) -> str:
    """``problem_type`` when it is one of ``allowed``, else a clear error."""
    if problem_type not in allowed:
        raise InvalidRequest(
            f"Unknown problem type {problem_type!r}; expected one of {', '.join(allowed)}."
        )
    return problem_type
