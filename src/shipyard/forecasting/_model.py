"""A fitted forecaster: one booster per quantile, the spec, and the history each series needs.

:class:`Forecaster` answers "the quantiles of series S at time T" for T within the
horizon after the series' last known time, from the stored last window of each
series only; the same :func:`feature_rows` made its training rows. Quantiles are
sorted per row (rearrangement), so p10 ≤ p50 ≤ p90 always holds.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.forecasting._features import (
    SINGLE,
    ForecastSpec,
    Series,
    feature_rows,
    parse_times,
)


class Booster(Protocol):
    def predict(self, X: Any, **kwargs: Any) -> Any: ...


def predict_quantiles(boosters: Sequence[Booster], X: np.ndarray,
                      shifts: Sequence[float] = ()) -> np.ndarray:
    """Rows × quantiles (plus the calibration ``shifts``), sorted along each row so the
    quantiles never cross."""
    if not len(X):
        return np.empty((0, len(boosters)))
    out = np.column_stack([np.asarray(b.predict(X), dtype="float64") for b in boosters])
    if len(shifts):
        out = out + np.asarray(shifts, dtype="float64")[None, :]
    return np.sort(out, axis=1)


def calibration_shifts(levels: Sequence[float], actual: np.ndarray,
                       forecast: np.ndarray) -> tuple[float, ...]:
    """Per level q, the shift that puts a share q of ``actual`` at or below the shifted
    forecast on these points (the q-quantile of the errors; the median is not moved, so
    the point forecast stays the model's). Computed on the validation backtests, it
    corrects bands that in-sample quantile boosting leaves too narrow."""
    ok = np.isfinite(actual)
    if not ok.any():
        return tuple(0.0 for _ in levels)
    errors = actual[ok, None] - forecast[ok]
    return tuple(0.0 if q == 0.5 else float(np.quantile(errors[:, i], q))
                 for i, q in enumerate(levels))


def forecast_at(spec: ForecastSpec, boosters: Sequence[Booster], series: Series,
                origin: int, steps: np.ndarray, known: np.ndarray | None = None) -> np.ndarray:
    """The quantiles of ``series`` ``steps`` periods after index ``origin`` (steps × q);
    ``known``: the known-ahead columns at those times (else read from the series).

    With a ``spec.floor`` (a target never negative in training), every quantile is
    clipped at it: a monotone map, so the quantiles stay ordered."""
    X, _, level = feature_rows(spec, series, np.full(len(steps), origin), steps, known)
    return clip(spec, predict_quantiles(boosters, X, spec.shifts) + level[:, None])


def clip(spec: ForecastSpec, quantiles: np.ndarray) -> np.ndarray:
    """``quantiles`` raised to ``spec.floor`` where below it (unchanged without a floor)."""
    return quantiles if spec.floor is None else np.maximum(quantiles, spec.floor)


def history(spec: ForecastSpec, series: Sequence[Series]) -> dict[str, Any]:
    """The last window of each series the features read: what a bundle stores (JSON)."""
    keep = spec.window_needed
    out: dict[str, Any] = {}
    for one in series:
        values = one.values[-keep:]
        first = len(one.values) - len(values)
        out[one.name] = {"start": one.time(first, spec.step).isoformat(),
                         "values": [None if not math.isfinite(v) else float(v)
                                    for v in values]}
    return out


@dataclass(frozen=True)
class Forecaster:
    """The boosters, the spec and the stored windows, answering forecast requests."""

    spec: ForecastSpec
    boosters: tuple[Booster, ...]
    windows: Mapping[str, Series]

    @classmethod
    def from_history(cls, spec: ForecastSpec, boosters: Sequence[Booster],
                     stored: Mapping[str, Any]) -> Forecaster:
        windows = {name: Series(name, pd.Timestamp(w["start"]),
                                np.array([np.nan if v is None else v for v in w["values"]],
                                         dtype="float64"))
                   for name, w in stored.items()}
        return cls(spec, tuple(boosters), windows)

    def last_time(self, name: str) -> pd.Timestamp:
        w = self.windows[name]
        return pd.Timestamp(w.time(len(w.values) - 1, self.spec.step))

    def predict(self, df: pd.DataFrame) -> pd.DataFrame:
        """Rows of (series, time) → one row of quantiles each (columns ``p10``, ``p50``…).

        Raises:
            InvalidRequest: a missing or unreadable time, an unknown series, or a time
                that is not 1..horizon steps after the series' last known time.
        """
        spec = self.spec
        if spec.time_column not in df.columns:
            raise InvalidRequest(f"Column {spec.time_column!r} is missing; a forecast request "
                                 "names the future time of each row.")
        times = parse_times(df[spec.time_column].reset_index(drop=True), spec.time_column,
                            spec.periods)
        if spec.series_column:
            if spec.series_column not in df.columns:
                raise InvalidRequest(
                    f"Column {spec.series_column!r} is missing; name the series of each row "
                    f"(one of {self._known()}).")
            raw = df[spec.series_column].reset_index(drop=True)
            if raw.isna().any():
                raise InvalidRequest(
                    f"Column {spec.series_column!r} is missing in row "
                    f"{int(np.flatnonzero(raw.isna().to_numpy())[0])}; name the series of "
                    f"each row (one of {self._known()}).")
            ids = raw.astype(str)
        else:
            ids = pd.Series(SINGLE, index=range(len(df)))
        known = np.empty((len(df), 0))
        if spec.known_ahead:
            missing = [c for c in spec.known_ahead if c not in df.columns]
            if missing:
                raise InvalidRequest(
                    f"Column {missing[0]!r} is missing; the model reads it at each forecast "
                    f"time (known ahead: {list(spec.known_ahead)}). Add it to every row.")
            cols = []
            for c in spec.known_ahead:
                raw = df[c].reset_index(drop=True)
                if pd.api.types.is_bool_dtype(raw.dtype):
                    raw = raw.astype("float64")
                values = pd.to_numeric(raw, errors="coerce")
                bad = raw.notna() & values.isna()
                if bad.any():
                    i = int(np.flatnonzero(bad.to_numpy())[0])
                    raise InvalidRequest(
                        f"Column {c!r} must hold a number (or true/false) in row {i}; got "
                        f"{raw.iloc[i]!r}. The model reads it at each forecast time "
                        f"(known ahead: {list(spec.known_ahead)}).")
                cols.append(values.to_numpy("float64"))
            known = np.column_stack(cols)
        out = np.full((len(df), len(spec.quantiles)), np.nan)
        for name in pd.unique(ids):
            rows = np.flatnonzero((ids == name).to_numpy())
            out[rows] = self._one(str(name), times.iloc[rows], rows, known[rows])
        return pd.DataFrame(out, columns=spec.quantile_names())

    def _known(self) -> str:
        names = sorted(self.windows)
        return ", ".join(repr(n) for n in names[:5]) + (
            f" and {len(names) - 5} more" if len(names) > 5 else "")

    def _one(self, name: str, times: pd.Series, rows: np.ndarray,
             known: np.ndarray) -> np.ndarray:
        spec = self.spec
        if name not in self.windows:
            raise InvalidRequest(
                f"Unknown series {name!r} in {spec.series_column!r} (row {rows[0]}); the model "
                f"was trained on {self._known()}.")
        if times.isna().any():
            raise InvalidRequest(f"Column {spec.time_column!r} is missing in row "
                                 f"{rows[int(np.flatnonzero(times.isna().to_numpy())[0])]}; "
                                 "send the time to forecast.")
        last = self.last_time(name)
        label = spec.time_label
        step = f"{spec.step_label()} period(s)" if spec.periods else spec.step_label()
        ratio = ((times - last) / spec.step).to_numpy(dtype="float64")
        steps = np.round(ratio).astype("int64")
        off = np.abs(ratio - steps) > 1e-9
        if off.any():
            i = int(np.flatnonzero(off)[0])
            raise InvalidRequest(
                f"Time {label(times.iloc[i])} (row {rows[i]}) is not on "
                f"the grid of series {name!r}: the model forecasts in steps of {step} "
                f"from its last known time {label(last)}, e.g. "
                f"{label(last + spec.step)}. Send a time on that grid.")
        bad = (steps < 1) | (steps > spec.horizon)
        if bad.any():
            i = int(np.flatnonzero(bad)[0])
            end = last + spec.horizon * spec.step
            raise InvalidRequest(
                f"Time {label(times.iloc[i])} (row {rows[i]}) is not within "
                f"the forecast horizon of series {name!r}: the model forecasts "
                f"{spec.horizon} steps of {step} after its last known time "
                f"{label(last)}, i.e. {label(last + spec.step)} to "
                f"{label(end)}. Retrain on newer data to forecast further.")
        window = self.windows[name]
        return forecast_at(spec, self.boosters, window, len(window.values) - 1, steps,
                           known if spec.known_ahead else None)
