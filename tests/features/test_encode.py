"""The encode step: one-hot with rare grouping, ordinal codes, cross-fitted target encoding,
counts."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidRequest
from shipyard.features import MISSING, OTHER, Recipe


def _fit_transform(df: pd.DataFrame, target: str | None, *steps: dict):
    return Recipe.from_dict({"steps": list(steps)}).fit_transform(df, target)


def _state(fitted, name: str = "encode") -> dict:
    return next(state for spec, state in fitted.steps if spec.step == name)


def test_onehot_groups_rare_labels_like_the_categorical_step(ames: pd.DataFrame) -> None:
    df = ames[["Neighborhood", "MS.Zoning", "price"]]
    params = {"max_categories": 8, "min_count": 30}
    encode, _ = _fit_transform(df, "price", {"step": "encode",
                                            "params": {"method": "onehot", **params}})
    categorical, _ = _fit_transform(df, "price", {"step": "categorical", "params": params})
    pd.testing.assert_frame_equal(encode.transform(df), categorical.transform(df))
    assert f"Neighborhood={OTHER}" in encode.feature_names
    assert len([c for c in encode.feature_names if c.startswith("Neighborhood=")]) == 9
    sig = {e["name"]: e for e in encode.input_signature}
    assert sig["Neighborhood"]["semantic_type"] == "categorical"


def test_ordinal_uses_the_given_order_and_a_code_for_unknown(penguins: pd.DataFrame) -> None:
    order = {"island": ["Torgersen", "Biscoe", "Dream"]}
    fitted, _ = _fit_transform(penguins, "species", {
        "step": "encode", "columns": ["island", "sex"],
        "params": {"method": "ordinal", "order": order, "unknown_value": -5}}, {"step": "impute"})
    rows = pd.DataFrame({"island": ["Dream", "Torgersen", "Atlantis", None],
                         "sex": ["male", "female", None, "female"]})
    X = fitted.transform(rows)
    assert X["island"].tolist() == [2.0, 0.0, -5.0, -5.0]
    assert X["sex"].tolist() == [1.0, 0.0, -5.0, 0.0]  # sorted when not given


def test_count_encoding_is_the_labels_count_in_the_training_rows(ames: pd.DataFrame) -> None:
    df = ames[["Neighborhood", "Alley", "price"]]
    fitted, X = _fit_transform(df, None, {"step": "encode", "columns": ["Neighborhood", "Alley"],
                                          "params": {"method": "count"}})
    counts = df["Neighborhood"].value_counts()
    assert X["Neighborhood.count"].tolist() == df["Neighborhood"].map(counts).astype(float).tolist()
    assert "Neighborhood" not in X.columns and "price" in X.columns
    missing = int(df["Alley"].isna().sum())
    assert missing > 0 and X.loc[df["Alley"].isna(), "Alley.count"].eq(missing).all()
    rows = pd.DataFrame({"Neighborhood": ["NAmes", "Atlantis"], "Alley": [None, "Pave"],
                         "price": [1.0, 2.0]})
    out = fitted.transform(rows)
    assert out["Neighborhood.count"].tolist() == [float(counts["NAmes"]), 0.0]  # unseen: 0
    assert out["Alley.count"].tolist() == [float(missing), float((df["Alley"] == "Pave").sum())]
    assert fitted.lineage()["Neighborhood.count"] == ["Neighborhood"]
    share, X = _fit_transform(df[["Neighborhood"]], None, {
        "step": "encode", "params": {"method": "count", "normalize": True}})
    assert X["Neighborhood.count"].sum() == pytest.approx(counts.pow(2).sum() / len(df))
    with pytest.raises(InvalidRequest, match="normalize"):
        _fit_transform(df[["Neighborhood"]], None, {
            "step": "encode", "params": {"method": "count", "normalize": "yes"}})


def test_target_encoding_is_the_smoothed_class_rate(churn: pd.DataFrame) -> None:
    m = 20.0
    fitted, _ = _fit_transform(churn, "churn", {"step": "drop", "columns": ["customer_id"]},
                               {"step": "encode", "columns": ["payment_method"],
                                "params": {"method": "target", "smoothing": m}},
                               {"step": "impute"}, {"step": "categorical"})
    state = _state(fitted)
    y = (churn["churn"] == "Yes").astype(float)
    prior = y.mean()
    assert state["classes"] == ["Yes"] and state["prior"] == pytest.approx([prior])
    groups = y.groupby(churn["payment_method"]).agg(["sum", "count"])
    for label, row in groups.iterrows():
        want = (row["sum"] + m * prior) / (row["count"] + m)
        assert state["columns"]["payment_method"]["mapping"][label] == pytest.approx([want])
    X = fitted.transform(churn.head(3).assign(payment_method=["Bitcoin", None,
                                                              churn["payment_method"][2]]))
    mapping = state["columns"]["payment_method"]["mapping"]
    assert X["payment_method.target"].tolist() == pytest.approx(
        [prior, prior, mapping[churn["payment_method"][2]][0]])


def test_training_rows_are_encoded_out_of_fold(churn: pd.DataFrame) -> None:
    # An identifier is unique per row: encoded with all rows it would spell the target out.
    steps = ({"step": "encode", "columns": ["customer_id"],
              "params": {"method": "target", "smoothing": 1.0, "folds": 5}},
             {"step": "drop", "columns": [c for c in churn.columns
                                          if c not in ("customer_id", "churn")]})
    fitted, rows = _fit_transform(churn, "churn", *steps)
    y = (churn["churn"] == "Yes").astype(float)
    full = fitted.transform(churn)["customer_id.target"]
    oof = rows["customer_id.target"]
    assert np.corrcoef(full, y)[0, 1] > 0.99  # the leak cross-fitting avoids
    assert abs(np.corrcoef(oof, y)[0, 1]) < 0.1
    assert rows["churn"].tolist() == churn["churn"].tolist()
    # Out of fold, every identifier is unseen: each row gets the prior of the other folds.
    assert oof.nunique() == 5
    assert oof.between(y.mean() - 0.02, y.mean() + 0.02).all()


def test_multiclass_target_encoding_gives_a_column_per_class(penguins: pd.DataFrame) -> None:
    fitted, rows = _fit_transform(penguins, "species", {
        "step": "encode", "columns": ["island"], "params": {"method": "target"}},
        {"step": "drop", "columns": ["sex"]}, {"step": "impute"})
    names = [f"island.target={c}" for c in ("Adelie", "Chinstrap", "Gentoo")]
    assert set(names) <= set(fitted.feature_names)
    X = fitted.transform(penguins)
    np.testing.assert_allclose(X[names].sum(axis=1), 1.0)
    np.testing.assert_allclose(rows[names].sum(axis=1), 1.0)
    dream = X.loc[penguins["island"] == "Dream", "island.target=Gentoo"]
    assert dream.max() < 0.1  # no Gentoo on Dream island: only the smoothing's share


def test_regression_target_encoding_and_missing_labels(ames: pd.DataFrame) -> None:
    df = ames[["Alley", "price"]]
    fitted, _ = _fit_transform(df, "price", {"step": "encode",
                                            "params": {"method": "target", "smoothing": 0}})
    state = _state(fitted)
    assert state["task"] == "regression" and state["classes"] is None
    mapping = state["columns"]["Alley"]["mapping"]
    assert mapping[MISSING] == pytest.approx([df.loc[df["Alley"].isna(), "price"].mean()])
    assert mapping["Pave"] == pytest.approx([df.loc[df["Alley"] == "Pave", "price"].mean()])


def test_target_encoding_needs_a_target(penguins: pd.DataFrame) -> None:
    with pytest.raises(InvalidRequest, match="Target encoding needs the target column"):
        _fit_transform(penguins.drop(columns="species"), None,
                       {"step": "encode", "params": {"method": "target"}})
    with pytest.raises(InvalidRequest, match="'encode': parameter 'method' must be one of"):
        _fit_transform(penguins, "species", {"step": "encode", "params": {"method": "hash"}})
