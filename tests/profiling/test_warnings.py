"""Warnings fire on real cases, rank by severity, and suggest valid recipe steps."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shipyard.features._recipe import StepSpec
from shipyard.features._steps import STEPS
from shipyard.profiling import Profile, ProfileWarning, profile

SUGGESTED_STEPS = {"drop", "impute", "log", "clip", "categorical"}


def _by(p: Profile, kind: str) -> dict[str, ProfileWarning]:
    return {w.columns[0]: w for w in p.warnings if w.kind == kind and w.columns}


def test_ames_high_cardinality_missing_and_identifiers(ames: pd.DataFrame,
                                                       ames_profile: Profile) -> None:
    card = _by(ames_profile, "high_cardinality")
    assert set(card) == {c for c in ames.select_dtypes("object") if ames[c].nunique() > 20}
    assert card["Neighborhood"].suggestion == {
        "step": "categorical", "columns": ["Neighborhood"],
        "params": {"max_categories": 20, "min_count": 30}}

    missing = _by(ames_profile, "missing")
    share = ames.isna().mean()
    assert set(missing) == set(share[share >= 0.05].index)
    assert {c for c, w in missing.items() if w.severity == "high"} == set(share[share >= 0.5].index)
    assert missing["Pool.QC"].suggestion == {"step": "drop", "columns": ["Pool.QC"], "params": {}}
    assert missing["Lot.Frontage"].suggestion["step"] == "impute"
    assert missing["Garage.Type"].suggestion["step"] == "categorical"

    rows = _by(ames_profile, "row_number")
    assert rows["Order"].severity == "high"  # the row number 1..n
    assert "1..2,930, unique" in rows["Order"].message
    assert ames_profile.column("Order").semantic_type == "row_number"
    ids = _by(ames_profile, "identifier")
    assert ids["PID"].severity == "medium"  # a unique parcel number
    near = _by(ames_profile, "near_constant")
    assert {"Utilities", "Street", "Pool.Area"} <= set(near)


def test_ames_warnings_ranked_by_severity(ames_profile: Profile) -> None:
    order = {"high": 0, "medium": 1, "low": 2}
    ranks = [order[w.severity] for w in ames_profile.warnings]
    assert ranks == sorted(ranks) and ranks[0] == 0
    # One warning that says "drop it" per column, never a second opinion on the same column.
    dropped = [w.suggestion["columns"][0] for w in ames_profile.warnings
               if w.suggestion and w.suggestion["step"] == "drop"]
    assert len(dropped) == len(set(dropped))


def test_skew_suggests_log_for_positive_columns(ames: pd.DataFrame, ames_profile: Profile) -> None:
    skew = _by(ames_profile, "skew")
    assert skew["Lot.Area"].severity == "medium"
    assert skew["Lot.Area"].value == pytest.approx(ames["Lot.Area"].skew())
    assert skew["Lot.Area"].suggestion == {"step": "log", "columns": ["Lot.Area"],
                                           "params": {"offset": 1.0}}
    assert "Order" not in skew and "Utilities" not in skew
    scale = [w for w in ames_profile.warnings if w.kind == "scale"]
    assert len(scale) == 1 and scale[0].columns[0] == "Lot.Area"


def test_flights_constant_strong_predictor_and_correlated_pairs(flights_profile: Profile) -> None:
    assert _by(flights_profile, "constant")["year"].severity == "high"
    # The departure delay predicts the arrival delay strongly, but nothing else points to a
    # leak: whether it is known at prediction time is the user's call, not a "drop it".
    assert _by(flights_profile, "target_leak") == {}
    strong = _by(flights_profile, "strong_predictor")
    assert set(strong) == {"dep_delay"}
    assert strong["dep_delay"].severity == "medium" and strong["dep_delay"].suggestion is None
    assert "known at prediction time" in strong["dep_delay"].message
    pairs = {frozenset(w.columns): w for w in flights_profile.warnings
             if w.kind == "high_correlation"}
    assert frozenset({"air_time", "distance"}) in pairs
    assert _by(flights_profile, "high_cardinality")["tailnum"].severity == "medium"
    missing = [w for w in flights_profile.warnings if w.kind == "target_missing"]
    assert missing and missing[0].value == pytest.approx(9430 / 336776)


def test_churn_duplicates(churn: pd.DataFrame, churn_profile: Profile) -> None:
    dup = [w for w in churn_profile.warnings if w.kind == "duplicates"]
    assert len(dup) == 1 and dup[0].severity == "low"
    assert f"{int(churn.duplicated().sum())} rows" in dup[0].message
    assert not [w for w in churn_profile.warnings if w.kind == "imbalance"]  # 27% churn


def test_identifier_and_personal_data_detectors(ames: pd.DataFrame) -> None:
    rng = np.random.default_rng(3)
    n = 400
    frame = ames[["Order", "PID", "price", "Neighborhood"]].head(n).copy()
    frame["email"] = [f"user{i}.{w}@example{i % 7}.org" for i, w in
                      enumerate(rng.choice(["ann", "bo", "cy"], n))]
    frame["phone"] = [f"+1 ({rng.integers(200, 999)}) {rng.integers(200, 999)}-"
                      f"{rng.integers(1000, 9999)}" for _ in range(n)]
    frame["account_number"] = rng.integers(10**9, 10**10, n)
    frame["customer_id"] = [f"C{i:05d}" for i in range(n)]
    frame["city"] = rng.choice(["Ames", "Boone", "Nevada"], n)
    p = profile(frame)
    pii = _by(p, "pii")
    assert set(pii) == {"email", "phone", "account_number"}
    assert "email addresses" in pii["email"].message and "phone numbers" in pii["phone"].message
    assert all(w.severity == "high" for w in pii.values())
    ids = _by(p, "identifier")
    assert {"customer_id"} <= set(ids)
    assert set(_by(p, "row_number")) == {"Order"}  # 1..400
    assert "city" not in ids and "price" not in pii


def test_imbalance_grades() -> None:
    rare = pd.DataFrame({"y": ["a"] * 950 + ["b"] * 50, "x": np.arange(1000) % 7})
    w = _by(profile(rare, target="y"), "imbalance")["y"]
    assert w.severity == "medium" and w.value == pytest.approx(19.0)
    assert "'b'" in w.message and "5.0%" in w.message


def test_suggestions_are_recipe_steps(ames_profile: Profile, flights_profile: Profile) -> None:
    steps = ames_profile.suggestions() + flights_profile.suggestions()
    assert {s["step"] for s in steps} <= SUGGESTED_STEPS
    assert {s["step"] for s in steps} >= {"drop", "impute", "categorical", "log"}
    for s in steps:
        assert set(s) == {"step", "columns", "params"}
        assert s["step"] in STEPS
        assert StepSpec.from_dict(s).to_dict() == s
    assert len(steps) == len({repr(sorted(s.items())) for s in steps})


def test_suggested_steps_fit_as_a_recipe(ames: pd.DataFrame, ames_profile: Profile) -> None:
    from shipyard.features._recipe import Recipe

    steps = ames_profile.suggestions() + [{"step": "impute"}, {"step": "categorical"}]
    fitted = Recipe.from_dict({"steps": steps}).fit(ames, target="price")
    out = fitted.transform(ames)
    assert "Pool.QC" not in out.columns and "Order" not in out.columns
    assert out.notna().all().all()
    assert out["Lot.Area"].max() == pytest.approx(np.log1p(ames["Lot.Area"].max()))


def test_negative_skew_suggests_clipping() -> None:
    rng = np.random.default_rng(5)
    frame = pd.DataFrame({"loss": -rng.lognormal(0, 1.2, 3000)})
    w = _by(profile(frame), "skew")["loss"]
    assert w.suggestion == {"step": "clip", "columns": ["loss"],
                            "params": {"method": "quantile", "lower": 0.01, "upper": 0.99}}
    assert StepSpec.from_dict(w.suggestion).to_dict() == w.suggestion


def test_labels_spelled_several_ways_are_warned(churn: pd.DataFrame,
                                                churn_profile: Profile) -> None:
    """Churn as typed by hand: 'Yes' also as 'yes' and ' Yes ', 'Month-to-month' also in
    capitals. As written, the target has 4 classes and the contract 4 labels."""
    df = churn.copy()
    df.loc[df.index[:40], "churn"] = df.loc[df.index[:40], "churn"].str.lower()
    df.loc[df.index[40:60], "churn"] = " " + df.loc[df.index[40:60], "churn"] + " "
    monthly = df.index[df["contract"] == "Month-to-month"][:30]
    df.loc[monthly, "contract"] = "MONTH-TO-MONTH"
    p = profile(df, target="churn")
    target = _by(p, "label_variants")["churn"]
    assert target.severity == "high" and target.suggestion is None
    assert "The target 'churn' has classes that differ only in case or surrounding spaces " \
        "('No', 'no', ' No '; 'Yes', 'yes', ' Yes ')" in target.message
    contract = _by(p, "label_variants")["contract"]
    assert contract.severity == "medium"
    assert "('Month-to-month', 'MONTH-TO-MONTH')" in contract.message
    assert not _by(churn_profile, "label_variants")  # the table as it comes: one spelling each
