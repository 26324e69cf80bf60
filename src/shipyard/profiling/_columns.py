"""Per-column statistics in a few DuckDB queries over the whole table.

- pass 1, one aggregate query: counts, min, max, mean, standard deviation, skew,
  kurtosis, exact quantiles, zeros, negatives and infinities of numbers; lengths of
  text; the range of dates;
- values, one query of a ``GROUP BY`` per column: the distinct count and the most
  frequent values (cheaper in DuckDB than ``count(DISTINCT …)``);
- duplicates: distinct 64-bit hashes of whole rows;
- pass 2, which needs pass 1's figures: equal-width histograms (the bins
  ``numpy.histogram`` makes) and outlier counts (IQR fences and z-scores).

The first three are independent and run at the same time on their own cursors.
Floating-point values that are NaN count as missing; infinities are counted apart
and left out of the statistics, so ``mean`` and ``std`` describe the finite values.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.types as pat

from shipyard.profiling._source import Source, ident, is_text

QUANTILES = (0.01, 0.05, 0.25, 0.5, 0.75, 0.95, 0.99)
QUANTILE_KEYS = ("p01", "p05", "p25", "p50", "p75", "p95", "p99")
#: Equal-width bins of a histogram.
BINS = 30
#: Numeric columns with at most this many distinct values get one bar per value.
DISCRETE_VALUES = 20
#: Most frequent values kept per column (more for a target: its classes).
TOP_VALUES = 10
TARGET_CLASSES = 50
#: |z| above which a value is a z-score outlier; the IQR fences are 1.5 IQR out.
Z_OUTLIER = 3.0
IQR_FENCE = 1.5

Stats = dict[int, dict[str, Any]]


def column_kind(t: pa.DataType) -> str:
    """numeric, boolean, datetime, text or other, from the Arrow type."""
    if pat.is_integer(t) or pat.is_floating(t) or pat.is_decimal(t) or pat.is_duration(t):
        return "numeric"
    if pat.is_boolean(t):
        return "boolean"
    if pat.is_timestamp(t) or pat.is_date(t):
        return "datetime"
    if is_text(t):
        return "text"
    return "other"


@dataclass(frozen=True)
class Col:
    """One column as the queries address it: position ``i`` names its projection ``c{i}``."""

    i: int
    name: str
    dtype: pa.DataType
    kind: str
    #: A floating-point column known to hold no NaN and no infinity (nothing to clean).
    finite: bool = False

    @property
    def c(self) -> str:
        return f"c{self.i}"

    @property
    def floating(self) -> bool:
        """Floating point that may hold NaN or infinities."""
        return bool(pat.is_floating(self.dtype)) and not self.finite


def columns_of(schema: pa.Schema, finite: frozenset[str] = frozenset()) -> list[Col]:
    """The columns of ``schema``; ``finite`` names float columns without NaN or infinity."""
    return [Col(i, f.name, f.type, column_kind(f.type), f.name in finite)
            for i, f in enumerate(schema)]


def _value(col: Col) -> str:
    """The SQL of a column's value as the statistics see it (NaN and infinities: NULL)."""
    x = ident(col.name)
    if col.kind == "numeric" and col.floating:
        return f"(CASE WHEN isfinite({x}) THEN {x} END)"
    if col.kind == "numeric" and pat.is_decimal(col.dtype):
        return f"CAST({x} AS DOUBLE)"
    if col.kind == "numeric" and pat.is_duration(col.dtype):  # seconds
        return f"epoch({x})"
    if col.kind == "datetime":  # epoch milliseconds
        return f"epoch_ms({'CAST(' + x + ' AS TIMESTAMP)' if pat.is_date(col.dtype) else x})"
    return x


def _projection(cols: list[Col]) -> str:
    """The sub-query the aggregate passes read: each column's value, and floats' infinities."""
    items = [f"{_value(col)} AS {col.c}" for col in cols]
    items += [f"isinf({ident(col.name)}) AS f{col.i}" for col in cols
              if col.kind == "numeric" and col.floating]
    return f"(SELECT {', '.join(items) or '1 AS one'} FROM t)"


Agg = tuple[Col, str, str]  # (column, result key, SQL aggregate)


def _pass1_aggregates(col: Col) -> list[Agg]:
    c = col.c
    out: list[Agg] = [(col, "count", f"count({c})")]
    if col.kind == "numeric":
        quantiles = ", ".join(str(q) for q in QUANTILES)
        out += [(col, "min", f"min({c})"), (col, "max", f"max({c})"),
                (col, "mean", f"avg({c})"), (col, "std", f"stddev_samp({c})"),
                (col, "skew", f"skewness({c})"), (col, "kurtosis", f"kurtosis({c})"),
                (col, "quantiles", f"quantile_cont({c}, [{quantiles}])"),
                (col, "zeros", f"count_if({c} = 0)"), (col, "negatives", f"count_if({c} < 0)")]
        if col.floating:
            out.append((col, "infinite", f"count_if(f{col.i})"))
    elif col.kind == "boolean":
        out.append((col, "true", f"count_if({c})"))
    elif col.kind == "datetime":
        out += [(col, "min", f"min({c})"), (col, "max", f"max({c})")]
    elif col.kind == "text":
        out += [(col, "min_length", f"min(length({c}))"),
                (col, "max_length", f"max(length({c}))"),
                (col, "mean_length", f"avg(length({c}))"), (col, "empty", f"count_if({c} = '')")]
    return out


def _aggregate(con: duckdb.DuckDBPyConnection, cols: list[Col], aggs: list[Agg]) -> Stats:
    """One aggregate query; the results keyed by column position, then result key."""
    out: Stats = {}
    if not aggs:
        return out
    sql = f"SELECT {', '.join(a for _, _, a in aggs)} FROM {_projection(cols)}"
    row = con.execute(sql).fetchall()[0]
    for (col, key, _), value in zip(aggs, row, strict=True):
        out.setdefault(col.i, {})[key] = value
    return out


def pass1(con: duckdb.DuckDBPyConnection, cols: list[Col]) -> Stats:
    """Counts, moments and quantiles of every column in one scan."""
    return _aggregate(con, cols, [a for col in cols for a in _pass1_aggregates(col)])


def _limit(col: Col, target: str | None) -> int:
    if col.name == target:
        return TARGET_CLASSES
    return DISCRETE_VALUES if col.kind == "numeric" else TOP_VALUES


def values(con: duckdb.DuckDBPyConnection, cols: list[Col], target: str | None
           ) -> tuple[dict[int, int], dict[int, list[tuple[Any, int]]]]:
    """Distinct counts and the most frequent values of every column, in one query."""
    parts = []
    for col in cols:
        v = _value(col) if col.kind != "datetime" else ident(col.name)
        if col.kind == "other":
            v = f"CAST({v} AS VARCHAR)"
        parts.append(
            f"(SELECT {col.i} AS i, CAST(v AS VARCHAR) AS v, n, d FROM (SELECT v, n, "
            f"count(*) OVER () AS d FROM (SELECT {v} AS v, count(*) AS n FROM t WHERE {v} IS NOT "
            f"NULL GROUP BY 1)) ORDER BY n DESC, v LIMIT {_limit(col, target)})")
    distinct: dict[int, int] = {}
    top: dict[int, list[tuple[Any, int]]] = {}
    if not parts:
        return distinct, top
    by_index = {col.i: col for col in cols}
    for i, v, n, d in con.execute(" UNION ALL ".join(parts)).fetchall():
        distinct[int(i)] = int(d)
        top.setdefault(int(i), []).append((_typed(by_index[int(i)], v), int(n)))
    for found in top.values():
        found.sort(key=lambda vn: (-vn[1], str(vn[0])))
    return distinct, top


def _typed(col: Col, text: str) -> Any:
    """A value that came back as text, as the JSON value of its column's kind."""
    if col.kind == "boolean":
        return text.lower() == "true"
    if col.kind == "numeric":
        return int(text) if pat.is_integer(col.dtype) else float(text)
    return text


def duplicate_rows(con: duckdb.DuckDBPyConnection, cols: list[Col], rows: int) -> int:
    """Rows that repeat an earlier row in every column (rows compared by a 64-bit hash)."""
    if not cols:
        return 0
    items = ", ".join(ident(c.name) for c in cols)
    distinct = con.execute(f"SELECT count(DISTINCT hash({items})) FROM t").fetchall()[0][0]
    return rows - int(distinct)


def _num(value: Any) -> float | None:
    if value is None:
        return None
    value = float(value)
    return value if np.isfinite(value) else None


def equal_width_edges(lo: float, hi: float, bins: int = BINS) -> list[float]:
    """The bin edges ``numpy.histogram(x, bins)`` uses for values from ``lo`` to ``hi``."""
    if lo == hi:
        lo, hi = lo - 0.5, hi + 0.5
    return [float(e) for e in np.linspace(lo, hi, bins + 1)]


def _double(x: float) -> str:
    return f"CAST('{float(x)!r}' AS DOUBLE)"


def _histogram_sql(c: str, edges: list[float]) -> str:
    """Counts per bin ``[e_k, e_k+1)`` (the last one closed), as ``numpy.histogram`` bins.

    DuckDB's ``histogram(x, bounds)`` counts ``x <= bound``; bounding each bin just below
    the next edge (the largest double under it) makes that ``x < e_k+1`` exactly.
    """
    bounds = [float(np.nextafter(e, -np.inf)) for e in edges[1:-1]] + [edges[-1]]
    return f"histogram(CAST({c} AS DOUBLE), [{', '.join(_double(b) for b in bounds)}])"


def _histogram_counts(found: Any, edges: list[float]) -> list[int]:
    bounds = [float(np.nextafter(e, -np.inf)) for e in edges[1:-1]] + [edges[-1]]
    where = {b: k for k, b in enumerate(bounds)}
    counts = [0] * len(bounds)
    for bound, n in (found or {}).items():
        if bound is not None and float(bound) in where:  # values above the last bound: none
            counts[where[float(bound)]] += int(n)
    return counts


def _pass2_aggregates(cols: list[Col], first: Stats, distinct: dict[int, int]
                      ) -> tuple[list[Agg], dict[int, list[float]]]:
    aggs: list[Agg] = []
    edges_of: dict[int, list[float]] = {}
    for col in cols:
        s = first.get(col.i, {})
        if not s.get("count") or col.kind not in ("numeric", "datetime"):
            continue
        if col.kind == "numeric":
            q = s.get("quantiles") or []
            if len(q) == len(QUANTILES) and q[2] is not None:
                iqr = q[4] - q[2]
                lo, hi = q[2] - IQR_FENCE * iqr, q[4] + IQR_FENCE * iqr
                aggs.append((col, "outliers_iqr",
                             f"count_if({col.c} < {_double(lo)} OR {col.c} > {_double(hi)})"))
            if s.get("std"):
                aggs.append((col, "outliers_z", f"count_if(abs({col.c} - {_double(s['mean'])}) > "
                                                f"{_double(Z_OUTLIER * s['std'])})"))
            if distinct.get(col.i, 0) <= DISCRETE_VALUES:
                continue  # one bar per value, from the value counts
        edges = equal_width_edges(float(s["min"]), float(s["max"]))
        edges_of[col.i] = edges
        aggs.append((col, "histogram", _histogram_sql(col.c, edges)))
    return aggs, edges_of


@dataclass(frozen=True)
class Scan:
    """Everything the queries found: pass-1 stats (with ``distinct``), value counts, and
    pass 2's histograms and outliers."""

    stats: Stats
    top: dict[int, list[tuple[Any, int]]]
    histograms: dict[int, dict[str, Any]]
    outliers: dict[int, dict[str, int]]
    duplicate_rows: int


def scan(source: Source, cols: list[Col], target: str | None) -> Scan:
    """Run the queries: pass 1, values and duplicates side by side, then pass 2."""
    with ThreadPoolExecutor(max_workers=2) as pool:
        cursors = [source.cursor(), source.cursor()]
        try:
            counted = pool.submit(values, cursors[0], cols, target)
            dupes = pool.submit(duplicate_rows, cursors[1], cols, source.rows)
            first = pass1(source.con, cols)
            distinct, top = counted.result()
            duplicates = dupes.result()
        finally:
            for cur in cursors:
                cur.close()
    for col in cols:
        first.setdefault(col.i, {})["distinct"] = distinct.get(col.i, 0)
    aggs, edges_of = _pass2_aggregates(cols, first, distinct)
    histograms: dict[int, dict[str, Any]] = {}
    outliers: dict[int, dict[str, int]] = {}
    for i, got in _aggregate(source.con, cols, aggs).items():
        if "histogram" in got:
            histograms[i] = {"edges": edges_of[i],
                             "counts": _histogram_counts(got["histogram"], edges_of[i])}
        outliers[i] = {k: int(got[k]) for k in ("outliers_iqr", "outliers_z") if k in got}
    return Scan(stats=first, top=top, histograms=histograms, outliers=outliers,
                duplicate_rows=duplicates)


def numeric_stats(s: dict[str, Any], outliers: dict[str, int]) -> dict[str, Any]:
    q = [_num(v) for v in (s.get("quantiles") or [None] * len(QUANTILES))]
    quantiles = dict(zip(QUANTILE_KEYS, q, strict=True))
    iqr = None if q[2] is None or q[4] is None else q[4] - q[2]
    return {
        "min": _num(s.get("min")), "max": _num(s.get("max")), "mean": _num(s.get("mean")),
        "std": _num(s.get("std")), "skew": _num(s.get("skew")),
        "kurtosis": _num(s.get("kurtosis")), "quantiles": quantiles, "iqr": iqr,
        "zeros": int(s.get("zeros") or 0), "negatives": int(s.get("negatives") or 0),
        "infinite": int(s.get("infinite") or 0),
        "outliers_iqr": outliers.get("outliers_iqr", 0),
        "outliers_z": outliers.get("outliers_z", 0),
    }


def text_stats(s: dict[str, Any]) -> dict[str, Any]:
    return {"min_length": s.get("min_length"), "max_length": s.get("max_length"),
            "mean_length": _num(s.get("mean_length")), "empty": int(s.get("empty") or 0)}


def iso_ms(ms: Any) -> str | None:
    """Epoch milliseconds as ISO-8601 UTC text."""
    if ms is None:
        return None
    return str(np.datetime64(int(ms), "ms")) + "Z"


def datetime_stats(s: dict[str, Any]) -> dict[str, Any]:
    lo, hi = s.get("min"), s.get("max")
    span = None if lo is None or hi is None else (int(hi) - int(lo)) / 86_400_000
    return {"min": iso_ms(lo), "max": iso_ms(hi), "range_days": span}
