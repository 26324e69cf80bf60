"""Associations between columns, on the seeded sample: the measures and their matrices.

Every measure uses the rows where both columns have a value (pairwise complete),
as ``pandas.DataFrame.corr`` does:

- Pearson and Spearman (Pearson of average ranks) for two numeric columns;
- Cramér's V, ``sqrt(chi² / (n (min(r, c) − 1)))`` without continuity correction,
  for two categorical columns;
- the correlation ratio η, ``sqrt(between-group / total sum of squares)``, for a
  numeric and a categorical column;
- mutual information (nats), the plug-in estimate over a contingency table of
  quantile bins (numbers) or categories (labels), missing values as a bin of their own.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc

from shipyard.profiling._result import Correlations, Matrix

#: Categories kept per column (by frequency); the rest are one "(other)" category.
MAX_CATEGORIES = 50
OTHER = "(other)"
#: Columns in each correlation matrix, at most (the first ones, in table order).
MAX_MATRIX_COLUMNS = 60
#: Quantile bins of a number in the mutual information and the feature-target plots;
#: a number with at most ``MI_VALUES`` distinct values has a bin per value instead.
MI_BINS = 10
MI_VALUES = 20
#: Cramér's V and the correlation ratio need this many rows with both values (small
#: tables inflate both); below it the pair has no value.
MIN_PAIR_ROWS = 30


@dataclass(frozen=True)
class Encoded:
    """One sampled column as numbers (NaN: missing) or category codes (−1: missing)."""

    name: str
    kind: str
    values: np.ndarray
    labels: tuple[str, ...] = ()


_PER_SECOND = {"s": 1.0, "ms": 1e3, "us": 1e6, "ns": 1e9}


def encode_numeric(name: str, column: pa.ChunkedArray | pa.Array) -> Encoded:
    """Numbers as float64 (dates: epoch milliseconds; durations: seconds), NaN for missing."""
    scale = 1.0
    # Unsafe casts: a time below the millisecond, or a whole number past 2**53 (a 64-bit id),
    # is rounded, which no association measure can tell, where a safe cast refused it.
    if pa.types.is_timestamp(column.type) or pa.types.is_date(column.type):
        column = pc.cast(pc.cast(column, pa.timestamp("ms"), safe=False), pa.int64())
    elif pa.types.is_duration(column.type):
        scale = _PER_SECOND[column.type.unit]
        column = pc.cast(column, pa.int64())
    values = (pc.cast(column, pa.float64(), safe=False).to_numpy(zero_copy_only=False)
              .astype(np.float64))
    values /= scale
    values[~np.isfinite(values)] = np.nan
    return Encoded(name, "numeric", values)


def encode_categorical(name: str, column: pa.ChunkedArray | pa.Array,
                       max_categories: int = MAX_CATEGORIES) -> Encoded:
    """Codes of the ``max_categories`` most frequent values; rarer ones share one code."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    if not pa.types.is_string(column.type):
        column = pc.cast(column, pa.string())
    encoded = pc.dictionary_encode(column)
    codes = pc.fill_null(encoded.indices, -1).to_numpy(zero_copy_only=False).astype(np.int64)
    labels = encoded.dictionary.to_pylist()
    counts = np.bincount(codes[codes >= 0], minlength=len(labels))
    order = np.lexsort((np.arange(len(labels)), -counts))  # most frequent first, stable
    kept = order[:max_categories]
    remap = np.full(len(labels) + 1, len(kept), dtype=np.int64)
    remap[kept] = np.arange(len(kept))
    remap[-1] = -1  # code −1 (missing) indexes the last slot
    names = tuple(str(labels[k]) for k in kept)
    if len(labels) > len(kept):
        names += (OTHER,)
    return Encoded(name, "categorical", remap[codes], names)


# -- measures --------------------------------------------------------------------------------
def pearson(x: np.ndarray, y: np.ndarray) -> float | None:
    """Pearson's r of two complete arrays (``None`` when either is constant)."""
    if len(x) < 2:
        return None
    x, y = x - x.mean(), y - y.mean()
    denom = np.sqrt((x * x).sum() * (y * y).sum())
    return float((x * y).sum() / denom) if denom > 0 else None


def ranks(x: np.ndarray) -> np.ndarray:
    """Average ranks from 1 (ties share the mean of their ranks), as Spearman uses them."""
    return pd.Series(x).rank(method="average").to_numpy()


def cramers_v(a: np.ndarray, b: np.ndarray) -> float | None:
    """Cramér's V of two code arrays (−1: missing), over rows where both have a value.

    ``None`` with fewer than :data:`MIN_PAIR_ROWS` such rows or a single category.
    """
    both = (a >= 0) & (b >= 0)
    a, b = a[both], b[both]
    if len(a) < MIN_PAIR_ROWS:
        return None
    table = np.bincount(a * (b.max() + 1) + b, minlength=(a.max() + 1) * (b.max() + 1))
    table = table.reshape(a.max() + 1, b.max() + 1).astype(np.float64)
    table = table[table.sum(axis=1) > 0][:, table.sum(axis=0) > 0]
    k = min(table.shape) - 1
    if k < 1:
        return None
    n = table.sum()
    expected = np.outer(table.sum(axis=1), table.sum(axis=0)) / n
    chi2 = float(((table - expected) ** 2 / expected).sum())
    return float(np.sqrt(chi2 / (n * k)))


def correlation_ratio(x: np.ndarray, codes: np.ndarray) -> float | None:
    """η of numbers ``x`` (NaN: missing) grouped by ``codes`` (−1: missing)."""
    both = np.isfinite(x) & (codes >= 0)
    x, g = x[both], codes[both]
    if len(x) < MIN_PAIR_ROWS:
        return None
    total = float(((x - x.mean()) ** 2).sum())
    if total <= 0:
        return None
    counts = np.bincount(g)
    sums = np.bincount(g, weights=x)
    seen = counts > 0
    means = sums[seen] / counts[seen]
    between = float((counts[seen] * (means - x.mean()) ** 2).sum())
    return float(np.sqrt(min(between / total, 1.0)))


def bin_numbers(x: np.ndarray, bins: int = MI_BINS,
                max_values: int = MI_VALUES) -> tuple[np.ndarray, list[str]]:
    """Codes for numbers: one per value when there are at most ``max_values`` distinct
    values, else ``bins`` quantile bins (equal values never split, so ties can merge bins);
    NaN is an extra last code. Returns the codes and a label per code ("(missing)" last).
    """
    finite = x[np.isfinite(x)]
    values = np.unique(finite)
    if len(values) <= max_values:
        codes = np.searchsorted(values, x).astype(np.int64)
        labels = [f"{v:.4g}" for v in values]
    else:
        edges = np.unique(np.quantile(finite, np.linspace(0, 1, bins + 1)))
        codes = np.searchsorted(edges[1:-1], x, side="right").astype(np.int64)
        labels = [f"{edges[k]:.4g} – {edges[k + 1]:.4g}" for k in range(len(edges) - 1)]
    codes[~np.isfinite(x)] = len(labels)
    return codes, labels + ["(missing)"]


def mutual_info(a: np.ndarray, b: np.ndarray) -> float:
    """Mutual information (nats) of two non-negative code arrays of equal length."""
    if len(a) == 0:
        return 0.0
    table = np.bincount(a * (b.max() + 1) + b, minlength=(a.max() + 1) * (b.max() + 1))
    p = table.reshape(a.max() + 1, b.max() + 1) / len(a)
    pa_, pb = p.sum(axis=1, keepdims=True), p.sum(axis=0, keepdims=True)
    nz = p > 0
    return float(max((p[nz] * np.log(p[nz] / (pa_ @ pb)[nz])).sum(), 0.0))


# -- matrices --------------------------------------------------------------------------------
class _RankCache:
    """Average ranks of a column over a subset of rows (a pair's complete rows).

    Each column is sorted once; the ranks over any subset follow from that order in
    one linear pass (the subset's order is the column's order, filtered), and are
    kept for the other pairs with the same rows. Equal to ``ranks(x[mask])``.
    """

    def __init__(self, data: np.ndarray) -> None:
        self.data = data
        self._order: dict[int, np.ndarray] = {}
        self._cache: dict[tuple[int, bytes], np.ndarray] = {}

    def ranks(self, i: int, mask: np.ndarray) -> np.ndarray:
        key = (i, np.packbits(mask).tobytes())
        if key in self._cache:
            return self._cache[key]
        x = self.data[:, i]
        if i not in self._order:
            self._order[i] = np.argsort(x, kind="stable")
        order = self._order[i]
        rows = order[mask[order]]  # the subset's rows, by value
        values = x[rows]
        starts = np.flatnonzero(np.r_[True, values[1:] != values[:-1]])
        ends = np.r_[starts[1:], len(values)]
        full = np.empty(len(x), dtype=np.float64)
        full[rows] = np.repeat((starts + ends + 1) / 2.0, ends - starts)
        self._cache[key] = full[mask]
        return self._cache[key]


def _numeric_matrices(cols: list[Encoded]) -> tuple[Matrix, Matrix]:
    names = tuple(c.name for c in cols)
    k = len(cols)
    if k == 0:
        return Matrix((), (), ()), Matrix((), (), ())
    data = np.column_stack([c.values for c in cols])
    linear = pd.DataFrame(data).corr(method="pearson").to_numpy()
    spear = np.full((k, k), np.nan)
    valid = np.isfinite(data)
    cache = _RankCache(data)
    for i in range(k):
        for j in range(i, k):
            mask = valid[:, i] & valid[:, j]
            if mask.sum() < 2:
                continue
            r = pearson(cache.ranks(i, mask), cache.ranks(j, mask))
            spear[i, j] = spear[j, i] = np.nan if r is None else r
    return (_matrix(names, names, linear), _matrix(names, names, spear))


def _matrix(rows: tuple[str, ...], cols: tuple[str, ...], values: np.ndarray) -> Matrix:
    out = tuple(tuple(None if not np.isfinite(v) else float(np.clip(v, -1.0, 1.0)) for v in row)
                for row in values)
    return Matrix(rows, cols, out)


def _varies(x: np.ndarray) -> bool:
    finite = x[np.isfinite(x)]
    return len(finite) > 1 and bool(finite.min() < finite.max())


def correlations(encoded: list[Encoded], sample_rows: int) -> Correlations:
    """The four association matrices of the sampled columns (constant columns left out)."""
    numeric = [e for e in encoded if e.kind == "numeric" and _varies(e.values)
               ][:MAX_MATRIX_COLUMNS]
    categorical = [e for e in encoded if e.kind == "categorical"
                   and len(np.unique(e.values[e.values >= 0])) > 1][:MAX_MATRIX_COLUMNS]
    linear, spearman = _numeric_matrices(numeric)
    cat_names = tuple(c.name for c in categorical)
    v = np.full((len(categorical), len(categorical)), np.nan)
    for i, a in enumerate(categorical):
        v[i, i] = 1.0
        for j in range(i + 1, len(categorical)):
            r = cramers_v(a.values, categorical[j].values)
            v[i, j] = v[j, i] = np.nan if r is None else r
    eta = np.full((len(numeric), len(categorical)), np.nan)
    for i, x in enumerate(numeric):
        for j, g in enumerate(categorical):
            r = correlation_ratio(x.values, g.values)
            eta[i, j] = np.nan if r is None else r
    num_names = tuple(c.name for c in numeric)
    return Correlations(pearson=linear, spearman=spearman,
                        cramers_v=_matrix(cat_names, cat_names, v),
                        correlation_ratio=_matrix(num_names, cat_names, eta),
                        sample_rows=sample_rows)
