"""Feature selection: each method's drops, reasons and figures, and the select step."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_selection import mutual_info_regression

from shipyard.errors import InvalidRequest
from shipyard.features import Recipe, select_features


@pytest.fixture(scope="module")
def houses(ames: pd.DataFrame) -> pd.DataFrame:
    """Ames' numeric columns plus two made redundant on purpose and one constant."""
    numeric = ames.select_dtypes("number").drop(columns=["Order", "PID"])
    return numeric.assign(area_sqm=numeric["area"] * 0.0929,
                          lot_copy=numeric["Lot.Area"].where(numeric.index % 7 != 0),
                          one=1.0)


def test_variance_drops_constants_with_the_figure(houses: pd.DataFrame) -> None:
    result = select_features(houses, "price", "variance")
    assert [(d.column, d.value) for d in result.dropped] == [("one", 0.0)]
    assert result.dropped[0].reason == "variance 0 is at or below the threshold 0"
    assert "one" not in result.kept and "price" not in result.kept
    assert result.scores["area"] == pytest.approx(houses["area"].var(ddof=0))
    wide = select_features(houses, "price", "variance", threshold=1.0)
    assert {"one", "Bsmt.Half.Bath"} <= {d.column for d in wide.dropped}


def test_correlation_drops_the_weaker_of_a_pair_and_says_why(houses: pd.DataFrame) -> None:
    result = select_features(houses, "price", "correlation", threshold=0.95)
    dropped = {d.column: d for d in result.dropped}
    # area and area_sqm are the same figure: equal target association, equally complete.
    assert dropped["area_sqm"].reason.startswith("correlated with area (|r| = 1.000 > 0.95)")
    assert dropped["area_sqm"].reason.endswith("as complete; the later column goes")
    # The copy of Lot.Area with gaps is as associated with price: the one with gaps goes.
    assert "lot_copy" in dropped and "Lot.Area" in result.kept
    assert "it has more missing values (419 against 0)" in dropped["lot_copy"].reason
    assert dropped["lot_copy"].value > 0.95
    assert "area" in result.kept
    # A pair of real columns: the one less correlated with price is dropped.
    pair = select_features(houses[["TotRms.AbvGrd", "area", "price"]], "price",
                           "correlation", threshold=0.8)
    r_rooms = abs(houses["TotRms.AbvGrd"].corr(houses["price"]))
    r_area = abs(houses["area"].corr(houses["price"]))
    assert r_rooms < r_area - 0.1
    assert [d.column for d in pair.dropped] == ["TotRms.AbvGrd"]
    assert pair.dropped[0].reason == (
        f"correlated with area (|r| = {houses['area'].corr(houses['TotRms.AbvGrd']):.3f} > 0.8); "
        f"its target association |r| {r_rooms:.3f} is below area's {r_area:.3f}")


def test_mutual_information_keeps_the_top_k(houses: pd.DataFrame) -> None:
    result = select_features(houses, "price", "mutual_info", k=8, seed=0)
    assert len(result.kept) == 8 and len(result.dropped) == len(houses.columns) - 1 - 8
    X = houses.drop(columns="price")
    want = mutual_info_regression(X.fillna(X.median()), houses["price"], random_state=0)
    assert [result.scores[c] for c in X.columns] == pytest.approx(want.tolist())
    best = X.columns[np.argsort(-want)[:8]]
    assert set(result.kept) == set(best)
    assert "Overall.Qual" in result.kept
    assert all("only the top 8 are kept" in d.reason for d in result.dropped)


def test_model_importance_with_a_threshold(churn: pd.DataFrame) -> None:
    df = churn.drop(columns="customer_id")
    result = select_features(df, "churn", "importance", threshold=0.02)
    assert "tenure" in result.kept and "total_charges" in result.kept
    assert set(result.skipped) == {c for c in df.columns
                                   if df[c].dtype == object and c != "churn"}
    assert set(result.skipped) <= set(result.kept)  # labels are not judged, so kept
    for d in result.dropped:
        assert d.value <= 0.02 and d.reason.startswith(f"importance {d.value:.4g}")
    assert json.loads(json.dumps(result.to_dict()))["method"] == "importance"


def test_bad_requests_are_refused(houses: pd.DataFrame) -> None:
    with pytest.raises(InvalidRequest, match="Selection method must be one of"):
        select_features(houses, "price", "lasso")
    with pytest.raises(InvalidRequest, match="needs the target column"):
        select_features(houses, None, "mutual_info")
    with pytest.raises(InvalidRequest, match="uses a threshold, not k"):
        select_features(houses, "price", "correlation", k=3)
    with pytest.raises(InvalidRequest, match="not in the data"):
        select_features(houses, "cost", "variance")


def test_the_select_step_is_fitted_on_its_rows_and_drops_at_transform(
        houses: pd.DataFrame) -> None:
    recipe = Recipe.from_dict({"steps": [
        {"step": "impute", "params": {"indicator": False}},
        {"step": "select", "params": {"method": "correlation", "threshold": 0.95}}]})
    fitted = recipe.fit(houses, "price")
    state = next(s for spec, s in fitted.steps if spec.step == "select")
    assert "area_sqm" in state["dropped"] and "area_sqm" not in fitted.feature_names
    assert state["kept"] == fitted.feature_names
    assert state["dropped"]["area_sqm"]["reason"].startswith("correlated with area")
    assert list(fitted.transform(houses.head(3)).columns) == fitted.feature_names
