"""Regression metrics agree with scikit-learn; residuals are summarised for the plots."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm

from shipyard.errors import InvalidRequest
from shipyard.evaluation import (
    EvaluationReport,
    baseline_metrics,
    regression_metrics,
    scalar_metrics,
)

from .data import Regressed, load

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


def test_mape_is_left_out_with_a_reason_when_a_target_is_zero() -> None:
    # A count target (NMES1988 physician visits, 0 in 683 of 4,406 rows): scikit-learn's
    # MAPE floors the divisor at machine epsilon, so it was ~1e15 for any model.
    visits = load("AER", "NMES1988")["visits"].to_numpy(dtype=float)
    zeros = int((visits == 0).sum())
    guess = np.full(visits.size, visits.mean())
    m = regression_metrics(visits, guess)
    assert zeros > 0 and m["mape"] is None
    assert m["notes"] == [
        f"MAPE is left out: y_true is 0 in {zeros:,} rows and MAPE divides by |y_true|, so it "
        "would be huge whatever the predictions; read mae or rmse instead."]
    assert m["mae"] == approx(np.mean(np.abs(visits - guess)))
    assert "mape" not in scalar_metrics(m)  # so it is neither logged nor monitored
    base = baseline_metrics("regression", visits, visits)
    assert base["mape"] is None and base["notes"] == m["notes"]


def test_mape_is_kept_when_no_target_is_zero() -> None:
    m = regression_metrics([-2.0, 1.0, 2.0], [-1.0, 1.0, 2.0])
    assert m["mape"] == approx(skm.mean_absolute_percentage_error([-2, 1, 2], [-1, 1, 2]))
    assert m["notes"] == []


def test_report_headline_shows_no_mape_for_zero_targets() -> None:
    metrics = regression_metrics([0.0, 1.0, 2.0], [0.5, 1.0, 2.0])
    report = EvaluationReport("regression", {"test": metrics})
    assert report.headline()["test"]["mape"] is None
    assert "<td>—</td>" in report._repr_html_()


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


def test_model_quality_monitoring_reports_no_mape_for_zero_labels() -> None:
    from shipyard.monitoring import model_quality

    labels = [0.0, 3.0, 1.0, 0.0, 5.0, 2.0]
    preds = pd.DataFrame({"inference_id": [f"r{i}" for i in range(6)],
                          "timestamp": pd.Timestamp("2026-01-01", tz="UTC"),
                          "prediction": [0.5, 2.5, 1.0, 0.2, 4.0, 2.0]})
    truth = pd.DataFrame({"inference_id": preds["inference_id"], "label": labels})
    result = model_quality(preds, truth, problem_type="regression")
    assert "mape" not in result.overall
    assert result.overall["mae"] == approx(np.mean(np.abs(np.subtract(labels,
                                                                      preds["prediction"]))))
