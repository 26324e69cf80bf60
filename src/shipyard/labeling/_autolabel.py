"""Auto-labeling beyond text: any feature rows, a tabular row's features, an image's pixels.

:func:`shipyard.labeling.auto_label` does text (TF-IDF and a linear model). This module
does the same for rows that are already features: :func:`auto_label_rows` takes the
labeled and unlabeled rows and a classifier factory, gets *out-of-fold* probabilities of
the labeled rows (each predicted by a model that did not see it), picks the threshold
with :func:`~shipyard.labeling.machine_label_threshold` and orders the rest with
:func:`~shipyard.labeling.uncertainty_order`. The feature builders are:

- :func:`tabular_features`: numeric columns as they are (missing stays NaN, which the
  histogram gradient boosting the tabular model uses handles), every other column one-hot
  over its 20 commonest values;
- :func:`pixel_features`: the image in grayscale, scaled down to ``size`` × ``size``
  pixels, as values in [0, 1] (enough for digits and icons; photos want embeddings).

Pure: arrays and frames in, a frozen :class:`~shipyard.labeling.AutoLabelResult` out.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from shipyard.errors import InvalidRequest
from shipyard.labeling._active import (
    AutoLabelResult,
    Strings,
    _labels,
    _sklearn,
    decide,
)

#: One-hot columns a non-numeric column gets at most (its commonest values).
MAX_CATEGORIES = 20
#: The side of the grayscale thumbnail an image becomes.
PIXEL_SIZE = 16


def out_of_fold(make: Callable[[], Any], rows: Any, y: np.ndarray, *, folds: int = 5,
                random_state: int = 0) -> np.ndarray | None:
    """Stratified K-fold out-of-fold probabilities (columns: the sorted labels), or None
    when some label has fewer than two examples."""
    sk = _sklearn()
    _, counts = np.unique(y, return_counts=True)
    if len(counts) < 2 or counts.min() < 2:
        return None
    splitter = sk.model_selection.StratifiedKFold(
        n_splits=int(min(folds, counts.min())), shuffle=True, random_state=random_state)
    return np.asarray(sk.model_selection.cross_val_predict(
        make(), rows, y, cv=splitter, method="predict_proba"), dtype=float)


def auto_label_rows(labeled: Any, y_labeled: Strings, unlabeled: Any,
                    make: Callable[[], Any], target_accuracy: float = 0.9, *,
                    folds: int = 5, min_support: int = 20,
                    random_state: int = 0) -> AutoLabelResult:
    """Machine-label the unlabeled rows a classifier from ``make()`` is sure enough of.

    Raises:
        InvalidRequest: fewer than two different labels, or rows and labels disagree.
    """
    y = _labels(y_labeled)
    if len(set(y.tolist())) < 2:
        raise InvalidRequest("Auto-labeling needs at least two different labels among the "
                             f"human answers; got only {sorted(set(y.tolist()))}.")
    if labeled.shape[0] != len(y):
        raise InvalidRequest(f"Got {labeled.shape[0]} labeled rows but {len(y)} labels.")
    held_out = out_of_fold(make, labeled, y, folds=folds, random_state=random_state)
    model = make().fit(labeled, y)
    classes = np.asarray(model.classes_, dtype=object)
    proba = (np.asarray(model.predict_proba(unlabeled), dtype=float) if unlabeled.shape[0]
             else np.zeros((0, len(classes))))
    return decide(held_out, y, classes, proba, target_accuracy, min_support)


def tabular_features(frame: Any) -> np.ndarray:
    """A float matrix of a table's rows (see the module docstring); no labels used."""
    import pandas as pd

    parts: list[np.ndarray] = []
    for name in frame.columns:
        col = frame[name]
        if pd.api.types.is_bool_dtype(col) or pd.api.types.is_numeric_dtype(col):
            parts.append(pd.to_numeric(col, errors="coerce").astype(float).to_numpy()[:, None])
            continue
        text = col.astype("string")
        for value in text.value_counts().index[:MAX_CATEGORIES]:
            parts.append((text == value).fillna(False).to_numpy(dtype=float)[:, None])
    if not parts:
        raise InvalidRequest("The rows have no column to learn from.")
    return np.hstack(parts)


def tabular_classifier() -> Any:
    """Histogram gradient boosting: handles missing values and mixed scales as they are."""
    import sklearn.ensemble

    return sklearn.ensemble.HistGradientBoostingClassifier(max_iter=150, random_state=0)


def pixel_features(paths: Sequence[Path | str], size: int = PIXEL_SIZE) -> np.ndarray:
    """Each image as ``size`` × ``size`` grayscale values in [0, 1], one row per image."""
    from PIL import Image

    rows = np.zeros((len(paths), size * size), dtype=float)
    for i, path in enumerate(paths):
        with Image.open(path) as img:
            small = img.convert("L").resize((size, size), Image.Resampling.BILINEAR)
            rows[i] = np.asarray(small, dtype=float).ravel() / 255.0
    return rows


def pixel_classifier() -> Any:
    """Scaled pixels, then a logistic regression."""
    sk = _sklearn()
    import sklearn.preprocessing

    return sk.pipeline.make_pipeline(sklearn.preprocessing.StandardScaler(),
                                     sk.linear_model.LogisticRegression(C=0.5, max_iter=3000))
