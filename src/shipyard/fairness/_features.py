"""The feature space of the flip test: every feature column as numbers on one scale.

Nearest neighbours need a distance, so each column becomes comparable: numbers and
timestamps are standardised (z-scores; a missing value sits at the mean), booleans are
0/1, text and categories are one-hot encoded (a missing value is its own category), and
a column with more than :data:`MAX_ONE_HOT` categories is ordinal-coded and standardised
instead, so that an identifier-like column cannot blow up the matrix.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest

MAX_ONE_HOT = 32


def encode_features(df: pd.DataFrame, columns: Sequence[str]) -> np.ndarray:
    """The ``columns`` of ``df`` as a float matrix, one row per row of ``df``.

    Raises:
        InvalidRequest: a feature column that is not in ``df``.
    """
    missing = [c for c in columns if c not in df.columns]
    if missing:
        raise InvalidRequest(f"The feature column {missing[0]!r} is not in the data; "
                             "name columns of the dataset.")
    parts = [_encode(df[c]) for c in columns]
    if not parts:
        return np.zeros((len(df), 0))
    return np.hstack(parts)


def _encode(series: pd.Series) -> np.ndarray:
    dtype = series.dtype
    if pd.api.types.is_bool_dtype(dtype):
        return series.astype(float).fillna(0.5).to_numpy(float).reshape(-1, 1)
    if pd.api.types.is_datetime64_any_dtype(dtype):
        stamps = series.astype("int64").astype(float).where(series.notna())
        return _standardise(stamps)
    if pd.api.types.is_numeric_dtype(dtype):
        return _standardise(series.astype(float))
    codes, uniques = pd.factorize(series, use_na_sentinel=False)
    if len(uniques) > MAX_ONE_HOT:
        return _standardise(pd.Series(codes, dtype=float))
    one_hot = np.zeros((len(series), len(uniques)))
    one_hot[np.arange(len(series)), codes] = 1.0
    return one_hot


def _standardise(values: pd.Series) -> np.ndarray:
    x = values.to_numpy(float, na_value=np.nan)
    seen = ~np.isnan(x)
    if not seen.any():
        return np.zeros((len(x), 1))
    mean = float(x[seen].mean())
    std = float(x[seen].std())
    z = (x - mean) / (std if std > 0 else 1.0)
    z[~seen] = 0.0
    return z.reshape(-1, 1)
