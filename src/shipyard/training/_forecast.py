"""The ``forecast`` built-in: quantile boosting over lag, season, rolling and calendar features.

Strategy: *direct*, one LightGBM model per quantile for every step of the horizon at
once (the step is a feature), trained on every (origin, step) pair of every series
(see :mod:`shipyard.forecasting._features`). Direct rather than recursive because a
recursive forecast feeds its own medians back as lags, which leaves the p10 and p90
of later steps without a meaning; direct quantiles are each a model's own answer,
sorted per row so they never cross.

:func:`check_forecast_request` is pure and cheap: the jobs service runs it at submit
time on the dataset, and the job again on its rows. :func:`run_forecast` (in
``_forecast_entry``) is the job's flow: rolling-origin backtests, then the final fit.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.forecasting import (
    ForecastSpec,
    Series,
    is_periods,
    nonnegative_floor,
    to_series,
)
from shipyard.names import names_hint
from shipyard.training._algorithms import (
    Algorithm,
    AlgorithmInfo,
    FitData,
    FitResult,
    register,
)
from shipyard.training._hyperparameters import Hyperparameter as H

FORECASTING = "forecasting"
_RANGE = re.compile(r"^\s*(\d+)\s*(?:-\s*(\d+))?\s*$")


def _ints(name: str, text: str) -> tuple[int, ...]:
    """``"1-7,14,28"`` → (1, 2, ..., 7, 14, 28): positive integers, sorted, unique."""
    out: set[int] = set()
    for part in str(text).split(","):
        m = _RANGE.match(part)
        if not m or int(m.group(1)) < 1 or (m.group(2) and int(m.group(2)) < int(m.group(1))):
            raise InvalidRequest(
                f"Hyperparameter {name!r} must list positive whole numbers or ranges, such "
                f"as '1-7,14,28'; got {text!r}.")
        out.update(range(int(m.group(1)), int(m.group(2) or m.group(1)) + 1))
    if len(out) > 400:
        raise InvalidRequest(f"Hyperparameter {name!r} lists {len(out)} values; at most 400.")
    return tuple(sorted(out))


def _quantiles(text: str) -> tuple[float, ...]:
    try:
        qs = tuple(sorted({float(v) for v in str(text).split(",")}))
    except ValueError:
        qs = ()
    if not qs or any(not 0 < q < 1 for q in qs) or 0.5 not in qs:
        raise InvalidRequest(
            f"Hyperparameter 'quantiles' must list levels between 0 and 1 including the "
            f"median 0.5, such as '0.1,0.5,0.9'; got {text!r}.")
    return qs


class Forecast(Algorithm):
    """One LightGBM booster per quantile (``objective=quantile``) over forecast features."""

    info = AlgorithmInfo(
        name="forecast", problem_types=frozenset({FORECASTING}), needs_scaling=False,
        categorical="native", framework="lightgbm",
        description="Time-series forecasting: LightGBM quantile models (p10, p50, p90) over "
                    "lag, seasonal, rolling and calendar features per series, direct "
                    "multi-step; scored by rolling-origin backtests against seasonal naive. "
                    "Needs --time-column.",
        size_drivers="n_estimators and num_leaves, per quantile",
        hyperparameters=(
            H("horizon", "int", 14, 1, 1000, tuned=False,
              description="steps ahead to forecast (days for daily data)"),
            H("series_column", "str", None, tuned=False,
              description="the column naming each series (null: the data is one series)"),
            H("lags", "str", "1-7,14,28", tuned=False,
              description="the values at and before the origin used as features "
                          "(1 = the last known); ranges allowed"),
            H("rolling_windows", "str", "7,28", tuned=False,
              description="windows (in steps) of the rolling means and spreads at the origin"),
            H("season_length", "int", 7, 1, 1000, tuned=False,
              description="steps in a season (7 for daily data with a weekly cycle): the "
                          "seasonal lags, seasonal naive and MASE's scale"),
            H("quantiles", "str", "0.1,0.5,0.9", tuned=False,
              description="the quantile levels forecast (must include 0.5)"),
            H("known_ahead", "str", None, tuned=False,
              description="numeric columns known ahead (holidays, a weather forecast), read "
                          "at each target time; forecast requests send them"),
            H("learning_rate", "float", 0.05, 1e-3, 1.0, log=True,
              description="shrinkage of each tree's contribution"),
            H("num_leaves", "int", 31, 2, 1024, search=(8, 128, True),
              description="leaves per tree, at most"),
            H("n_estimators", "int", 300, 1, 5000, search=(50, 1000, True),
              description="boosting rounds (trees) per quantile"),
            H("min_child_samples", "int", 20, 1, 1000, search=(5, 100, True),
              description="training rows a leaf needs, at least"),
            H("max_history", "int", None, 10, 10_000_000, tuned=False,
              description="train on the last this many steps of each series only (faster "
                          "fits, and the recent regime); null: all of them"),
            H("calibrate", "bool", True, tuned=False,
              description="shift each quantile by its errors on the validation backtests, "
                          "so the bands cover as they say (the median is not moved)"),
            H("backtest_folds", "int", 3, 1, 20, tuned=False,
              description="rolling origins the validation metrics average over (the test "
                          "metrics are one more, the most recent horizon)"),
        ),
    )

    def fit(self, data: FitData) -> FitResult:
        """One booster per quantile level on ``X_train``/``y_train``; the model is the tuple."""
        import lightgbm as lgb

        hp = data.hyperparameters
        levels = _quantiles(str(hp.get("quantiles") or "0.1,0.5,0.9"))
        X = data.X_train.to_numpy(dtype="float64")
        names = [str(c) for c in data.X_train.columns]
        dataset = lgb.Dataset(X, label=data.y_train, feature_name=names, free_raw_data=False,
                              params={"verbose": -1})
        boosters = []
        rounds = int(hp.get("n_estimators") or 300)
        progress = data.progress(rounds * len(levels), "trees")
        for i, q in enumerate(levels):
            params = {"objective": "quantile", "alpha": q, "verbose": -1,
                      "learning_rate": float(hp.get("learning_rate") or 0.05),
                      "num_leaves": int(hp.get("num_leaves") or 31),
                      "min_child_samples": int(hp.get("min_child_samples") or 20),
                      "num_threads": data.n_jobs, "seed": data.seed,
                      "deterministic": True, "force_row_wise": True}
            booster = lgb.train(params, dataset, num_boost_round=rounds)
            boosters.append(booster)
            progress.update(rounds * (i + 1))
        return FitResult(model=tuple(boosters))


register(Forecast)


def forecast_spec(hp: Mapping[str, Any], target: str, time_column: str,
                  step_seconds: float = 86400.0) -> ForecastSpec:
    """The spec of validated hyperparameters (lists parsed)."""
    return ForecastSpec(
        time_column=time_column, target=target, horizon=int(hp["horizon"]),
        lags=_ints("lags", hp["lags"]), windows=_ints("rolling_windows", hp["rolling_windows"]),
        season_length=int(hp["season_length"]), quantiles=_quantiles(hp["quantiles"]),
        series_column=hp.get("series_column"), step_seconds=step_seconds,
        known_ahead=_columns(hp.get("known_ahead")))


def _columns(text: str | None) -> tuple[str, ...]:
    return tuple(dict.fromkeys(c.strip() for c in str(text or "").split(",") if c.strip()))


def min_history(spec: ForecastSpec, folds: int) -> int:
    """Steps a series needs: the backtests' held-out windows, plus enough before the
    earliest origin for the features and the seasonal-naive scale."""
    return (folds + 1) * spec.horizon + max(spec.window_needed, 2 * spec.season_length)


def check_forecast_request(df: pd.DataFrame, target: str | None, time_column: str | None,
                           hp: Mapping[str, Any], *, complete: bool = True
                           ) -> tuple[ForecastSpec, list[Series]]:
    """Refuse a forecast request that cannot work; return its spec and series.

    Args:
        df: the training rows (at submit, the dataset or a sample of it).
        hp: hyperparameters validated against :class:`Forecast`'s declarations.
        complete: ``df`` is every row (the history-length check needs them all).

    Raises:
        InvalidRequest: no time column, one that is not a date/time, two rows at one
            time in a series, a target that is not numeric, too little history.
    """
    columns = [str(c) for c in df.columns]
    if not time_column:
        raise InvalidRequest(
            "A forecast needs a time column: name the column holding each row's date/time "
            "in split.time_column (--time-column date on the CLI).")
    if time_column not in df.columns:
        raise InvalidRequest(f"The time column {time_column!r} is not in the data; "
                             f"{names_hint(time_column, columns, 'column')}. Fix "
                             "split.time_column (--time-column on the CLI).")
    if not target or target not in df.columns:
        raise InvalidRequest(f"A forecast needs a numeric target column; got {target!r}. "
                             "Name the column to forecast in 'target' (--target on the "
                             "CLI).")
    y = df[target]
    if not pd.api.types.is_numeric_dtype(y.dtype) or pd.api.types.is_bool_dtype(y.dtype):
        raise InvalidRequest(f"The target {target!r} holds {y.dtype} values; a forecast "
                             "needs numbers. Choose a numeric target.")
    series_column = hp.get("series_column")
    if series_column and series_column not in df.columns:
        raise InvalidRequest(
            f"The series column {series_column!r} is not in the data; "
            f"{names_hint(series_column, columns, 'column')}. Fix series_column.")
    if series_column in (time_column, target):
        raise InvalidRequest(f"series_column {series_column!r} is also the time column or the "
                             "target; name the column that identifies each series.")
    spec = forecast_spec(hp, target, time_column)
    if hp.get("max_history") is not None and int(hp["max_history"]) <= spec.horizon:
        raise InvalidRequest(
            f"max_history ({int(hp['max_history'])}) must be above horizon ({spec.horizon}): "
            f"trained on fewer steps, the model never sees a value {spec.horizon} steps "
            "ahead. Raise max_history (e.g. 1500) or leave it out.")
    for column in spec.known_ahead:
        if column not in df.columns:
            raise InvalidRequest(
                f"The known-ahead column {column!r} is not in the data; "
                f"{names_hint(column, columns, 'column')}. Fix known_ahead.")
        values = df[column]
        if column in (time_column, target, series_column) or not (
                pd.api.types.is_numeric_dtype(values.dtype)
                or pd.api.types.is_bool_dtype(values.dtype)):
            raise InvalidRequest(
                f"The known-ahead column {column!r} must hold numbers or true/false (and not "
                f"be the time, target or series column); it holds {values.dtype} values.")
    periods = is_periods(df[time_column])
    series, step = to_series(df, time_column, target, series_column, spec.known_ahead, periods)
    spec = ForecastSpec.from_dict({**spec.to_dict(), "step_seconds": step,
                                   "floor": nonnegative_floor(series), "periods": periods})
    if complete:
        need = min_history(spec, int(hp["backtest_folds"]))
        short = [s for s in series if np.isfinite(s.values).sum() < need]
        if short:
            s = short[0]
            which = f"Series {s.name!r} has" if series_column else "The series has"
            raise InvalidRequest(
                f"{which} {int(np.isfinite(s.values).sum())} values; forecast needs at least "
                f"{need} here: {int(hp['backtest_folds']) + 1} backtest windows of horizon "
                f"{spec.horizon} plus {need - (int(hp['backtest_folds']) + 1) * spec.horizon} "
                "steps of history for the lags, seasons and rolling windows. Lower "
                "horizon, backtest_folds or the longest lag, or give more history.")
    return spec, series
