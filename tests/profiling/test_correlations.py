"""Associations equal pandas' and scipy's on real data; the sample is seeded and bounded."""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from scipy.stats.contingency import association

from shipyard.profiling import Matrix, Profile, profile
from shipyard.profiling._associations import correlation_ratio, cramers_v

from .helpers import assert_close


def _matrix_equals(m: Matrix, want: pd.DataFrame) -> None:
    assert list(m.rows) == list(m.columns)
    for a, b in itertools.product(m.rows, m.columns):
        assert m.get(a, b) == pytest.approx(want.loc[a, b], abs=1e-12), (a, b)


def _numeric(df: pd.DataFrame, p: Profile) -> list[str]:
    return list(p.correlations.pearson.rows)


@pytest.mark.parametrize("name", ["churn", "ames"])
def test_pearson_and_spearman_equal_pandas(name: str, request: pytest.FixtureRequest) -> None:
    df: pd.DataFrame = request.getfixturevalue(name)
    p: Profile = request.getfixturevalue(f"{name}_profile")
    cols = _numeric(df, p)
    # Every non-constant numeric column but the identifiers is in the matrices.
    expected = [c.name for c in p.columns if c.semantic_type == "numeric" and c.distinct > 1]
    assert cols == expected
    _matrix_equals(p.correlations.pearson, df[cols].corr(method="pearson"))
    # ames has missing values in several numeric columns: pairwise complete ranks.
    _matrix_equals(p.correlations.spearman, df[cols].corr(method="spearman"))


def test_cramers_v_equals_scipy_on_churn(churn: pd.DataFrame, churn_profile: Profile) -> None:
    m = churn_profile.correlations.cramers_v
    assert {"contract", "internet_service", "churn", "payment_method"} <= set(m.rows)
    for a, b in itertools.combinations(m.rows, 2):
        table = pd.crosstab(churn[a], churn[b]).to_numpy()
        want = association(table, method="cramer", correction=False)
        assert m.get(a, b) == pytest.approx(want, abs=1e-12), (a, b)
        assert m.get(b, a) == m.get(a, b)


def _eta(x: pd.Series, groups: pd.Series) -> float:
    both = x.notna() & groups.notna()
    x, groups = x[both], groups[both]
    means = x.groupby(groups).transform("mean")
    return float(np.sqrt(((means - x.mean()) ** 2).sum() / ((x - x.mean()) ** 2).sum()))


def test_correlation_ratio_equals_group_means(ames: pd.DataFrame, ames_profile: Profile) -> None:
    m = ames_profile.correlations.correlation_ratio
    assert "price" in m.rows and "Neighborhood" in m.columns
    checked = 0
    for a, b in itertools.product(m.rows[:12], m.columns[:12]):
        both = ames[a].notna() & ames[b].notna()
        if both.sum() < 30:  # too few rows for a meaningful ratio: no value
            assert m.get(a, b) is None
            continue
        assert m.get(a, b) == pytest.approx(_eta(ames[a], ames[b]), abs=1e-12), (a, b)
        checked += 1
    assert checked > 100
    assert m.get("price", "Neighborhood") == pytest.approx(0.74, abs=0.02)


def test_measures_on_edge_cases() -> None:
    a = np.array([0, 0, 1, 1] * 10)
    assert cramers_v(a, a) == pytest.approx(1.0)
    assert cramers_v(a, np.zeros(40, dtype=np.int64)) is None  # one category: undefined
    assert cramers_v(a[:10], a[:10]) is None  # too few rows
    x = np.array([1.0, 2.0] * 20)
    assert correlation_ratio(x, a) == pytest.approx(0.0)
    assert correlation_ratio(a.astype(float), a) == pytest.approx(1.0)


@pytest.mark.slow
def test_flights_correlations_use_a_seeded_sample(flights: pd.DataFrame,
                                                  flights_profile: Profile) -> None:
    corr = flights_profile.correlations
    assert corr.sample_rows == flights_profile.sample_rows == 50_000
    rows = np.sort(np.random.default_rng(0).choice(len(flights), 50_000, replace=False))
    sample = flights.iloc[rows]
    cols = list(corr.pearson.rows)
    assert "year" not in cols  # constant
    _matrix_equals(corr.pearson, sample[cols].corr())
    # The sample describes the whole table closely.
    full = flights[["air_time", "distance"]].corr().iloc[0, 1]
    assert corr.pearson.get("air_time", "distance") == pytest.approx(full, abs=0.005)


def test_same_seed_same_profile_other_seed_other_sample(flights: pd.DataFrame) -> None:
    part = flights.head(3000)
    one = profile(part, sample_rows=1000, seed=1).to_dict()
    two = profile(part, sample_rows=1000, seed=1).to_dict()
    other = profile(part, sample_rows=1000, seed=2).to_dict()
    for d in (one, two, other):
        d.pop("timings")
    assert_close(two, one)
    assert one["correlations"] != other["correlations"]
    assert one["columns"] == other["columns"]  # statistics use every row, not the sample


def test_times_below_the_millisecond_and_integers_past_2_53_are_encoded() -> None:
    # A PostgreSQL timestamp (microseconds) or a 64-bit id made the safe casts to
    # milliseconds and float64 raise, and `datasets profile` answered 500.
    n = 60
    y = (np.arange(n) % 5 >= 3).astype(int)
    df = pd.DataFrame({
        "when": pd.date_range("2024-01-01 00:00:00.123456", periods=n, freq="1001us"),
        "big": np.arange(n, dtype="int64") % 5 * 7 + 2**53 + 1,
        "y": y,
    })
    p = profile(df, target="y")
    assert {c.name: c.semantic_type for c in p.columns}["when"] == "datetime"
    assert p.correlations.pearson.get("big", "y") == pytest.approx(
        np.corrcoef(df["big"].astype(float), y)[0, 1], abs=0.01)
