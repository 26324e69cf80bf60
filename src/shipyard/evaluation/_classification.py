"""Classification metrics, computed by scikit-learn on class probabilities.

The predicted class is the argmax of the probabilities; for two classes it is the
positive class (``labels[1]``) when its probability is at least 0.5, which is the
same thing except for exact ties. Metrics that a split cannot define (ROC AUC
with one class present, the recall of a class absent from ``y_true``) come back
as None instead of a warning or an error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np

from shipyard.errors import InvalidRequest
from shipyard.evaluation._common import num, nums, quiet, sklearn_metrics, thin

#: Curves are thinned to at most this many points, so a result stays small.
MAX_CURVE_POINTS = 200
#: Rows of ``proba`` may miss summing to 1 by this much (float32 models); they are renormalised.
PROBA_SUM_TOLERANCE = 1e-3
THRESHOLD = 0.5


def classification_metrics(y_true: Any, proba: Any, labels: Sequence[Any]) -> dict[str, Any]:
    """Score class probabilities against true class indices.

    Args:
        y_true: class indices ``0..k-1``, one per row.
        proba: ``(n, k)`` probabilities, columns in the order of ``labels`` (two
            columns for a binary problem).
        labels: the decoded class names, in model order; ``labels[1]`` is the
            positive class of a binary problem.

    Returns:
        A JSON-able dict: ``accuracy``, ``balanced_accuracy``, ``precision_macro``,
        ``recall_macro``, ``f1_macro`` (macro over the classes present in ``y_true``
        or predicted, as scikit-learn averages them; 0 where undefined),
        ``per_class`` {label: {precision, recall, f1, support}} (None where
        undefined), ``roc_auc`` and ``pr_auc`` (one-vs-rest macro over the classes
        present for multiclass; None when undefined), ``log_loss``,
        ``confusion_matrix`` {labels, matrix}, ``roc_curve`` and ``pr_curve``
        (multiclass: ``{"per_class": {label: curve}}``), ``n_samples``, ``notes``;
        for binary also ``positive_class``, ``threshold`` and the ``precision``,
        ``recall`` and ``f1`` of the positive class.

    Raises:
        InvalidRequest: shapes that do not match, indices out of range, or
            probabilities that are not probabilities.
    """
    sk = sklearn_metrics()
    y, p, names = _check(y_true, proba, labels)
    k = len(names)
    binary = k == 2
    pred = (p[:, 1] >= THRESHOLD).astype(int) if binary else p.argmax(axis=1)
    everyone = list(range(k))
    present = [c for c in everyone if np.any(y == c)]

    with quiet():  # balanced accuracy warns about predicted classes absent from y_true
        accuracy = sk.accuracy_score(y, pred)
        balanced = sk.balanced_accuracy_score(y, pred)
        macro = sk.precision_recall_fscore_support(y, pred, average="macro", zero_division=0)
        per = sk.precision_recall_fscore_support(y, pred, labels=everyone, zero_division=np.nan)
    out: dict[str, Any] = {
        "n_samples": int(y.size),
        "accuracy": num(accuracy),
        "balanced_accuracy": num(balanced),
        "precision_macro": num(macro[0]),
        "recall_macro": num(macro[1]),
        "f1_macro": num(macro[2]),
        "per_class": {
            name: {
                "precision": num(per[0][c]), "recall": num(per[1][c]),
                "f1": num(per[2][c]), "support": int(per[3][c]),
            }
            for c, name in enumerate(names)
        },
    }
    if binary:
        with quiet():
            pos = sk.precision_recall_fscore_support(
                y, pred, average="binary", pos_label=1, zero_division=0
            )
        out.update(
            positive_class=names[1], threshold=THRESHOLD,
            precision=num(pos[0]), recall=num(pos[1]), f1=num(pos[2]),
        )
    out["log_loss"] = num(sk.log_loss(y, p, labels=everyone))
    out["confusion_matrix"] = {
        "labels": names,
        "matrix": sk.confusion_matrix(y, pred, labels=everyone).astype(int).tolist(),
    }
    if binary:
        out.update(_binary_ranking(y, p[:, 1]))
    else:
        out.update(_multiclass_ranking(y, p, names, present))
    out["notes"] = _notes(names, present, binary)
    return out


def _check(
    y_true: Any, proba: Any, labels: Sequence[Any]
) -> tuple[np.ndarray, np.ndarray, list[str]]:
    names = [str(v) for v in labels]
    if len(names) < 2:
        raise InvalidRequest(
            f"Classification needs at least 2 class labels; got {len(names)}. A binary "
            "problem passes both labels, negative first."
        )
    if len(set(names)) != len(names):
        raise InvalidRequest(f"Class labels must be distinct; got {names}.")
    p = np.asarray(proba, dtype=float)
    if p.ndim != 2 or p.shape[1] != len(names):
        raise InvalidRequest(
            f"proba must have one column per class label ({len(names)}); got shape {p.shape}. "
            "For a binary problem pass both columns, e.g. model.predict_proba(X)."
        )
    y = np.asarray(y_true)
    if y.ndim != 1 or y.size != p.shape[0]:
        raise InvalidRequest(
            f"y_true must be one class index per row of proba ({p.shape[0]}); got shape {y.shape}."
        )
    if y.size == 0:
        raise InvalidRequest("There are no rows to evaluate; the split is empty.")
    if not np.issubdtype(y.dtype, np.integer):
        if not (np.issubdtype(y.dtype, np.number) or y.dtype == bool) or np.any(y != np.round(y)):
            raise InvalidRequest(
                f"y_true must hold class indices 0..{len(names) - 1} (encode the labels "
                f"first); got values of dtype {y.dtype}."
            )
        y = y.astype(int)
    if y.min() < 0 or y.max() >= len(names):
        bad = y[(y < 0) | (y >= len(names))][0]
        raise InvalidRequest(
            f"y_true must hold class indices 0..{len(names) - 1}; got {int(bad)}."
        )
    return y.astype(int), _normalised(p), names


def _normalised(p: np.ndarray) -> np.ndarray:
    if not np.all(np.isfinite(p)) or p.min() < 0:
        raise InvalidRequest(
            "proba must hold probabilities (finite, non-negative); pass predict_proba "
            "output, not decision scores."
        )
    sums = p.sum(axis=1)
    worst = float(np.max(np.abs(sums - 1.0)))
    if worst > PROBA_SUM_TOLERANCE:
        row = int(np.argmax(np.abs(sums - 1.0)))
        raise InvalidRequest(
            f"Each row of proba must sum to 1; row {row} sums to {sums[row]:.6g}. Pass "
            "predict_proba output, not decision scores."
        )
    return p / sums[:, None] if worst > 1e-12 else p


def _binary_ranking(y: np.ndarray, score: np.ndarray) -> dict[str, Any]:
    sk = sklearn_metrics()
    both = bool(np.any(y == 1) and np.any(y == 0))
    has_positive = bool(np.any(y == 1))
    return {
        "roc_auc": num(sk.roc_auc_score(y, score)) if both else None,
        "pr_auc": num(sk.average_precision_score(y, score)) if has_positive else None,
        "roc_curve": _roc(y, score) if both else None,
        "pr_curve": _pr(y, score) if has_positive else None,
    }


def _multiclass_ranking(
    y: np.ndarray, p: np.ndarray, names: list[str], present: list[int]
) -> dict[str, Any]:
    # One-vs-rest per class present: the same per-column scores scikit-learn averages
    # for multi_class="ovr", but a class missing from the split is left out instead of
    # failing the whole metric.
    sk = sklearn_metrics()
    rankable = present if len(present) >= 2 else []
    roc: dict[str, Any] = {}
    pr: dict[str, Any] = {}
    roc_aucs, pr_aucs = [], []
    for c in present:
        hit = (y == c).astype(int)
        ap = float(sk.average_precision_score(hit, p[:, c]))
        pr_aucs.append(ap)
        pr[names[c]] = {**_pr(hit, p[:, c]), "auc": num(ap)}
        if c in rankable:
            auc = float(sk.roc_auc_score(hit, p[:, c]))
            roc_aucs.append(auc)
            roc[names[c]] = {**_roc(hit, p[:, c]), "auc": num(auc)}
    return {
        "roc_auc": num(np.mean(roc_aucs)) if roc_aucs else None,
        "pr_auc": num(np.mean(pr_aucs)) if pr_aucs else None,
        "roc_curve": {"per_class": roc} if roc else None,
        "pr_curve": {"per_class": pr} if pr else None,
    }


def _roc(y: np.ndarray, score: np.ndarray) -> dict[str, Any]:
    fpr, tpr, thresholds = sklearn_metrics().roc_curve(y, score)
    keep = thin(fpr.size, MAX_CURVE_POINTS)
    # The first threshold is +inf (nothing predicted positive): None in JSON.
    return {"fpr": nums(fpr[keep]), "tpr": nums(tpr[keep]), "thresholds": nums(thresholds[keep])}


def _pr(y: np.ndarray, score: np.ndarray) -> dict[str, Any]:
    precision, recall, thresholds = sklearn_metrics().precision_recall_curve(y, score)
    # The last point (recall 0, precision 1) has no threshold: None keeps the lists aligned.
    thresholds = np.append(thresholds, np.nan)
    keep = thin(precision.size, MAX_CURVE_POINTS)
    return {
        "precision": nums(precision[keep]), "recall": nums(recall[keep]),
        "thresholds": nums(thresholds[keep]),
    }


def _notes(names: list[str], present: list[int], binary: bool) -> list[str]:
    absent = [names[c] for c in range(len(names)) if c not in present]
    if not absent:
        return []
    notes = [
        f"Classes absent from y_true: {', '.join(repr(a) for a in absent)}; their recall "
        "is undefined (None per class, 0 in the macro averages where predicted)."
    ]
    if len(present) < 2:
        notes.append("Only one class is present, so ROC AUC and the ROC curve are undefined.")
    elif not binary:
        notes.append("ROC AUC and PR AUC average one-vs-rest over the classes present.")
    return notes

