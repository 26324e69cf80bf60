"""The first candidates of an AutoML job: a portfolio of configurations, cheapest first.

Before any search, an AutoML job trains these: each built-in algorithm's defaults, then
a few configurations known to do well across tables, as FLAML's zero-shot starts and
AutoGluon's presets do. They are written down here by hand (from the anchors' published
defaults and this repository's tuning benchmarks), not meta-learned: a list learned over
18 tables (``benchmarks/learn_portfolio.py``) and FLAML's own zero-shot suggestions
(:mod:`shipyard.automl._zeroshot`, ``benchmarks/zeroshot_portfolio.py``) were both
measured against it out of sample and lost; ``docs/automl.md`` has the figures.

Every entry is ``(algorithm, hyperparameters)`` or ``(algorithm, hyperparameters,
variant)``; values must lie inside the algorithm's declared bounds (they are validated at
submit, as any training job's). The driver takes them in order, skipping algorithms the
job does not use, then asks the tuning sampler.

A *variant* is a recipe other than the default, made from the data analysis at submit
(:func:`recipe_variants`, over the train version's schema), for the linear model, which
sees a number's effect as a straight line and extrapolates it past the training rows:

- ``clipped``: the default recipe after clipping every real numeric column to its 0.5%
  and 99.5% training quantiles. Every linear candidate of an AutoML job uses it (the
  search's too, :func:`search_recipe`). On ames a house twice the size of any typical
  one no longer gets twice the price: the linear model's test RMSE fell from 34,402 to
  30,432, and from 23,160 to 22,374 without the three houses over 4,000 sq ft
  (scikit-learn, the issue's split). Bounds from the training rows only.
- ``binned``: the default recipe plus quantile bins (one-hot, 5 per column) of every
  real numeric column, so the effects may bend: on churn tenure's and the charges' do,
  and the bins took the linear model's test ROC AUC from 0.844 to 0.851, past every
  boosting model's (scikit-learn, the issue's stratified split).

- ``splined``: the clipped columns, then a cubic B-spline basis of each (5 knots at
  training quantiles, :class:`shipyard.features._numeric.Spline`) beside it, so the
  effects bend smoothly where ``binned`` steps. The linear model's test metric, on the
  issue's splits (scikit-learn inside Shipyard's training, default → binned → splined):
  churn ROC AUC 0.8428 → 0.8499 → 0.8514; modeldata's credit_data 0.8387 → 0.8452 →
  0.8533; ames RMSE 34,255 → 31,034 → 30,786 (the clip matters there: splines alone
  kept the huge houses' trend, 34,538).
- ``encoded``: the default recipe after target-encoding (out of fold, smoothed: the
  ``encode`` step) every categorical column with more than :data:`MAX_CATEGORIES`
  labels, which the default keeps only the commonest :data:`MAX_CATEGORIES` of (the
  rest become one "other"). For an XGBoost entry, after its defaults. On ames (the
  28 neighbourhoods) XGBoost's defaults went from 23,880 to 23,250 validation RMSE and
  from 25,936 to 24,823 test RMSE with it (LightGBM's got worse on both, 22,909 →
  23,473 and 26,470 → 27,594, so it is not LightGBM's).
- ``log``: the default recipe, with the model learning ``log(1 + y)`` of a regression
  target that is never negative and skewed right (sample skewness over
  :data:`LOG_SKEW`: prices, counts, durations), turned back with ``exp − 1``
  (:mod:`shipyard.features._target`). For boosting only: a linear model on the log scale
  extrapolates exponentially, and on ames it priced the few huge houses far off (test
  RMSE 33,612 against 30,919 on the price, though its validation RMSE was the best of all,
  21,902). LightGBM's defaults on ames went from 26,470 to 25,039 test RMSE with it
  (validation 22,909 → 23,145: the selection sees no gain, the ensemble mixes both).
  On four tables it was not tuned on (LightGBM's defaults, a 25% holdout, test RMSE raw
  → log): diamonds' price 557.4 → 559.3, Ecdat's Housing price 16,570 → 17,220, Boston's
  medv 5.07 → 4.97, CPS1985's wage 4.16 → 4.26: mixed, so it is one candidate among
  the others and the validation metric decides, never the default.

- ``text``: for LightGBM's defaults, every free-text column (the schema's ``text``) as
  TF-IDF of words and word pairs (:data:`TEXT_TFIDF`: up to 2,000 terms per column seen
  in at least 2 rows, sublinear term counts) instead of the default recipe's 300 single
  words. On the reviews (modeldata's training_data, 4,000 rows; scored on its
  testing_data, 1,000) LightGBM's validation ROC AUC went from 0.792 to 0.834 and test
  from 0.833 to 0.844 (the fit from 2 s to 8 s); the linear model's did not gain at 2,000
  terms (test 0.816 → 0.776), so it is LightGBM's. The terms are dense float columns, so
  fewer are kept on a large table (:data:`TEXT_CELLS` cells in all), and none below the
  default's 300.

An entry whose variant the data does not allow (no numeric column worth it, a target
that is not skewed) falls back to the default recipe (``clipped``) or is left out
(``binned``, ``splined``, ``encoded``, ``log``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

#: Boosting candidates stop when the validation loss has not improved for this many
#: rounds (the selection then sees slightly optimistic validation scores, as AutoGluon's
#: do; the test split stays unseen).
EARLY_STOPPING = 50

#: Algorithms an AutoML job uses unless told otherwise, cheapest first.
DEFAULT_ALGORITHMS = ("lightgbm", "xgboost", "catboost", "random-forest", "linear")

#: The binned variant's bins per numeric column, and the distinct values a column needs.
BINS = 5
BIN_MIN_DISTINCT = 2 * BINS
BINNED = "binned"
CLIPPED = "clipped"
SPLINED = "splined"
ENCODED = "encoded"
#: Labels a categorical column keeps in the default recipe; above, the encoded variant.
MAX_CATEGORIES = 20
#: The splined variant's knots per column (cubic).
SPLINE_KNOTS = 5
LOG = "log"
TEXT = "text"
#: The text variant's TF-IDF (per free-text column; ``max_features`` at most).
TEXT_TFIDF: dict[str, Any] = {"max_features": 2000, "ngram_range": [1, 2], "min_df": 2,
                              "sublinear_tf": True}
#: Rows × terms the text variant keeps at most (8 bytes each: 160 MB).
TEXT_CELLS = 20_000_000
#: Terms per column below which the text variant is left out (the default recipe's).
TEXT_MIN_TERMS = 300
#: A regression target's sample skewness above which the ``log`` variant is tried
#: (the usual rule of thumb for log-transforming a skewed variable).
LOG_SKEW = 0.75
#: The clipped variant's training quantiles.
CLIP_QUANTILES = (0.005, 0.995)
#: The variant each algorithm's candidates use when the data allows it (search included).
ALGORITHM_VARIANT = {"linear": CLIPPED}
#: Variants an entry may do without (it then trains on the default recipe).
OPTIONAL = frozenset({CLIPPED})

_PORTFOLIO: tuple[tuple[str, dict[str, Any]] | tuple[str, dict[str, Any], str], ...] = (
    ("lightgbm", {}),
    ("linear", {}, CLIPPED),
    ("lightgbm", {}, LOG),
    ("lightgbm", {}, TEXT),
    ("linear", {}, SPLINED),
    ("linear", {}, BINNED),
    ("xgboost", {}),
    ("xgboost", {}, ENCODED),
    ("lightgbm", {"n_estimators": 1000, "learning_rate": 0.03, "num_leaves": 15,
                  "min_child_samples": 20, "colsample_bytree": 0.7, "subsample": 0.8,
                  "reg_lambda": 1.0}),
    ("lightgbm", {"n_estimators": 1000, "learning_rate": 0.03, "num_leaves": 15,
                  "min_child_samples": 20, "colsample_bytree": 0.7, "subsample": 0.8,
                  "reg_lambda": 1.0}, LOG),
    ("random-forest", {}),
    ("xgboost", {"n_estimators": 600, "learning_rate": 0.1, "max_depth": 3,
                 "min_child_weight": 3.0, "subsample": 0.9, "colsample_bytree": 0.9}),
    ("lightgbm", {"n_estimators": 1000, "learning_rate": 0.05, "num_leaves": 7,
                  "min_child_samples": 50, "colsample_bytree": 0.5, "subsample": 0.7,
                  "reg_alpha": 1.0}),
    # CatBoost is often the best single model on mixed tables but the slowest to fit
    # (one thread, ~10x LightGBM's time on 80 columns): after the fast ones.
    ("catboost", {"iterations": 1000, "learning_rate": 0.08, "depth": 4}),
    ("xgboost", {"n_estimators": 1000, "learning_rate": 0.03, "max_depth": 6,
                 "min_child_weight": 1.0, "subsample": 0.8, "colsample_bytree": 0.6}),
    ("linear", {"alpha": 10.0}, CLIPPED),
    ("lightgbm", {"n_estimators": 1000, "learning_rate": 0.02, "num_leaves": 63,
                  "min_child_samples": 10, "colsample_bytree": 0.6, "subsample": 0.8,
                  "reg_lambda": 3.0}),
    ("random-forest", {"n_estimators": 300, "min_samples_leaf": 1, "max_features": "sqrt"}),
    ("catboost", {}),
)

#: Rounds-counting hyperparameters, by algorithm (early stopping applies to these).
BOOSTING = frozenset({"lightgbm", "xgboost", "catboost"})


def skewed_target(values: Any) -> bool:
    """Whether a regression target suits the ``log`` variant: numbers, none negative,
    with a sample skewness over :data:`LOG_SKEW` (``values``: the target column, or a
    sample of it; missing values are left out)."""
    import pandas as pd

    y = pd.to_numeric(pd.Series(values), errors="coerce").dropna()
    y = y[np.isfinite(y)]
    if len(y) < 20 or y.nunique() < BIN_MIN_DISTINCT or (y < 0).any():
        return False
    skew = float(y.skew())
    return bool(np.isfinite(skew) and skew > LOG_SKEW)


def recipe_variants(schema: Sequence[Mapping[str, Any]], target: str,
                    drop: Sequence[str] = (), *, log_target: bool = False,
                    rows: int | None = None) -> dict[str, dict[str, Any]]:
    """The recipe variants this table allows, by name, as training jobs' ``recipe`` specs.

    ``schema``: the train version's columns (name, semantic_type, distinct). Both clip
    or bin the columns its schema calls numeric (not identifiers, row numbers or
    booleans) with at least :data:`BIN_MIN_DISTINCT` distinct values, other than the
    target and ``drop``; the default recipe does the rest (imputes, encodes, drops
    identifiers). ``encoded`` target-encodes its categorical columns with more than
    :data:`MAX_CATEGORIES` labels. ``log_target``: the target suits the ``log`` variant
    (:func:`skewed_target`). ``text`` takes the free-text columns; ``rows`` (the
    table's) bounds its terms by :data:`TEXT_CELLS`.
    """
    skip = {target, *drop}
    numeric = [str(c["name"]) for c in schema
               if c.get("semantic_type") == "numeric" and c.get("name") not in skip
               and int(c.get("distinct") or 0) >= BIN_MIN_DISTINCT]
    extra: dict[str, dict[str, Any]] = (
        {LOG: {"extends": "default", "target_transform": "log"}} if log_target else {})
    many = [str(c["name"]) for c in schema
            if c.get("semantic_type") == "categorical" and c.get("name") not in skip
            and int(c.get("distinct") or 0) > MAX_CATEGORIES]
    if many:
        extra[ENCODED] = {"extends": "default", "steps": [
            {"step": "encode", "columns": many, "params": {"method": "target"}}]}
    text = [str(c["name"]) for c in schema
            if c.get("semantic_type") == "text" and c.get("name") not in skip]
    terms = int(TEXT_TFIDF["max_features"])
    if text and rows:
        terms = min(terms, TEXT_CELLS // (max(rows, 1) * len(text)))
    if text and terms >= TEXT_MIN_TERMS:
        extra[TEXT] = {"extends": "default", "steps": [
            {"step": "tfidf", "columns": text, "params": {**TEXT_TFIDF, "max_features": terms}}]}
    if not numeric:
        return extra
    lower, upper = CLIP_QUANTILES
    clip = {"step": "clip", "columns": numeric,
            "params": {"method": "quantile", "lower": lower, "upper": upper}}
    return {**extra,
        CLIPPED: {"extends": "default", "steps": [clip]},
        SPLINED: {"extends": "default", "steps": [clip, {
            "step": "spline", "columns": numeric,
            "params": {"n_knots": SPLINE_KNOTS, "degree": 3}}]},
        BINNED: {"extends": "default", "steps": [
            {"step": "bin", "columns": numeric,
             "params": {"method": "quantile", "n_bins": BINS, "output": "onehot"}}]}}


def search_recipe(algorithm: str,
                  variants: Mapping[str, Mapping[str, Any]] | None) -> dict[str, Any] | None:
    """The recipe of a candidate the search proposes: its algorithm's variant, if any."""
    variant = ALGORITHM_VARIANT.get(algorithm)
    chosen = (variants or {}).get(variant) if variant else None
    return dict(chosen) if chosen else None


def describe(recipe: Mapping[str, Any] | None) -> str:
    """A candidate's pipeline in words (the leaderboard's ``pipeline``), from its recipe."""
    if not recipe:
        return "default recipe"
    steps = [s for s in recipe.get("steps") or [] if isinstance(s, Mapping)]
    words = []
    for step in steps:
        params, columns = step.get("params") or {}, step.get("columns")
        what = (f"{len(columns)} column{'' if len(columns) == 1 else 's'}"
                if columns is not None else "every column it takes")
        if step.get("step") == "bin":
            words.append(f"{params.get('method', 'quantile')} bins "
                         f"({params.get('n_bins', BINS)}) of {what}")
        elif step.get("step") == "spline":
            words.append(f"cubic splines ({params.get('n_knots', SPLINE_KNOTS)} knots) of "
                         f"{what}")
        elif step.get("step") == "tfidf":
            low, high = params.get("ngram_range") or (1, 1)
            grams = "words" if (low, high) == (1, 1) else f"{low}–{high}-word n-grams"
            words.append(f"TF-IDF ({grams}, {params.get('max_features')} terms) of {what}")
        elif step.get("step") == "encode" and params.get("method") == "target":
            words.append(f"target encoding of {what}")
        elif step.get("step") == "clip" and params.get("method") == "quantile":
            words.append(f"{what} clipped to their {params.get('lower'):.1%}–"
                         f"{params.get('upper'):.1%} quantiles")
        else:
            words.append(f"{step.get('step')} of {what}")
    if recipe.get("target_transform") == "log":
        words.append("the model learns log(1 + target)")
    drop = [str(c) for c in recipe.get("drop") or []]
    without = (f" (without {', '.join(drop[:5])}{' …' if len(drop) > 5 else ''})"
               if drop else "")
    if not words:
        return "default recipe" + without
    base = "default recipe + " if recipe.get("extends") == "default" else "recipe: "
    return base + ", ".join(words) + without


def portfolio(algorithms: Sequence[str],
              variants: Mapping[str, Mapping[str, Any]] | None = None) -> list[dict[str, Any]]:
    """The portfolio for a job over ``algorithms``: ``[{"algorithm", "hyperparameters"}]``
    (plus ``"variant"`` and ``"recipe"`` for a recipe variant that ``variants`` holds) in
    the order they are tried (boosting ones with early stopping)."""
    out = []
    for algorithm, hp, *rest in _PORTFOLIO:
        if algorithm not in algorithms:
            continue
        variant = rest[0] if rest else None
        if variant is not None and variant not in (variants or {}):
            if variant not in OPTIONAL:
                continue
            variant = None
        settings = dict(hp)
        if algorithm in BOOSTING:
            settings["early_stopping_rounds"] = EARLY_STOPPING
        entry: dict[str, Any] = {"algorithm": algorithm, "hyperparameters": settings}
        if variant is not None:
            entry.update(variant=variant, recipe=dict((variants or {})[variant]))
        out.append(entry)
    # An algorithm named by the job but absent above still gets its defaults first.
    named = {e["algorithm"] for e in out}
    return [{"algorithm": a, "hyperparameters": {}} for a in algorithms if a not in named] + out
