"""Regression metrics, computed by scikit-learn, and a summary of the residuals."""

from __future__ import annotations

from typing import Any

import numpy as np

from shipyard.errors import InvalidRequest
from shipyard.evaluation._common import (
    as_vector,
    distribution,
    num,
    nums,
    quiet,
    same_length,
    sample_positions,
    sklearn_metrics,
)

#: At most this many (y_true, y_pred) pairs are kept for the residual plot.
MAX_SAMPLE_POINTS = 500


def regression_metrics(y_true: Any, y_pred: Any) -> dict[str, Any]:
    """Score predictions of a numeric target.

    Returns:
        A JSON-able dict: ``n_samples``, ``rmse``, ``mae``, ``r2`` (None with fewer
        than two rows), ``mape`` (scikit-learn's mean absolute percentage error,
        a fraction: 0.12 means 12%; None, with a note, when ``y_true`` has a 0),
        ``residuals`` (of ``y_true - y_pred``: ``count``, ``mean``, ``std``,
        ``quantiles``, ``histogram`` {edges, counts},
        ``sample`` {y_true, y_pred} of at most 500 fixed rows) and ``notes``.

    Raises:
        InvalidRequest: inputs of different lengths, empty, or not finite numbers.
    """
    sk = sklearn_metrics()
    y = as_vector(y_true, "y_true")
    f = as_vector(y_pred, "y_pred")
    same_length(y.size, f.size, "y_true and y_pred")
    if y.size == 0:
        raise InvalidRequest("There are no rows to evaluate; the split is empty.")
    keep = sample_positions(y.size, MAX_SAMPLE_POINTS)
    notes: list[str] = []
    mape: float | None = None
    zeros = int(np.count_nonzero(y == 0))
    if zeros:
        # scikit-learn floors |y_true| at machine epsilon, so one zero makes MAPE ~1e15
        # for any model: a number no one should read, log, rank or alert on.
        notes.append(
            f"MAPE is left out: y_true is 0 in {zeros:,} rows and MAPE divides by |y_true|, "
            "so it would be huge whatever the predictions; read mae or rmse instead."
        )
    else:
        with quiet():
            mape = sk.mean_absolute_percentage_error(y, f)
    return {
        "n_samples": int(y.size),
        "rmse": num(sk.root_mean_squared_error(y, f)),
        "mae": num(sk.mean_absolute_error(y, f)),
        "r2": num(sk.r2_score(y, f)) if y.size >= 2 else None,
        "mape": num(mape),
        "residuals": {
            **distribution(y - f),
            "sample": {"y_true": nums(y[keep]), "y_pred": nums(f[keep])},
        },
        "notes": notes,
    }
