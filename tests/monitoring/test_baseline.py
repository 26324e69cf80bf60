"""Baselines: statistics a person can read, constraints a person can edit, drift from JSON alone."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from shipyard.errors import InvalidRequest
from shipyard.monitoring import (
    SAMPLE_ROWS,
    Baseline,
    compute_baseline,
    compute_drift,
    infer_kind,
    validate_constraints,
)


def test_kinds_of_the_flights_columns(baseline_h1: Baseline) -> None:
    kinds = {name: s["kind"] for name, s in baseline_h1.columns.items()}
    assert kinds["tailnum"] == "identifier"  # thousands of distinct tail numbers
    assert kinds["time_hour"] == "datetime"  # ISO text
    assert kinds["carrier"] == kinds["origin"] == kinds["dest"] == "categorical"
    assert {kinds[c] for c in ("year", "month", "dep_delay", "flight", "distance")} == {"numeric"}


def test_numeric_statistics_match_pandas_and_numpy(baseline_h1: Baseline,
                                                   flights_h1: pd.DataFrame) -> None:
    s = baseline_h1.columns["dep_delay"]
    col = flights_h1["dep_delay"]
    present = col.dropna().to_numpy()
    assert s["count"] == col.notna().sum() and s["missing"] == col.isna().sum()
    assert s["completeness"] == pytest.approx(col.notna().mean())
    assert s["distinct"] == col.nunique()
    assert (s["min"], s["max"]) == (present.min(), present.max())
    assert s["mean"] == pytest.approx(present.mean()) and s["std"] == pytest.approx(present.std())
    for key, q in (("p01", 0.01), ("p50", 0.5), ("p99", 0.99)):
        assert s["quantiles"][key] == pytest.approx(np.quantile(present, q))
    hist = s["histogram"]
    assert len(hist["edges"]) <= 31 and sum(hist["counts"]) + hist["below"] + hist["above"] \
        == s["count"]
    # The long right tail of delays: the histogram spans p01..p99 and counts the rest apart,
    # in bins of a whole number of minutes centred on whole minutes.
    assert hist["edges"][0] == s["quantiles"]["p01"] - 0.5 and hist["above"] > 0
    assert hist["edges"][-2] < s["quantiles"]["p99"] < hist["edges"][-1]
    assert len(set(np.diff(hist["edges"]))) == 1 and hist["edges"][1] % 1 == 0.5
    counts, _ = np.histogram(present, bins=np.asarray(hist["edges"]))
    assert counts.tolist() == hist["counts"]
    bins = s["bins"]
    assert sum(bins["counts"]) == s["count"] and len(bins["counts"]) == len(bins["edges"]) + 1
    assert s["frequencies"] is None  # hundreds of distinct values


def test_few_valued_numbers_keep_their_frequencies(baseline_h1: Baseline,
                                                   flights_h1: pd.DataFrame) -> None:
    freq = baseline_h1.columns["month"]["frequencies"]
    expected = flights_h1["month"].value_counts().sort_index()
    assert freq["values"] == expected.index.tolist() and freq["counts"] == expected.tolist()


def test_category_frequencies_match_value_counts(baseline_h1: Baseline,
                                                 flights_h1: pd.DataFrame) -> None:
    freq = baseline_h1.columns["carrier"]["frequencies"]
    expected = flights_h1["carrier"].value_counts()
    assert dict(zip(freq["values"], freq["counts"], strict=True)) == expected.to_dict()
    assert freq["other"] == 0 and freq["counts"] == sorted(freq["counts"], reverse=True)
    tail = baseline_h1.columns["tailnum"]
    assert tail["distinct"] == flights_h1["tailnum"].nunique() and len(tail["top"]["values"]) == 10
    hour = baseline_h1.columns["time_hour"]
    assert (hour["min"], hour["max"]) == (flights_h1["time_hour"].min(),
                                          flights_h1["time_hour"].max())


def test_sample_is_bounded_and_follows_the_whole_distribution(
        baseline_h1: Baseline, flights_h1: pd.DataFrame) -> None:
    sample = baseline_h1.sample
    assert len(sample) == SAMPLE_ROWS and set(sample.columns) == {
        n for n, s in baseline_h1.columns.items() if s["kind"] == "numeric"}
    assert sample.dtypes.eq(np.float64).all()
    full = np.sort(flights_h1["dep_delay"].dropna().to_numpy(float))
    kept = sample["dep_delay"].to_numpy()
    assert np.all(np.diff(kept) >= 0) and set(kept) <= set(full)
    # Order statistics at evenly spaced ranks: the sample's CDF is within 1/k of the column's.
    grid = np.unique(full)
    gap = np.abs(np.searchsorted(kept, grid, side="right") / kept.size
                 - np.searchsorted(full, grid, side="right") / full.size)
    assert gap.max() <= 1 / SAMPLE_ROWS + 1e-12
    assert compute_baseline(flights_h1[["dep_delay"]]).sample["dep_delay"].equals(
        sample["dep_delay"])  # deterministic


def test_small_columns_are_kept_whole() -> None:
    frame = pd.DataFrame({"a": [3.0, 1.0, None, 2.0], "b": [1.0, 2.0, 3.0, 4.0]})
    sample = compute_baseline(frame, sample_rows=3).sample
    assert sample["a"].tolist() == [1.0, 2.0, 3.0]  # every value, sorted
    assert sample["b"].tolist() == [1.0, 3.0, 4.0]  # ranks (i + 0.5) * 4/3: 0.67, 2, 3.33


def test_json_and_parquet_round_trip_gives_the_same_drift(
        baseline_h1: Baseline, flights_h2: pd.DataFrame) -> None:
    doc = json.loads(json.dumps(baseline_h1.to_dict(), allow_nan=False))
    again = Baseline.from_dict(doc, sample=baseline_h1.sample_parquet())
    assert again.to_dict() == baseline_h1.to_dict()
    window = flights_h2.iloc[::7]
    assert compute_drift(again, window).to_dict() == compute_drift(baseline_h1, window).to_dict()


def test_suggested_constraints(baseline_h1: Baseline, flights_h1: pd.DataFrame) -> None:
    cols = baseline_h1.constraints["columns"]
    assert cols["month"] == {"kind": "numeric", "required": True, "min_completeness": 1.0,
                             "min": 1.0, "max": 6.0}
    assert cols["carrier"]["allowed"] == sorted(flights_h1["carrier"].unique())
    # Columns with missing values may lose one point of completeness before it counts.
    assert cols["dep_delay"]["min_completeness"] == pytest.approx(
        flights_h1["dep_delay"].notna().mean() - 0.01, abs=1e-4)
    assert "allowed" not in cols["tailnum"] and "min" not in cols["time_hour"]
    assert validate_constraints(baseline_h1.constraints) == baseline_h1.constraints


def test_a_user_edits_the_constraints(baseline_h1: Baseline) -> None:
    edited = json.loads(json.dumps(baseline_h1.constraints))
    edited["columns"]["month"]["max"] = 12
    edited["columns"]["carrier"]["allowed"].append("ZZ")
    del edited["columns"]["dep_delay"]["min_completeness"]
    edited["tolerance"]["unseen"] = 0.0
    changed = baseline_h1.with_constraints(edited)
    assert changed.constraints["columns"]["month"]["max"] == 12.0
    assert "ZZ" in changed.constraints["columns"]["carrier"]["allowed"]
    assert "min_completeness" not in changed.constraints["columns"]["dep_delay"]
    assert changed.statistics == baseline_h1.statistics


@pytest.mark.parametrize(("edit", "message"), [
    (lambda c: c["columns"]["month"].update(min=9), "'min' of column 'month' \\(9.0\\) is greater"),
    (lambda c: c["columns"]["month"].update(kind="number"), "kind of column 'month' must be"),
    (lambda c: c["columns"]["month"].update(maximum=3), "Unknown key 'maximum' in column 'month'"),
    (lambda c: c["columns"]["carrier"].update(min=0), "'min' only applies to numeric columns"),
    (lambda c: c["columns"]["carrier"].update(allowed="AA"), "must be a list of category"),
    (lambda c: c["columns"]["dest"].update(min_completeness=1.5), "between 0 and 1"),
    (lambda c: c["columns"]["dest"].update(required="yes"), "must be true or false"),
    (lambda c: c["tolerance"].update(unseen="1%"), "tolerance.unseen must be"),
    (lambda c: c.update(format="v0"), "format 'v0' is not one"),
    (lambda c: c.pop("columns"), "need a 'columns' object"),
])
def test_bad_edits_are_refused_in_one_sentence(baseline_h1: Baseline, edit, message: str) -> None:
    doc = json.loads(json.dumps(baseline_h1.constraints))
    edit(doc)
    with pytest.raises(InvalidRequest, match=message) as info:
        baseline_h1.with_constraints(doc)
    assert info.value.message.count(". ") <= 1  # one sentence (two at most with a fix)


def test_kinds_and_exclusions(flights_h1: pd.DataFrame) -> None:
    part = flights_h1[["flight", "arr_delay", "carrier"]].iloc[:2000]
    baseline = compute_baseline(part, kinds={"flight": "identifier"}, exclude=["arr_delay"])
    assert list(baseline.columns) == ["flight", "carrier"]
    assert baseline.columns["flight"]["kind"] == "identifier" and baseline.sample.empty


@pytest.mark.parametrize(("frame", "kwargs", "message"), [
    (pd.DataFrame({"a": []}), {}, "has no rows"),
    (pd.DataFrame({"a": ["1", "x"]}), {"kinds": {"a": "numeric"}}, "not numbers, e.g. 'x'"),
    (pd.DataFrame({"a": [1]}), {"kinds": {"a": "number"}}, "Unknown kind 'number'"),
    (pd.DataFrame({"a": [1]}), {"kinds": {"b": "numeric"}}, "column 'b', which the data"),
    (pd.DataFrame({"a": [1]}), {"sample_rows": 0}, "sample_rows must be at least 1"),
    ([1, 2], {}, "must be a pandas DataFrame or a pyarrow Table"),
])
def test_bad_inputs(frame: object, kwargs: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        compute_baseline(frame, **kwargs)


def test_from_dict_refuses_what_is_not_a_baseline(baseline_h1: Baseline) -> None:
    with pytest.raises(InvalidRequest, match="Not a baseline"):
        Baseline.from_dict({"constraints": {}})
    doc = baseline_h1.to_dict()
    doc["statistics"]["format"] = "other/9"
    with pytest.raises(InvalidRequest, match="recompute the baseline"):
        Baseline.from_dict(doc)
    with pytest.raises(InvalidRequest, match="not a readable Parquet file"):
        Baseline.from_dict(baseline_h1.to_dict(), sample=b"not parquet")


def test_pyarrow_tables_and_nullable_types_work() -> None:
    import pyarrow as pa

    table = pa.table({"x": pa.array([1, None, 3, 4], pa.int64()),
                      "flag": pa.array([True, False, None, True]),
                      "customer_id": pa.array(["a", "b", "c", "d"])})
    baseline = compute_baseline(table)
    assert baseline.columns["x"]["missing"] == 1 and baseline.columns["x"]["max"] == 4.0
    assert baseline.columns["flag"]["kind"] == "boolean"
    assert baseline.columns["flag"]["frequencies"]["values"] == ["true", "false"]
    assert baseline.columns["customer_id"]["kind"] == "identifier"


@pytest.mark.parametrize(("name", "values", "kind"), [
    ("notes", [f"a rather long sentence of free text number {i} here" for i in range(40)],
     "text"),
    ("code", [f"c{i}" for i in range(40)], "identifier"),
    ("size", ["S", "M", "L", "M"] * 10, "categorical"),
    ("when", ["2024-01-02", "2024-03-04T05:06:07Z"] * 3, "datetime"),
    ("orderId", list(range(10)), "identifier"),
    ("price", [1.5, 2.5], "numeric"),
])
def test_infer_kind(name: str, values: list[object], kind: str) -> None:
    assert infer_kind(name, pd.Series(values)) == kind


def test_notebook_view_escapes_names() -> None:
    baseline = compute_baseline(pd.DataFrame({"<b>x</b>": [1.0, 2.0, 3.0]}))
    page = baseline._repr_html_()
    assert "&lt;b&gt;x&lt;/b&gt;" in page and "<b>x</b>" not in page
