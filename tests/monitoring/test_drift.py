"""Drift on real data: no alarm on a random split, the real shift of flights found, scipy agrees."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import jensenshannon
from scipy.stats import chi2_contingency, ks_2samp, wasserstein_distance

from shipyard.errors import InvalidRequest
from shipyard.monitoring import (
    Baseline,
    DriftOptions,
    DriftResult,
    compute_baseline,
    compute_drift,
    default_test,
)
from shipyard.monitoring._drift import SKIPS


@pytest.fixture(scope="module")
def shifted(baseline_h1: Baseline, flights_h2: pd.DataFrame) -> DriftResult:
    return compute_drift(baseline_h1, flights_h2)


@pytest.fixture(scope="module")
def unshifted(random_halves: tuple[pd.DataFrame, pd.DataFrame]) -> DriftResult:
    a, b = random_halves
    return compute_drift(compute_baseline(a), b)


def _by_column(result: DriftResult) -> dict[str, object]:
    return {c.column: c for c in result.columns}


def test_random_split_of_the_same_months_raises_no_drift(unshifted: DriftResult) -> None:
    assert unshifted.drifted_columns == []
    assert not unshifted.dataset_drift
    assert unshifted.n_tested == 16  # all 19 columns but year, tailnum and time_hour
    scores = {c.column: c.score for c in unshifted.columns if c.tested}
    assert max(scores.values()) < 0.05  # far below the 0.1 thresholds


def test_first_half_against_second_half_flags_what_moved(
        shifted: DriftResult, unshifted: DriftResult) -> None:
    cols = _by_column(shifted)
    calm = _by_column(unshifted)
    assert shifted.drifted_columns == ["month"]
    month = cols["month"]
    assert month.test == "wasserstein" and month.score > 3  # six months later, in std units
    # Below the default thresholds, the columns that truly moved still stand out from
    # what sampling alone gives: delays (summer storms), destinations (seasonal routes)
    # and flight numbers (schedule changes) score several times their no-drift value.
    for name in ("dep_delay", "arr_delay", "dest", "flight"):
        assert cols[name].score > 3 * calm[name].score, name
    ranked = sorted((c for c in shifted.columns if c.tested), key=lambda c: -c.score)
    assert {c.column for c in ranked[1:5]} == {"flight", "dest", "arr_delay", "dep_delay"}
    assert shifted.share_drifted == pytest.approx(1 / 16)
    assert not shifted.dataset_drift


def test_identifiers_datetimes_and_constants_are_skipped_with_a_reason(
        shifted: DriftResult) -> None:
    cols = _by_column(shifted)
    assert cols["tailnum"].kind == "identifier" and "identifier" in cols["tailnum"].reason
    assert cols["time_hour"].kind == "datetime" and "time moves forward" in cols["time_hour"].reason
    assert "constant" in cols["year"].reason
    assert not any(cols[c].tested for c in ("tailnum", "time_hour", "year"))
    # The short word a table shows (docs: SKIPS), beside the sentence.
    assert [cols[c].skip for c in ("tailnum", "time_hour", "year")] == [
        "identifier", "datetime", "constant"]
    assert all(c.skip is None for c in shifted.columns if c.tested)
    assert all(c.skip in SKIPS for c in shifted.columns if not c.tested)


def test_lower_thresholds_flag_the_delays_and_destinations(
        baseline_h1: Baseline, flights_h2: pd.DataFrame) -> None:
    options = DriftOptions(thresholds={"wasserstein": 0.045, "jensenshannon": 0.05})
    result = compute_drift(baseline_h1, flights_h2, options)
    assert set(result.drifted_columns) == {"month", "dep_delay", "arr_delay", "flight", "dest"}


def test_scores_equal_scipy_on_the_whole_columns(flights_h1: pd.DataFrame,
                                                 flights_h2: pd.DataFrame) -> None:
    ref = flights_h1[["dep_delay", "dest", "carrier"]].iloc[:40_000]
    cur = flights_h2[["dep_delay", "dest", "carrier"]].iloc[:30_000]
    # A sample as large as the data: the drift sees every reference value.
    baseline = compute_baseline(ref, sample_rows=len(ref))
    options = DriftOptions(tests={"carrier": "chisquare"})
    cols = _by_column(compute_drift(baseline, cur, options))
    r, c = ref["dep_delay"].dropna().to_numpy(), cur["dep_delay"].dropna().to_numpy()
    assert cols["dep_delay"].score == pytest.approx(
        wasserstein_distance(r, c) / np.std(r), rel=1e-9)
    keys = sorted(set(ref["dest"]) | set(cur["dest"]))
    p = ref["dest"].value_counts().reindex(keys, fill_value=0).to_numpy()
    q = cur["dest"].value_counts().reindex(keys, fill_value=0).to_numpy()
    assert cols["dest"].score == pytest.approx(jensenshannon(p / p.sum(), q / q.sum()), rel=1e-9)
    table = pd.crosstab(pd.concat([ref["carrier"], cur["carrier"]]),
                        np.repeat([0, 1], [len(ref), len(cur)]))
    assert cols["carrier"].score == pytest.approx(chi2_contingency(table.T.to_numpy()).pvalue,
                                                  rel=1e-9, abs=1e-300)


def test_small_baselines_use_ks_and_chisquare_as_scipy(flights_h1: pd.DataFrame,
                                                       flights_h2: pd.DataFrame) -> None:
    ref, cur = flights_h1.iloc[:800], flights_h2.iloc[:600]
    cols = _by_column(compute_drift(compute_baseline(ref), cur))
    assert cols["dep_delay"].test == "ks" and cols["origin"].test == "chisquare"
    expected = ks_2samp(ref["dep_delay"].dropna(), cur["dep_delay"].dropna())
    assert cols["dep_delay"].score == pytest.approx(expected.pvalue, rel=1e-9)
    assert cols["dep_delay"].statistic == pytest.approx(expected.statistic, rel=1e-12)


def test_selection_rule() -> None:
    def stats(kind: str, count: int, distinct: int) -> dict[str, object]:
        return {"kind": kind, "count": count, "distinct": distinct}

    assert default_test(stats("numeric", 1000, 50)) == "ks"
    assert default_test(stats("numeric", 1001, 50)) == "wasserstein"
    assert default_test(stats("numeric", 500, 5)) == "chisquare"
    assert default_test(stats("numeric", 5000, 4)) == "jensenshannon"
    assert default_test(stats("categorical", 10, 3)) == "chisquare"
    assert default_test(stats("boolean", 10_000, 2)) == "jensenshannon"
    assert default_test(stats("numeric", 5000, 50), has_sample=False) == "jensenshannon"


def test_overrides_per_column_and_threshold(baseline_h1: Baseline,
                                            flights_h2: pd.DataFrame) -> None:
    options = DriftOptions(tests={"dest": "psi", "day": "ks"}, column_thresholds={"dest": 0.5})
    cols = _by_column(compute_drift(baseline_h1, flights_h2.iloc[:5000], options))
    assert cols["dest"].test == "psi" and cols["dest"].threshold == 0.5
    assert cols["day"].test == "ks" and 0 <= cols["day"].score <= 1


@pytest.mark.parametrize(("options", "message"), [
    ({"tests": {"carrier": "ks"}}, "does not apply to categorical column 'carrier'"),
    ({"tests": {"nope": "psi"}}, "column 'nope', which the baseline does not have"),
])
def test_bad_overrides_are_refused(baseline_h1: Baseline, flights_h2: pd.DataFrame,
                                   options: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        compute_drift(baseline_h1, flights_h2.iloc[:100], DriftOptions.from_dict(options))


@pytest.mark.parametrize(("doc", "message"), [
    ({"tests": {"x": "magic"}}, "Unknown drift test 'magic'"),
    ({"drift_share": 0}, "drift_share must be in"),
    ({"min_rows": 0}, "min_rows must be"),
    ({"thresholds": {"psi": -1}}, "non-negative"),
    ({"speed": "fast"}, "Unknown drift option 'speed'"),
])
def test_options_are_validated(doc: dict[str, object], message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        DriftOptions.from_dict(doc)


def test_small_windows_are_skipped_not_tested(baseline_h1: Baseline,
                                              flights_h2: pd.DataFrame) -> None:
    cols = _by_column(compute_drift(baseline_h1, flights_h2.iloc[:10]))
    assert not cols["dep_delay"].tested and "fewer than min_rows=30" in cols["dep_delay"].reason
    assert cols["dep_delay"].skip == "too few rows"


def test_missing_and_non_numeric_columns_are_skipped(baseline_h1: Baseline,
                                                     flights_h2: pd.DataFrame) -> None:
    window = flights_h2.iloc[:1000].drop(columns=["carrier"]).assign(
        distance=lambda d: d["distance"].astype(str).where(d.index % 2 == 0, "far"))
    cols = _by_column(compute_drift(baseline_h1, window))
    assert "not in the current data" in cols["carrier"].reason
    assert "not numbers, e.g. 'far'" in cols["distance"].reason
    assert (cols["carrier"].skip, cols["distance"].skip) == ("not in the window", "not numbers")


def test_prediction_drift_is_reported_apart(flights_h1: pd.DataFrame,
                                            flights_h2: pd.DataFrame) -> None:
    def scored(frame: pd.DataFrame) -> pd.DataFrame:
        late = 1 / (1 + np.exp(-(frame["dep_delay"].fillna(0) - 15) / 10))
        return frame[["distance", "origin"]].assign(**{
            "prediction": np.where(late >= 0.5, "late", "on_time"),
            "probability.late": late, "probability.on_time": 1 - late})

    result = compute_drift(compute_baseline(scored(flights_h1)), scored(flights_h2))
    assert [c.column for c in result.outputs] == ["prediction", "probability.late",
                                                  "probability.on_time"]
    assert {c.column for c in result.columns} == {"distance", "origin"}
    assert result.outputs[0].test == "jensenshannon" and result.outputs[1].test == "wasserstein"
    assert result.n_tested == 2  # outputs do not count in the dataset share


def test_baseline_without_its_sample_falls_back_to_binned_tests(
        baseline_h1: Baseline, flights_h2: pd.DataFrame) -> None:
    bare = Baseline.from_dict(json.loads(json.dumps(baseline_h1.to_dict())))
    cols = _by_column(compute_drift(bare, flights_h2))
    assert cols["dep_delay"].test == "jensenshannon"
    assert cols["month"].drifted  # its six values never overlap
    with pytest.raises(InvalidRequest, match="needs the baseline's reference sample"):
        compute_drift(bare, flights_h2, DriftOptions(tests={"dep_delay": "ks"}))


def test_result_round_trips_through_json(shifted: DriftResult) -> None:
    doc = json.loads(json.dumps(shifted.to_dict()))
    again = DriftResult.from_dict(doc)
    assert again.to_dict() == shifted.to_dict()
    assert doc["drifted_columns"] == ["month"] and doc["n_tested"] == 16


def test_distributions_for_plots_are_binned_on_the_baseline(shifted: DriftResult) -> None:
    cols = _by_column(shifted)
    hist = cols["dep_delay"].distribution
    assert hist["type"] == "histogram" and len(hist["edges"]) == len(hist["reference"]) + 1
    total = sum(hist["current"]) + sum(hist["below"][1:]) + sum(hist["above"][1:])
    assert total == pytest.approx(1.0)
    month = cols["month"].distribution
    assert month["type"] == "bars" and month["labels"] == [str(m) for m in range(1, 13)]
    assert sum(month["reference"][6:]) == 0 and sum(month["current"][:6]) == 0


def test_dataset_drift_when_the_share_is_reached(baseline_h1: Baseline,
                                                 flights_h2: pd.DataFrame) -> None:
    from shipyard.monitoring import drift_alerts

    low = compute_drift(baseline_h1, flights_h2, DriftOptions(drift_share=0.05))
    assert low.dataset_drift and low.share_drifted == pytest.approx(1 / 16)
    alerts = drift_alerts(low)
    assert [(a.check, a.column) for a in alerts] == [("wasserstein", "month"),
                                                     ("dataset_drift", None)]
    assert alerts[-1].message == ("Dataset drift: 1 of 16 tested columns drifted (6%, "
                                  "threshold 5%).")
    assert not compute_drift(baseline_h1, flights_h2, DriftOptions(drift_share=0.07)).dataset_drift


def test_a_few_valued_column_that_becomes_continuous_is_compared_in_bins() -> None:
    rng = np.random.default_rng(5)
    ref = pd.DataFrame({"stars": rng.integers(1, 6, size=5000).astype(float)})
    cur = pd.DataFrame({"stars": rng.uniform(1, 5, size=5000)})  # a new model of rating
    col = compute_drift(compute_baseline(ref), cur).columns[0]
    assert col.test == "jensenshannon" and col.drifted
    assert col.distribution["type"] == "histogram"
