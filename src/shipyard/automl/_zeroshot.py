"""FLAML's zero-shot configurations, chosen for a table by its meta-features.

FLAML ships portfolios of configurations mined over ~100 OpenML tables (Wang et al.,
"Mining Robust Default Configurations for Resource-constrained AutoML", 2022), one per
estimator and task, vendored here unchanged (``zeroshot/``, FLAML 2.3.6, MIT: its
README). Each file holds the meta-feature names, a centring and scaling of them, the
mined tables' scaled meta-features ("neighbors") each with its ranking of the
configurations, and the configurations. FLAML's ``flaml.default.suggest_config`` is
reimplemented exactly (the flaml package is never imported):

1. the table's meta-features: rows, feature columns, classes (0 for regression), share
   of numeric feature columns (:func:`meta_features`, from the train version's schema);
2. scaled: ``(x − center) / scale``;
3. the nearest mined table in Euclidean distance (the first on a tie, as scikit-learn's
   ``NearestNeighbors(n_neighbors=1)``), whose ranking is the answer (:func:`ranking`).

:func:`suggest` then writes the ranked configurations in Shipyard's hyperparameters
(:func:`translate`): FLAML's estimators and Shipyard's algorithms do not share every
knob, so some are dropped, some fixed and the rest clipped into the declared bounds.
FLAML's own defaults (an empty configuration) are skipped: an AutoML job trains each
algorithm's defaults first anyway.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources
from typing import Any

#: The FLAML release the portfolios come from.
FLAML_VERSION = "2.3.6"
#: Shipyard's algorithm → the FLAML estimator whose portfolio it takes. FLAML's
#: ``xgboost`` grows trees leaf-wise (``max_leaves``, no depth limit), which Shipyard's
#: XGBoost does not expose; its depth-wise ``xgb_limitdepth`` maps onto ours.
SOURCES = {"lightgbm": "lgbm", "xgboost": "xgb_limitdepth", "random-forest": "rf"}
TASKS = ("binary", "multiclass", "regression")
#: Schema types the default recipe drops (they name rows), so they are not features.
NOT_FEATURES = frozenset({"identifier", "row_number"})
#: Trees a random forest keeps at most here: FLAML's reach 2,047, and Shipyard's forests
#: are sized so a bundle stays small (``training/_sklearn.py``: ~0.3 MB a tree); 500 is
#: the top of Shipyard's own search for them.
MAX_FOREST_TREES = 500


@dataclass(frozen=True)
class MetaFeatures:
    """What FLAML's selection reads of a table (its ``meta_feature_names``)."""

    rows: int
    features: int
    classes: int  # 0 for regression
    numeric_share: float

    @property
    def task(self) -> str:
        if self.classes == 0:
            return "regression"
        return "binary" if self.classes <= 2 else "multiclass"

    def vector(self, names: Sequence[str]) -> list[float]:
        values = {"NumberOfInstances": float(self.rows),
                  "NumberOfFeatures": float(self.features),
                  "NumberOfClasses": float(self.classes),
                  "PercentageOfNumericFeatures": float(self.numeric_share)}
        unknown = [n for n in names if n not in values]
        if unknown:
            raise ValueError(f"FLAML meta-features {unknown} are not computed here; "
                             f"known: {sorted(values)}.")
        return [values[n] for n in names]


def meta_features(schema: Sequence[Mapping[str, Any]], target: str, rows: int,
                  problem_type: str, drop: Sequence[str] = ()) -> MetaFeatures:
    """A table's meta-features from its train version's schema (name, semantic_type,
    distinct) and row count, as FLAML computes them on a training frame: its columns
    other than the target (and ``drop`` and the identifiers the recipe drops), the
    target's classes, the share of them that are numbers (a boolean is not, as pandas'
    ``select_dtypes(np.number)`` does not take one)."""
    skip = {target, *drop}
    columns = [c for c in schema
               if c.get("name") not in skip and c.get("semantic_type") not in NOT_FEATURES]
    numeric = sum(1 for c in columns if c.get("semantic_type") == "numeric")
    classes = 0
    if problem_type == "binary":
        classes = 2
    elif problem_type == "multiclass":
        column = next((c for c in schema if c.get("name") == target), {})
        classes = max(3, int(column.get("distinct") or 3))
    n = len(columns)
    return MetaFeatures(rows=int(rows), features=n, classes=classes,
                        numeric_share=numeric / n if n else 1.0)


@lru_cache(maxsize=16)
def _load(estimator: str, task: str) -> dict[str, Any]:
    text = (resources.files("shipyard.automl") / "zeroshot" / estimator / f"{task}.json")
    return dict(json.loads(text.read_text(encoding="utf-8")))


def predictor(estimator: str, task: str) -> dict[str, Any]:
    """FLAML's mined portfolio for ``estimator`` (``lgbm``, ``xgb_limitdepth``, ``rf``)
    and ``task`` (``binary``, ``multiclass``, ``regression``), as FLAML ships it."""
    if estimator not in SOURCES.values() or task not in TASKS:
        raise ValueError(f"No FLAML portfolio for {estimator!r} on {task!r}; estimators: "
                         f"{sorted(SOURCES.values())}, tasks: {list(TASKS)}.")
    return _load(estimator, task)


def ranking(estimator: str, meta: MetaFeatures) -> list[int]:
    """The indices of the portfolio's configurations in the order FLAML's
    ``suggest_config`` returns them for a table with these meta-features."""
    data = predictor(estimator, meta.task)
    prep = data["preprocessing"]
    x = [(v - c) / s for v, c, s in zip(meta.vector(data["meta_feature_names"]),
                                        prep["center"], prep["scale"], strict=True)]
    distances = [math.dist(x, n["features"]) for n in data["neighbors"]]
    nearest = min(range(len(distances)), key=lambda i: (distances[i], i))
    return [int(c) for c in data["neighbors"][nearest]["choice"]]


def suggest_config(estimator: str, meta: MetaFeatures, k: int | None = None,
                   ) -> list[dict[str, Any]]:
    """FLAML's configurations (its own names and values), ranked as ``suggest_config``
    ranks them, ``FLAML_sample_size`` removed (it says on how many rows it was mined)."""
    portfolio = predictor(estimator, meta.task)["portfolio"]
    out = []
    for i in ranking(estimator, meta)[:k]:
        hp = {k_: v for k_, v in portfolio[i]["hyperparameters"].items()
              if k_ != "FLAML_sample_size"}
        out.append({"class": portfolio[i]["class"], "hyperparameters": hp})
    return out


def _clip(algorithm: str, name: str, value: float) -> float | int:
    """``value`` inside Shipyard's declared bounds of ``algorithm.name``: an int one
    rounded, a float one to 4 significant digits (FLAML's carry 16, all noise past 4)."""
    from shipyard.training import get_algorithm

    spec = next(h for h in get_algorithm(algorithm).info.hyperparameters if h.name == name)
    v = float(round(value)) if spec.type == "int" else float(f"{float(value):.4g}")
    if spec.low is not None:
        v = max(v, float(spec.low))
    if spec.high is not None:
        v = min(v, float(spec.high))
    return int(round(v)) if spec.type == "int" else v


def _max_features(fraction: float, features: int) -> str:
    """The forest's ``max_features`` choice nearest FLAML's share of the columns.

    Shipyard's takes ``sqrt``, ``log2`` or ``all``, not a share; the nearest in features
    per split (of the table's columns: one-hot encoding makes more) is taken."""
    n = max(features, 1)
    want = fraction * n
    options = {"sqrt": math.sqrt(n), "log2": max(math.log2(n), 1.0), "all": float(n)}
    order = list(options)  # a tie (16 columns: 4 either way) goes to sqrt, the common one
    return min(options, key=lambda o: (abs(options[o] - want), order.index(o)))


def translate(algorithm: str, hp: Mapping[str, Any], meta: MetaFeatures,
              ) -> dict[str, Any] | None:
    """One FLAML configuration in Shipyard's ``algorithm``'s hyperparameters; None for
    FLAML's defaults (empty: the library's defaults, which the job trains first as
    Shipyard's own). Every value lies in the declared bounds (clipped)."""
    if not hp:
        return None
    out: dict[str, Any] = {}
    if algorithm == "lightgbm":
        # log_max_bin is dropped: Shipyard's LightGBM keeps LightGBM's 255 bins. FLAML
        # never bags rows, so subsample is LightGBM's 1.0 (Shipyard's default is 0.8).
        for name in ("n_estimators", "num_leaves", "min_child_samples", "learning_rate",
                     "colsample_bytree", "reg_alpha", "reg_lambda"):
            if name in hp:
                out[name] = _clip(algorithm, name, hp[name])
        out["subsample"] = 1.0
    elif algorithm == "xgboost":
        # colsample_bylevel is dropped: Shipyard's XGBoost samples features per tree only.
        # gamma stays at XGBoost's 0, which FLAML leaves too.
        for name in ("n_estimators", "max_depth", "min_child_weight", "learning_rate",
                     "subsample", "colsample_bytree", "reg_alpha", "reg_lambda"):
            if name in hp:
                out[name] = _clip(algorithm, name, hp[name])
    elif algorithm == "random-forest":
        # criterion is dropped: Shipyard's forest keeps scikit-learn's (gini, squared
        # error). FLAML leaves min_samples_leaf at scikit-learn's 1 (Shipyard's is 3).
        if "n_estimators" in hp:
            out["n_estimators"] = min(int(_clip(algorithm, "n_estimators", hp["n_estimators"])),
                                      MAX_FOREST_TREES)
        if "max_leaves" in hp:
            out["max_leaf_nodes"] = _clip(algorithm, "max_leaf_nodes", hp["max_leaves"])
        if "max_features" in hp:
            out["max_features"] = _max_features(float(hp["max_features"]), meta.features)
        out["min_samples_leaf"] = 1
    else:
        raise ValueError(f"No FLAML portfolio maps onto {algorithm!r}; "
                         f"these do: {sorted(SOURCES)}.")
    return out


def suggest(algorithm: str, meta: MetaFeatures, k: int | None = None) -> list[dict[str, Any]]:
    """Up to ``k`` configurations of Shipyard's ``algorithm`` for a table, best first:
    FLAML's ranking for it, translated, without FLAML's defaults and duplicates."""
    out: list[dict[str, Any]] = []
    for config in suggest_config(SOURCES[algorithm], meta):
        hp = translate(algorithm, config["hyperparameters"], meta)
        if hp is not None and hp not in out:
            out.append(hp)
    return out[:k]
