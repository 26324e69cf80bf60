"""Training curves from the boosting libraries come out as {"<split>.<metric>": values}."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidRequest
from shipyard.evaluation import curves_from_evals, plot_learning_curve

ROUNDS = 15


@pytest.fixture(scope="module")
def churn_xy(churn: pd.DataFrame) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    df = churn.dropna()
    X = df[["tenure", "monthly_charges", "total_charges", "senior_citizen"]].to_numpy(float)
    y = (df["churn"] == "Yes").to_numpy(int)
    cut = int(0.8 * len(df))
    return X[:cut], y[:cut], X[cut:], y[cut:]


def assert_curves(curves: dict, keys: set[str]) -> None:
    assert set(curves) == keys
    for values in curves.values():
        assert len(values) == ROUNDS and all(isinstance(v, float) for v in values)
    assert_png = plot_learning_curve(curves)
    assert assert_png.startswith(b"\x89PNG")


def test_xgboost(churn_xy) -> None:
    xgb = pytest.importorskip("xgboost")
    X_tr, y_tr, X_va, y_va = churn_xy
    model = xgb.XGBClassifier(n_estimators=ROUNDS, max_depth=3, n_jobs=1, eval_metric="logloss")
    model.fit(X_tr, y_tr, eval_set=[(X_tr, y_tr), (X_va, y_va)], verbose=False)
    curves = curves_from_evals(
        model.evals_result(), split_names={"validation_0": "train", "validation_1": "validation"}
    )
    assert_curves(curves, {"train.logloss", "validation.logloss"})
    assert curves["train.logloss"][-1] < curves["train.logloss"][0]


def test_lightgbm(churn_xy) -> None:
    lgb = pytest.importorskip("lightgbm")
    X_tr, y_tr, X_va, y_va = churn_xy
    model = lgb.LGBMClassifier(n_estimators=ROUNDS, num_leaves=7, n_jobs=1, verbose=-1)
    model.fit(X_tr, y_tr, eval_X=(X_tr, X_va), eval_y=(y_tr, y_va))
    curves = curves_from_evals(
        model.evals_result_, split_names={"valid_0": "train", "valid_1": "validation"}
    )
    assert_curves(curves, {"train.binary_logloss", "validation.binary_logloss"})


def test_catboost(churn_xy) -> None:
    cb = pytest.importorskip("catboost")
    X_tr, y_tr, X_va, y_va = churn_xy
    model = cb.CatBoostClassifier(iterations=ROUNDS, depth=3, thread_count=1, verbose=False,
                                  allow_writing_files=False)
    model.fit(X_tr, y_tr, eval_set=(X_va, y_va))
    curves = curves_from_evals(model.get_evals_result())
    assert_curves(curves, {"train.Logloss", "validation.Logloss"})


def test_flat_curves_and_bad_values() -> None:
    assert curves_from_evals({"loss": np.array([1.0, np.nan])}) == {"loss": [1.0, None]}
    with pytest.raises(InvalidRequest, match="list of numbers"):
        curves_from_evals({"train": {"loss": "abc"}})
    with pytest.raises(InvalidRequest, match="list of numbers"):
        curves_from_evals({"train": {"loss": [object()]}})
