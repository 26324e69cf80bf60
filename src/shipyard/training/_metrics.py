"""Scoring one evaluation split of a trained model, next to a trivial baseline."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from shipyard.bundle import InferencePipeline
from shipyard.evaluation import (
    anomaly_metrics,
    baseline_metrics,
    classification_metrics,
    clustering_metrics,
    dimensionality_metrics,
    regression_metrics,
)
from shipyard.features import inverse_outputs


def _held_out_variance(model: Any, X: np.ndarray) -> np.ndarray:
    """Share of the split's total variance along each principal component (not whitened)."""
    centred = X - model.mean_
    total = float(np.var(centred, axis=0).sum())
    projected = centred @ model.components_.T
    if total <= 0:
        return np.zeros(projected.shape[1])
    return np.asarray(np.var(projected, axis=0) / total)


#: The problem types whose splits are scored against a target.
SUPERVISED = ("binary", "multiclass", "regression")


def supervised_metrics(problem_type: str, out: Mapping[str, Any], y: np.ndarray | None,
                       classes: list[str] | None) -> dict[str, Any]:
    """Metrics of a classifier's or regressor's outputs on one split's rows against their
    target ``y`` (class indices into ``classes``, or values): what training scores a
    held-out split with, and the ``evaluate`` kind a dataset.

    Args:
        out: the model's raw outputs (``proba`` or ``value``), as
            :meth:`shipyard.bundle.InferencePipeline.outputs` gives them.
    """
    if problem_type in ("binary", "multiclass"):
        return classification_metrics(y, out["proba"], classes or [])
    return regression_metrics(y, out["value"])


def evaluate_split(problem_type: str, pipeline: InferencePipeline, model: Any,
                   X: pd.DataFrame, y: np.ndarray | None, y_train: np.ndarray | None,
                   classes: list[str] | None) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """Metrics of ``model`` on features ``X`` (and target ``y``), and the baseline's.

    Predictions go through the pipeline's framework adapter: the code path serving uses.
    """
    out = inverse_outputs(pipeline.recipe.target_transform,
                          pipeline.framework.outputs(model, X, pipeline.task, len(classes or [])))
    if problem_type in SUPERVISED:
        return (supervised_metrics(problem_type, out, y, classes),
                baseline_metrics(problem_type, y_train, y, classes))
    if problem_type == "clustering":
        return clustering_metrics(X.to_numpy(dtype="float64"), out["cluster"]), None
    if problem_type == "anomaly_detection":
        return anomaly_metrics(out["score"], flagged=out["is_anomaly"]), None
    return dimensionality_metrics(_held_out_variance(model, X.to_numpy(dtype="float64"))), None
