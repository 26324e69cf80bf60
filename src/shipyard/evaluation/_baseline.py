"""A trivial baseline, scored with the same functions as the model it is compared to."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from shipyard.errors import InvalidRequest
from shipyard.evaluation._classification import classification_metrics
from shipyard.evaluation._common import as_vector, check_problem_type
from shipyard.evaluation._regression import regression_metrics

BASELINE_TYPES = ("binary", "multiclass", "regression")


def baseline_metrics(
    problem_type: str, y_train: Any, y_eval: Any, labels: Sequence[Any] | None = None
) -> dict[str, Any]:
    """Metrics of a model that knows only the training target.

    Classification predicts the class frequencies of the training split for every
    row (so the majority class, with those probabilities); regression predicts the
    training mean. The result has the keys of :func:`classification_metrics` or
    :func:`regression_metrics`, plus ``baseline`` {strategy, description}.

    Args:
        problem_type: binary, multiclass or regression.
        y_train: training target (class indices for classification).
        y_eval: the target of the split to score (class indices for classification).
        labels: decoded class names; defaults to "0".."k-1".

    Raises:
        InvalidRequest: another problem type, or targets that do not fit it.
    """
    check_problem_type(problem_type, BASELINE_TYPES)
    train = np.asarray(y_train)
    if train.size == 0:
        raise InvalidRequest("The baseline needs a non-empty training target.")
    if problem_type == "regression":
        train_f = as_vector(train, "y_train")
        evaluated = as_vector(y_eval, "y_eval")
        mean = float(train_f.mean())
        out = regression_metrics(evaluated, np.full(evaluated.size, mean))
        out["baseline"] = {
            "strategy": "mean", "value": mean,
            "description": "predicts the mean of the training target for every row",
        }
        return out

    evaluated = np.asarray(y_eval)
    if labels is None:
        top = max(int(train.max()), int(evaluated.max()) if evaluated.size else 0)
        labels = [str(i) for i in range(2 if problem_type == "binary" else top + 1)]
    k = len(labels)
    if problem_type == "binary" and k != 2:
        raise InvalidRequest(f"A binary problem has 2 class labels; got {k}.")
    if not np.issubdtype(train.dtype, np.integer) or train.min() < 0 or train.max() >= k:
        raise InvalidRequest(f"y_train must hold class indices 0..{k - 1}.")
    prior = np.bincount(train.astype(int), minlength=k) / train.size
    out = classification_metrics(evaluated, np.tile(prior, (evaluated.size, 1)), labels)
    out["baseline"] = {
        "strategy": "prior", "class_frequencies": [float(v) for v in prior],
        "description": "predicts the class frequencies of the training split for every row",
    }
    return out
