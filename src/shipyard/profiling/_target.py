"""Target analysis on the seeded sample: each feature's association with the target,
the data of each feature-against-target plot, a quick model's importances, and leaks.

The quick model is scikit-learn's extremely randomised trees, on at most
:data:`MODEL_ROWS` sampled rows with a quarter more held out to score it; its
impurity importances rank the features by predictive power. Missing numbers are
put below the column's minimum, so a tree can still split them off.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from shipyard.errors import InvalidRequest
from shipyard.profiling._associations import (
    Encoded,
    bin_numbers,
    correlation_ratio,
    cramers_v,
    mutual_info,
    pearson,
    ranks,
)
from shipyard.profiling._result import Correlations, FeatureAssociation, TargetAnalysis

PROBLEM_TYPES = ("classification", "regression")
#: A numeric target with at most this many distinct integers is taken as classes.
MAX_INTEGER_CLASSES = 10
#: Classes a target may have for a classification analysis.
MAX_CLASSES = 50
MODEL_ROWS = 6_000
MODEL_TREES = 20
#: Classes shown apart in a feature-against-target plot; the rest are "(other)".
PLOT_CLASSES = 8
#: A feature whose association with the target reaches this may be leaking it.
LEAK_ASSOCIATION = 0.9


def problem_type_of(semantic: str, numbers: bool, integer: bool, distinct: int, name: str,
                    given: str | None) -> str:
    """``classification`` or ``regression`` for a target of this kind (``given`` wins).

    Args:
        numbers: the column holds numbers (whatever its semantic type).

    Raises:
        InvalidRequest: an unknown ``given`` type, or a target that can be neither.
    """
    if given is not None:
        if given not in PROBLEM_TYPES:
            raise InvalidRequest(
                f"Unknown problem type {given!r}; use 'classification' or 'regression'.")
        if given == "regression" and not numbers:
            raise InvalidRequest(
                f"The target {name!r} is {semantic}, not numeric, so it cannot be a regression "
                "target; use problem_type='classification'.")
        if given == "classification" and distinct > MAX_CLASSES:
            raise InvalidRequest(
                f"The target {name!r} has {distinct} classes, more than the {MAX_CLASSES} a "
                "profile analyses; group its values, or pick another target.")
        return given
    if semantic == "numeric":
        return ("classification" if integer and distinct <= MAX_INTEGER_CLASSES
                else "regression")
    if semantic in ("categorical", "boolean") or distinct <= MAX_CLASSES:
        if distinct > MAX_CLASSES:
            raise InvalidRequest(
                f"The target {name!r} has {distinct} classes, more than the {MAX_CLASSES} a "
                "profile analyses; group its values, or pick another target.")
        return "classification"
    hint = " (or pass problem_type='regression')" if numbers else ""
    raise InvalidRequest(
        f"The target {name!r} is an {semantic} column with {distinct} distinct values, so it "
        f"is neither a class label nor a number; pick another target{hint}."
        if semantic == "identifier" else
        f"The target {name!r} is a {semantic} column with {distinct} distinct values, so it "
        f"is neither a class label nor a number; pick another target{hint}.")


def _known(feature: Encoded, y: Encoded, corr: Correlations
           ) -> tuple[float | None, str | None] | None:
    """The association as the correlation matrices already have it, if they do."""
    f, t = feature.name, y.name
    if feature.kind == "numeric" and y.kind == "numeric":
        p, s = corr.pearson.get(f, t), corr.spearman.get(f, t)
        if p is None or s is None:
            return None
        return max((abs(p), "pearson"), (abs(s), "spearman"))
    if feature.kind == "categorical" and y.kind == "categorical":
        v = corr.cramers_v.get(f, t)
        return None if v is None else (v, "cramers_v")
    return None


def _association(feature: Encoded, y: Encoded, y_codes: np.ndarray, corr: Correlations
                 ) -> tuple[float | None, str | None]:
    known = _known(feature, y, corr)
    if known is not None:
        return known
    if feature.kind == "numeric" and y.kind == "numeric":
        both = np.isfinite(feature.values) & np.isfinite(y.values)
        if both.sum() < 3 or np.std(feature.values[both]) == 0:
            return None, None
        p = pearson(feature.values[both], y.values[both])
        s = pearson(ranks(feature.values[both]), ranks(y.values[both]))
        best = max(((abs(p), "pearson") if p is not None else (0.0, "pearson")),
                   ((abs(s), "spearman") if s is not None else (0.0, "spearman")))
        return best
    if feature.kind == "numeric":
        return correlation_ratio(feature.values, y_codes), "correlation_ratio"
    if y.kind == "numeric":
        return correlation_ratio(y.values, feature.values), "correlation_ratio"
    return cramers_v(feature.values, y_codes), "cramers_v"


def _feature_codes(feature: Encoded) -> tuple[np.ndarray, list[str]]:
    """Non-negative codes with missing as the last one, and a label per code."""
    if feature.kind == "categorical":
        codes = feature.values.copy()
        codes[codes < 0] = len(feature.labels)
        return codes, list(feature.labels) + ["(missing)"]
    return bin_numbers(feature.values)


def _plot(codes: np.ndarray, labels: list[str], y: Encoded, y_codes: np.ndarray,
          classes: Sequence[str]) -> dict[str, Any]:
    k = len(labels)
    counts = np.bincount(codes, minlength=k)
    keep = [b for b in range(k) if counts[b] > 0]
    plot: dict[str, Any] = {"bins": [labels[b] for b in keep],
                            "counts": [int(counts[b]) for b in keep]}
    if y.kind == "numeric":
        sums = np.bincount(codes, weights=y.values, minlength=k)
        plot["target_mean"] = [float(sums[b] / counts[b]) for b in keep]
        return plot
    shown = list(classes[:PLOT_CLASSES])
    shares: dict[str, list[float]] = {}
    for ci, name in enumerate(shown):
        hits = np.bincount(codes[y_codes == ci], minlength=k)
        shares[name] = [float(hits[b] / counts[b]) for b in keep]
    if len(classes) > PLOT_CLASSES:
        rest = np.bincount(codes[y_codes >= PLOT_CLASSES], minlength=k)
        shares["(other)"] = [float(rest[b] / counts[b]) for b in keep]
    plot["class_shares"] = shares
    return plot


def _design(features: list[Encoded], rows: np.ndarray) -> np.ndarray:
    columns = []
    for f in features:
        x = f.values[rows].astype(np.float64)
        if f.kind == "categorical":
            x[x < 0] = np.nan
        finite = x[np.isfinite(x)]
        floor = (finite.min() - 1.0) if len(finite) else 0.0
        columns.append(np.where(np.isfinite(x), x, floor))
    return np.column_stack(columns) if columns else np.empty((len(rows), 0))


@dataclass(frozen=True)
class Prepared:
    """The sampled target and features, restricted to the rows that have a target."""

    y: Encoded
    y_codes: np.ndarray
    class_names: list[str]
    features: list[Encoded]
    classification: bool


def prepare(y: Encoded, features: list[Encoded], problem_type: str) -> Prepared:
    """Keep the rows with a target; code the target (classes, or bins of a number)."""
    classification = problem_type == "classification"
    has_target = (y.values >= 0) if y.kind == "categorical" else np.isfinite(y.values)
    y = Encoded(y.name, y.kind, y.values[has_target], y.labels)
    features = [Encoded(f.name, f.kind, f.values[has_target], f.labels) for f in features]
    if classification:
        if y.kind != "categorical":
            raise ValueError("a classification target must be encoded as categories")
        return Prepared(y, y.values, list(y.labels), features, True)
    return Prepared(y, bin_numbers(y.values)[0], [], features, False)


Model = tuple[np.ndarray, dict[str, Any]]


def quick_model(prep: Prepared, seed: int) -> Model | None:
    """Importances (summing to 1) of extremely randomised trees, and the model's facts.

    ``None`` when there is nothing to learn: no features, under 20 rows, one class.
    """
    if not prep.features or len(prep.y_codes) < 20 or len(np.unique(prep.y_codes)) < 2:
        return None
    try:
        from sklearn.ensemble import ExtraTreesClassifier, ExtraTreesRegressor
        from sklearn.metrics import accuracy_score, r2_score, roc_auc_score
    except ModuleNotFoundError as exc:  # pragma: no cover - the dev install has it
        raise ModuleNotFoundError(
            "The target analysis needs scikit-learn; install it with: "
            "pip install 'shipyard[ml]'") from exc
    n = len(prep.y_codes)
    order = np.random.default_rng(seed).permutation(n)
    held = min(n // 4, MODEL_ROWS // 4)
    test, train = order[:held], order[held:held + MODEL_ROWS]
    target = prep.y_codes if prep.classification else prep.y.values
    params = {"n_estimators": MODEL_TREES, "min_samples_leaf": 3, "max_depth": 12,
              "max_features": "sqrt", "random_state": seed, "n_jobs": 1}
    model: Any = (ExtraTreesClassifier(**params) if prep.classification
                  else ExtraTreesRegressor(**params))
    model.fit(_design(prep.features, train), target[train])
    facts: dict[str, Any] = {"kind": "extra_trees", "trees": MODEL_TREES,
                             "train_rows": int(len(train)), "holdout_rows": int(len(test))}
    if len(test) >= 10:
        x_test = _design(prep.features, test)
        binary = len(model.classes_) == 2 and len(np.unique(target[test])) == 2 \
            if prep.classification else False
        if binary:
            proba = model.predict_proba(x_test)[:, 1]
            facts.update(metric="roc_auc",
                         score=float(roc_auc_score(target[test] == model.classes_[1], proba)))
        elif prep.classification:
            facts.update(metric="accuracy",
                         score=float(accuracy_score(target[test], model.predict(x_test))))
        else:
            facts.update(metric="r2", score=float(r2_score(target[test], model.predict(x_test))))
    importances = np.asarray(model.feature_importances_, dtype=np.float64)
    total = importances.sum()
    return (importances / total if total > 0 else importances), facts


def analyse(prep: Prepared, problem_type: str, missing: int, classes: list[tuple[Any, int]],
            corr: Correlations, model: Model | None) -> TargetAnalysis:
    """The target analysis of the prepared sample.

    Args:
        missing: rows of the whole table without a target value.
        classes: the target's values and counts over the whole table (classification).
        corr: the sample's correlation matrices (associations found there are reused).
        model: what :func:`quick_model` found, if it ran.
    """
    y, y_codes = prep.y, prep.y_codes
    scored: list[dict[str, Any]] = []
    for f in prep.features:
        codes, labels = _feature_codes(f)
        assoc, measure = _association(f, y, y_codes, corr)
        scored.append({"column": f.name, "mutual_info": mutual_info(codes, y_codes),
                       "association": assoc, "measure": measure,
                       "plot": _plot(codes, labels, y, y_codes, prep.class_names)})
    facts: dict[str, Any] = {}
    if model is not None:
        importances, facts = model
        for s, imp in zip(scored, importances, strict=True):
            s["importance"] = float(imp)
    scored.sort(key=lambda s: (-(s.get("importance") or 0.0), -s["mutual_info"], s["column"]))
    ranked = tuple(
        FeatureAssociation(column=s["column"], mutual_info=s["mutual_info"],
                           association=s["association"], measure=s["measure"],
                           importance=s.get("importance"), rank=r + 1,
                           leak=(s["association"] or 0.0) >= LEAK_ASSOCIATION, plot=s["plot"])
        for r, s in enumerate(scored))
    classification = prep.classification
    total = sum(n for _, n in classes)
    class_rows = tuple({"value": v, "count": n, "share": n / total if total else 0.0}
                       for v, n in classes) if classification else ()
    counts = [n for _, n in classes]
    imbalance = (max(counts) / min(counts)) if classification and counts and min(counts) else None
    return TargetAnalysis(column=y.name, problem_type=problem_type, missing=missing,
                          classes=class_rows, imbalance_ratio=imbalance, features=ranked,
                          model=facts)
