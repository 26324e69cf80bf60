"""Forecasting core: series on a time grid, forecast features, accuracy metrics, a plot.

Pure (no I/O, no server). The ``forecast`` built-in algorithm
(:mod:`shipyard.training._forecast`) trains on it, and a forecast bundle
(:mod:`shipyard.bundle._forecast`) serves through :class:`Forecaster`. See
docs/forecast.md.
"""

from __future__ import annotations

from shipyard.forecasting._features import (
    ForecastSpec,
    Series,
    feature_rows,
    is_periods,
    naive_residual_quantiles,
    naive_scale,
    nonnegative_floor,
    parse_times,
    quantile_name,
    seasonal_naive,
    time_label,
    to_series,
    training_rows,
)
from shipyard.forecasting._metrics import METRICS, Scored, pinball, pool
from shipyard.forecasting._model import (
    Forecaster,
    calibration_shifts,
    clip,
    forecast_at,
    history,
    predict_quantiles,
)
from shipyard.forecasting._plots import plot_forecast

__all__ = [
    "METRICS", "ForecastSpec", "Forecaster", "Scored", "Series", "calibration_shifts",
    "clip", "feature_rows", "is_periods",
    "forecast_at", "history", "naive_residual_quantiles", "naive_scale", "nonnegative_floor",
    "parse_times",
    "pinball", "plot_forecast", "pool", "predict_quantiles", "quantile_name",
    "seasonal_naive", "time_label", "to_series", "training_rows",
]
