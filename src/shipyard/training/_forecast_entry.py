"""The in-job flow of a ``forecast`` training: rolling-origin backtests, a final fit, a bundle.

Origins are counted back from the data's last time, one horizon apart: the most
recent (origin = end − horizon) is the *test* holdout, the ``backtest_folds`` before
it are the *validation* backtests. At each origin the data is cut at the origin
(every series, so no series' future reaches another's features), the model is
fitted on the cut data only and forecasts ``horizon`` steps; seasonal naive is
scored on the same windows. The bundle's model is then fitted on every row.

With ``calibrate`` (the default), each quantile is shifted by the quantile of its errors
on the validation backtests (:func:`shipyard.forecasting.calibration_shifts`) before the
test holdout is forecast: the test metrics are those of the calibrated model, as served,
on data the calibration never saw.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd

import shipyard
from shipyard.bundle import get_framework, write_bundle
from shipyard.bundle._forecast import FORECAST_FILE, ForecastPipeline, input_signature
from shipyard.errors import InvalidRequest
from shipyard.forecasting import (
    Forecaster,
    ForecastSpec,
    Scored,
    Series,
    calibration_shifts,
    clip,
    forecast_at,
    history,
    naive_residual_quantiles,
    naive_scale,
    nonnegative_floor,
    plot_forecast,
    pool,
    seasonal_naive,
    training_rows,
)
from shipyard.humanize import number
from shipyard.training._algorithms import (
    FitData,
    get_algorithm,
    num_cpus,
    validate_hyperparameters,
)
from shipyard.training._entry import EVALUATION_DIR, TrainingContext, TrainingResult
from shipyard.training._forecast import FORECASTING, check_forecast_request
from shipyard.training._sanity import size_warning

#: Points of history before the earliest origin drawn in the plot, in horizons.
PLOT_LEAD = 3


@dataclass
class Fold:
    """One origin's forecasts and what they are scored on."""

    origin: pd.Timestamp
    model: list[Scored]
    naive: list[Scored]
    #: For the plot: the first series' target times, actuals and quantiles.
    times: list[pd.Timestamp]
    actual: np.ndarray
    quantiles: np.ndarray


def _fit(ctx: TrainingContext, spec: ForecastSpec, hp: dict[str, Any],
         series: list[Series], live: bool) -> tuple[Any, ...]:
    if hp.get("max_history"):
        series = [s.tail(int(hp["max_history"]), spec.step) for s in series]
    X, y = training_rows(spec, series)
    if not len(y):
        raise InvalidRequest("No training rows remain before a backtest origin; give more "
                             "history or lower horizon and backtest_folds.")
    data = FitData(X_train=pd.DataFrame(X, columns=spec.feature_names()), y_train=y,
                   problem_type=FORECASTING, hyperparameters=hp, seed=ctx.seed,
                   n_jobs=ctx.n_jobs or num_cpus(),
                   log=ctx.log if live else (lambda line: None),
                   log_metric=ctx.log_metric if live else (lambda *a, **k: None),
                   progress_interval=ctx.progress_interval)
    return tuple(get_algorithm("forecast").fit(data).model)


def backtest(ctx: TrainingContext, spec: ForecastSpec, hp: dict[str, Any],
             series: list[Series], origin: pd.Timestamp) -> Fold:
    """Fit on every series cut at ``origin``, forecast ``horizon`` steps, score both models."""
    cut = [s.upto(origin, spec.step) for s in series]
    # A series with (almost) nothing before the origin has no history to forecast from.
    usable = [np.isfinite(c.values).sum() > spec.season_length for c in cut]
    fitted = [c for c, ok in zip(cut, usable, strict=True) if ok]
    # Whether to clip at 0 is the fit rows' to say: a negative first seen in the scored
    # window must not spare this backtest the clip a model served at the origin would get.
    spec = replace(spec, floor=nonnegative_floor(fitted))
    boosters = _fit(ctx, spec, hp, fitted, live=False)
    steps = np.arange(1, spec.horizon + 1)
    model, naive, plot = [], [], None
    for full, known, ok in zip(series, cut, usable, strict=True):
        if not ok:
            continue
        at = len(known.values) - 1
        index = at + steps
        actual = np.full(len(steps), np.nan)
        inside = index < len(full.values)
        actual[inside] = full.values[index[inside]]
        scale = naive_scale(known.values, spec.season_length)
        q = forecast_at(spec, boosters, known, at, steps,
                        full.known_at(spec.known_ahead, index) if spec.known_ahead else None)
        point = seasonal_naive(spec, known, at, steps)
        band = clip(spec, point[:, None] + naive_residual_quantiles(spec, known.values)[None, :])
        model.append(Scored(actual, q, spec.quantiles, scale))
        naive.append(Scored(actual, band, spec.quantiles, scale))
        if plot is None:
            plot = (list(known.time(index, spec.step)), actual, q)
    if plot is None:
        raise InvalidRequest(f"No series has history before the backtest origin "
                             f"{spec.time_label(origin)}; give more history or fewer folds.")
    return Fold(origin, model, naive, *plot)


def _plot(spec: ForecastSpec, series: Series, folds: list[Fold]) -> bytes:
    first = min(f.origin for f in folds)
    lead = first - PLOT_LEAD * spec.horizon * spec.step
    times = pd.DatetimeIndex(series.time(np.arange(len(series.values)), spec.step))
    keep = times > lead
    lo, hi = int(np.argmin(spec.quantiles)), int(np.argmax(spec.quantiles))
    names = spec.quantile_names()
    return plot_forecast({
        "series": series.name if spec.series_column else None, "target": spec.target,
        "band": f"{names[lo]}–{names[hi]}",
        "history": {"times": [spec.time_label(t) for t in times[keep]],
                    "values": series.values[keep].tolist()},
        "origins": [{"times": [spec.time_label(t) for t in f.times],
                     "actual": f.actual.tolist(),
                     "median": f.quantiles[:, spec.quantiles.index(0.5)].tolist(),
                     "low": f.quantiles[:, lo].tolist(), "high": f.quantiles[:, hi].tolist()}
                    for f in folds if f.times and pd.Timestamp(f.times[0]) > lead]})


def _log(ctx: TrainingContext, split: str, model: dict[str, float],
         naive: dict[str, float]) -> None:
    for name, value in model.items():
        if np.isfinite(value):
            ctx.log_metric(f"{split}.{name}", value)
    for name, value in naive.items():
        if np.isfinite(value):
            ctx.log_metric(f"{split}.naive_{name}", value)
    ctx.log(f"[training] {split}: forecast " + ", ".join(
        f"{k} {number(v)}" for k, v in model.items()) + "; seasonal naive " + ", ".join(
        f"{k} {number(v)}" for k, v in naive.items()))


def _floor_note(spec: ForecastSpec) -> str:
    return (f"the target {spec.target!r} is never below {spec.floor:g} in the training data, "
            f"so forecasts and their quantiles (and seasonal naive's band) are clipped at "
            f"{spec.floor:g}")


def _json(data: Any) -> bytes:
    return json.dumps(data, indent=2, sort_keys=True, allow_nan=False).encode("utf-8")


def _finite(metrics: dict[str, float]) -> dict[str, float]:
    return {k: v for k, v in metrics.items() if np.isfinite(v)}


def run_forecast(ctx: TrainingContext) -> TrainingResult:
    """Backtests, the final fit and the bundle of a ``forecast`` training (see module doc).

    Raises:
        InvalidRequest: a request the forecast cannot serve (no time column, …), before
            any fit.
    """
    hp = validate_hyperparameters("forecast", ctx.hyperparameters)
    if ctx.validation is not None or ctx.test is not None:
        raise InvalidRequest("A forecast scores itself by rolling-origin backtests on the "
                             "train input; drop the validation and test inputs.")
    if ctx.problem_type not in (None, FORECASTING):
        raise InvalidRequest(f"Algorithm 'forecast' does forecasting, not "
                             f"{ctx.problem_type!r}; leave problem_type out.")
    started = time.perf_counter()
    time_column = (ctx.split or {}).get("time_column")
    spec, series = check_forecast_request(ctx.train, ctx.target, time_column, hp)
    folds_n = int(hp["backtest_folds"])
    end = max(s.time(len(s.values) - 1, spec.step) for s in series)
    origins = [end - f * spec.horizon * spec.step for f in range(1, folds_n + 2)]
    ctx.log(f"[training] {len(series)} series, step {spec.step_label()}, horizon {spec.horizon}; "
            f"{len(spec.feature_names())} features; backtests at "
            + ", ".join(str(spec.time_label(o)) if spec.periods else o.date().isoformat()
                        for o in reversed(origins)))
    if spec.floor is not None:
        ctx.log(f"[training] {_floor_note(spec)}")
    folds: list[Fold] = []
    for i, origin in enumerate(reversed(origins)):
        if i == len(origins) - 1 and hp["calibrate"]:
            # The validation backtests calibrate the bands; the test holdout then scores
            # the calibrated model, as it will be served.
            parts = [p for f in folds for p in f.model]
            spec = replace(spec, shifts=calibration_shifts(
                spec.quantiles, np.concatenate([p.actual for p in parts]),
                np.vstack([p.quantiles for p in parts])))
            ctx.log("[training] band calibration on the validation backtests: "
                    + ", ".join(f"{n} {v:+.4g}" for n, v in
                                zip(spec.quantile_names(), spec.shifts, strict=True)))
        folds.append(backtest(ctx, spec, hp, series, origin))
        ctx.log(f"[training] backtest {i + 1} of {len(origins)} (origin "
                f"{spec.time_label(origin)}) done")
    folds.reverse()  # folds[0] is the test holdout (the most recent origin)
    metrics = {"validation": pool([p for f in folds[1:] for p in f.model]),
               "test": pool(folds[0].model)}
    baseline = {"validation": pool([p for f in folds[1:] for p in f.naive]),
                "test": pool(folds[0].naive)}
    for split in ("validation", "test"):
        _log(ctx, split, metrics[split], baseline[split])
    fit_started = time.perf_counter()
    ctx.log(f"[training] fitting forecast on all {sum(len(s.values) for s in series):,} "
            "steps")
    boosters = _fit(ctx, spec, hp, series, live=True)
    fit_seconds = time.perf_counter() - fit_started
    return _write(ctx, spec, hp, series, boosters, folds, metrics, baseline,
                  fit_seconds, time.perf_counter() - started)


def _write(ctx: TrainingContext, spec: ForecastSpec, hp: dict[str, Any], series: list[Series],
           boosters: tuple[Any, ...], folds: list[Fold], metrics: dict[str, dict[str, float]],
           baseline: dict[str, dict[str, float]], fit_seconds: float,
           total_seconds: float) -> TrainingResult:
    framework = get_framework("lightgbm")
    stored = history(spec, series)
    model_files = [f"model.{name}{framework.extension}" for name in spec.quantile_names()]
    files: dict[str, bytes] = {FORECAST_FILE: _json({"spec": spec.to_dict(), "history": stored})}
    files.update({name: framework.dumps(b) for name, b in zip(model_files, boosters,
                                                              strict=True)})
    size = sum(len(b) for b in files.values())
    too_big = size_warning(size, ctx.bundle_size_warning, "forecast",
                           get_algorithm("forecast").info.size_drivers, hp)
    evaluation = {
        "problem_type": FORECASTING, "metrics": {k: _finite(v) for k, v in metrics.items()},
        "baseline": {k: _finite(v) for k, v in baseline.items()},
        "baseline_name": "seasonal naive", "warnings": [too_big] if too_big else [],
        "shifts": dict(zip(spec.quantile_names(), spec.shifts, strict=False)),
        "floor": spec.floor,
        "folds": [{"origin": spec.time_label(f.origin), "role": "test" if i == 0 else "validation",
                   "metrics": _finite(pool(f.model)), "naive": _finite(pool(f.naive))}
                  for i, f in enumerate(folds)]}
    # evaluation.json, as every training's: the SDK's job.evaluation() reads it.
    files[f"{EVALUATION_DIR}/evaluation.json"] = _json(evaluation)
    if ctx.plots:
        files[f"{EVALUATION_DIR}/forecast.png"] = _plot(spec, series[0], folds)
    first = series[0]
    next_time = first.time(len(first.values), spec.step)
    notes = [f"direct multi-step strategy: one LightGBM quantile model per level over "
             f"{len(spec.feature_names())} features"]
    if spec.floor is not None:
        notes.append(_floor_note(spec))
    manifest = {
        "task": FORECASTING, "problem_type": FORECASTING, "algorithm": "forecast",
        "framework": {"name": framework.name, "version": framework.version()},
        "shipyard_version": shipyard.__version__, "target": spec.target, "classes": None,
        "input_signature": input_signature(spec, [s.name for s in series],
                                           spec.time_label(next_time)),
        "feature_names": spec.feature_names(),
        "output_schema": [{"name": n, "dtype": "float64"} for n in spec.quantile_names()],
        "recipe": FORECAST_FILE, "model_files": model_files, "hyperparameters": hp,
        "forecast": {"horizon": spec.horizon, "step": spec.step_label(),
                     "periods": spec.periods,
                     "series": len(series), "quantiles": list(spec.quantiles),
                     "time_column": spec.time_column, "series_column": spec.series_column,
                     "floor": spec.floor,
                     "last_time": {s.name: spec.time_label(
                         s.time(len(s.values) - 1, spec.step)) for s in series[:100]}},
        "split": {"method": "backtest", "time_column": spec.time_column,
                  "origins": [spec.time_label(f.origin) for f in folds],
                  "validation_folds": len(folds) - 1},
        "metrics": {k: _finite(v) for k, v in metrics.items()},
        "baseline": {k: _finite(v) for k, v in baseline.items()},
        "training": {"best_iteration": None, "fit_seconds": fit_seconds,
                     "total_seconds": total_seconds, "notes": notes,
                     "warnings": [too_big] if too_big else []},
        "bundle_size": {"bytes": size, "warning": too_big},
        "lineage": dict(ctx.lineage), "created_at": datetime.now(UTC).isoformat(),
    }
    written = write_bundle(ctx.model_dir, manifest=manifest, files=files)
    ctx.log(f"[training] model bundle written to {ctx.model_dir}")
    pipeline = ForecastPipeline(written, Forecaster.from_history(spec, boosters, stored),
                                framework)
    return TrainingResult(manifest=written, model_dir=ctx.model_dir, notes=notes,
                          fit_seconds=fit_seconds, pipeline=pipeline)
