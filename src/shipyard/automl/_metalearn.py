"""Learning the AutoML portfolio from a corpus of tables (pure numpy; no server, no fit).

``benchmarks/learn_portfolio.py`` fits every configuration of a candidate set on every
table of a corpus (each table split once into train, validation and test rows) and hands
the validation losses here. This module turns them into the configurations the
portfolio tries after the algorithms' defaults, as auto-sklearn 2's and AutoGluon's
portfolios are built (greedy selection over a table × configuration performance matrix,
Feurer et al. 2022):

- :func:`regret`: per table, a configuration's loss scaled so tables of different metrics
  and difficulty weigh alike: ``(loss − best) / (median − best)``, clipped at
  :data:`MAX_REGRET` (a failed fit counts as the clip). 0 is the table's best
  configuration, 1 a median one.
- :func:`greedy`: the portfolio grown one configuration at a time, each time the one
  that most lowers the mean over tables of the best regret reached so far, starting
  from configurations always run first (the defaults). Ties go to the cheaper one.
- :func:`best_of`: which configuration of a list a job would pick on one table (lowest
  validation loss), to score a portfolio out of sample: leave one table out, learn on
  the others, pick on the left-out table's validation loss, report its test loss.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

#: Regret beyond this counts as this (a failed or hopeless configuration).
MAX_REGRET = 5.0


def regret(losses: np.ndarray) -> np.ndarray:
    """``losses`` (tables × configurations, lower is better, NaN for a failed fit) →
    the same shape scaled per table: 0 at the table's best, 1 at its median."""
    losses = np.asarray(losses, dtype=float)
    out = np.full(losses.shape, MAX_REGRET)
    for t, row in enumerate(losses):
        ok = np.isfinite(row)
        if not ok.any():
            continue
        best, median = float(np.min(row[ok])), float(np.median(row[ok]))
        spread = median - best
        if spread <= 0:  # most configurations tie: any gap from the best is large
            spread = max(abs(best), 1.0) * 1e-3
        out[t, ok] = np.minimum((row[ok] - best) / spread, MAX_REGRET)
    return out


def greedy(regrets: np.ndarray, k: int, *, start: Sequence[int] = (),
           costs: np.ndarray | None = None) -> list[int]:
    """The ``k`` configurations (column indices) added after ``start``, in order, that
    greedily lower the mean over tables (rows) of the least regret in the portfolio.

    Stops early when no configuration lowers it any more. ``costs`` (one per column)
    breaks ties: the cheaper first.
    """
    regrets = np.asarray(regrets, dtype=float)
    n_tables, n_configs = regrets.shape
    costs = np.zeros(n_configs) if costs is None else np.asarray(costs, dtype=float)
    chosen = list(start)
    best = (regrets[:, chosen].min(axis=1) if chosen
            else np.full(n_tables, MAX_REGRET))
    added: list[int] = []
    for _ in range(k):
        scores = np.minimum(regrets, best[:, None]).mean(axis=0)
        scores[chosen] = np.inf
        pick_score = float(np.min(scores))
        if not np.isfinite(pick_score) or pick_score >= float(best.mean()) - 1e-12:
            break
        tied = np.flatnonzero(scores <= pick_score + 1e-12)
        pick = int(tied[np.argmin(costs[tied])])
        chosen.append(pick)
        added.append(pick)
        best = np.minimum(best, regrets[:, pick])
    return added


def best_of(validation: np.ndarray, configs: Sequence[int]) -> int | None:
    """Of ``configs`` (indices into one table's ``validation`` losses), the one with the
    lowest validation loss (the first on a tie); None when every one failed."""
    values = np.asarray(validation, dtype=float)
    usable = [c for c in configs if np.isfinite(values[c])]
    if not usable:
        return None
    return min(usable, key=lambda c: (values[c], configs.index(c)))
