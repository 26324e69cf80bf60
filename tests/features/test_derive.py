"""elapsed_days, expression and tfidf steps on real tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.feature_extraction.text import TfidfVectorizer

from shipyard.errors import InvalidRequest
from shipyard.features import Recipe


def _fitted(df: pd.DataFrame, target: str | None, *steps: dict):
    return Recipe.from_dict({"steps": list(steps)}).fit(df, target)


def _state(fitted, name: str) -> dict:
    return next(state for spec, state in fitted.steps if spec.step == name)


def test_elapsed_days_from_the_latest_training_date(chicago: pd.DataFrame) -> None:
    df = chicago[["date", "ridership"]]
    fitted = _fitted(df, "ridership", {"step": "elapsed_days", "columns": ["date"]})
    assert _state(fitted, "elapsed_days")["reference"] == "2016-08-28T00:00:00"
    assert fitted.feature_names == ["date.elapsed_days"]
    X = fitted.transform(pd.DataFrame({"date": ["2016-08-28", "2016-08-01", "2001-01-22",
                                                "not a date", None]}))
    assert X["date.elapsed_days"].tolist()[:3] == [0.0, 27.0, 5697.0]
    assert X["date.elapsed_days"].iloc[3:].isna().all()


def test_elapsed_days_to_a_given_date_or_column() -> None:
    accounts = pd.DataFrame({
        "created": ["2020-01-01", "2023-06-15T12:00:00", "2024-02-29"],
        "as_of": ["2020-01-31", "2024-06-15T00:00:00", None], "y": [0, 1, 0]})
    fixed = _fitted(accounts, "y", {"step": "elapsed_days", "columns": ["created"],
                                    "params": {"reference": "2024-03-01"}},
                    {"step": "drop", "columns": ["as_of"]})
    assert fixed.transform(accounts)["created.elapsed_days"].tolist() == [1521.0, 259.5, 1.0]
    by_column = _fitted(accounts, "y", {"step": "elapsed_days", "columns": ["created"],
                                        "params": {"reference_column": "as_of"}},
                        {"step": "drop", "columns": ["as_of"]})
    got = by_column.transform(accounts)["created.elapsed_days"]
    assert got.tolist()[:2] == [30.0, 365.5] and np.isnan(got.iloc[2])
    sig = {e["name"]: e for e in by_column.input_signature}
    assert sig["as_of"]["required"] is True  # dropped after use, but still needed
    now = _fitted(accounts, "y", {"step": "elapsed_days", "columns": ["created"],
                                  "params": {"reference": "now"}},
                  {"step": "drop", "columns": ["as_of"]})
    today = (pd.Timestamp.now() - pd.Timestamp("2020-01-01")) / pd.Timedelta(days=1)
    assert now.transform(accounts)["created.elapsed_days"].iloc[0] == pytest.approx(today,
                                                                                    abs=1)
    with pytest.raises(InvalidRequest, match="must be 'fit_max', 'now' or an ISO date"):
        _fitted(accounts, "y", {"step": "elapsed_days", "columns": ["created"],
                                "params": {"reference": "yesterday"}})


def test_expression_step_adds_a_column_and_needs_its_inputs(churn: pd.DataFrame) -> None:
    fitted = _fitted(churn, "churn",
                     {"step": "expression", "params": {
                         "name": "avg_charge", "expression": "total_charges / max(tenure, 1)"}},
                     {"step": "drop", "columns": ["customer_id", "total_charges"]},
                     {"step": "impute"}, {"step": "categorical"})
    X = fitted.transform(churn)
    want = (churn["total_charges"] / churn["tenure"].clip(lower=1)).fillna(
        (churn["total_charges"] / churn["tenure"].clip(lower=1)).median())
    np.testing.assert_allclose(X["avg_charge"], want)
    sig = {e["name"]: e for e in fitted.input_signature}
    assert sig["total_charges"]["required"] is True
    assert sig["customer_id"]["required"] is False


def test_bad_expressions_are_refused_when_the_recipe_is_read(churn: pd.DataFrame) -> None:
    with pytest.raises(InvalidRequest, match="Attribute is not allowed"):
        Recipe.from_dict({"steps": [{"step": "expression", "params": {
            "name": "x", "expression": "tenure.__class__"}}]})
    with pytest.raises(InvalidRequest, match="parameter 'name' must be a non-empty string"):
        Recipe.from_dict({"steps": [{"step": "expression", "params": {"expression": "1"}}]})
    with pytest.raises(InvalidRequest, match="reads column 'tenur'"):
        _fitted(churn, "churn", {"step": "expression",
                                 "params": {"name": "x", "expression": "tenur * 2"}})


def test_tfidf_equals_scikit_learn(reviews: pd.DataFrame) -> None:
    reviews = reviews.head(1500)
    params = {"max_features": 60, "ngram_range": [1, 2], "stop_words": "english",
              "sublinear_tf": True, "min_df": 2}
    fitted = _fitted(reviews, "score", {"step": "drop", "columns": ["product"]},
                     {"step": "tfidf", "columns": ["review"], "params": params})
    vectorizer = TfidfVectorizer(max_features=60, ngram_range=(1, 2), stop_words="english",
                                 sublinear_tf=True, min_df=2)
    want = vectorizer.fit_transform(reviews["review"]).toarray()
    terms = vectorizer.get_feature_names_out().tolist()
    assert fitted.feature_names == [f"review.tfidf.{t}" for t in terms]
    np.testing.assert_allclose(fitted.transform(reviews).to_numpy(), want, rtol=1e-12)
    assert "great" in terms and "the" not in terms  # a stop word
    new = fitted.transform(pd.DataFrame({"review": ["Great great coffee", None]}))
    assert new.loc[0, "review.tfidf.great"] > 0.5 and new.loc[1].eq(0).all()
    # No rows (a refit's empty validation split): the columns, no rows, no error.
    empty = fitted.transform(reviews.head(0))
    assert empty.shape == (0, 60) and list(empty.columns) == fitted.feature_names
