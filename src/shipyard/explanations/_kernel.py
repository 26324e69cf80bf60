"""KernelSHAP (Lundberg & Lee 2017) over raw input columns, vectorised over rows.

A coalition ``z`` (a subset of the M raw columns) is valued as the model's mean
output over the background rows with the absent columns taken from the background
and the present ones from the explained row: the whole pipeline (recipe and model)
predicts, so a raw column's value is one number however many features it feeds.

Coalitions: the Shapley kernel gives a size ``s`` the weight ``(M-1) / (s (M-s))``
shared by its ``C(M, s)`` subsets. Sizes are taken in pairs (``s`` and ``M-s``) from
the smallest, which carry the most weight, and enumerated whole while the budget
affords it (all of them when ``2^M - 2`` fits: the values are then exact); the rest of
the weight is spread over coalitions sampled by size, each with its complement
(paired sampling), duplicates merged. The same coalitions serve every row, so the
weighted least squares — constrained so the values sum to ``f(x) - E[f]`` — is one
factorisation for all rows and outputs, and the model sees all coalitions ×
background rows of many rows in one batched call.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd

#: Coalitions used per row when the caller does not say (shap's default is 2M + 2048).
DEFAULT_COALITIONS = 1024
#: Masked rows built in one batch, at most (rows × coalitions × background); the model
#: sees only the distinct ones.
DEFAULT_BATCH_ROWS = 1_000_000

Model = Callable[[pd.DataFrame], np.ndarray]


def default_coalitions(m: int) -> int:
    """The coalition budget for ``m`` columns: every coalition when they are few."""
    return int(min(2 ** m - 2, max(DEFAULT_COALITIONS, 2 * m + 256))) if m < 60 else \
        DEFAULT_COALITIONS


def coalitions(m: int, budget: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Coalitions (rows of a bool matrix, ``m`` columns) and their kernel weights (sum 1)."""
    if m < 2:
        return np.ones((0, m), dtype=bool), np.zeros(0)
    sizes = list(range(1, m // 2 + 1))
    # A size and its complement share one entry (the middle size, when m is even, is alone).
    mass = np.array([(m - 1) / (s * (m - s)) * (1 if 2 * s == m else 2) for s in sizes])
    mass /= mass.sum()
    chosen: dict[bytes, float] = {}
    rows: dict[bytes, np.ndarray] = {}

    def add(z: np.ndarray, w: float) -> None:
        key = z.tobytes()
        if key not in chosen:
            chosen[key], rows[key] = 0.0, z
        chosen[key] += w

    left, rest = budget, 1.0
    full = 0
    for s, w in zip(sizes, mass, strict=True):
        n_subsets = math.comb(m, s) * (1 if 2 * s == m else 2)
        if n_subsets > left:
            break
        for idx in _subsets(m, s):
            z = np.zeros(m, dtype=bool)
            z[list(idx)] = True
            per = w / n_subsets
            add(z, per)
            if 2 * s != m:
                add(~z, per)
        left -= n_subsets
        rest -= w
        full += 1
    if full < len(sizes) and left >= 2 and rest > 1e-12:
        tail = mass[full:] / mass[full:].sum()
        n_pairs = left // 2
        drawn = rng.choice(np.arange(full, len(sizes)), size=n_pairs, p=tail)
        per = rest / (2 * n_pairs)
        for i in drawn:
            z = np.zeros(m, dtype=bool)
            z[rng.choice(m, size=sizes[i], replace=False)] = True
            add(z, per)
            add(~z, per)
    keys = list(chosen)
    return np.array([rows[k] for k in keys]), np.array([chosen[k] for k in keys])


def _subsets(m: int, s: int) -> list[tuple[int, ...]]:
    from itertools import combinations

    return list(combinations(range(m), s))


def _codes(rows: pd.DataFrame, background: pd.DataFrame,
           ) -> tuple[list[np.ndarray], np.ndarray, np.ndarray]:
    """Per column, the distinct values of rows and background, and both as codes into them."""
    uniques: list[np.ndarray] = []
    x_codes = np.empty((len(rows), rows.shape[1]), dtype=np.int64)
    b_codes = np.empty((len(background), rows.shape[1]), dtype=np.int64)
    for j, col in enumerate(rows.columns):
        both = pd.concat([rows[col], background[col]], ignore_index=True)
        codes, values = pd.factorize(both, use_na_sentinel=False)
        uniques.append(values if isinstance(values, np.ndarray) and values.dtype.kind in "fiub"
                       else np.asarray(values, dtype=object))
        x_codes[:, j], b_codes[:, j] = codes[:len(rows)], codes[len(rows):]
    return uniques, x_codes, b_codes


def masked_values(f: Model, rows: pd.DataFrame, background: pd.DataFrame,
                  z: np.ndarray) -> np.ndarray:
    """``f`` of every row × coalition × background row (present columns from the row, the
    rest from the background): rows × coalitions × background × outputs.

    Many of these rows are the same (a coalition that leaves out one label column takes
    only its few distinct background values; rows that share a label share every
    coalition of it alone), so each distinct row is handed to ``f`` once.
    """
    n, s, b = len(rows), len(z), len(background)
    uniques, x_codes, b_codes = _codes(rows, background)
    # Each masked row's codes as two independent hashes, computed without building the
    # rows: sum_j (z_j ? x_j : b_j) * mult_j = (x * mult) z' + (b * mult) (1 - z)'.
    zi = z.astype(np.int64)
    keys = []
    for seed in (12345, 67890):
        mult = np.random.default_rng(seed).integers(1, 2 ** 62, size=z.shape[1],
                                                    dtype=np.int64) | 1
        with np.errstate(over="ignore"):
            hx, hb = (x_codes * mult) @ zi.T, (b_codes * mult) @ (1 - zi).T  # n × s, b × s
            keys.append((hx[:, :, None] + hb.T[None, :, :]).reshape(-1))
    _, first, inverse = np.unique(keys[0], return_index=True, return_inverse=True)
    inverse = inverse.reshape(-1)
    if not np.array_equal(keys[1][first][inverse], keys[1]):  # a collision: every row
        first = inverse = np.arange(n * s * b)
    i, k, j = np.unravel_index(first, (n, s, b))
    distinct = np.where(z[k], x_codes[i], b_codes[j])
    frame = pd.DataFrame({str(col): uniques[j][distinct[:, j]]
                          for j, col in enumerate(rows.columns)})
    for col in rows.columns:  # numbers and dates keep their dtype; labels are objects
        if frame[str(col)].dtype != rows[col].dtype and rows[col].dtype.kind in "fiumbM":
            frame[str(col)] = frame[str(col)].astype(rows[col].dtype)
    out = f(frame)
    return out[inverse].reshape(n, s, b, -1)


def solve(z: np.ndarray, w: np.ndarray, v: np.ndarray, fx: np.ndarray,
          base: np.ndarray) -> np.ndarray:
    """The constrained weighted least squares of every row and output at once.

    ``v``: coalition values (rows × coalitions × outputs); ``fx``: the rows' outputs
    (rows × outputs); ``base``: E[f] (outputs). Returns rows × columns × outputs whose
    sum over columns is ``fx - base`` exactly (the last column is eliminated).
    """
    n, s, k = v.shape
    m = z.shape[1]
    gap = fx - base[None, :]  # rows × outputs
    if m == 1:
        return gap[:, None, :]
    zf = z.astype("float64")
    X = zf[:, :-1] - zf[:, -1:]  # coalitions × (m - 1)
    y = v - base[None, None, :] - zf[None, :, -1, None] * gap[:, None, :]  # n × s × k
    sw = np.sqrt(w)[:, None]
    rhs = (sw * y.transpose(1, 0, 2).reshape(s, n * k))
    phi, *_ = np.linalg.lstsq(sw * X, rhs, rcond=None)  # (m - 1) × (n k)
    phi = phi.reshape(m - 1, n, k).transpose(1, 0, 2)
    last = gap - phi.sum(axis=1)
    return np.concatenate([phi, last[:, None, :]], axis=1)


def kernel_shap(f: Model, rows: pd.DataFrame, background: pd.DataFrame,
                weights: np.ndarray, *, n_coalitions: int | None = None, seed: int = 0,
                batch_rows: int = DEFAULT_BATCH_ROWS,
                progress: Callable[[int, int], None] | None = None,
                ) -> tuple[np.ndarray, np.ndarray]:
    """SHAP values of ``rows`` over its columns: (rows × columns × outputs, E[f]).

    Args:
        f: raw rows → outputs (rows × outputs), the whole pipeline.
        rows, background: the same columns; ``weights`` the background rows' (sum 1).
        n_coalitions: coalitions per row (None: :func:`default_coalitions`).
        batch_rows: masked rows (rows × coalitions × background) built in one batch, at
            most; ``f`` sees only the distinct ones.
        progress: called with (rows done, rows) after each batch; the first batch is
            then one row.
    """
    m = rows.shape[1]
    rng = np.random.default_rng(seed)
    budget = default_coalitions(m) if n_coalitions is None else int(n_coalitions)
    z, w = coalitions(m, max(budget, 2), rng)
    weights = np.asarray(weights, dtype="float64")
    base = weights @ f(background)
    per_row = max(len(z) * len(background), 1)
    chunk = max(1, batch_rows // per_row)
    out = np.zeros((len(rows), m, base.shape[0]))
    # With progress shown, the first batch is one row, so its first line (and the time the
    # rest should take) comes after one row, not after a batch of a wide model's minutes.
    start, n = 0, 1 if progress is not None else chunk
    while start < len(rows):
        part = rows.iloc[start:start + n].reset_index(drop=True)
        n = chunk
        fx = f(part)
        if len(z):
            v = np.einsum("nsbk,b->nsk", masked_values(f, part, background, z), weights)
        else:
            v = np.zeros((len(part), 0, base.shape[0]))
        out[start:start + len(part)] = solve(z, w, v, fx, base)
        start += len(part)
        if progress is not None:
            progress(start, len(rows))
    return out, base
