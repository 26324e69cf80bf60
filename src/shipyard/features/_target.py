"""A recipe's transform of a regression target: the model learns ``f(y)``, predicts ``f⁻¹``.

A training job's recipe may say ``"target_transform": "log"``: the model is fitted on
``log(1 + y)`` (early stopping and the training curves are on that scale too), and every
prediction it makes is turned back with ``exp(·) − 1`` before anything reads it, so
metrics, kept validation predictions, ensembles, endpoints and batch jobs all see the
target's own units. The fitted recipe (``recipe.json`` in the bundle) keeps the name; an
older bundle has none and is read as before.

Why: a price, a count or a duration is skewed right and positive, and its errors grow
with its size. A squared loss on the raw values then spends the trees on the few
largest rows; on the log scale each row's error counts relatively. On ames' price (the
issue's 25% holdout) LightGBM's defaults scored 26,747 test RMSE on the price and 24,573
fitted on its log (scikit-learn, same split). The back-transformed prediction is the
conditional median on the raw scale rather than the mean, slightly low for RMSE: an
AutoML job keeps it only when its validation metric says so.

Pure: arrays in, arrays out.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from shipyard.errors import InvalidRequest

#: The transforms a recipe may name.
TARGET_TRANSFORMS = ("log",)


def check_name(name: Any) -> str | None:
    """``name`` as a recipe's ``target_transform`` (None: none), or a 400 naming the choices."""
    if name is None:
        return None
    if name not in TARGET_TRANSFORMS:
        raise InvalidRequest(
            f"The recipe's target_transform must be one of {', '.join(TARGET_TRANSFORMS)} "
            f"(or left out); got {name!r:.40}.")
    return str(name)


def check_target(name: str | None, y: np.ndarray, problem_type: str, target: str) -> None:
    """Refuse a transform the problem or the training target's values do not allow.

    Raises:
        InvalidRequest: a transform on a classification target, or ``log`` of a target
            with a negative value (naming the smallest).
    """
    if name is None:
        return
    if problem_type != "regression":
        raise InvalidRequest(
            f"target_transform {name!r} is for a regression target; {target!r} is "
            f"{problem_type}. Drop target_transform from the recipe, or set problem_type "
            "to regression if it is one.")
    values = np.asarray(y, dtype="float64")
    low = float(np.nanmin(values)) if len(values) else 0.0
    if low < 0:
        raise InvalidRequest(
            f"target_transform 'log' learns log(1 + {target}), which needs values ≥ 0; "
            f"{target!r} has {low:g}. Drop target_transform, or shift the target.")


def forward(name: str | None, y: np.ndarray | None) -> np.ndarray | None:
    """The target as the model learns it."""
    if name is None or y is None:
        return y
    return np.log1p(np.asarray(y, dtype="float64"))


def inverse(name: str | None, values: np.ndarray) -> np.ndarray:
    """A model's predictions on the target's own scale."""
    if name is None:
        return values
    # exp overflows past ~709: a model that far out is clipped rather than made inf.
    return np.expm1(np.minimum(np.asarray(values, dtype="float64"), 700.0))


def inverse_outputs(name: str | None, outputs: Any) -> Any:
    """A framework adapter's outputs (``{"value": …}`` for regression) on the target's scale."""
    if name is None or "value" not in outputs:
        return outputs
    out = dict(outputs)
    out["value"] = inverse(name, out["value"])
    return out
