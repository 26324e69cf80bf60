"""Summaries of one numeric column computed from its sorted values (one sort, then lookups).

Everything here works on a sorted float64 array without missing values, so a
column is sorted once and every figure after that is a binary search or an index:
quantiles, equal-width histograms, quantile bins and value frequencies.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np

from shipyard.monitoring._common import num

#: The quantiles every numeric column reports, by key.
QUANTILES: dict[str, float] = {
    "p01": 0.01, "p05": 0.05, "p25": 0.25, "p50": 0.5, "p75": 0.75, "p95": 0.95, "p99": 0.99,
}
#: Equal-width bins of the histogram a person reads.
HISTOGRAM_BINS = 30
#: Quantile bins of the reference that the binned drift tests (PSI, Jensen–Shannon) use.
TEST_BINS = 20
#: A numeric column with at most this many distinct values also keeps its value frequencies.
DISCRETE_VALUES = 20


def sorted_finite(values: np.ndarray) -> np.ndarray:
    """The non-missing values of a float array, sorted (NaN and ±inf count as missing)."""
    finite = values[np.isfinite(values)]
    finite.sort()
    return finite


def distinct_count(v: np.ndarray) -> int:
    """Distinct values of a sorted array."""
    return 0 if v.size == 0 else 1 + int(np.count_nonzero(np.diff(v)))


def quantile(v: np.ndarray, q: float | np.ndarray) -> np.ndarray:
    """Linear-interpolation quantiles of a sorted array (numpy's default method)."""
    pos = np.asarray(q, dtype=float) * (v.size - 1)
    lo = np.floor(pos).astype(int)
    hi = np.minimum(lo + 1, v.size - 1)
    frac = pos - lo
    return np.asarray(v[lo] + (v[hi] - v[lo]) * frac)


def histogram_counts(v: np.ndarray, edges: np.ndarray) -> tuple[list[int], int, int]:
    """Counts of a sorted array in equal-width ``edges`` (last bin closed), below and above."""
    left = np.searchsorted(v, edges, side="left")
    last = int(np.searchsorted(v, edges[-1], side="right"))
    counts = np.diff(left)
    counts[-1] = last - left[-2]
    return [int(c) for c in counts], int(left[0]), int(v.size - last)


def histogram_edges(v: np.ndarray, lo_q: float, hi_q: float) -> np.ndarray:
    """Equal-width edges over the bulk of the values: [min, max], or [p01, p99] for long tails.

    Whole numbers get bins of a whole width centred on them (edges at half-integers),
    so no bin holds one more distinct value than its neighbours.
    """
    lo, hi = float(v[0]), float(v[-1])
    q_lo, q_hi = (float(x) for x in quantile(v, np.array([lo_q, hi_q])))
    if q_hi > q_lo and (hi - lo) > 2 * (q_hi - q_lo):
        lo, hi = q_lo, q_hi
    if np.all(v == np.floor(v)):
        lo, hi = math.floor(lo), math.ceil(hi)
        width = math.ceil((hi - lo + 1) / HISTOGRAM_BINS)
        bins = math.ceil((hi - lo + 1) / width)
        return lo - 0.5 + width * np.arange(bins + 1, dtype=float)
    if hi <= lo:
        hi = lo + 1.0
    return np.linspace(lo, hi, HISTOGRAM_BINS + 1)


def bin_counts(v: np.ndarray, edges: np.ndarray) -> np.ndarray:
    """Counts of a sorted array in right-closed bins ``(-inf, e0], (e0, e1], …, (e_k, inf)``."""
    at_or_below = np.searchsorted(v, edges, side="right")
    return np.diff(np.concatenate(([0], at_or_below, [v.size])))


def value_frequencies(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array and how often each occurs."""
    if v.size == 0:
        return v, np.zeros(0, dtype=int)
    starts = np.concatenate(([0], np.flatnonzero(np.diff(v)) + 1))
    counts = np.diff(np.concatenate((starts, [v.size])))
    return v[starts], counts


def numeric_statistics(v: np.ndarray) -> dict[str, Any]:
    """Range, moments, quantiles, histogram, test bins and value frequencies of sorted data."""
    distinct = distinct_count(v)
    if v.size == 0:
        return {"distinct": 0, "min": None, "max": None, "mean": None, "std": None,
                "quantiles": dict.fromkeys(QUANTILES), "histogram": None, "bins": None,
                "frequencies": None}
    edges = histogram_edges(v, QUANTILES["p01"], QUANTILES["p99"])
    counts, below, above = histogram_counts(v, edges)
    qs = quantile(v, np.array(list(QUANTILES.values())))
    bin_edges = np.unique(quantile(v, np.arange(1, TEST_BINS) / TEST_BINS))
    out: dict[str, Any] = {
        "distinct": distinct,
        "min": num(v[0]), "max": num(v[-1]),
        "mean": num(v.mean()), "std": num(v.std()),
        "quantiles": {k: num(x) for k, x in zip(QUANTILES, qs, strict=True)},
        "histogram": {"edges": [num(e) for e in edges], "counts": counts,
                      "below": below, "above": above},
        "bins": {"edges": [num(e) for e in bin_edges],
                 "counts": [int(c) for c in bin_counts(v, bin_edges)]},
        "frequencies": None,
    }
    if distinct <= DISCRETE_VALUES:
        values, freq = value_frequencies(v)
        out["frequencies"] = {"values": [num(x) for x in values],
                              "counts": [int(c) for c in freq]}
    return out
