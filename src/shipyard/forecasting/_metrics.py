"""Forecast accuracy: MAPE, sMAPE, MASE, the pinball (quantile) loss and band coverage.

Pure functions over arrays. :func:`forecast_metrics` scores one set of forecasts made
at one origin of one series; :func:`pool` combines several (backtest folds × series):
MASE is the mean of each part's own (each scaled by its own history's seasonal-naive
error), the others are over every point.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

METRICS = ("mape", "smape", "mase", "pinball", "coverage")


@dataclass(frozen=True)
class Scored:
    """One origin of one series: actuals, the quantile forecasts (points × quantiles), the
    index of the median among them, and the MASE scale of the history before the origin."""

    actual: np.ndarray
    quantiles: np.ndarray
    levels: tuple[float, ...]
    scale: float

    @property
    def median(self) -> np.ndarray:
        i = int(np.argmin(np.abs(np.asarray(self.levels) - 0.5)))
        return self.quantiles[:, i]


def pinball(actual: np.ndarray, forecast: np.ndarray, q: float) -> np.ndarray:
    """The quantile loss of each point: q·(y−f) above the forecast, (1−q)·(f−y) below."""
    diff = actual - forecast
    return np.maximum(q * diff, (q - 1) * diff)


def pool(parts: Sequence[Scored]) -> dict[str, float]:
    """MAPE and sMAPE (percent), MASE, mean pinball loss over the quantiles, and the share
    of actuals inside the outermost quantiles' band, over every part's points whose actual
    and median forecast are both finite (a NaN forecast is neither a perfect nor a missed
    point)."""
    actual, median, abs_err, mase, loss, inside = [], [], [], [], [], []
    for p in parts:
        ok = np.isfinite(p.actual) & np.isfinite(p.median)
        if not ok.any():
            continue
        y, f = p.actual[ok], p.median[ok]
        actual.append(y)
        median.append(f)
        abs_err.append(np.abs(y - f))
        if np.isfinite(p.scale) and p.scale > 0:
            mase.append(float(np.mean(np.abs(y - f))) / p.scale)
        qs = p.quantiles[ok]
        loss.append(np.mean([pinball(y, qs[:, i], q) for i, q in enumerate(p.levels)],
                            axis=0))
        lo, hi = np.argmin(p.levels), np.argmax(p.levels)
        inside.append((y >= qs[:, lo]) & (y <= qs[:, hi]))
    if not actual:
        return {m: float("nan") for m in METRICS}
    y, f, e = np.concatenate(actual), np.concatenate(median), np.concatenate(abs_err)
    nonzero = y != 0
    denom = np.abs(y) + np.abs(f)
    return {
        "mape": float(np.mean(e[nonzero] / np.abs(y[nonzero])) * 100) if nonzero.any()
        else float("nan"),
        "smape": float(np.mean(np.where(denom > 0, 2 * e / np.where(denom > 0, denom, 1), 0))
                       * 100),
        "mase": float(np.mean(mase)) if mase else float("nan"),
        "pinball": float(np.mean(np.concatenate(loss))),
        "coverage": float(np.mean(np.concatenate(inside))),
    }
