"""bin, spline, clip and log against pandas/NumPy/scikit-learn on real columns."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidRequest
from shipyard.features import Recipe
from shipyard.features._numeric import bin_labels


def _fitted(df: pd.DataFrame, target: str, *steps: dict):
    return Recipe.from_dict({"steps": list(steps)}).fit(df, target)


def _state(fitted, name: str) -> dict:
    return next(state for spec, state in fitted.steps if spec.step == name)


def test_quantile_bins_equal_pandas_qcut(ames: pd.DataFrame) -> None:
    df = ames[["Lot.Area", "Lot.Frontage", "price"]]
    fitted = _fitted(df, "price", {"step": "bin", "params": {"n_bins": 5}})
    X = fitted.transform(df)
    want = pd.qcut(df["Lot.Area"], 5, labels=False)
    # qcut's bins are (a, b], ours [a, b): they differ only on values equal to an edge.
    edges = _state(fitted, "bin")["columns"]["Lot.Area"]["edges"]
    off_edge = ~df["Lot.Area"].isin(edges)
    assert (X.loc[off_edge, "Lot.Area"] == want[off_edge]).all()
    assert X["Lot.Area"].value_counts().between(560, 610).all()  # ~a fifth of rows each
    assert X["Lot.Frontage"].isna().sum() == df["Lot.Frontage"].isna().sum()


def test_fixed_edges_make_readable_age_groups(ames: pd.DataFrame) -> None:
    df = ames[["Year.Built", "price"]].assign(age=2010 - ames["Year.Built"]).drop(
        columns="Year.Built")
    fitted = _fitted(df, "price", {"step": "bin", "columns": ["age"], "params": {
        "method": "edges", "edges": [10, 30, 60], "output": "onehot"}})
    assert fitted.feature_names == ["age=<10", "age=[10, 30)", "age=[30, 60)", "age=>=60"]
    X = fitted.transform(pd.DataFrame({"age": [0, 10, 29.9, 30, 75, None]}))
    assert X.to_numpy().tolist() == [[1, 0, 0, 0], [0, 1, 0, 0], [0, 1, 0, 0], [0, 0, 1, 0],
                                     [0, 0, 0, 1], [0, 0, 0, 0]]
    assert bin_labels([18.5]) == ["<18.5", ">=18.5"]
    with pytest.raises(InvalidRequest, match="strictly increasing"):
        _fitted(df, "price", {"step": "bin", "params": {"method": "edges", "edges": [3, 1]}})


@pytest.mark.parametrize(("params", "low", "high"), [
    ({}, 0.01, 0.99), ({"lower": 0.05, "upper": None}, 0.05, None)])
def test_clip_to_training_quantiles(ames: pd.DataFrame, params: dict, low: float,
                                    high: float | None) -> None:
    df = ames[["Lot.Area", "price"]]
    fitted = _fitted(df, "price", {"step": "clip", "params": params})
    got = fitted.transform(df)["Lot.Area"]
    lo = df["Lot.Area"].quantile(low)
    hi = df["Lot.Area"].quantile(high) if high is not None else None
    pd.testing.assert_series_equal(got, df["Lot.Area"].clip(lo, hi).astype(float),
                                   check_names=False)
    assert got.max() < df["Lot.Area"].max() if high else got.max() == df["Lot.Area"].max()


def test_clip_by_tukey_fences_and_by_values(ames: pd.DataFrame) -> None:
    df = ames[["area", "price"]]
    q1, q3 = df["area"].quantile([0.25, 0.75])
    fitted = _fitted(df, "price", {"step": "clip", "params": {"method": "iqr", "factor": 1.5}})
    assert _state(fitted, "clip")["columns"]["area"] == pytest.approx(
        [q1 - 1.5 * (q3 - q1), q3 + 1.5 * (q3 - q1)])
    values = _fitted(df, "price", {"step": "clip", "params": {"method": "values",
                                                               "lower": 500, "upper": 3000}})
    X = values.transform(pd.DataFrame({"area": [100, 1500, 9000, None]}))
    assert X["area"].tolist()[:3] == [500, 1500, 3000] and np.isnan(X["area"].iloc[3])
    with pytest.raises(InvalidRequest, match="for fixed bounds use method 'values'"):
        _fitted(df, "price", {"step": "clip", "params": {"lower": 500, "upper": 3000}})


def test_log_of_skewed_columns(ames: pd.DataFrame) -> None:
    df = ames[["Lot.Area", "Mas.Vnr.Area", "price"]]
    fitted = _fitted(df, "price", {"step": "log"})
    X = fitted.transform(df)
    np.testing.assert_allclose(X["Lot.Area"], np.log1p(df["Lot.Area"]))
    assert abs(X["Lot.Area"].skew()) < abs(df["Lot.Area"].skew()) / 5
    shifted = _fitted(pd.DataFrame({"x": [-3.0, 0.0, 5.0], "y": [1, 2, 3]}), "y",
                      {"step": "log", "params": {"offset": "auto"}})
    assert _state(shifted, "log")["columns"]["x"] == 4.0
    out = shifted.transform(pd.DataFrame({"x": [-3.0, -10.0, 5.0]}))["x"]
    assert out.iloc[0] == 0.0 and np.isnan(out.iloc[1]) and out.iloc[2] == pytest.approx(
        np.log(9))
    with pytest.raises(InvalidRequest,
                       match="'log': parameter 'offset' must be 'auto' or a finite number"):
        _fitted(df, "price", {"step": "log", "params": {"offset": "big"}})


def test_splines_equal_scikit_learns_and_keep_missing_values_missing(
        ames: pd.DataFrame) -> None:
    from sklearn.preprocessing import SplineTransformer

    df = ames[["Lot.Area", "Lot.Frontage", "price"]]
    fitted = _fitted(df, "price", {"step": "spline", "columns": ["Lot.Area", "Lot.Frontage"]})
    X = fitted.transform(df)
    basis = [f"Lot.Area.spline{i}" for i in range(7)]  # 5 knots + degree 3 - 1
    assert fitted.feature_names == ["Lot.Area", "Lot.Frontage", *basis,
                                    *(f"Lot.Frontage.spline{i}" for i in range(7))]
    assert X["Lot.Area"].equals(df["Lot.Area"].astype("float64"))  # the column is kept
    area = df[["Lot.Area"]].astype("float64")
    knots = np.quantile(area, np.linspace(0, 1, 5)).reshape(-1, 1)
    want = SplineTransformer(n_knots=5, degree=3, knots=knots).fit(area).transform(area)
    np.testing.assert_allclose(X[basis].to_numpy(), want, atol=1e-12)
    missing = df["Lot.Frontage"].isna()
    assert missing.any() and X.loc[missing, "Lot.Frontage.spline0"].isna().all()
    assert X.loc[~missing, [f"Lot.Frontage.spline{i}" for i in range(7)]].sum(
        axis=1).round(12).eq(1).all()  # a B-spline basis sums to one
    # Past the training range: the basis at the nearest end (no polynomial runs off).
    far = fitted.transform(pd.DataFrame({"Lot.Area": [-1e9, 1e9], "Lot.Frontage": [1, 2]}))
    ends = fitted.transform(pd.DataFrame({"Lot.Area": [area.min().iloc[0], area.max().iloc[0]],
                                          "Lot.Frontage": [1, 2]}))
    np.testing.assert_allclose(far[basis].to_numpy(), ends[basis].to_numpy())
    assert fitted.lineage()["Lot.Area.spline3"] == ["Lot.Area"]


def test_a_constant_column_gets_no_splines_and_bad_settings_are_named(
        ames: pd.DataFrame) -> None:
    df = ames[["Lot.Area", "price"]].assign(one=1.0)
    fitted = _fitted(df, "price", {"step": "spline"})
    assert "one" in fitted.feature_names and "one.spline0" not in fitted.feature_names
    assert "Lot.Area.spline0" in fitted.feature_names
    for params, words in [({"n_knots": 1}, "'n_knots' must be a whole number from 2 to 50"),
                          ({"degree": 0}, "'degree' must be a whole number from 1 to 5"),
                          ({"degree": 2.5}, "'degree' must be a whole number"),
                          ({"knots": 5}, "has no parameter 'knots'")]:
        with pytest.raises(InvalidRequest, match=words):
            _fitted(df, "price", {"step": "spline", "params": params})
