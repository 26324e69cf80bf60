"""Feature lineage: every feature names the raw columns it is computed from, and only those."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shipyard.features import STEPS, FittedRecipe, Recipe
from shipyard.training._recipes import fit_recipe

from .test_round_trip import CASES, houses  # noqa: F401 - the fixture the cases name

#: Extra cases for the lineage of step variants the round-trip cases do not reach.
VARIANTS: dict[str, tuple[str, str | None, list[dict]]] = {
    "encode-onehot": ("penguins", "species", [
        {"step": "encode", "columns": ["island"], "params": {"method": "onehot"}},
        {"step": "impute"}, {"step": "categorical"}]),
    "elapsed-reference-column": ("chicago", "ridership", [
        {"step": "expression", "params": {"name": "later", "expression": "date"}},
        {"step": "elapsed_days", "columns": ["date"],
         "params": {"reference_column": "later"}},
        {"step": "drop", "columns": ["later"]}]),
    "constant-expression": ("penguins", "species", [
        {"step": "expression", "params": {"name": "one", "expression": "bill_length_mm * 0"}},
        {"step": "impute"}, {"step": "categorical"}]),
}


def _fit(request: pytest.FixtureRequest, case: tuple[str, str | None, list[dict]],
         ) -> tuple[pd.DataFrame, FittedRecipe]:
    table, target, steps = case
    df = request.getfixturevalue(table)
    return df, Recipe.from_dict({"steps": steps}).fit(df, target)


def _check_covers(fitted: FittedRecipe) -> dict[str, list[str]]:
    lineage = fitted.lineage()
    raw = {e["name"] for e in fitted.input_signature}
    assert list(lineage) == fitted.feature_names
    for feature, sources in lineage.items():
        assert sources, f"{feature} maps to no raw column"
        assert set(sources) <= raw
    return lineage


def _check_true(df: pd.DataFrame, fitted: FittedRecipe, lineage: dict[str, list[str]]) -> None:
    """Changing one raw column changes only the features that name it.

    But KNN imputation: a gap it fills is computed from the other columns, and the
    lineage keeps it the column's own (documented on ``Impute.lineage``).
    """
    exempt = {c for _, state in fitted.steps if state.get("strategy") == "knn"
              for c in state["knn"]["columns"]}
    rows = df.sample(60, random_state=0).reset_index(drop=True)
    before = fitted.transform(rows)
    for e in fitted.input_signature:
        col = e["name"]
        if col == fitted.target:
            continue
        moved = rows.assign(**{col: np.roll(rows[col].to_numpy(), 7)})
        after = fitted.transform(moved)
        for f in fitted.feature_names:
            if col not in lineage[f] and f not in fitted.categorical_features \
                    and f not in fitted.text_features and f not in exempt:
                a, b = before[f].to_numpy(dtype="float64"), after[f].to_numpy(dtype="float64")
                assert np.allclose(a, b, equal_nan=True), f"{f} moved with {col}"


@pytest.mark.parametrize("step", sorted(STEPS))
def test_every_step_kind_maps_every_feature_to_its_raw_columns(
        step: str, request: pytest.FixtureRequest) -> None:
    df, fitted = _fit(request, CASES[step])
    lineage = _check_covers(fitted)
    if step not in ("balance",):  # its transform is the identity; nothing else to learn
        _check_true(df, fitted, lineage)


@pytest.mark.parametrize("variant", sorted(VARIANTS))
def test_step_variants(variant: str, request: pytest.FixtureRequest) -> None:
    df, fitted = _fit(request, VARIANTS[variant])
    lineage = fitted.lineage()
    if variant == "constant-expression":
        assert lineage["one"] == ["bill_length_mm"]
        return
    _check_covers(fitted)
    _check_true(df, fitted, lineage)
    if variant == "elapsed-reference-column":
        assert lineage["date.elapsed_days"] == ["date"]


def test_renamed_and_made_columns_name_their_sources(request: pytest.FixtureRequest) -> None:
    _, fitted = _fit(request, CASES["expression"])
    lineage = fitted.lineage()
    assert lineage["per_month"] == ["tenure", "total_charges"]
    assert lineage["fiber"] == ["internet_service"]
    assert lineage["contract=Month-to-month"] == ["contract"]

    _, fitted = _fit(request, CASES["encode"])  # multiclass target encoding: one per class
    lineage = fitted.lineage()
    assert {f for f, s in lineage.items() if s == ["island"]} == {
        "island.target=Adelie", "island.target=Chinstrap", "island.target=Gentoo"}

    _, fitted = _fit(request, CASES["impute"])
    lineage = fitted.lineage()
    assert lineage["Lot.Frontage__missing"] == ["Lot.Frontage"]
    assert lineage["Alley__missing"] == ["Alley"]

    _, fitted = _fit(request, CASES["datetime_parts"])
    assert fitted.lineage()["date.month"] == ["date"]
    _, fitted = _fit(request, CASES["tfidf"])
    assert all(s == ["review"] for f, s in fitted.lineage().items() if ".tfidf." in f)


def test_lineage_survives_the_json_round_trip(request: pytest.FixtureRequest) -> None:
    _, fitted = _fit(request, CASES["bin"])
    again = FittedRecipe.from_dict(fitted.to_dict())
    assert again.lineage() == fitted.lineage()
    assert fitted.lineage()["Year.Built=[1950, 1980)"] == ["Year.Built"]


@pytest.mark.parametrize("table,target", [("churn", "churn"), ("ames", "price")])
@pytest.mark.parametrize("algorithm", ["xgboost", "lightgbm", "catboost", "linear",
                                       "random-forest", "knn", "kmeans", "pca",
                                       "isolation-forest"])
def test_default_training_recipes(table: str, target: str, algorithm: str,
                                  request: pytest.FixtureRequest) -> None:
    df = request.getfixturevalue(table)
    supervised = algorithm not in ("kmeans", "pca", "isolation-forest")
    fitted, _ = fit_recipe(None, algorithm, df if supervised else df.drop(columns=target),
                           target if supervised else None, [])
    lineage = _check_covers(fitted)
    assert "customer_id" not in {c for s in lineage.values() for c in s}
