"""Where a backtest clips its forecasts is decided by the rows it was fitted on: the rows
it is scored on must not say whether the target can go below 0."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from shipyard.forecasting import nonnegative_floor
from shipyard.training import TrainingContext
from shipyard.training._algorithms import validate_hyperparameters
from shipyard.training._forecast import check_forecast_request
from shipyard.training._forecast_entry import backtest

QUICK = {"horizon": 14, "season_length": 7, "backtest_folds": 2, "n_estimators": 30}


def _sales() -> pd.DataFrame:
    """Intermittent daily sales, mostly 0 (seeded); one return (-1 unit) on day 295 of 300,
    inside the test holdout (the last 14 days)."""
    rng = np.random.default_rng(1)
    n = 300
    y = (rng.poisson(0.5, n) * rng.integers(0, 10, n)).astype("float64")
    y[295] = -1.0
    return pd.DataFrame({"date": pd.date_range("2020-01-01", periods=n, freq="D")
                         .strftime("%Y-%m-%d"), "sales": y})


def test_a_backtest_clips_as_its_fit_rows_say(tmp_path: Path) -> None:
    df = _sales()
    hp = validate_hyperparameters("forecast", QUICK)
    spec, series = check_forecast_request(df, "sales", "date", hp)
    assert spec.floor is None  # the whole table has a negative: the final model is not clipped
    ctx = TrainingContext(train=df, algorithm="forecast", target="sales", model_dir=tmp_path,
                          hyperparameters=QUICK, n_jobs=1, split={"time_column": "date"},
                          plots=False)
    last = series[0].time(len(series[0].values) - 1, spec.step)
    origin = last - spec.horizon * spec.step
    assert nonnegative_floor([s.upto(origin, spec.step) for s in series]) == 0.0
    fold = backtest(ctx, spec, hp, series, origin)
    assert (fold.actual < 0).any()  # the return is scored ...
    # ... by forecasts clipped at 0, as a model that never saw a negative value serves them
    model, naive = fold.model[0].quantiles, fold.naive[0].quantiles
    assert (model >= 0).all() and (naive >= 0).all(), (model.min(), naive.min())
    assert (naive[:, 0] == 0).any()  # unclipped, seasonal naive's p10 band goes below 0
