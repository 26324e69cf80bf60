"""Baselines: statistics and suggested constraints of a reference frame, as JSON documents.

A baseline is what monitoring compares later windows against, so it must hold
everything drift needs without the reference data itself:

- ``statistics`` (JSON): per column the kind, completeness, distinct count; for
  numbers the range, moments, quantiles, an equal-width histogram, 20 quantile
  bins with their exact counts (what PSI and Jensen–Shannon compare against) and,
  for at most 20 distinct values, the value frequencies; for categories every
  category's count.
- ``constraints`` (JSON, editable): see :mod:`shipyard.monitoring._constraints`.
- ``sample`` (a Parquet side file): per numeric column, at most
  :data:`SAMPLE_ROWS` of its sorted values taken at evenly spaced ranks (the
  order statistics at quantiles (i + ½)/k). The tests that compare raw values
  (Kolmogorov–Smirnov, Wasserstein) run on it. Unlike a random sample it is
  deterministic and follows the whole distribution closely: the empirical CDF is
  off by at most 1/k, and on flights the normed Wasserstein distance matches the
  full column's to four decimals where a random sample of the same size is off
  by up to 30%. With fewer values than that it is the whole column (exact).
"""

from __future__ import annotations

import copy
import io
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd

from shipyard.errors import InvalidRequest
from shipyard.monitoring._common import (
    KINDS,
    MAX_CATEGORIES,
    as_frame,
    category_counts,
    coerce_numeric,
    infer_kind,
    is_output,
    num,
)
from shipyard.monitoring._constraints import suggest_constraints, validate_constraints
from shipyard.monitoring._summary import numeric_statistics, sorted_finite

STATISTICS_FORMAT = "shipyard.monitoring.statistics/1"
#: Rows of the numeric reference sample stored beside the statistics.
SAMPLE_ROWS = 20_000
#: Identifier and text columns keep only their most frequent values, for reading.
TOP_VALUES = 10


@dataclass(frozen=True, eq=False)
class Baseline:
    """Statistics, constraints and the numeric reference sample of one reference frame.

    ``statistics`` and ``constraints`` are plain JSON-able dicts (:meth:`to_dict`);
    ``sample`` is a float64 DataFrame, stored as Parquet (:meth:`sample_parquet`).
    """

    statistics: dict[str, Any]
    constraints: dict[str, Any]
    sample: pd.DataFrame = field(default_factory=pd.DataFrame, repr=False)

    @property
    def columns(self) -> dict[str, dict[str, Any]]:
        """Per-column statistics, by column name."""
        cols: dict[str, dict[str, Any]] = self.statistics["columns"]
        return cols

    @property
    def n_rows(self) -> int:
        return int(self.statistics["n_rows"])

    def to_dict(self) -> dict[str, Any]:
        """``{"statistics", "constraints"}``: the two JSON documents (the sample is separate)."""
        return copy.deepcopy({"statistics": self.statistics, "constraints": self.constraints})

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any], sample: pd.DataFrame | bytes | None = None
                  ) -> Baseline:
        """Read what :meth:`to_dict` wrote (constraints re-validated), with the sample if kept.

        Args:
            doc: ``{"statistics", "constraints"}``.
            sample: the reference sample, as a DataFrame or the bytes of
                :meth:`sample_parquet`; without it only binned drift tests can run.

        Raises:
            InvalidRequest: not a baseline, a newer format, or invalid constraints.
        """
        if not isinstance(doc, Mapping) or not isinstance(doc.get("statistics"), Mapping):
            raise InvalidRequest("Not a baseline: expected an object with 'statistics' and "
                                 "'constraints'.")
        stats = copy.deepcopy(dict(doc["statistics"]))
        if stats.get("format") != STATISTICS_FORMAT or not isinstance(stats.get("columns"),
                                                                      Mapping):
            raise InvalidRequest(
                f"Baseline statistics format {stats.get('format')!r} is not one this Shipyard "
                f"reads ({STATISTICS_FORMAT!r}); recompute the baseline."
            )
        for name, col in stats["columns"].items():
            if not isinstance(col, Mapping) or col.get("kind") not in KINDS:
                raise InvalidRequest(f"Baseline statistics of column {name!r} have no valid "
                                     f"kind; expected one of {', '.join(KINDS)}.")
        constraints = validate_constraints(doc.get("constraints"))
        return cls(stats, constraints, _read_sample(sample))

    def with_constraints(self, constraints: Mapping[str, Any]) -> Baseline:
        """The same baseline with a user's edited constraints (validated)."""
        return Baseline(copy.deepcopy(self.statistics), validate_constraints(constraints),
                        self.sample)

    def sample_parquet(self) -> bytes:
        """The reference sample as Parquet bytes (the side file of the JSON documents)."""
        buf = io.BytesIO()
        self.sample.to_parquet(buf, index=False)
        return buf.getvalue()

    def reference_values(self, name: str) -> np.ndarray | None:
        """The sampled non-missing reference values of a numeric column, or None."""
        if name not in self.sample.columns:
            return None
        return sorted_finite(self.sample[name].to_numpy(dtype=float, na_value=np.nan))

    def _repr_html_(self) -> str:
        from shipyard.monitoring._html import baseline_html

        return baseline_html(self)


def compute_baseline(data: Any, *, kinds: Mapping[str, str] | None = None,
                     exclude: Iterable[str] = (), sample_rows: int = SAMPLE_ROWS,
                     seed: int | None = None) -> Baseline:
    """Statistics and suggested constraints of a reference frame (normally the training data).

    Args:
        data: a pandas DataFrame or pyarrow Table.
        kinds: column kinds to use instead of inferring them (e.g. the semantic
            types of a dataset version's schema).
        exclude: columns to leave out (e.g. the target, when the windows that will be
            checked are captured inputs without it).
        sample_rows: values kept per numeric column in the reference sample.
        seed: no effect: the sample is deterministic (kept for callers that pass it).

    Raises:
        InvalidRequest: an empty frame, an unknown kind, or a column declared numeric
            whose values are not numbers.
    """
    frame = as_frame(data, "baseline data")
    skip = set(exclude)
    given = dict(kinds or {})
    unknown = sorted(set(given) - set(frame.columns))
    if unknown:
        raise InvalidRequest(f"kinds names the column {unknown[0]!r}, which the data does not "
                             "have; check the spelling.")
    if len(frame) == 0:
        raise InvalidRequest("The baseline data has no rows; pass the reference data, "
                             "normally the training set.")
    if sample_rows < 1:
        raise InvalidRequest(f"sample_rows must be at least 1; got {sample_rows}.")
    columns: dict[str, Any] = {}
    sample: dict[str, np.ndarray] = {}
    for name in frame.columns:
        if name in skip:
            continue
        stats, values = _column_statistics(str(name), frame[name], given.get(name))
        columns[str(name)] = stats
        if values is not None:
            sample[str(name)] = _rank_sample(values, sample_rows)
    rows = max((v.size for v in sample.values()), default=0)
    statistics = {
        "format": STATISTICS_FORMAT, "n_rows": len(frame),
        "sample": {"rows": rows, "method": "evenly spaced order statistics",
                   "columns": list(sample)},
        "columns": columns,
    }
    padded = {k: np.pad(v, (0, rows - v.size), constant_values=np.nan) for k, v in sample.items()}
    return Baseline(statistics, suggest_constraints(statistics), pd.DataFrame(padded))


def _column_statistics(name: str, series: pd.Series, kind: str | None
                       ) -> tuple[dict[str, Any], np.ndarray | None]:
    """One column's statistics, and its sorted values when it is numeric (for the sample)."""
    if kind is not None and kind not in KINDS:
        raise InvalidRequest(f"Unknown kind {kind!r} for column {name!r}; expected one of "
                             f"{', '.join(KINDS)}.")
    n = len(series)
    counts: dict[str, int] | None = None
    if kind is None:
        if not pd.api.types.is_numeric_dtype(series.dtype) or pd.api.types.is_bool_dtype(
                series.dtype):
            counts = category_counts(series)
        kind = infer_kind(name, series, counts)
    base: dict[str, Any] = {"kind": kind, "dtype": str(series.dtype),
                            "role": "output" if is_output(name) else "feature"}
    if kind == "numeric":
        values, bad, example = coerce_numeric(series)
        if bad:
            raise InvalidRequest(
                f"Column {name!r} is declared numeric but {bad} values are not numbers, e.g. "
                f"{example!r}; fix the values or declare the column categorical."
            )
        v = sorted_finite(values)
        return {**base, **_counts(n, v.size), **numeric_statistics(v)}, v
    if kind == "datetime":
        return {**base, **_datetime_statistics(series)}, None
    counts = category_counts(series) if counts is None else counts
    present = sum(counts.values())
    ranked = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0]))
    stats = {**base, **_counts(n, present), "distinct": len(ranked)}
    if kind in ("categorical", "boolean"):
        kept = ranked[:MAX_CATEGORIES]
        stats["frequencies"] = {"values": [k for k, _ in kept], "counts": [c for _, c in kept],
                                "other": present - sum(c for _, c in kept)}
    else:
        top = ranked[:TOP_VALUES]
        stats["top"] = {"values": [k for k, _ in top], "counts": [c for _, c in top]}
    return stats, None


def _counts(n: int, present: int) -> dict[str, Any]:
    return {"count": present, "missing": n - present,
            "completeness": num(present / n) if n else 0.0}


def _datetime_statistics(series: pd.Series) -> dict[str, Any]:
    present = series.dropna()
    n = len(series)
    out = {**_counts(n, len(present)), "distinct": int(present.nunique())}
    if len(present):
        # ISO text sorts as time does, so min/max need no parsing.
        lo, hi = present.min(), present.max()
        out["min"] = lo.isoformat() if hasattr(lo, "isoformat") else str(lo)
        out["max"] = hi.isoformat() if hasattr(hi, "isoformat") else str(hi)
    else:
        out["min"] = out["max"] = None
    return out


def _rank_sample(v: np.ndarray, k: int) -> np.ndarray:
    """At most ``k`` values of a sorted array, at evenly spaced ranks (all of them if fewer)."""
    if v.size <= k:
        return v
    return v[((np.arange(k) + 0.5) * (v.size / k)).astype(np.intp)]


def _read_sample(sample: pd.DataFrame | bytes | None) -> pd.DataFrame:
    if sample is None:
        return pd.DataFrame()
    if isinstance(sample, bytes | bytearray):
        try:
            return pd.read_parquet(io.BytesIO(sample))
        except Exception as exc:  # noqa: BLE001 - any unreadable file is the same mistake
            raise InvalidRequest(
                f"The baseline sample is not a readable Parquet file ({type(exc).__name__}); "
                "pass the bytes of Baseline.sample_parquet()."
            ) from exc
    if isinstance(sample, pd.DataFrame):
        return sample
    raise InvalidRequest(f"The baseline sample must be a DataFrame or Parquet bytes; got "
                         f"{type(sample).__name__}.")
