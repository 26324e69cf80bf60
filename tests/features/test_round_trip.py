"""Every registered step: fitted state → JSON text → back → the same transform, exactly."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from shipyard.features import STEPS, FittedRecipe, Recipe

#: step name → (table fixture, target, the recipe that exercises it). Every registered
#: step must have a case here: a new step without a JSON round trip fails this module.
CASES: dict[str, tuple[str, str | None, list[dict]]] = {
    "drop": ("penguins", "species", [
        {"step": "drop", "columns": ["island", "sex"]}]),
    "datetime_parts": ("chicago", "ridership", [
        {"step": "datetime_parts", "columns": ["date"]}]),
    "boolean": ("churn", "churn", [
        {"step": "drop", "columns": ["customer_id"]},
        {"step": "boolean", "columns": ["partner", "paperless_billing"]},
        {"step": "categorical"}]),
    "impute": ("houses", "price", [
        {"step": "impute", "params": {"strategy": "knn", "n_neighbors": 3,
                                      "max_reference_rows": 400}},
        {"step": "impute", "columns": ["Garage.Type", "Alley"],
         "params": {"strategy": "most_frequent"}},
        {"step": "categorical"}]),
    "scale": ("houses", "price", [
        {"step": "scale", "columns": ["Lot.Area", "area"], "params": {"method": "robust"}},
        {"step": "scale", "columns": ["Year.Built"], "params": {"method": "minmax"}},
        {"step": "scale", "params": {"method": "standard"}},
        {"step": "impute"}, {"step": "categorical"}]),
    "categorical": ("penguins", "species", [
        {"step": "categorical", "params": {"encoding": "native"}}]),
    "encode": ("penguins", "species", [
        {"step": "encode", "columns": ["island"], "params": {"method": "target"}},
        {"step": "encode", "columns": ["sex"],
         "params": {"method": "ordinal", "order": {"sex": ["female", "male"]}}},
        {"step": "encode", "columns": ["year"], "params": {"method": "count",
                                                          "normalize": True}},
        {"step": "impute"}]),
    "bin": ("houses", "price", [
        {"step": "bin", "columns": ["Year.Built"],
         "params": {"method": "edges", "edges": [1900, 1950, 1980, 2000], "output": "onehot"}},
        {"step": "bin", "columns": ["Lot.Area", "Lot.Frontage"], "params": {"n_bins": 4}},
        {"step": "impute"}, {"step": "categorical"}]),
    "spline": ("houses", "price", [
        {"step": "spline", "columns": ["Lot.Area", "Lot.Frontage"]},
        {"step": "spline", "columns": ["area"], "params": {"n_knots": 4, "degree": 2}},
        {"step": "impute"}, {"step": "categorical"}]),
    "elapsed_days": ("chicago", "ridership", [
        {"step": "elapsed_days", "columns": ["date"]}]),
    "expression": ("churn", "churn", [
        {"step": "drop", "columns": ["customer_id"]},
        {"step": "expression", "params": {"name": "per_month",
                                          "expression": "total_charges / max(tenure, 1)"}},
        {"step": "expression", "params": {
            "name": "fiber", "expression": "where(lower(internet_service) == 'fiber optic', "
                                           "1, 0)"}},
        {"step": "categorical"}]),
    "clip": ("houses", "price", [
        {"step": "clip", "columns": ["Lot.Area"], "params": {"method": "iqr"}},
        {"step": "clip", "columns": ["area"]},
        {"step": "clip", "columns": ["Year.Built"],
         "params": {"method": "values", "lower": 1900, "upper": None}},
        {"step": "impute"}, {"step": "categorical"}]),
    "log": ("houses", "price", [
        {"step": "log", "columns": ["Lot.Area", "Mas.Vnr.Area"]},
        {"step": "log", "columns": ["area"], "params": {"offset": "auto"}},
        {"step": "impute"}, {"step": "categorical"}]),
    "tfidf": ("reviews", "score", [
        {"step": "drop", "columns": ["product"]},
        {"step": "tfidf", "columns": ["review"],
         "params": {"max_features": 40, "ngram_range": [1, 2], "stop_words": "english",
                    "sublinear_tf": True}}]),
    "raw_text": ("reviews", "score", [
        {"step": "drop", "columns": ["product"]},
        {"step": "raw_text", "columns": ["review"]}]),
    "balance": ("penguins", "species", [
        {"step": "impute"}, {"step": "categorical"},
        {"step": "balance", "params": {"method": "smote", "k_neighbors": 3}}]),
    "select": ("houses", "price", [
        {"step": "impute"}, {"step": "categorical"},
        {"step": "select", "params": {"method": "correlation", "threshold": 0.8}},
        {"step": "select", "params": {"method": "variance", "threshold": 0.01}}]),
}


@pytest.fixture(scope="module")
def houses(ames: pd.DataFrame) -> pd.DataFrame:
    """Ames without its row ids, with a few of its 43 label columns (keeps the module quick)."""
    numeric = ames.select_dtypes("number").drop(columns=["Order", "PID"])
    return pd.concat([numeric, ames[["Neighborhood", "Garage.Type", "Alley"]]], axis=1)


def test_every_registered_step_has_a_round_trip_case() -> None:
    assert set(CASES) == set(STEPS)


@pytest.mark.parametrize("name", sorted(CASES))
def test_json_round_trip_gives_identical_transforms(name: str,
                                                    request: pytest.FixtureRequest) -> None:
    table, target, steps = CASES[name]
    df: pd.DataFrame = request.getfixturevalue(table)
    recipe = Recipe.from_dict(json.loads(json.dumps({"steps": steps})))
    assert Recipe.from_dict(json.loads(json.dumps(recipe.to_dict()))) == recipe
    fitted = recipe.fit(df, target)
    assert any(spec.step == name for spec, _ in fitted.steps)
    text = json.dumps(fitted.to_dict(), allow_nan=False)  # plain JSON: no NaN, no objects
    again = FittedRecipe.from_dict(json.loads(text))
    assert again.to_dict() == fitted.to_dict()
    expected = fitted.transform(df)
    pd.testing.assert_frame_equal(again.transform(df), expected, check_exact=True)
    assert list(expected.columns) == fitted.feature_names
    # New rows without the target, in another order, transform the same way row by row.
    rows = df.drop(columns=[target] if target else []).sample(25, random_state=3)
    pd.testing.assert_frame_equal(
        again.transform(rows), expected.iloc[rows.index].reset_index(drop=True),
        check_exact=name not in ("impute",))
