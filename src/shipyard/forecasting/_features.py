"""Series on a regular time grid, and the features of a forecast made at an origin.

The strategy is *direct, one model for every step*: a training row is an (origin,
step) pair of one series. Its features are computed from the values at and before
the origin only (lags, the same point of the season in the last seasons, rolling
means and spreads) plus the step and the calendar of the target time; its label is
the value ``step`` periods after the origin. A forecast at an origin is then one row
per step, from the same function: nothing a forecast reads can come from after its
origin, which the leakage test checks by changing the future.

Pure: frames and specs in, arrays out; no I/O.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest

#: Seasons back whose same point is a feature (from the latest one known at the origin).
SEASONAL_LAGS = 4
#: The series id of a frame without a series column.
SINGLE = "series"
#: Where period 0 of a numbered time column (a year, a period 1..N) sits on the internal
#: timeline, on which one period is one second: a number never becomes a date, and the
#: grid, lags and horizon work on periods as they do on days.
PERIOD_ORIGIN = pd.Timestamp("1970-01-01")
PERIOD = pd.Timedelta(seconds=1)


@dataclass(frozen=True)
class ForecastSpec:
    """What the features are made of; stored in the bundle's ``forecast.json``."""

    time_column: str
    target: str
    horizon: int
    lags: tuple[int, ...]
    windows: tuple[int, ...]
    season_length: int
    quantiles: tuple[float, ...]
    series_column: str | None = None
    #: The grid's step, in seconds (inferred from the data).
    step_seconds: float = 86400.0
    #: Numeric columns known ahead (a holiday flag, a weather forecast): each a feature at
    #: the target time, sent in every forecast request.
    known_ahead: tuple[str, ...] = ()
    #: Per quantile level, what calibration adds to the model's forecast (empty: none;
    #: see :func:`shipyard.forecasting.calibration_shifts`).
    shifts: tuple[float, ...] = ()
    #: The least value a forecast may take (0 when the target was never negative in
    #: training: counts, sales, demand), or ``None``: no bound.
    floor: float | None = None
    #: The time column numbers periods (a year, a period 1..N), not dates: no calendar
    #: features, and times are read and shown as those numbers.
    periods: bool = False

    @property
    def step(self) -> pd.Timedelta:
        return pd.Timedelta(seconds=self.step_seconds)

    @property
    def seasonal_offsets(self) -> list[int]:
        return list(range(SEASONAL_LAGS))

    @property
    def window_needed(self) -> int:
        """Values before (and at) the origin the features read, at most."""
        back = self.season_length * (math.ceil(self.horizon / self.season_length)
                                     + SEASONAL_LAGS)
        return max([*self.lags, *self.windows, back])

    def quantile_names(self) -> list[str]:
        return [quantile_name(q) for q in self.quantiles]

    def feature_names(self) -> list[str]:
        names = ["step", "level"] + [f"lag_{j}" for j in self.lags]
        names += [f"season_lag_{m + 1}" for m in self.seasonal_offsets]
        names += [f"{kind}_{w}" for w in self.windows for kind in ("mean", "std")]
        if not self.periods:
            names += ["dayofweek", "day", "month", "dayofyear", "weekofyear"]
            if self.step_seconds < 86400:
                names.append("hour")
        return names + [f"known_{c}" for c in self.known_ahead]

    def time_label(self, t: Any) -> Any:
        """A time as users see it: the period number, or ISO 8601 text."""
        return time_label(t, self.periods)

    def step_label(self) -> Any:
        """The grid's step as users see it: periods (a number), or a duration's text."""
        return round(self.step_seconds) if self.periods else str(self.step)

    def to_dict(self) -> dict[str, Any]:
        return {k: list(v) if isinstance(v, tuple) else v for k, v in asdict(self).items()}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> ForecastSpec:
        return cls(time_column=str(data["time_column"]), target=str(data["target"]),
                   horizon=int(data["horizon"]), lags=tuple(int(v) for v in data["lags"]),
                   windows=tuple(int(v) for v in data["windows"]),
                   season_length=int(data["season_length"]),
                   quantiles=tuple(float(v) for v in data["quantiles"]),
                   series_column=data.get("series_column"),
                   step_seconds=float(data.get("step_seconds", 86400.0)),
                   known_ahead=tuple(str(c) for c in data.get("known_ahead") or ()),
                   shifts=tuple(float(v) for v in data.get("shifts") or ()),
                   floor=None if data.get("floor") is None else float(data["floor"]),
                   periods=bool(data.get("periods", False)))


def nonnegative_floor(series: Sequence[Series]) -> float | None:
    """0.0 when every known value of every series is at or above 0 (a count, sales, a
    demand: forecasts are then clipped there), else ``None`` (never clip a target that
    can go negative)."""
    known = [s.values[np.isfinite(s.values)] for s in series]
    if not any(len(v) for v in known) or any(bool((v < 0).any()) for v in known):
        return None
    return 0.0


def quantile_name(q: float) -> str:
    """0.1 → ``p10``, 0.5 → ``p50``, 0.975 → ``p97.5``."""
    return f"p{q * 100:g}"


@dataclass(frozen=True)
class Series:
    """One series on its regular grid: ``values[i]`` at ``start + i * step`` (NaN: a gap),
    and the known-ahead columns on the same grid."""

    name: str
    start: pd.Timestamp
    values: np.ndarray
    known: Mapping[str, np.ndarray] = field(default_factory=dict)

    def known_at(self, columns: Sequence[str], index: np.ndarray) -> np.ndarray:
        """The known-ahead values at ``index`` (rows × columns; NaN past the series)."""
        out = np.full((len(index), len(columns)), np.nan)
        for j, c in enumerate(columns):
            ok = (index >= 0) & (index < len(self.known[c]))
            out[ok, j] = self.known[c][index[ok]]
        return out

    def time(self, i: int | np.ndarray, step: pd.Timedelta) -> Any:
        """The time of index ``i`` (a Timestamp), or of each index (a DatetimeIndex)."""
        if isinstance(i, np.ndarray):
            return pd.DatetimeIndex(self.start + pd.to_timedelta(i * step.value, unit="ns"))
        return self.start + i * step

    def tail(self, n: int, step: pd.Timedelta) -> Series:
        """The last ``n`` steps of the series."""
        first = max(len(self.values) - n, 0)
        return Series(self.name, self.time(first, step), self.values[first:],
                      {c: v[first:] for c, v in self.known.items()})

    def upto(self, end: pd.Timestamp, step: pd.Timedelta) -> Series:
        """The series with only the values at or before ``end`` (what an origin knows)."""
        n = int(math.floor((end - self.start) / step)) + 1
        return Series(self.name, self.start, self.values[:max(n, 0)].copy(), self.known)


#: Where numbers go in a time column.
_NUMBERS_HINT = ("Numbered periods (a year such as 1990, a period 1..N) go in a numeric "
                 "column, not among dates.")


def time_label(t: Any, periods: bool) -> Any:
    """``t`` (a Timestamp) as users see it: the period number, or ISO 8601 text."""
    if periods:
        return round((pd.Timestamp(t) - PERIOD_ORIGIN) / PERIOD)
    return pd.Timestamp(t).isoformat()


def _span(gap: pd.Timedelta, periods: bool) -> str:
    return f"{round(gap / PERIOD)} period(s)" if periods else str(gap)


def parse_times(values: pd.Series, column: str, periods: bool = False) -> pd.Series:
    """``values`` as timestamps (tz-naive), or InvalidRequest naming the column and a bad value.

    ``periods``: the column numbers periods (a year, 1..N), placed on the internal timeline
    at :data:`PERIOD_ORIGIN` + n × :data:`PERIOD`; otherwise it holds dates/times.
    """
    if pd.api.types.is_bool_dtype(values.dtype):
        raise InvalidRequest(f"The time column {column!r} holds true/false values; send "
                             "dates/times such as '2024-01-31' or period numbers (a year "
                             "such as 2021, a period 1..N).")
    if periods:
        return _parse_periods(values, column)
    if pd.api.types.is_datetime64_any_dtype(values.dtype):
        times = pd.to_datetime(values)
    elif pd.api.types.is_numeric_dtype(values.dtype):
        raise InvalidRequest(
            f"The time column {column!r} holds {values.dtype} values, not dates or times, "
            "but this model was trained on dates; send dates/times such as '2024-01-31'.")
    else:
        number = values.map(lambda v: isinstance(v, int | float | np.number)
                            and not pd.isna(v)).to_numpy(dtype=bool)
        if number.any():
            # pandas reads a number as a date (a year) now, as nanoseconds after 1970
            # from pandas 4: neither is what the number meant.
            i = int(np.flatnonzero(number)[0])
            raise InvalidRequest(
                f"The time column {column!r} must hold dates/times; got the number "
                f"{values.iloc[i]!r} in row {values.index[i]}. Send ISO 8601 text such as "
                f"'2024-01-31'. {_NUMBERS_HINT}")
        times = pd.to_datetime(values.astype("object"), errors="coerce", format="ISO8601")
        bad = values[times.isna() & values.notna()]
        if len(bad):
            raise InvalidRequest(
                f"The time column {column!r} must hold dates/times; got {bad.iloc[0]!r} in row "
                f"{bad.index[0]}. Use ISO 8601 text such as '2024-01-31' for --time-column.")
    if getattr(times.dt, "tz", None) is not None:
        times = times.dt.tz_convert("UTC").dt.tz_localize(None)
    return times


#: Periods a numbered time column may count from 0, either way (Timestamps reach 2262).
MAX_PERIOD = 9_000_000_000


def _parse_periods(values: pd.Series, column: str) -> pd.Series:
    numbers = pd.to_numeric(values, errors="coerce").astype("float64")
    bad = values.notna() & (~np.isfinite(numbers) | (numbers % 1 != 0)
                            | (numbers.abs() > MAX_PERIOD))
    if bad.any():
        i = int(np.flatnonzero(bad.to_numpy())[0])
        value = values.iloc[i]
        value = value.item() if isinstance(value, np.generic) else value
        raise InvalidRequest(
            f"The time column {column!r} numbers periods (a year such as 2021, a period "
            f"1..N); got {value!r} in row {values.index[i]}. Send a whole number.")
    return PERIOD_ORIGIN + pd.to_timedelta(numbers, unit="s")


def is_periods(values: pd.Series) -> bool:
    """A time column of numbers (not true/false): it numbers periods."""
    return pd.api.types.is_numeric_dtype(values.dtype) and not \
        pd.api.types.is_bool_dtype(values.dtype)


def to_series(df: pd.DataFrame, time_column: str, target: str, series_column: str | None,
              known_ahead: Sequence[str] = (), periods: bool = False
              ) -> tuple[list[Series], float]:
    """The frame's rows as series on one regular grid, and the grid's step in seconds.

    Raises:
        InvalidRequest: a missing time, two rows at the same time in one series, or
            times on no regular grid.
    """
    times = parse_times(df[time_column], time_column, periods)
    if times.isna().any():
        row = int(np.flatnonzero(times.isna().to_numpy())[0])
        raise InvalidRequest(f"The time column {time_column!r} is missing in row {row}; "
                             "every row of a forecast needs its time.")
    if series_column and df[series_column].isna().any():
        row = int(np.flatnonzero(df[series_column].isna().to_numpy())[0])
        raise InvalidRequest(
            f"The series column {series_column!r} is missing in row {row}; every row of a "
            "forecast needs its series. Fill it in or drop those rows.")
    ids = df[series_column].astype(str) if series_column else pd.Series(SINGLE, index=df.index)
    frame = pd.DataFrame({"id": ids.to_numpy(), "t": times.to_numpy(),
                          "y": pd.to_numeric(df[target], errors="coerce").to_numpy("float64"),
                          **{f"k_{c}": pd.to_numeric(df[c], errors="coerce").to_numpy("float64")
                             for c in known_ahead}})
    dup = frame.duplicated(["id", "t"])
    if dup.any():
        first = frame[dup].iloc[0]
        where = f" of series {first['id']!r}" if series_column else ""
        raise InvalidRequest(
            f"Two rows{where} have the same time {time_label(first['t'], periods)} in "
            f"{time_column!r}; a series has one value per time. Aggregate the duplicates "
            "(e.g. sum per day) or name the series column (series_column).")
    frame = frame.sort_values(["id", "t"], kind="stable")
    diffs = frame.groupby("id")["t"].diff().dropna()
    diffs = diffs[diffs > pd.Timedelta(0)]
    if diffs.empty:
        raise InvalidRequest("Every series has a single time; a forecast needs a history.")
    step = diffs.min()
    off = (diffs % step) != pd.Timedelta(0)
    if off.any():
        raise InvalidRequest(
            f"The times in {time_column!r} are not on a regular grid of "
            f"{_span(step, periods)} steps (one gap is {_span(diffs[off].iloc[0], periods)}); "
            "forecast needs fixed-step times such as daily or hourly. Resample the data "
            "first" + ("." if periods or step < pd.Timedelta(days=28) else
                       ", or, for monthly or yearly data, number the periods in a numeric "
                       "time column (the year, or year × 12 + month)."))
    out = []
    for name, group in frame.groupby("id", sort=True):
        start = pd.Timestamp(group["t"].iloc[0])
        index = ((group["t"] - start) / step).round().astype("int64").to_numpy()
        out.append(Series(str(name), start, _on_grid(index, group["y"]),
                          {c: _on_grid(index, group[f"k_{c}"]) for c in known_ahead}))
    return out, float(step.total_seconds())


def _on_grid(index: np.ndarray, values: pd.Series) -> np.ndarray:
    """``values`` placed at grid positions ``index`` (sorted), NaN in the gaps."""
    out = np.full(int(index[-1]) + 1, np.nan)
    out[index] = values.to_numpy(dtype="float64")
    return out


def _calendar(times: pd.DatetimeIndex, hourly: bool) -> list[np.ndarray]:
    cols = [times.day_of_week, times.day, times.month, times.day_of_year,
            times.isocalendar().week.to_numpy()]
    if hourly:
        cols.append(times.hour)
    return [np.asarray(c, dtype="float64") for c in cols]


def feature_rows(spec: ForecastSpec, series: Series, origins: np.ndarray, steps: np.ndarray,
                 known: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Features (rows × :meth:`ForecastSpec.feature_names`) of forecasts from ``origins[r]``
    ``steps[r]`` periods ahead, the index of each target time, and each row's *level*.

    The level is the mean of the last season at the origin. Values (lags, seasonal lags,
    rolling means) are features as differences from it, and the model learns the target
    as one too (the level is added back to its forecasts): trees cannot extrapolate, so a
    series that drifts to levels it never had would otherwise be forecast at old ones.

    Every value of the target read sits at an index ≤ its row's origin: nothing after an
    origin reaches its features. The known-ahead columns are read at the target time, from
    ``known`` (rows × columns, a request's values) or else from the series.
    """
    y = series.values
    origins = np.asarray(origins, dtype="int64")
    steps = np.asarray(steps, dtype="int64")

    def at(index: np.ndarray) -> np.ndarray:
        ok = (index >= 0) & (index <= origins)
        out = np.full(len(index), np.nan)
        out[ok] = y[index[ok]]
        return out

    past = pd.Series(y)
    s = spec.season_length
    level = past.rolling(s, min_periods=1).mean().to_numpy()[origins]
    level = np.where(np.isfinite(level), level, 0.0)
    cols: list[np.ndarray] = [steps.astype("float64"), level]
    cols += [at(origins + 1 - j) - level for j in spec.lags]
    first = -(-steps // s)  # the latest season whose same point the origin knows
    cols += [at(origins + steps - (first + m) * s) - level for m in spec.seasonal_offsets]
    for w in spec.windows:
        rolling = past.rolling(w, min_periods=1)
        cols += [rolling.mean().to_numpy()[origins] - level, rolling.std().to_numpy()[origins]]
    targets = origins + steps
    if not spec.periods:
        cols += _calendar(series.time(targets, spec.step), spec.step_seconds < 86400)
    if spec.known_ahead:
        future = known if known is not None else series.known_at(spec.known_ahead, targets)
        cols += list(np.asarray(future, dtype="float64").T)
    return np.column_stack(cols), targets, level


def training_rows(spec: ForecastSpec, series: Sequence[Series]
                  ) -> tuple[np.ndarray, np.ndarray]:
    """Every (origin, step) of ``series`` whose target is known, as features and labels
    (the target less the row's level, see :func:`feature_rows`)."""
    X: list[np.ndarray] = []
    Y: list[np.ndarray] = []
    min_origin = max(min(spec.lags), 1) - 1
    for one in series:
        n = len(one.values)
        for k in range(1, spec.horizon + 1):
            origins = np.arange(min_origin, n - k)
            if not len(origins):
                continue
            feats, targets, level = feature_rows(spec, one, origins, np.full(len(origins), k))
            labels = one.values[targets] - level
            keep = np.isfinite(labels)
            X.append(feats[keep])
            Y.append(labels[keep])
    if not X:
        return np.empty((0, len(spec.feature_names()))), np.empty(0)
    return np.vstack(X), np.concatenate(Y)


def seasonal_naive(spec: ForecastSpec, series: Series, origin: int,
                   steps: np.ndarray) -> np.ndarray:
    """The value at the same point of the latest season known at ``origin``.

    Where that value is a gap, the same point of the season before it (and so on back):
    a missing day must not leave the baseline without a forecast, which would drop the
    point from its metrics (or count it as a perfect one in sMAPE).
    """
    s = spec.season_length
    index = origin + steps - (-(-steps // s)) * s
    out = np.full(len(steps), np.nan)
    values = series.values
    todo = np.ones(len(steps), dtype=bool)
    while True:
        ok = todo & (index >= 0)
        if not ok.any():
            break
        found = ok.copy()
        found[ok] = np.isfinite(values[index[ok]])
        out[found] = values[index[found]]
        todo &= ~found
        index = index - s
    return out


def naive_scale(values: np.ndarray, season_length: int) -> float:
    """Mean absolute error of the in-sample seasonal naive (MASE's denominator)."""
    d = np.abs(values[season_length:] - values[:-season_length]) \
        if len(values) > season_length else np.empty(0)
    d = d[np.isfinite(d)]
    return float(d.mean()) if len(d) else float("nan")


def naive_residual_quantiles(spec: ForecastSpec, values: np.ndarray) -> np.ndarray:
    """What the naive forecast's band adds to its point, per quantile level: the quantiles
    of the in-sample seasonal-naive errors below the median and above it, and 0 at the
    median, so the baseline's point forecast (what its MASE, MAPE and sMAPE score) is the
    seasonal naive value itself, not one moved by the median of its past errors."""
    s = spec.season_length
    d = values[s:] - values[:-s] if len(values) > s else np.empty(0)
    d = d[np.isfinite(d)]
    if not len(d):
        return np.zeros(len(spec.quantiles))
    levels = np.asarray(spec.quantiles, dtype="float64")
    q = np.quantile(d, levels)
    return np.where(levels < 0.5, np.minimum(q, 0.0),
                    np.where(levels > 0.5, np.maximum(q, 0.0), 0.0))
