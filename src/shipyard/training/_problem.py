"""Problem-type inference and the pre-flight checks of a training request.

:func:`check_training_data` is cheap and pure: the jobs service calls it at submit
time on a dataset's sample to refuse a bad request before a job starts, and the
training entry calls it again on the real rows.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.features._semantic import is_numeric_dtype
from shipyard.humanize import count
from shipyard.names import names_hint
from shipyard.training._algorithms import PROBLEM_TYPES, SUPERVISED, get_algorithm

#: Integer targets with at most this many distinct values (and few per row) are classes.
MAX_INTEGER_CLASSES = 20
#: ... and at most this share of distinct values per row.
MAX_CLASS_RATIO = 0.05
#: Fewer training rows than this cannot be split and evaluated meaningfully.
MIN_ROWS = 10


def is_numeric_target(y: pd.Series) -> bool:
    """Numbers, not booleans: the dtype rule every column kind shares."""
    return is_numeric_dtype(y)


def known_target(y: pd.Series) -> pd.Series:
    """Rows whose target is usable: not missing, and not ±inf for a number."""
    if is_numeric_target(y):
        return pd.Series(np.isfinite(y.to_numpy(dtype="float64")), index=y.index)
    return y.notna()


def infer_problem_type(y: pd.Series) -> str:
    """binary, multiclass or regression, from the target's values.

    Two distinct values (or a bool) are binary; text, categories, and integers
    with few distinct values (≤ 20 and ≤ 5% of the rows) are multiclass; other
    numbers are regression. Floats that are all whole numbers count as integers: an
    integer column with a missing value is stored as floats (1.0, 2.0, NaN), and the
    rows it has should not read as another problem than the same column without gaps.
    """
    values = y.dropna()
    distinct = int(values.nunique())
    if pd.api.types.is_bool_dtype(values.dtype) or distinct == 2:
        return "binary"
    if not pd.api.types.is_numeric_dtype(values.dtype):
        return "multiclass"
    if is_whole(values) and distinct <= MAX_INTEGER_CLASSES and (
            len(values) and distinct / len(values) <= MAX_CLASS_RATIO):
        return "multiclass"
    return "regression"


def is_whole(values: pd.Series) -> bool:
    """Integers, or floats that are all whole numbers (no NaN among ``values``)."""
    if pd.api.types.is_integer_dtype(values.dtype):
        return True
    if not pd.api.types.is_float_dtype(values.dtype):
        return False
    numbers = values.to_numpy(dtype="float64")
    return bool(np.isfinite(numbers).all() and (numbers == np.round(numbers)).all())


def check_objective(metric: str, y: pd.Series, target: str,
                    zeros_in: Callable[[], int] | None = None) -> None:
    """A metric the target cannot be judged by is a 400 before a search optimises it:
    MAPE divides by the target, so one row of 0 (counts, zero-inflated amounts) makes it
    ~1e15 whatever the predictions (scikit-learn floors the divisor at machine epsilon),
    and the evaluation leaves it out (null) on such rows.

    ``y`` is the first rows of the target; ``zeros_in``, when given, counts the zeros of
    the whole column (the job kinds' ``target_zeros``), asked only when ``y`` has none: a
    table whose first 10,000 rows hold no 0 may hold one further down."""
    if metric != "mape" or not is_numeric_target(y):
        return
    zeros = int((y == 0).sum())
    if not zeros and zeros_in is not None:
        zeros = zeros_in()
    if zeros:
        raise InvalidRequest(
            f"The metric mape divides by the target, and {target!r} is 0 in "
            f"{count(zeros, 'row')}, so it would be ~1e15 whatever the model; choose mae or "
            "rmse (or r2).")


def _check_target(df: pd.DataFrame, target: str | None, algorithm: str) -> pd.Series:
    if not target:
        raise InvalidRequest(
            f"Algorithm {algorithm!r} learns to predict a column; name it as 'target' "
            "in the training request.")
    if target not in df.columns:
        raise InvalidRequest(
            f"The target column {target!r} is not in the data; "
            f"{names_hint(target, [str(c) for c in df.columns], 'column')}. "
            "Fix the target name.")
    y = df[target]
    present = y.dropna()
    if present.empty:
        raise InvalidRequest(
            f"The target column {target!r} has no values (every row is missing); "
            "choose a target with values.")
    if present.astype(str).nunique() < 2:
        raise InvalidRequest(
            f"The target column {target!r} is constant ({present.iloc[0]!r} in every row), "
            "so there is nothing to learn; choose another target or add varied rows.")
    return y


def _check_problem_type(problem_type: str, y: pd.Series, target: str) -> None:
    distinct = int(y.dropna().astype(str).nunique())
    if problem_type in ("regression", "forecasting") and not (
            pd.api.types.is_numeric_dtype(y.dtype) and not pd.api.types.is_bool_dtype(y.dtype)):
        raise InvalidRequest(
            f"Problem type {problem_type!r} needs a numeric target; {target!r} holds "
            f"{y.dtype} values. Use 'binary' or 'multiclass', or another target.")
    if problem_type == "binary" and distinct != 2:
        raise InvalidRequest(
            f"Problem type 'binary' needs a target with 2 classes; {target!r} has "
            f"{distinct}. Use 'multiclass' (or leave problem_type out to infer it).")


def _check_classes(known: pd.Series, target: str) -> None:
    """Classes each seen once teach nothing: such a target names the rows (a model, a
    person's name) rather than describing them, and every prediction would be wrong."""
    distinct = int(known.astype(str).nunique())
    if len(known) >= MIN_ROWS and distinct == len(known):
        raise InvalidRequest(
            f"The target column {target!r} has a different value in every row "
            f"({count(distinct, 'distinct value')} in {count(len(known), 'row')}), so each "
            "class is seen once and no model can learn it; pick the column you want to "
            "predict (a number to predict as a quantity takes problem type 'regression').")


def check_training_data(df: pd.DataFrame, target: str | None, algorithm: str,
                        problem_type: str | None = None) -> list[str]:
    """Refuse a training request that cannot work, before training; return notes for the log.

    Checks: the algorithm exists; a supervised one has a target that is present,
    not all missing and not constant; the problem type (given or inferred) is one
    the algorithm supports and fits the target; no column is missing in every row;
    there are enough rows. An unsupervised algorithm ignores a target (noted).

    Raises:
        InvalidRequest: a sentence saying what is wrong and how to fix it.
    """
    info = get_algorithm(algorithm).info
    notes: list[str] = []
    if problem_type is not None and problem_type not in PROBLEM_TYPES:
        raise InvalidRequest(
            f"Unknown problem type {problem_type!r}; use one of {list(PROBLEM_TYPES)} "
            "(or leave it out to infer it from the target).")
    if len(df) < MIN_ROWS:
        raise InvalidRequest(
            f"The training data has {len(df)} rows; at least {MIN_ROWS} are needed to "
            "train and evaluate a model.")
    if info.supervised:
        y = _check_target(df, target, algorithm)
        if problem_type is None and info.problem_types == {"forecasting"}:
            problem_type = "forecasting"  # a forecast's target is a series, never inferred
        elif problem_type is None:
            problem_type = infer_problem_type(y)
            notes.append(f"problem type {problem_type} inferred from the target {target!r}")
        elif problem_type not in SUPERVISED | {"forecasting"}:
            raise InvalidRequest(
                f"Problem type {problem_type!r} has no target; algorithm {algorithm!r} "
                f"solves {sorted(info.problem_types)}.")
        _check_problem_type(problem_type, y, str(target))
        if problem_type in ("binary", "multiclass"):
            _check_classes(y[known_target(y)], str(target))
        missing = int(y.isna().sum())
        if missing:
            notes.append(f"{missing} rows with a missing target are left out")
        infinite = int(np.isinf(y.to_numpy(dtype="float64")).sum()) \
            if is_numeric_target(y) else 0
        if infinite:
            notes.append(f"{infinite} rows with a ±inf target are left out (as missing)")
    else:
        fixed = next(iter(info.problem_types))
        if problem_type is not None and problem_type != fixed:
            raise InvalidRequest(
                f"Algorithm {algorithm!r} does {fixed}, not {problem_type!r}; leave "
                "problem_type out or choose another algorithm.")
        problem_type = fixed
        if target:
            notes.append(f"the target {target!r} is not used: {algorithm} is unsupervised "
                         f"({fixed}), so the column is left out of the features")
    if problem_type not in info.problem_types:
        raise InvalidRequest(
            f"Algorithm {algorithm!r} does not support {problem_type} problems; it supports "
            f"{sorted(info.problem_types)}. Choose another algorithm or problem type.")
    empty = [str(c) for c in df.columns if c != target and df[c].isna().all()]
    if empty:
        raise InvalidRequest(
            f"Column {empty[0]!r} has no values (missing in every row)"
            + (f", as do {count(len(empty) - 1, 'other')}" if len(empty) > 1 else "")
            + "; drop it from the dataset, or pass a recipe with a 'drop' step for it.")
    return notes

