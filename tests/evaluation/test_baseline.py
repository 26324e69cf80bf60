"""The trivial baseline is scored with the same functions as a model."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as skm

from shipyard.errors import InvalidRequest
from shipyard.evaluation import baseline_metrics, classification_metrics

from .data import Classified, Regressed

approx = pytest.approx


def test_binary_baseline_predicts_training_frequencies(binary: Classified) -> None:
    b = baseline_metrics("binary", binary.y_train, binary.y_true, binary.labels)
    prior = np.bincount(binary.y_train) / binary.y_train.size
    assert b["baseline"]["strategy"] == "prior"
    assert b["baseline"]["class_frequencies"] == approx(prior.tolist())
    # The majority class ("No") for every row, scored like a model.
    assert b["accuracy"] == approx(np.mean(binary.y_true == 0))
    assert b["roc_auc"] == approx(0.5)
    constant = np.tile(prior, (binary.y_true.size, 1))
    assert b["log_loss"] == approx(skm.log_loss(binary.y_true, constant))
    model = classification_metrics(binary.y_true, binary.proba, binary.labels)
    assert model["roc_auc"] > b["roc_auc"] and model["log_loss"] < b["log_loss"]


def test_multiclass_baseline_without_labels(multiclass: Classified) -> None:
    b = baseline_metrics("multiclass", multiclass.y_train, multiclass.y_true)
    assert list(b["per_class"]) == ["0", "1", "2"]
    majority = np.bincount(multiclass.y_train).argmax()
    assert b["accuracy"] == approx(np.mean(multiclass.y_true == majority))


def test_regression_baseline_predicts_training_mean(regression: Regressed) -> None:
    b = baseline_metrics("regression", regression.y_train, regression.y_true)
    mean = regression.y_train.mean()
    assert b["baseline"] == {
        "strategy": "mean", "value": approx(mean),
        "description": "predicts the mean of the training target for every row",
    }
    assert b["rmse"] == approx(np.sqrt(np.mean((regression.y_true - mean) ** 2)))
    assert b["r2"] == approx(skm.r2_score(regression.y_true, np.full(regression.y_true.size, mean)))


def test_baseline_rejects_other_problem_types() -> None:
    with pytest.raises(InvalidRequest, match="expected one of binary, multiclass, regression"):
        baseline_metrics("clustering", [0, 1], [0, 1])
    with pytest.raises(InvalidRequest, match="class indices 0..1"):
        baseline_metrics("binary", np.array([0, 3]), np.array([0, 1]))
    with pytest.raises(InvalidRequest, match="non-empty"):
        baseline_metrics("regression", [], [1.0])
