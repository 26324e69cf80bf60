"""Every recipe step checks its parameters' values when it is made (at submit, not at fit).

The sweep runs over every registered step (``STEPS``), so a new step is held to it: its
defaults construct, and every parameter refuses a value of the wrong kind and each
hostile value with one InvalidRequest naming the step and the parameter.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shipyard.automl._portfolio import TEXT_TFIDF, recipe_variants
from shipyard.errors import InvalidRequest
from shipyard.features import STEPS, FittedRecipe, Recipe, StepSpec, UserRecipe
from shipyard.features._default import default_recipe
from shipyard.features._steps import Step, make_step, register_step

#: Parameters a step needs beyond its defaults to be made at all.
REQUIRED: dict[str, dict[str, Any]] = {"expression": {"name": "ratio", "expression": "a / b"}}
#: Values no parameter of any step takes: not finite, past any float, NUL, a lone
#: surrogate, containers where a scalar goes (and the other way round).
HOSTILE: list[Any] = [math.nan, math.inf, -math.inf, 10**400, "a\x00b", "\ud800",
                      [{"a": {}}], {"a": {"b": []}}, object()]


def _made(step: str, params: dict[str, Any] | None = None) -> Step:
    return make_step(step, None, {**REQUIRED.get(step, {}), **(params or {})})


def _refusal(step: str, param: str, value: Any) -> str:
    with pytest.raises(InvalidRequest) as info:
        _made(step, {param: value})
    return info.value.message


def _wrong_kind(default: Any) -> list[Any]:
    """A value of another kind than the parameter's: an int for a bool, a bool otherwise."""
    return [1, "yes"] if isinstance(default, bool) else [True]


@pytest.mark.parametrize("name", sorted(STEPS))
def test_every_step_checks_every_parameter(name: str) -> None:
    cls = STEPS[name]
    assert set(cls.checks) == set(cls.defaults)
    step = _made(name)  # its defaults (and the parameters it needs) construct
    assert step.params.keys() == cls.defaults.keys()
    for param, default in cls.defaults.items():
        for value in [*_wrong_kind(default), *HOSTILE]:
            message = _refusal(name, param, value)
            assert message.startswith(f"Recipe step {name!r}: parameter {param!r} must be "), \
                (param, value, message)
            assert "; got " in message and len(message) < 600, message


def test_a_step_without_a_check_for_a_parameter_cannot_be_registered() -> None:
    class Unchecked(Step):
        name = "unchecked"
        defaults = {"size": 3}

    with pytest.raises(ValueError, match="must declare a check for each of its parameters"):
        register_step(Unchecked)
    assert "unchecked" not in STEPS


@pytest.mark.parametrize(("step", "params", "param", "words"), [
    # Two parameters together: clip's quantiles, and fixed bounds.
    ("clip", {"lower": 0.9, "upper": 0.1}, "upper", "must be above lower (0.9)"),
    ("clip", {"lower": -0.1}, "lower", "a quantile from 0 to 1"),
    ("clip", {"upper": 1.5}, "upper", "a quantile from 0 to 1"),
    ("clip", {"lower": 0.5, "upper": 0.5}, "upper", "above lower (0.5)"),
    ("clip", {"lower": None, "upper": 0}, "upper", "above 0"),
    ("clip", {"method": "values", "lower": 5, "upper": 1}, "upper", "at least lower (5)"),
    ("clip", {"factor": -1}, "factor", "a number >= 0"),
    ("clip", {"lower": "0.1"}, "lower", "null or a finite number"),
    # Counts: positive where they must be, within what the step can do.
    ("impute", {"strategy": "knn", "n_neighbors": 10, "max_reference_rows": 5},
     "max_reference_rows", "at least n_neighbors (10)"),
    ("impute", {"n_neighbors": 0}, "n_neighbors", ">= 1"),
    ("impute", {"seed": -1}, "seed", "from 0 to 4294967295"),
    ("impute", {"strategy": "meadian"}, "strategy", "Did you mean 'median' or 'mean'?"),
    ("impute", {"indicator": 1}, "indicator", "true or false"),
    ("bin", {"n_bins": 1}, "n_bins", "from 2 to 100"),
    ("bin", {"n_bins": 101}, "n_bins", "from 2 to 100"),
    ("bin", {"n_bins": 5.5}, "n_bins", "a whole number"),
    ("bin", {"method": "edges"}, "edges", "with method 'edges'"),
    ("bin", {"method": "edges", "edges": [3, 1]}, "edges", "strictly increasing"),
    ("bin", {"method": "edges", "edges": []}, "edges", "non-empty list"),
    ("bin", {"method": "edges", "edges": [1, math.nan]}, "edges", "finite"),
    ("bin", {"method": "edges", "edges": {"a": [2, 2]}}, "edges", "strictly increasing"),
    ("spline", {"n_knots": 51}, "n_knots", "from 2 to 50"),
    ("spline", {"degree": True}, "degree", "from 1 to 5"),
    ("categorical", {"max_categories": 0}, "max_categories", ">= 1"),
    ("categorical", {"min_count": -1}, "min_count", ">= 0"),
    ("encode", {"method": "count", "normalize": "yes"}, "normalize", "true or false"),
    ("encode", {"normalize": 1}, "normalize", "true or false"),
    ("encode", {"folds": 1}, "folds", ">= 2"),
    ("encode", {"smoothing": -1}, "smoothing", ">= 0"),
    ("encode", {"seed": 2**32}, "seed", "from 0 to 4294967295"),
    ("encode", {"order": {"size": "small"}}, "order", "an object from a column to its labels"),
    ("encode", {"order": ["small", "large"]}, "order", "an object from a column to its labels"),
    ("encode", {"order": {"size": [["small"]]}}, "order", "an object from a column"),
    ("tfidf", {"ngram_range": [2, 1]}, "ngram_range", "1 <= low <= high"),
    ("tfidf", {"ngram_range": [0, 1]}, "ngram_range", "1 <= low <= high"),
    ("tfidf", {"ngram_range": [1]}, "ngram_range", "two whole numbers"),
    ("tfidf", {"ngram_range": [1, 2, 3]}, "ngram_range", "two whole numbers"),
    ("tfidf", {"ngram_range": [1.0, 2]}, "ngram_range", "two whole numbers"),
    ("tfidf", {"ngram_range": [True, 2]}, "ngram_range", "two whole numbers"),
    ("tfidf", {"ngram_range": ["1", "2"]}, "ngram_range", "two whole numbers"),
    ("tfidf", {"ngram_range": [1, 10**400]}, "ngram_range", "two whole numbers"),
    ("tfidf", {"ngram_range": "1,2"}, "ngram_range", "two whole numbers"),
    ("tfidf", {"min_df": 1.5}, "min_df", "a number in [0, 1]"),
    ("tfidf", {"min_df": -1}, "min_df", "a whole number >= 0"),
    ("tfidf", {"max_features": 0}, "max_features", "from 1 to 5000"),
    ("tfidf", {"stop_words": "french"}, "stop_words", "one of null, 'english'"),
    ("balance", {"ratio": 0}, "ratio", "in (0, 1]"),
    ("balance", {"ratio": 1.5}, "ratio", "in (0, 1]"),
    ("balance", {"k_neighbors": 0}, "k_neighbors", ">= 1"),
    ("select", {"k": 3}, "k", "null with method 'correlation', which uses a threshold"),
    ("select", {"threshold": 1.5}, "threshold", "in (0, 1] with method 'correlation'"),
    ("select", {"method": "mutual_info", "k": 0}, "k", ">= 1"),
    ("elapsed_days", {"reference": "yesterday"}, "reference", "an ISO date"),
    ("elapsed_days", {"reference": ""}, "reference", "non-empty string"),
    ("elapsed_days", {"reference": "99999-01-01"}, "reference", "an ISO date"),
    ("elapsed_days", {"drop": "no"}, "drop", "true or false"),
    ("expression", {"expression": "a.__class__"}, "expression", "Attribute is not allowed"),
    ("expression", {"expression": "a +"}, "expression", "is not valid"),
    ("expression", {"name": ""}, "name", "the column it makes"),
    ("datetime_parts", {"parts": ["minute"]}, "parts", "a list of some of ['year'"),
    ("datetime_parts", {"parts": "year"}, "parts", "a list of some of"),
    ("log", {"offset": "big"}, "offset", "'auto' or a finite number"),
    ("log", {"offset": False}, "offset", "'auto' or a finite number"),
    ("impute", {"fill_value": math.nan}, "fill_value", "a finite number or a non-empty string"),
])
def test_range_rules_name_the_parameter(step: str, params: dict, param: str, words: str) -> None:
    with pytest.raises(InvalidRequest) as info:
        _made(step, params)
    message = info.value.message
    assert message.startswith(f"Recipe step {step!r}: parameter {param!r} must be "), message
    assert words in message, message


@pytest.mark.parametrize(("step", "params"), [
    ("clip", {"lower": 0.05, "upper": None}), ("clip", {"lower": 0, "upper": 1}),
    ("clip", {"method": "values", "lower": 500, "upper": 3000}),
    ("clip", {"method": "values", "lower": -1e6, "upper": None}),
    ("clip", {"method": "iqr", "factor": 0}),
    ("impute", {"strategy": "constant", "fill_value": "unknown"}),
    ("impute", {"strategy": "constant", "fill_value": -1}),
    ("impute", {"n_neighbors": 10, "max_reference_rows": 5}),  # not knn: the rule is moot
    ("impute", {"strategy": "knn", "n_neighbors": 3, "max_reference_rows": 400}),
    ("bin", {"method": "edges", "edges": [1900, 1950.5, 2000]}),
    ("bin", {"method": "edges", "edges": {"age": [18, 65], "year": [2000]}}),
    ("categorical", {"min_count": 0}),
    ("encode", {"method": "ordinal", "order": {"size": ["s", "m", "l"], "n": [1, 2, 3]}}),
    ("encode", {"method": "count", "normalize": True}),
    ("encode", {"seed": 2**32 - 1, "smoothing": 0, "unknown_value": -1}),
    ("tfidf", {"min_df": 0.5}), ("tfidf", {"min_df": 2}), ("tfidf", {"ngram_range": (1, 3)}),
    ("tfidf", TEXT_TFIDF), ("tfidf", {"stop_words": "english"}),
    ("balance", {"ratio": 1}), ("balance", {"method": "smote", "ratio": 0.5}),
    ("select", {"method": "variance", "threshold": 1.5}),
    ("select", {"method": "importance", "k": 5}),
    ("elapsed_days", {"reference": "2024-01-31"}), ("elapsed_days", {"reference": "now"}),
    # A reference column makes the reference moot: it was never read.
    ("elapsed_days", {"reference_column": "as_of", "reference": "yesterday"}),
    ("datetime_parts", {"parts": []}), ("datetime_parts", {"parts": ["hour", "year"]}),
    ("log", {"offset": "auto"}), ("log", {"offset": 0}), ("log", {"offset": -1.5}),
    ("spline", {"n_knots": np.int64(4), "degree": 2}),
])
def test_values_that_work_are_kept(step: str, params: dict) -> None:
    made = _made(step, params)
    assert {k: made.params[k] for k in params} == params


def test_a_long_or_huge_value_is_cut_in_the_message() -> None:
    long = _refusal("scale", "method", "x" * 10_000)
    assert len(long) < 200 and "; got 'xxxxxxxx" in long and long.endswith("….")
    huge = _refusal("bin", "n_bins", 10**400)
    assert "got an integer of 401 digits" in huge
    assert "\\x00" in _refusal("scale", "method", "a\x00")
    assert "\\ud800" in _refusal("scale", "method", "\ud800")


def test_recipes_refuse_a_bad_value_when_read() -> None:
    with pytest.raises(InvalidRequest, match="parameter 'normalize' must be true or false"):
        StepSpec.from_dict({"step": "encode", "params": {"method": "count",
                                                          "normalize": "yes"}})
    with pytest.raises(InvalidRequest, match="parameter 'upper' must be above lower"):
        Recipe.from_dict({"steps": [{"step": "clip", "params": {"lower": 0.9, "upper": 0.1}}]})
    with pytest.raises(InvalidRequest) as info:
        UserRecipe.from_dict({"extends": "default", "steps": [
            {"step": "scale"},
            {"step": "encode", "columns": ["x"], "params": {"method": "count",
                                                            "normalize": "yes"}}]})
    assert info.value.message == ("Recipe step 2 ('encode'): parameter 'normalize' must be "
                                  "true or false; got 'yes'.")
    with pytest.raises(InvalidRequest, match="columns of recipe step 'scale' must be a list"):
        StepSpec.from_dict({"step": "scale", "columns": ["a\x00"]})


def test_the_default_recipe_and_the_automl_variants_construct() -> None:
    df = pd.DataFrame({"n": np.arange(60.0), "c": list("abc") * 20, "y": [0, 1] * 30,
                       "d": pd.date_range("2024-01-01", periods=60).astype(str),
                       "t": [f"some words {i} here and there" for i in range(60)]})
    for scale in (True, False):
        for spec in default_recipe(df, "y", scale=scale, categorical="native")[0].steps:
            spec.build()
    schema = [{"name": "n", "semantic_type": "numeric", "distinct": 60},
              {"name": "c", "semantic_type": "categorical", "distinct": 40},
              {"name": "t", "semantic_type": "text", "distinct": 60}]
    variants = recipe_variants(schema, "y", log_target=True, rows=1000)
    assert {"clipped", "splined", "binned", "encoded", "text", "log"} <= set(variants)
    for variant in variants.values():
        for spec in UserRecipe.from_dict(variant).steps:
            spec.build()


def test_a_fitted_recipe_with_values_checked_less_before_still_loads() -> None:
    """A bundle fitted when values were checked at fit (or not at all) loads and runs."""
    df = pd.DataFrame({"x": ["a", "b", "a", "c"] * 5, "n": [1.0, None, 3.0, 4.0] * 5})
    fitted = Recipe.from_dict({"steps": [
        {"step": "impute", "columns": ["n"]}, {"step": "categorical", "params": {
            "min_count": 1}}]}).fit(df)
    doc = fitted.to_dict()
    # What the old fit took: int() of a float, truthiness of a number.
    doc["steps"][0]["params"] = {"indicator": 1, "seed": 0.0}
    doc["steps"][1]["params"] = {"min_count": 1.0, "max_categories": True}
    loaded = FittedRecipe.from_dict(doc)
    pd.testing.assert_frame_equal(loaded.transform(df), fitted.transform(df))
    assert loaded.lineage() == fitted.lineage()


def test_a_word_to_fill_a_numeric_column_is_a_clear_error_at_fit() -> None:
    # The value is fine for label columns; only the data says this column holds numbers.
    recipe = Recipe.from_dict({"steps": [{"step": "impute", "params": {
        "strategy": "constant", "fill_value": "unknown"}}]})
    with pytest.raises(InvalidRequest, match="Column 'n' holds numbers; impute it with a "
                                             "numeric fill_value, not 'unknown'"):
        recipe.fit(pd.DataFrame({"n": [1.0, None, 3.0]}))


def test_a_whole_number_float_is_taken_as_the_integer() -> None:
    """JSON writers send 5.0 for 5 (a hyperparameter takes it too); the step gets the int."""
    from shipyard.features._steps import make_step

    step = make_step("bin", None, {"n_bins": 5.0})
    assert step.params["n_bins"] == 5 and isinstance(step.params["n_bins"], int)
    tfidf = make_step("tfidf", None, {"max_features": 300.0})
    assert tfidf.params["max_features"] == 300 and isinstance(tfidf.params["max_features"], int)
