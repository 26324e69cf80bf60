"""The default recipe and the fitted recipe on real tables: what is dropped, kept, and how."""

from __future__ import annotations

import json
import warnings

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidRequest
from shipyard.features import (
    MISSING,
    OTHER,
    STEPS,
    FittedRecipe,
    Recipe,
    StepSpec,
    default_recipe,
)


def _round_trip(fitted: FittedRecipe) -> FittedRecipe:
    return FittedRecipe.from_dict(json.loads(json.dumps(fitted.to_dict(), allow_nan=False)))


def test_default_recipe_on_churn_drops_the_identifier_with_a_note(churn: pd.DataFrame) -> None:
    recipe, notes = default_recipe(churn, "churn", scale=False)
    assert f"dropped customer_id: identifier-like ({len(churn)} distinct of {len(churn)})" in notes
    fitted = recipe.fit(churn, "churn")
    assert "customer_id" not in fitted.feature_names
    assert "churn" not in fitted.feature_names
    sig = {e["name"]: e for e in fitted.input_signature}
    assert sig["customer_id"]["required"] is False
    assert sig["customer_id"]["semantic_type"] == "identifier"
    assert sig["tenure"] == {"name": "tenure", "dtype": "int64", "semantic_type": "numeric",
                             "categories": None, "required": True,
                             "typical": float(churn["tenure"].median())}
    # The typical values an endpoint explains against: aggregates, never a row's own.
    assert sig["contract"]["typical"] == churn["contract"].mode()[0]
    assert sig["customer_id"]["typical"] is None
    assert sig["contract"]["categories"] == ["Month-to-month", "One year", "Two year"]
    assert "churn" not in sig


def test_total_charges_missing_is_imputed_with_an_indicator(churn: pd.DataFrame) -> None:
    recipe, notes = default_recipe(churn, "churn", scale=False)
    assert any(n.startswith("total_charges: 11 missing values imputed") for n in notes)
    X = recipe.fit(churn, "churn").transform(churn)
    assert not X.isna().any().any()
    assert X["total_charges__missing"].sum() == 11
    gaps = churn["total_charges"].isna().to_numpy()
    assert (X.loc[gaps, "total_charges"] == churn["total_charges"].median()).all()
    assert (X.dtypes == "float64").all()


def test_fitted_recipe_json_round_trip_gives_identical_transforms(ames: pd.DataFrame) -> None:
    for categorical, scale in (("onehot", True), ("native", False)):
        recipe, _ = default_recipe(ames, "price", scale=scale, categorical=categorical)
        assert Recipe.from_dict(json.loads(json.dumps(recipe.to_dict()))) == recipe
        fitted = recipe.fit(ames, "price")
        again = _round_trip(fitted)
        assert again.to_dict() == fitted.to_dict()
        pd.testing.assert_frame_equal(fitted.transform(ames), again.transform(ames))


def test_unseen_and_missing_categories_do_not_crash(churn: pd.DataFrame) -> None:
    for encoding in ("onehot", "native"):
        recipe, _ = default_recipe(churn, "churn", scale=False, categorical=encoding)
        fitted = _round_trip(recipe.fit(churn, "churn"))
        rows = churn.head(3).copy()
        rows["contract"] = pd.Series(["Ten year", None, "One year"], dtype="object")
        rows["tenure"] = pd.Series([1, None, 3], dtype="object")
        X = fitted.transform(rows)
        assert list(X.columns) == fitted.feature_names
        if encoding == "native":
            assert list(X["contract"].astype(str)) == [OTHER, MISSING, "One year"]
        else:
            # No column was made for labels never seen in training: the row is all zeros.
            assert X.loc[0, [c for c in X.columns if c.startswith("contract=")]].sum() == 0
            assert X.loc[2, "contract=One year"] == 1.0
        assert X.loc[1, "tenure"] == churn["tenure"].median()


def test_native_encoding_keeps_categories_with_fixed_levels(penguins: pd.DataFrame) -> None:
    recipe, _ = default_recipe(penguins, "species", scale=False, categorical="native")
    fitted = recipe.fit(penguins, "species")
    assert fitted.categorical_features == ["island", "sex"]
    X = fitted.transform(penguins.tail(5))
    assert list(X["sex"].cat.categories) == ["female", "male", OTHER, MISSING]


def test_rare_labels_are_grouped_as_other(ames: pd.DataFrame) -> None:
    recipe, notes = default_recipe(ames, "price", scale=False, max_categories=10)
    assert any(n.startswith("Neighborhood: 28 distinct labels; the 10 most frequent")
               for n in notes)
    fitted = recipe.fit(ames, "price")
    columns = [c for c in fitted.feature_names if c.startswith("Neighborhood=")]
    assert len(columns) == 11 and f"Neighborhood={OTHER}" in columns
    # A row number is an identifier, whatever its name.
    assert any(n.startswith("dropped Order: identifier-like") for n in notes)


def test_datetime_boolean_constant_and_text_columns() -> None:
    n = 60
    df = pd.DataFrame({
        "when": pd.date_range("2024-01-01", periods=n, freq="157h"),
        "day": pd.Series([f"2023-{1 + i % 12:02d}-{1 + i % 28:02d}" for i in range(n)],
                         dtype="str"),
        "active": [i % 3 == 0 for i in range(n)],
        "vip": pd.Series(["yes" if i % 4 else "no" for i in range(n)], dtype="str"),
        "country": pd.Series(["FR"] * n, dtype="str"),
        "review": pd.Series([f"customer {i} wrote a long review about the product number {i}"
                             for i in range(n)], dtype="str"),
        "y": np.arange(n) % 2,
    })
    recipe, notes = default_recipe(df, "y", scale=True)
    assert "dropped country: constant (one value in every row)" in notes
    # Free text is not dropped: it becomes TF-IDF features of its frequent words.
    assert any(n.startswith("review: free text, turned into TF-IDF features") for n in notes)
    fitted = recipe.fit(df, "y")
    X = fitted.transform(df)
    assert {"review.tfidf.customer", "review.tfidf.review"} <= set(X.columns)
    assert "review" not in X.columns
    assert {"when.year", "when.month", "when.day", "when.dayofweek", "when.hour",
            "day.month", "day.day", "day.dayofweek"} <= set(X.columns)
    assert "day.hour" not in X.columns  # plain dates: the hour never varies
    assert "when" not in X.columns and "country" not in X.columns
    raw = fitted.transform(df.head(4).assign(vip=["no", "YES", "maybe", None]))
    assert raw["vip"].notna().all()  # unknown and missing become the median
    assert abs(float(X["active"].mean())) < 1e-9  # scaled: mean 0


def test_user_recipe_runs_its_steps_in_order(penguins: pd.DataFrame) -> None:
    recipe = Recipe.from_dict({"steps": [
        {"step": "drop", "columns": ["year", "island"]},
        {"step": "impute", "params": {"strategy": "mean", "indicator": False}},
        {"step": "categorical", "columns": ["sex"], "params": {"encoding": "onehot"}},
    ]})
    fitted = recipe.fit(penguins, "species")
    assert fitted.feature_names == ["bill_length_mm", "bill_depth_mm", "flipper_length_mm",
                                    "body_mass_g", "sex=female", "sex=male", f"sex={MISSING}"]
    X = fitted.transform(penguins)
    assert X.loc[penguins["body_mass_g"].isna(), "body_mass_g"].eq(
        penguins["body_mass_g"].mean()).all()


@pytest.mark.parametrize("bad, words", [
    ({"steps": [{"step": "explode"}]}, "Unknown recipe step 'explode'"),
    ({"steps": [{"step": "impute", "params": {"strategy": "median", "k": 3}}]},
     "has no parameter 'k'"),
    ({"steps": [{"step": "drop", "columns": "year"}]}, "must be a list of names"),
    ({"stages": []}, "must be an object with a 'steps' list"),
])
def test_bad_recipes_are_refused_with_a_clear_message(bad: dict, words: str) -> None:
    with pytest.raises(InvalidRequest, match=words):
        Recipe.from_dict(bad)


def test_a_recipe_that_leaves_text_is_refused(penguins: pd.DataFrame) -> None:
    with pytest.raises(InvalidRequest, match="Column 'island' is still not numeric"):
        Recipe((StepSpec("impute"),)).fit(penguins, "species")


def test_steps_are_a_registry_of_json_declarations() -> None:
    assert {"drop", "datetime_parts", "boolean", "impute", "scale", "categorical"} <= set(STEPS)
    for cls in STEPS.values():
        json.dumps(dict(cls.defaults))
        assert cls.description


def test_typical_values_are_aggregates() -> None:
    from shipyard.features._recipe import typical_value

    assert typical_value(pd.Series([1, 2, 30, None]), "numeric") == 2.0  # the median
    assert typical_value(pd.Series(["a", "b", "b"]), "categorical") == "b"
    assert typical_value(pd.Series([True, False, True]), "boolean") is True
    # A date's median, not its mode (unique dates would give the first of them).
    assert typical_value(pd.Series(["2020-01-01", "2020-06-01", "2021-01-01"]),
                         "datetime") == "2020-06-01"
    assert typical_value(pd.Series([None, None], dtype=object), "categorical") is None


def test_the_typical_date_is_never_a_number() -> None:
    """An integer column declared a date gave '1970-01-01T00:00:00.000002+00:00' (2000 read
    as nanoseconds after 1970). A number is no date: it is left out, as the recipe's
    datetime steps read it as a missing value, and no date at all gives None."""
    from shipyard.features._recipe import typical_value

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert typical_value(pd.Series([1990, 2000, 2020]), "datetime") is None
        assert typical_value(pd.Series([1990.0, 2000.5]), "datetime") is None
        assert typical_value(pd.Series([2020, "2020-01-01", "2020-06-01", "2021-01-01", 1],
                                       dtype=object), "datetime") == "2020-06-01"
        assert typical_value(pd.Series(pd.to_datetime(["2020-01-01", "2020-06-01",
                                                       "2021-01-01"])),
                             "datetime") == "2020-06-01"
