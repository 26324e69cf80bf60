"""Exact TreeSHAP through each boosting library's own contributions, in the margin space.

Each library computes path-dependent TreeSHAP itself (the algorithm of Lundberg et
al. 2020, with the training rows' cover as the background): xgboost's
``pred_contribs``, lightgbm's ``pred_contrib``, catboost's ``ShapValues``. The matrix
each is given is built the way the bundle's framework adapter builds it for
``predict`` (renamed features, pandas categories), so the values are those of the
model that serves. The last contribution column is the bias: the expected margin.
"""

from __future__ import annotations

from typing import Any

import numpy as np
import pandas as pd

from shipyard.bundle import FRAMEWORKS, safe_feature_names

#: The frameworks whose own TreeSHAP is used.
TREE_FRAMEWORKS = ("xgboost", "lightgbm", "catboost")


def _as_nfk(raw: Any, n: int, n_features: int) -> np.ndarray:
    """Contributions as rows × (features + bias) × outputs, whatever layout the library gave."""
    a = np.asarray(raw, dtype="float64")
    width = n_features + 1
    if a.ndim == 3:  # rows × outputs × (features + bias): xgboost, catboost multiclass
        return a.transpose(0, 2, 1)
    if a.shape[1] == width:
        return a[:, :, None]
    k = a.shape[1] // width  # lightgbm multiclass: one block of features + bias per class
    return a.reshape(n, k, width).transpose(0, 2, 1)


def contributions(framework: str, model: Any, X: pd.DataFrame | np.ndarray,
                  names: list[str] | None = None) -> np.ndarray:
    """TreeSHAP of features ``X``: rows × (features + bias) × outputs, margin space.

    ``X`` is the recipe's feature frame, or (no categorical features) the same values as
    a float array whose columns are ``names``, the way a per-row fast path builds them.
    """
    fw: Any = FRAMEWORKS[framework]
    if isinstance(X, np.ndarray):
        return _as_nfk(_array_contributions(framework, model, X, names or []), len(X),
                       X.shape[1])
    if framework == "xgboost":
        raw = model.predict(fw.matrix(X), pred_contribs=True, validate_features=False)
    elif framework == "lightgbm":
        raw = model.predict(fw.frame(X), pred_contrib=True)
    else:
        raw = model.get_feature_importance(fw.pool(X), type="ShapValues")
    return _as_nfk(raw, len(X), X.shape[1])


def _array_contributions(framework: str, model: Any, X: np.ndarray, names: list[str]) -> Any:
    if framework == "xgboost":
        import xgboost as xgb

        matrix = xgb.DMatrix(X, feature_names=safe_feature_names(names))
        return model.predict(matrix, pred_contribs=True, validate_features=False)
    if framework == "lightgbm":
        return model.predict(X, pred_contrib=True)
    from catboost import Pool

    return model.get_feature_importance(Pool(X), type="ShapValues")


def margin(framework: str, model: Any, X: pd.DataFrame) -> np.ndarray:
    """The model's raw margin of feature frame ``X``: rows × outputs."""
    fw: Any = FRAMEWORKS[framework]
    if framework == "xgboost":
        raw = model.predict(fw.matrix(X), output_margin=True, validate_features=False)
    elif framework == "lightgbm":
        raw = model.predict(fw.frame(X), raw_score=True)
    else:
        raw = model.predict(fw.pool(X), prediction_type="RawFormulaVal")
    a = np.asarray(raw, dtype="float64")
    return a.reshape(len(X), -1)
