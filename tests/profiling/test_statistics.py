"""Column statistics equal pandas' and scipy's on real data (churn, ames, flights)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import scipy.stats

from shipyard.profiling import ColumnProfile, Profile

QUANTILES = {"p01": 0.01, "p05": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95,
             "p99": 0.99}


def _close(got: float | None, want: float) -> None:
    assert got == pytest.approx(float(want), rel=1e-9, abs=1e-9)


def _check_numeric(c: ColumnProfile, s: pd.Series) -> None:
    x = s.dropna().to_numpy(dtype=np.float64)
    n = c.numeric
    assert n is not None
    _close(n["min"], s.min())
    _close(n["max"], s.max())
    _close(n["mean"], s.mean())
    _close(n["std"], s.std())
    if s.nunique() > 2:
        _close(n["skew"], s.skew())
        _close(n["kurtosis"], s.kurt())
        _close(n["skew"], scipy.stats.skew(x, bias=False))
        _close(n["kurtosis"], scipy.stats.kurtosis(x, bias=False))
    for key, q in QUANTILES.items():
        _close(n["quantiles"][key], s.quantile(q))
    assert n["zeros"] == int((s == 0).sum())
    assert n["negatives"] == int((s < 0).sum())
    q1, q3 = s.quantile(0.25), s.quantile(0.75)
    fence = 1.5 * (q3 - q1)
    assert n["outliers_iqr"] == int(((s < q1 - fence) | (s > q3 + fence)).sum())
    if s.std() > 0:
        assert n["outliers_z"] == int(((s - s.mean()).abs() > 3 * s.std()).sum())
    h = c.histogram
    assert h is not None
    if "edges" in h:
        counts, edges = np.histogram(x, bins=len(h["counts"]))
        assert h["counts"] == counts.tolist()
        assert h["edges"] == edges.tolist()
    else:
        vc = s.value_counts().sort_index()
        assert h["values"] == pytest.approx(vc.index.tolist())
        assert h["counts"] == vc.tolist()


def _check_text(c: ColumnProfile, s: pd.Series) -> None:
    lengths = s.dropna().str.len()
    assert c.text is not None
    assert c.text["min_length"] == lengths.min() and c.text["max_length"] == lengths.max()
    _close(c.text["mean_length"], lengths.mean())
    vc = s.value_counts()
    assert [t["count"] for t in c.top] == vc.head(len(c.top)).tolist()
    assert all(vc[t["value"]] == t["count"] for t in c.top)


def _check_frame(p: Profile, df: pd.DataFrame) -> None:
    assert p.rows == len(df)
    assert [c.name for c in p.columns] == list(df.columns)
    assert p.duplicate_rows == int(df.duplicated().sum())
    for c in p.columns:
        s = df[c.name]
        assert (c.count, c.missing, c.distinct) == (s.count(), s.isna().sum(), s.nunique()), c.name
        assert c.memory_bytes > 0
        if pd.api.types.is_numeric_dtype(s):
            _check_numeric(c, s)
        elif c.semantic_type != "datetime":
            _check_text(c, s)


def test_churn_statistics_equal_pandas_and_scipy(churn: pd.DataFrame,
                                                  churn_profile: Profile) -> None:
    _check_frame(churn_profile, churn)
    assert churn_profile.column("total_charges").missing == 11
    assert churn_profile.column("churn").semantic_type == "boolean"
    assert churn_profile.column("contract").semantic_type == "categorical"


def test_ames_statistics_equal_pandas_and_scipy(ames: pd.DataFrame, ames_profile: Profile) -> None:
    _check_frame(ames_profile, ames)
    assert ames_profile.missing_cells == int(ames.isna().sum().sum())
    assert sum(c.missing > 0 for c in ames_profile.columns) == 27


@pytest.mark.slow
def test_flights_statistics_equal_pandas_and_scipy(flights: pd.DataFrame,
                                                    flights_profile: Profile) -> None:
    _check_frame(flights_profile, flights)
    when = flights_profile.column("time_hour")
    assert when.semantic_type == "datetime"
    stamps = pd.to_datetime(flights["time_hour"])
    assert when.datetime is not None
    assert when.datetime["min"] == stamps.min().strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert when.datetime["max"] == stamps.max().strftime("%Y-%m-%dT%H:%M:%S.000Z")
    assert sum(when.histogram["counts"]) == len(flights)
    year = flights_profile.column("year")
    assert year.distinct == 1 and year.histogram == {"values": [2013], "counts": [len(flights)]}


def test_infinities_are_counted_apart_and_nan_is_missing() -> None:
    from shipyard.profiling import profile

    df = pd.DataFrame({"x": [1.0, 2.0, np.inf, -np.inf, np.nan, 4.0] * 5})
    c = profile(df).column("x")
    assert c.numeric is not None
    assert (c.count, c.missing, c.numeric["infinite"]) == (25, 5, 10)
    _close(c.numeric["mean"], 7 / 3)
    assert c.numeric["max"] == 4.0
