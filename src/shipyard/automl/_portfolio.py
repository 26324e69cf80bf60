"""The first candidates of an AutoML job: a portfolio of configurations, cheapest first.

Before any search, an AutoML job trains these: each built-in algorithm's defaults, then
a few configurations known to do well across tables, as FLAML's zero-shot starts and
AutoGluon's presets do. They are written down here by hand (from the anchors' published
defaults and this repository's tuning benchmarks), not yet meta-learned over a corpus of
tables: ``docs/automl.md`` says what measuring one would take.

Every entry is ``(algorithm, hyperparameters)``; values must lie inside the algorithm's
declared bounds (they are validated at submit, as any training job's). The driver takes
them in order, skipping algorithms the job does not use, then asks the tuning sampler.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

#: Boosting candidates stop when the validation loss has not improved for this many
#: rounds (the selection then sees slightly optimistic validation scores, as AutoGluon's
#: do; the test split stays unseen).
EARLY_STOPPING = 50

#: Algorithms an AutoML job uses unless told otherwise, cheapest first.
DEFAULT_ALGORITHMS = ("lightgbm", "xgboost", "catboost", "random-forest", "linear")

_PORTFOLIO: tuple[tuple[str, dict[str, Any]], ...] = (
    ("lightgbm", {}),
    ("linear", {}),
    ("xgboost", {}),
    ("lightgbm", {"n_estimators": 1000, "learning_rate": 0.03, "num_leaves": 15,
                  "min_child_samples": 20, "colsample_bytree": 0.7, "subsample": 0.8,
                  "reg_lambda": 1.0}),
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
    ("linear", {"alpha": 10.0}),
    ("lightgbm", {"n_estimators": 1000, "learning_rate": 0.02, "num_leaves": 63,
                  "min_child_samples": 10, "colsample_bytree": 0.6, "subsample": 0.8,
                  "reg_lambda": 3.0}),
    ("random-forest", {"n_estimators": 300, "min_samples_leaf": 1, "max_features": "sqrt"}),
    ("catboost", {}),
)

#: Rounds-counting hyperparameters, by algorithm (early stopping applies to these).
BOOSTING = frozenset({"lightgbm", "xgboost", "catboost"})


def portfolio(algorithms: Sequence[str]) -> list[dict[str, Any]]:
    """The portfolio for a job over ``algorithms``: ``[{"algorithm", "hyperparameters"}]``
    in the order they are tried (boosting ones with early stopping)."""
    out = []
    for algorithm, hp in _PORTFOLIO:
        if algorithm not in algorithms:
            continue
        settings = dict(hp)
        if algorithm in BOOSTING:
            settings["early_stopping_rounds"] = EARLY_STOPPING
        out.append({"algorithm": algorithm, "hyperparameters": settings})
    # An algorithm named by the job but absent above still gets its defaults first.
    named = {e["algorithm"] for e in out}
    return [{"algorithm": a, "hyperparameters": {}} for a in algorithms if a not in named] + out
