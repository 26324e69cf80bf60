"""Regression metrics agree with scikit-learn; residuals are summarised for the plots."""

from __future__ import annotations

import json

import numpy as np
import pytest
from sklearn import metrics as skm

from shipyard.errors import InvalidRequest
from shipyard.evaluation import regression_metrics

from .data import Regressed

approx = pytest.approx


def test_agrees_with_sklearn(regression: Regressed) -> None:
    y, f = regression.y_true, regression.y_pred
    m = regression_metrics(y, f)
    assert m["n_samples"] == y.size
    assert m["rmse"] == approx(np.sqrt(skm.mean_squared_error(y, f)))
    assert m["mae"] == approx(skm.mean_absolute_error(y, f))
    assert m["r2"] == approx(skm.r2_score(y, f))
    assert m["mape"] == approx(skm.mean_absolute_percentage_error(y, f))
    assert 0.6 < m["r2"] < 1.0 and 0 < m["mape"] < 1  # a real model; MAPE is a fraction
    assert m["notes"] == []


def test_residuals_summary(regression: Regressed) -> None:
    y, f = regression.y_true, regression.y_pred
    res = regression_metrics(y, f)["residuals"]
    assert res["count"] == y.size
    assert res["mean"] == approx(np.mean(y - f))
    assert res["std"] == approx(np.std(y - f))
    assert res["quantiles"]["p50"] == approx(np.median(y - f))
    assert res["quantiles"]["min"] == approx((y - f).min())
    assert res["quantiles"]["max"] == approx((y - f).max())
    hist = res["histogram"]
    assert len(hist["edges"]) == len(hist["counts"]) + 1
    assert sum(hist["counts"]) == y.size
    sample = res["sample"]
    assert y.size > 500 and len(sample["y_true"]) == len(sample["y_pred"]) == 500
    # The sample is real (y_true, y_pred) pairs, and the same on every call.
    pairs = set(zip(y.tolist(), f.tolist(), strict=True))
    assert all(p in pairs for p in zip(sample["y_true"], sample["y_pred"], strict=True))
    assert regression_metrics(y, f)["residuals"]["sample"] == sample


def test_result_is_plain_json(regression: Regressed) -> None:
    m = regression_metrics(regression.y_true, regression.y_pred)
    assert json.loads(json.dumps(m, allow_nan=False)) == m


def test_constant_predictions_and_targets() -> None:
    m = regression_metrics([3.0, 5.0, 7.0], [5.0, 5.0, 5.0])
    assert m["r2"] == approx(0.0) and m["rmse"] == approx(np.sqrt(8 / 3))
    perfect = regression_metrics([2.0, 2.0], [2.0, 2.0])
    assert perfect["rmse"] == 0.0 and perfect["r2"] == approx(skm.r2_score([2, 2], [2, 2]))
    hist = perfect["residuals"]["histogram"]
    assert sum(hist["counts"]) == 2 and hist["edges"][0] < 0 < hist["edges"][-1]


def test_one_row_has_no_r2_and_no_warning() -> None:
    m = regression_metrics([1.0], [2.0])
    assert m["r2"] is None and m["mae"] == 1.0


def test_zero_targets_are_noted_for_mape() -> None:
    m = regression_metrics([0.0, 1.0, 2.0], [0.5, 1.0, 2.0])
    assert m["mape"] == approx(skm.mean_absolute_percentage_error([0, 1, 2], [0.5, 1, 2]))
    assert "MAPE" in m["notes"][0]


@pytest.mark.parametrize(
    ("y", "f", "message"),
    [
        ([1.0, 2.0], [1.0], "same number of rows"),
        ([1.0, np.nan], [1.0, 2.0], "finite numbers; got nan at position 1"),
        ([], [], "no rows"),
        ([[1.0, 2.0], [3.0, 4.0]], [1.0, 2.0], "one-dimensional"),
        (["a", "b"], [1.0, 2.0], "must hold numbers"),
    ],
)
def test_bad_input_is_a_clear_error(y, f, message) -> None:
    with pytest.raises(InvalidRequest, match=message):
        regression_metrics(y, f)
