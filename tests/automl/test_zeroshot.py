"""FLAML's zero-shot selection reimplemented (shipyard.automl._zeroshot), without flaml."""

from __future__ import annotations

import hashlib
import json
import re
from importlib import resources

import pytest

from shipyard.automl._zeroshot import (
    FLAML_VERSION,
    MAX_FOREST_TREES,
    SOURCES,
    TASKS,
    MetaFeatures,
    meta_features,
    predictor,
    ranking,
    suggest,
    suggest_config,
    translate,
)
from shipyard.training import validate_hyperparameters

#: Meta-features (rows, features, classes, numeric share) → the portfolio indices that
#: FLAML 2.3.6's own ``flaml.default.suggest_config`` returned for lgbm, xgb_limitdepth
#: and rf, computed once with the flaml package (passing these vectors as its
#: ``meta_feature_fn``) and written here as literals.
FLAML_RANKINGS = {
    "churn": ((7043, 19, 2, 0.16), ([4], [0, 1, 3], [0, 3])),
    "ames": ((2930, 80, 0, 0.45), ([0, 3], [0, 2, 3, 1, 5], [0, 2, 1, 3])),
    "penguins": ((344, 7, 3, 0.71), ([6, 7, 3, 1, 0, 4, 5, 8], [6, 1, 7, 2, 0, 3, 4],
                                     [3, 1, 4, 5])),
    "big_binary": ((500_000, 30, 2, 1.0), ([0, 1, 3, 2, 4], [0, 2, 3], [2, 0, 1, 3])),
    "wide_multiclass": ((20_000, 700, 10, 1.0), ([4, 1, 8], [5, 3, 1, 7, 6, 4], [0, 5])),
    "big_regression": ((1_000_000, 12, 0, 0.9), ([2, 0, 1, 3], [2, 0, 1, 5], [3])),
}


@pytest.mark.parametrize("case", sorted(FLAML_RANKINGS))
def test_the_ranking_is_flamls_own(case: str) -> None:
    vector, expected = FLAML_RANKINGS[case]
    meta = MetaFeatures(*vector)
    got = [ranking(e, meta) for e in ("lgbm", "xgb_limitdepth", "rf")]
    assert got == [list(x) for x in expected]


def test_suggest_config_returns_flamls_configurations_without_their_sample_size() -> None:
    meta = MetaFeatures(500_000, 30, 2, 1.0)
    first = suggest_config("lgbm", meta, k=1)
    assert first == [{"class": "lgbm", "hyperparameters": {
        "n_estimators": 2541, "num_leaves": 1667, "min_child_samples": 29,
        "learning_rate": 0.0016660662914022302, "log_max_bin": 8,
        "colsample_bytree": 0.5157078343718623, "reg_alpha": 0.045792841240713165,
        "reg_lambda": 0.0012362651138125363}}]  # FLAML_sample_size 436899 removed
    assert "FLAML_sample_size" in predictor("lgbm", "binary")["portfolio"][0][
        "hyperparameters"]  # the vendored data is left as FLAML ships it
    assert len(suggest_config("lgbm", meta)) == 5


def test_every_translated_configuration_lies_in_shipyards_bounds() -> None:
    checked = 0
    for algorithm, estimator in SOURCES.items():
        for task in TASKS:
            for config in predictor(estimator, task)["portfolio"]:
                for features in (1, 7, 80, 700):
                    meta = MetaFeatures(1000, features, {"binary": 2, "multiclass": 5}.get(
                        task, 0), 0.5)
                    hp = translate(algorithm, config["hyperparameters"], meta)
                    if hp is None:
                        assert config["hyperparameters"] == {}  # FLAML's defaults
                        continue
                    assert validate_hyperparameters(algorithm, hp)
                    checked += 1
    assert checked > 100


def test_names_flaml_has_and_shipyard_lacks_are_dropped_or_mapped() -> None:
    meta = MetaFeatures(1000, 16, 2, 1.0)
    lgbm = translate("lightgbm", {"n_estimators": 31204, "num_leaves": 4, "log_max_bin": 10,
                                  "learning_rate": 0.009033979476164342, "reg_alpha": 15.8},
                     meta)
    # Capped at the declared bound (early stopping ends it), no max_bin, no bagging.
    assert lgbm == {"n_estimators": 10_000, "num_leaves": 4, "learning_rate": 0.009034,
                    "reg_alpha": 15.8, "subsample": 1.0}
    xgb = translate("xgboost", {"max_depth": 12, "reg_lambda": 131.2194560716441,
                                "colsample_bytree": 0.022724724669028674,
                                "colsample_bylevel": 0.9}, meta)
    assert xgb == {"max_depth": 12, "reg_lambda": 100.0, "colsample_bytree": 0.05}
    rf = translate("random-forest", {"n_estimators": 2047, "max_features": 0.25,
                                     "max_leaves": 32767, "criterion": "entropy"}, meta)
    # A quarter of 16 columns is 4: sqrt(16); 2,047 trees capped; criterion dropped.
    assert rf == {"n_estimators": MAX_FOREST_TREES, "max_leaf_nodes": 32767,
                  "max_features": "sqrt", "min_samples_leaf": 1}
    assert translate("random-forest", {"max_features": 1.0}, meta)["max_features"] == "all"
    assert translate("lightgbm", {}, meta) is None  # FLAML's defaults: the job's own


def test_suggest_skips_flamls_defaults_and_keeps_its_order() -> None:
    churn = MetaFeatures(7043, 19, 2, 0.16)
    assert suggest("lightgbm", churn) == []  # FLAML's lgbm ranking for it: defaults only
    xgb = suggest("xgboost", churn, 2)
    binary = predictor("xgb_limitdepth", "binary")["portfolio"]
    assert [h["max_depth"] for h in xgb] == [binary[0]["hyperparameters"]["max_depth"],
                                             binary[1]["hyperparameters"]["max_depth"]]
    assert suggest("xgboost", churn) == suggest("xgboost", MetaFeatures(7043, 19, 2, 0.16))


def test_meta_features_come_from_the_train_versions_schema() -> None:
    schema = [{"name": "id", "semantic_type": "identifier", "distinct": 100},
              {"name": "tenure", "semantic_type": "numeric", "distinct": 73},
              {"name": "charges", "semantic_type": "numeric", "distinct": 90},
              {"name": "plan", "semantic_type": "categorical", "distinct": 3},
              {"name": "senior", "semantic_type": "boolean", "distinct": 2},
              {"name": "note", "semantic_type": "text", "distinct": 99},
              {"name": "species", "semantic_type": "categorical", "distinct": 3}]
    # FLAML counts a bool column as not numeric (pandas' select_dtypes(np.number)).
    assert meta_features(schema, "species", 100, "multiclass") == MetaFeatures(100, 5, 3, 0.4)
    assert meta_features(schema, "charges", 100, "regression", drop=["note"]) == \
        MetaFeatures(100, 4, 0, 0.25)
    assert meta_features(schema, "senior", 100, "binary").task == "binary"


def test_the_vendored_files_are_flamls_as_the_notice_says() -> None:
    folder = resources.files("shipyard.automl") / "zeroshot"
    notice = (folder / "README.md").read_text(encoding="utf-8")
    assert FLAML_VERSION in notice and "Copyright (c) Microsoft Corporation." in notice
    sums = dict((path, digest) for digest, path in
                re.findall(r"^([0-9a-f]{64})  (\S+\.json)$", notice, flags=re.M))
    assert len(sums) == 3 * len(SOURCES)
    for path, digest in sums.items():
        data = (folder / path).read_bytes()
        assert hashlib.sha256(data).hexdigest() == digest
        assert json.loads(data)["meta_feature_names"] == [
            "NumberOfInstances", "NumberOfFeatures", "NumberOfClasses",
            "PercentageOfNumericFeatures"]
