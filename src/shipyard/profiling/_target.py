"""Target analysis on the seeded sample: each feature's association with the target,
the data of each feature-against-target plot, a quick model's importances, and leaks.

The quick model is scikit-learn's extremely randomised trees, on at most
:data:`MODEL_ROWS` sampled rows with a quarter more held out to score it; its
impurity importances rank the features by predictive power. Missing numbers are
put below the column's minimum, so a tree can still split them off.

A strong feature is not a leak by itself: size predicts a house's price. A feature is
*strong* when its association with the target (or a one-feature model's held-out
score) reaches :data:`STRONG_ASSOCIATION`; it is a suspected *leak* only when, on top
of that, something else points to one (:func:`judge`): its name repeats the target
or says "label", "outcome"…; on its own it scores :data:`LEAK_SOLO_SCORE` or more on
held-out rows; or it is a timestamp whose mere presence tells the outcome. Row
numbers and identifiers are judged by :func:`order_association`: whether their order
follows the target.
"""

from __future__ import annotations

import re
import warnings
from collections.abc import Sequence
from dataclasses import dataclass, field
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
from shipyard.profiling._group_rank import GroupRanks
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
#: A feature whose association with the target (or one-feature score) reaches this is strong.
STRONG_ASSOCIATION = 0.9
#: A strong feature whose one-feature model scores this on held-out rows (R², ROC AUC or
#: balanced accuracy) predicts the target almost perfectly on its own: a suspected leak.
LEAK_SOLO_SCORE = 0.98
#: A numeric feature whose Spearman correlation with a numeric target reaches this (in
#: absolute value) orders the rows as the target does, nearly exactly: a monotone function
#: of it (a rank, a rescaling, a log), a suspected leak whatever a one-feature tree
#: scores. Measured on 30 real tables (docs/profiling.md): the highest honest |rho| was
#: 0.979 (ISLR College's accepted vs. received applications) and 0.963 (diamonds' carat
#: vs. price); the leaks scored 0.9975 (hfi's hf_rank vs. hf_score) and 1.0 (Wage's logwage).
LEAK_SPEARMAN = 0.99
#: Rows with both values a Spearman correlation needs before it may call a leak: on a
#: few rows, a near-perfect rank agreement happens by chance.
LEAK_SPEARMAN_ROWS = 50
#: Words in the name of a time index (``year`` 1941..2020, ``period`` 1..N): a target that
#: trends with time follows its order, which is no leak, so the Spearman rule skips it.
TIME_WORDS = frozenset({"year", "years", "yr", "date", "time", "period", "month", "week",
                        "quarter", "day", "timestamp", "t"})
#: ...unless the name also says it ranks something (``year_rank``: a rank within a year).
RANK_WORDS = frozenset({"rank", "ranking", "position", "percentile", "quantile", "quartile",
                        "decile"})
#: Features a one-feature model is fitted for, at most (the most associated first).
SOLO_CANDIDATES = 30
#: The quick model's most important features are candidates too, whatever their
#: association: a correlation misses a relationship that is not monotone or linear
#: (AER's CreditCard: ``expenditure`` is 0 for every refused applicant, so a one-feature
#: tree scores ROC AUC 0.99 while its correlation ratio is 0.37).
SOLO_TOP_IMPORTANCE = 5
SOLO_DEPTH = 8
#: Words in a feature's name that point to a leak when the feature is also strong.
LEAK_WORDS = frozenset({"label", "labels", "outcome", "outcomes", "result", "results", "target",
                        "response", "score", "decision", "actual", "final", "prediction",
                        "predicted"})
_CAMEL = re.compile(r"(?<=[a-z0-9])(?=[A-Z])")


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
    kind = {"identifier": "an identifier", "row_number": "a row-number"}.get(semantic,
                                                                              f"a {semantic}")
    raise InvalidRequest(
        f"The target {name!r} is {kind} column with {distinct} distinct values, so it "
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
    """The sampled target and features, restricted to the rows that have a target.

    ``order`` holds row numbers and numeric identifiers, kept out of the features (they
    describe no property of a row) but judged for following the target's order;
    ``datetimes`` names the features that are timestamps.
    """

    y: Encoded
    y_codes: np.ndarray
    class_names: list[str]
    features: list[Encoded]
    classification: bool
    order: list[Encoded] = field(default_factory=list)
    datetimes: frozenset[str] = frozenset()


def prepare(y: Encoded, features: list[Encoded], problem_type: str,
            order: Sequence[Encoded] = (), datetimes: frozenset[str] = frozenset()) -> Prepared:
    """Keep the rows with a target; code the target (classes, or bins of a number)."""
    classification = problem_type == "classification"
    has_target = (y.values >= 0) if y.kind == "categorical" else np.isfinite(y.values)
    y = Encoded(y.name, y.kind, y.values[has_target], y.labels)
    features = [Encoded(f.name, f.kind, f.values[has_target], f.labels) for f in features]
    kept = [Encoded(f.name, f.kind, f.values[has_target], f.labels) for f in order]
    if classification:
        if y.kind != "categorical":
            raise ValueError("a classification target must be encoded as categories")
        return Prepared(y, y.values, list(y.labels), features, True, kept, datetimes)
    return Prepared(y, bin_numbers(y.values)[0], [], features, False, kept, datetimes)


Model = tuple[np.ndarray, dict[str, Any]]


def _held_out(n: int, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """The seeded (test, train) rows every model of the analysis uses."""
    order = np.random.default_rng(seed).permutation(n)
    held = min(n // 4, MODEL_ROWS // 4)
    return order[:held], order[held:held + MODEL_ROWS]


def solo_score(prep: Prepared, x: np.ndarray, seed: int) -> tuple[float, str] | None:
    """How well one feature ``x`` (a column of the design) predicts the target on its own:
    a depth-limited tree's held-out R² (regression), ROC AUC (two classes) or balanced
    accuracy (more classes). Balanced, since plain accuracy is the majority class's share
    for a feature that tells nothing: 0.98 on a target 98% of one class, which would call
    every column a leak. ``None`` when the held-out rows hold one class only."""
    from sklearn.metrics import balanced_accuracy_score, r2_score, roc_auc_score
    from sklearn.tree import DecisionTreeClassifier, DecisionTreeRegressor

    n = len(prep.y_codes)
    test, train = _held_out(n, seed)
    if len(test) < 10 or len(np.unique(prep.y_codes)) < 2:
        return None
    target = prep.y_codes if prep.classification else prep.y.values
    params = {"max_depth": SOLO_DEPTH, "min_samples_leaf": 5, "random_state": seed}
    model: Any = (DecisionTreeClassifier(**params) if prep.classification
                  else DecisionTreeRegressor(**params))
    model.fit(x[train].reshape(-1, 1), target[train])
    x_test = x[test].reshape(-1, 1)
    if prep.classification:
        held = len(np.unique(target[test]))
        if held < 2:
            return None
        if len(model.classes_) == 2 and held == 2:
            proba = model.predict_proba(x_test)[:, 1]
            return float(roc_auc_score(target[test] == model.classes_[1], proba)), "roc_auc"
        with warnings.catch_warnings():  # a class predicted but absent from the held-out rows
            warnings.simplefilter("ignore", UserWarning)
            score = balanced_accuracy_score(target[test], model.predict(x_test))
        return float(score), "balanced_accuracy"
    return float(r2_score(target[test], model.predict(x_test))), "r2"


def _normal(text: str) -> str:
    return re.sub(r"[^a-z0-9]", "", text.lower())


def _words(name: str) -> set[str]:
    """The lower-case words of a column name (``orderId`` → order, id)."""
    return {w.lower() for w in re.split(r"[^A-Za-z0-9]+", _CAMEL.sub(" ", name)) if w}


def _time_index(name: str) -> bool:
    words = _words(name)
    return bool(words & TIME_WORDS) and not words & RANK_WORDS


def name_points(feature: str, target: str) -> str | None:
    """What in ``feature``'s name points to a leak of ``target``, if anything."""
    t = _normal(target)
    if len(t) >= 3 and t in _normal(feature):
        return f"its name contains the target's name {target!r}"
    found = sorted(_words(feature) & LEAK_WORDS)
    return f"its name says {found[0]!r}" if found else None


def _design_one(f: Encoded) -> np.ndarray:
    return _design([f], np.arange(len(f.values)))[:, 0]


def _rank_leak(prep: Prepared, f: Encoded, association: float | None) -> float | None:
    """Spearman's rho of a numeric feature and a numeric target when |rho| reaches
    :data:`LEAK_SPEARMAN` (on :data:`LEAK_SPEARMAN_ROWS` rows or more), else ``None``.
    Timestamps and time indexes (:data:`TIME_WORDS`) are left out: a target that grows
    with time is no leak of the clock."""
    if (prep.classification or f.kind != "numeric" or prep.y.kind != "numeric"
            or f.name in prep.datetimes or _time_index(f.name)
            or (association or 0.0) < LEAK_SPEARMAN):
        return None  # |rho| ≤ the association (the larger of |Pearson| and |Spearman|)
    both = np.isfinite(f.values) & np.isfinite(prep.y.values)
    if both.sum() < LEAK_SPEARMAN_ROWS:
        return None
    rho = pearson(ranks(f.values[both]), ranks(prep.y.values[both]))
    return rho if rho is not None and abs(rho) >= LEAK_SPEARMAN else None


def judge(prep: Prepared, scored: list[dict[str, Any]], seed: int) -> None:
    """Mark each scored feature ``strong`` and, when something else points to one, ``leak``
    (with ``leak_reasons``); fits one-feature models for the candidates only."""
    by_name = {f.name: f for f in prep.features}
    target = prep.y.name
    candidates = []
    # ``scored`` comes ranked by the quick model's importance, then mutual information.
    top = {s["column"] for s in scored[:SOLO_TOP_IMPORTANCE]}
    for s in scored:
        s["leak_reasons"] = []
        s["name_points"] = name_points(s["column"], target)
        if ((s["association"] or 0.0) >= STRONG_ASSOCIATION or s["name_points"]
                or s["column"] in prep.datetimes or s["column"] in top):
            candidates.append(s)
    candidates.sort(key=lambda s: (s["column"] not in top, -(s["association"] or 0.0)))
    for s in candidates[:SOLO_CANDIDATES]:
        f = by_name[s["column"]]
        found = solo_score(prep, _design_one(f), seed)
        if found is not None:
            s["solo_score"], s["solo_metric"] = found
        if s["column"] in prep.datetimes:
            present = np.where(np.isfinite(f.values), 1.0, 0.0)
            timing = solo_score(prep, present, seed) if present.min() < 1 else None
            if timing is not None and timing[0] >= STRONG_ASSOCIATION:
                s["leak_reasons"].append(
                    f"it is a timestamp set only in rows with some outcomes (its presence "
                    f"alone scores {timing[1].replace('_', ' ')} {timing[0]:.2f}), as if "
                    "recorded after the target")
                s["strong"] = True
    clock = _follows_time(prep, scored)
    groups = GroupRanks(prep.y, [] if prep.classification else prep.features)
    for s in scored:
        rho = None if s["column"] in clock else _rank_leak(prep, by_name[s["column"]],
                                                           s["association"])
        if rho is not None:
            s["leak_reasons"].append(
                f"its ranks follow the target's almost exactly (Spearman {rho:+.4f}), as a "
                "rank or a rescaling of the target would")
            s["strong"] = True
        elif (within := _group_rank_leak(prep, by_name[s["column"]], clock, groups)) is not None:
            group, rho, rows = within
            s["leak_reasons"].append(
                f"within each {group!r} its ranks follow the target's almost exactly "
                f"(Spearman {rho:+.4f} over {rows:,} rows), as a rank of the target within "
                "groups would")
            s["strong"] = True
        solo = s.get("solo_score")
        s["strong"] = bool(s.get("strong") or (s["association"] or 0.0) >= STRONG_ASSOCIATION
                           or (solo is not None and solo >= STRONG_ASSOCIATION))
        if s["name_points"]:
            s["leak_reasons"].insert(0, s["name_points"])
        if solo is not None and solo >= LEAK_SOLO_SCORE and s["column"] not in clock:
            s["leak_reasons"].append(
                f"on its own it scores {s['solo_metric'].replace('_', ' ')} {solo:.3f} on "
                "held-out rows")
        s["leak"] = s["strong"] and bool(s["leak_reasons"])
        if s["strong"] and not s["leak"] and s["column"] in clock:
            s["follows_time"] = clock[s["column"]]


def _group_rank_leak(prep: Prepared, f: Encoded, clock: dict[str, str],
                     groups: GroupRanks) -> tuple[str, float, int] | None:
    """:meth:`GroupRanks.find` for a numeric target, but for timestamps, time indexes and
    clocks (a year ranks a target that grows every year within each country)."""
    if (prep.classification or f.name in prep.datetimes or f.name in clock
            or _time_index(f.name)):
        return None
    return groups.find(f)


def _spearman(a: np.ndarray, b: np.ndarray) -> float:
    """|Spearman's rho| of two columns on the rows where both are finite (0 on too few)."""
    both = np.isfinite(a) & np.isfinite(b)
    if both.sum() < LEAK_SPEARMAN_ROWS:
        return 0.0
    return abs(pearson(ranks(a[both]), ranks(b[both])) or 0.0)


def _follows_time(prep: Prepared, scored: list[dict[str, Any]]) -> dict[str, str]:
    """The columns that tell the target only the time (column → its time axis).

    A time axis is a timestamp in every row that alone predicts the target strongly (a
    one-feature score ≥ :data:`STRONG_ASSOCIATION`): the target follows time, and on a
    random split a model interpolates between neighbouring dates. That is a question of
    how to split, not a leak, since the date is known at prediction time. A numeric
    column whose ranks follow the axis's (|Spearman| ≥ :data:`LEAK_SPEARMAN`) at least as
    closely as the target's is a clock too (a population that grows month by month); a
    copy of a trending target follows the target more closely, and stays a leak.
    """
    by_name = {f.name: f for f in prep.features}
    axes = [by_name[s["column"]] for s in scored
            if s["column"] in prep.datetimes and (s.get("solo_score") or 0.0)
            >= STRONG_ASSOCIATION and np.isfinite(by_name[s["column"]].values).all()]
    out = {a.name: a.name for a in axes}
    for s in scored:
        f = by_name[s["column"]]
        if f.name in out or f.kind != "numeric" or f.name in prep.datetimes:
            continue
        to_target = (_spearman(f.values, prep.y.values) if prep.y.kind == "numeric"
                     else 0.0)
        for axis in axes:
            to_time = _spearman(f.values, axis.values)
            if to_time >= LEAK_SPEARMAN and to_time >= to_target:
                out[f.name] = axis.name
                break
    return out


def order_association(prep: Prepared, corr: Correlations) -> dict[str, tuple[float, str]]:
    """How far each row number or numeric identifier follows the target's order:
    max(|Pearson|, |Spearman|) for a numeric target, the correlation ratio for classes."""
    out = {}
    for f in prep.order:
        assoc, measure = _association(f, prep.y, prep.y_codes, corr)
        if assoc is not None and measure is not None:
            out[f.name] = (float(assoc), measure)
    return out


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
    test, train = _held_out(len(prep.y_codes), seed)
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
            corr: Correlations, model: Model | None, seed: int = 0) -> TargetAnalysis:
    """The target analysis of the prepared sample.

    Args:
        missing: rows of the whole table without a target value.
        classes: the target's values and counts over the whole table (classification).
        corr: the sample's correlation matrices (associations found there are reused).
        model: what :func:`quick_model` found, if it ran.
        seed: the seed of the one-feature models that judge leaks.
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
    if model is not None:  # scikit-learn is there; the one-feature models need it too
        judge(prep, scored, seed)
    ranked = tuple(
        FeatureAssociation(column=s["column"], mutual_info=s["mutual_info"],
                           association=s["association"], measure=s["measure"],
                           importance=s.get("importance"), rank=r + 1,
                           leak=bool(s.get("leak")), plot=s["plot"],
                           strong=bool(s.get("strong")), solo_score=s.get("solo_score"),
                           solo_metric=s.get("solo_metric"),
                           leak_reasons=tuple(s.get("leak_reasons") or ()),
                           follows_time=s.get("follows_time"))
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
