"""The forecast-vs-actuals plot of a backtest, with the outer quantiles' band (PNG bytes).

A renderer only: it draws what :func:`shipyard.training._forecast` recorded.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np


def plot_forecast(record: Mapping[str, Any]) -> bytes:
    """Actuals (history tail and forecast window), the median and the band per origin.

    Times are ISO 8601 text, or period numbers (a year) for a numbered time column.
    ``record``: ``{"series" (None: the only one), "target", "history": {"times",
    "values"}, "origins": [{"times", "actual", "median", "low", "high"}], "band":
    "p10–p90"}``.
    """
    from shipyard.evaluation._plots import _figure, _png

    fig = _figure(11, 4.5)
    ax = fig.subplots(1, 1)
    hist = record["history"]
    ax.plot(_axis(hist["times"]), hist["values"], color="black",
            linewidth=1, label="actual")
    for i, o in enumerate(record["origins"]):
        t = _axis(o["times"])
        ax.fill_between(t, o["low"], o["high"], color="tab:blue", alpha=0.2,
                        label=f"{record['band']} band" if i == 0 else None)
        ax.plot(t, o["median"], color="tab:blue", linewidth=1.5,
                label="forecast (p50)" if i == 0 else None)
        ax.axvline(t[0], color="grey", linestyle=":", linewidth=1)
    of = f", series {record['series']!r}" if record.get("series") else ""
    ax.set_title(f"Backtest forecasts vs actuals of {record.get('target', 'the target')}{of} "
                 "(dotted: origins)", pad=14)
    ax.set_ylabel(record.get("target", "value"))
    ax.legend(loc="upper left")
    ax.grid(alpha=0.3)
    if not _numbered(hist["times"]):
        fig.autofmt_xdate()
    return _png(fig)


def _numbered(times: list[Any]) -> bool:
    return all(isinstance(t, int | float) for t in times)


def _axis(times: list[Any]) -> np.ndarray:
    """Times as the x axis: period numbers as they are, ISO 8601 text as dates."""
    if _numbered(times):
        return np.asarray(times, dtype="float64")
    return np.asarray(times, dtype="datetime64[s]")
