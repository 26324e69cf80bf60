"""Forecasts of a target never negative in training (counts, sales) are clipped at 0,
quantiles kept ordered; a target with negatives is never clipped."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from shipyard.bundle import load_bundle
from shipyard.forecasting import ForecastSpec, Series, forecast_at
from shipyard.training import TrainingContext, TrainingResult, run_training

QUICK = {"horizon": 14, "season_length": 7, "backtest_folds": 2, "n_estimators": 30}


def _sales() -> pd.DataFrame:
    """Intermittent daily sales: mostly 0, now and then a few units (seeded)."""
    rng = np.random.default_rng(1)
    n = 300
    y = rng.poisson(0.5, n) * rng.integers(0, 10, n)
    return pd.DataFrame({"date": pd.date_range("2020-01-01", periods=n, freq="D")
                         .strftime("%Y-%m-%d"), "sales": y.astype("float64")})


def _train(df: pd.DataFrame, model_dir: Path, logs: list[str]) -> TrainingResult:
    return run_training(TrainingContext(
        train=df, algorithm="forecast", target="sales", model_dir=model_dir,
        hyperparameters=QUICK, n_jobs=1, log=logs.append, split={"time_column": "date"},
        plots=False))


def _horizon(result: TrainingResult) -> pd.DataFrame:
    last = pd.Timestamp(result.manifest["forecast"]["last_time"]["series"])
    return pd.DataFrame({"date": [(last + pd.Timedelta(days=d)).date().isoformat()
                                  for d in range(1, QUICK["horizon"] + 1)]})


def test_a_never_negative_series_is_forecast_at_or_above_zero(tmp_path: Path) -> None:
    """Unclipped, this series' p10 went down to -1.16 units of sales."""
    logs: list[str] = []
    result = _train(_sales(), tmp_path / "model", logs)
    out = load_bundle(tmp_path / "model").predict(_horizon(result))
    assert (out.to_numpy() >= 0).all(), out.min()
    assert (out["p10"] <= out["p50"]).all() and (out["p50"] <= out["p90"]).all()
    assert (out["p10"] == 0).any()  # the clip was needed here
    assert result.manifest["forecast"]["floor"] == 0.0
    assert any("clipped at 0" in note for note in result.manifest["training"]["notes"])
    assert any("never below 0" in line and "clipped at 0" in line for line in logs)


def test_a_series_with_negatives_is_never_clipped(tmp_path: Path) -> None:
    logs: list[str] = []
    df = _sales()
    result = _train(df.assign(sales=df["sales"] - 1), tmp_path / "model", logs)
    out = result.pipeline.predict(_horizon(result))
    assert result.manifest["forecast"]["floor"] is None
    assert (out["p10"] < 0).any()
    assert not any("clipped" in line for line in logs)


class _Constant:
    def __init__(self, value: float) -> None:
        self.value = value

    def predict(self, X: Any, **kwargs: Any) -> np.ndarray:
        return np.full(len(X), self.value)


@pytest.mark.parametrize(("floor", "expected"), [(0.0, [0.0, 0.0, 2.0]),
                                                 (None, [-4.0, -1.0, 2.0])])
def test_the_floor_clips_every_quantile_and_keeps_them_ordered(
        floor: float | None, expected: list[float]) -> None:
    spec = ForecastSpec(time_column="date", target="y", horizon=2, lags=(1,), windows=(2,),
                        season_length=1, quantiles=(0.1, 0.5, 0.9), floor=floor)
    series = Series("series", pd.Timestamp("2024-01-01"), np.zeros(10))
    boosters = [_Constant(v) for v in (-1.0, -4.0, 2.0)]  # crossing: sorted, then clipped
    out = forecast_at(spec, boosters, series, 9, np.array([1, 2]))
    assert out.tolist() == [expected, expected]
    assert ForecastSpec.from_dict(spec.to_dict()).floor == floor
    old = {k: v for k, v in spec.to_dict().items() if k != "floor"}  # a bundle from before
    assert ForecastSpec.from_dict(old).floor is None
