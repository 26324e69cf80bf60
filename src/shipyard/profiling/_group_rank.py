"""A numeric column that ranks a numeric target within groups: a leak no global rule sees.

openintro's ames with the rank of ``price`` within its ``Neighborhood`` added: its global
Spearman with the price is far from 1 (each neighbourhood's ranks start at 1 again) and a
one-feature tree cannot tell a cheap neighbourhood's 10th house from a dear one's, so the
Spearman and one-feature rules keep it. Within each neighbourhood, though, its ranks *are*
the price's. The rule: for each categorical column with at most :data:`MAX_LABELS` labels
and no label holding :data:`MAX_GROUP_SHARE` of the rows, the Spearman correlation of the
feature and the target inside each of its groups of :data:`MIN_GROUP_ROWS` rows or more,
averaged by group size, over groups that hold at least :data:`MIN_SHARE` of the rows. A
rank (or any monotone map within groups) scores 1; the highest honest score measured on
churn, ames, credit_data and penguins (every numeric column as the target against every
other numeric column and every categorical one) was 0.984, tenure against total_charges
within internet_service, so :data:`GROUP_SPEARMAN` is 0.999. A screen in one pass over
the rows (:meth:`_Grouping.screens_in`) skips the correlations for nearly every pair.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from shipyard.profiling._associations import Encoded

#: Size-weighted mean within-group |Spearman| from which a column ranks the target.
GROUP_SPEARMAN = 0.999
#: Groups smaller than this are left out (on 2 rows any two columns agree in order).
MIN_GROUP_ROWS = 10
#: The groups kept must hold this share of the rows that have both values, and 50 rows.
MIN_SHARE = 0.5
MIN_ROWS = 50
#: A column whose largest group holds this share of the rows is no grouping: within it,
#: the global Spearman rule already judges the feature.
MAX_GROUP_SHARE = 0.9
#: Share of neighbouring rows (by target, within a group) a feature must order as the
#: target does before the Spearman correlations are computed.
SCREEN_SHARE = 0.95
#: A numeric column with at most this many distinct values groups rows too.
MAX_NUMERIC_GROUPS = 20
#: Categorical columns with more labels are no grouping (they are mostly tiny groups).
MAX_LABELS = 100


def _ranks_within(values: np.ndarray, codes: np.ndarray) -> np.ndarray:
    """Average ranks from 1 of ``values`` within each group of ``codes`` (ties share the
    mean of their ranks): one sort, no loop over the groups."""
    order = np.lexsort((values, codes))
    v, c = values[order], codes[order]
    n = len(v)
    starts = np.r_[True, c[1:] != c[:-1]]
    first = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    ordinal = np.arange(n) - first + 1.0
    run = np.cumsum(np.r_[True, (v[1:] != v[:-1]) | starts[1:]]) - 1
    mean = np.bincount(run, ordinal) / np.bincount(run)
    out = np.empty(n)
    out[order] = mean[run]
    return out


@dataclass(frozen=True)
class _Grouping:
    """One categorical column's groups of :data:`MIN_GROUP_ROWS` rows or more, over the
    rows with a target, and the target's within-group ranks there (centred)."""

    name: str
    rows: np.ndarray  # positions in the sample
    codes: np.ndarray
    sizes: np.ndarray
    dy: np.ndarray
    syy: np.ndarray
    #: ``rows`` sorted by group then target, and which neighbours in that order share a
    #: group with the target strictly rising: a quick screen of a feature's order.
    order: np.ndarray
    rising: np.ndarray

    def screens_in(self, x: np.ndarray) -> bool:
        """Whether ``x`` rises (or falls) with the target between nearly every pair of
        neighbours: a necessary condition of ranking it, in O(rows) without a sort."""
        step = np.diff(x[self.rows][self.order])[self.rising]
        up, down = int((step > 0).sum()), int((step < 0).sum())
        return up + down > 0 and max(up, down) >= SCREEN_SHARE * (up + down)


def _centred(ranks: np.ndarray, codes: np.ndarray, sizes: np.ndarray) -> np.ndarray:
    return ranks - (np.bincount(codes, ranks, len(sizes)) / np.maximum(sizes, 1.0))[codes]


def _group_codes(g: Encoded) -> np.ndarray | None:
    """Codes (−1: missing) of a categorical column, or of a numeric one with at most
    :data:`MAX_NUMERIC_GROUPS` distinct values (a year of sale, a number of rooms)."""
    if g.kind == "categorical":
        return g.values.astype(np.int64) if 2 <= len(g.labels) <= MAX_LABELS else None
    if g.kind != "numeric":
        return None
    known = np.isfinite(g.values)
    distinct, codes = np.unique(g.values[known], return_inverse=True)
    if not 2 <= len(distinct) <= MAX_NUMERIC_GROUPS:
        return None
    out = np.full(len(g.values), -1, dtype=np.int64)
    out[known] = codes
    return out


def _grouping(g: Encoded, y: np.ndarray) -> _Grouping | None:
    all_codes = _group_codes(g)
    if all_codes is None:
        return None
    rows = np.flatnonzero(np.isfinite(y) & (all_codes >= 0))
    if len(rows) < MIN_ROWS:
        return None
    codes = all_codes[rows]
    counts = np.bincount(codes)
    if counts.max() >= MAX_GROUP_SHARE * len(rows):
        return None
    big = counts[codes] >= MIN_GROUP_ROWS
    if big.sum() < max(MIN_ROWS, MIN_SHARE * len(rows)):
        return None
    rows, codes = rows[big], codes[big]
    sizes = np.bincount(codes).astype(np.float64)
    dy = _centred(_ranks_within(y[rows], codes), codes, sizes)
    order = np.lexsort((y[rows], codes))
    c, v = codes[order], y[rows][order]
    rising = (c[1:] == c[:-1]) & (v[1:] > v[:-1])
    return _Grouping(g.name, rows, codes, sizes, dy, np.bincount(codes, dy * dy, len(sizes)),
                     order, rising)


def _within(grouping: _Grouping, x: np.ndarray, y: np.ndarray) -> tuple[float, int]:
    """Size-weighted mean Spearman of ``x`` and ``y`` within the groups, and the rows of
    the groups that count (a group constant in either column says nothing)."""
    gr = grouping
    x = x[gr.rows]
    if np.isfinite(x).all():
        codes, sizes, dy, syy = gr.codes, gr.sizes, gr.dy, gr.syy
    else:  # re-rank the target on the rows where the feature is known too
        keep = np.isfinite(x)
        x, codes = x[keep], gr.codes[keep]
        sizes = np.bincount(codes, minlength=len(gr.sizes)).astype(np.float64)
        dy = _centred(_ranks_within(y[gr.rows][keep], codes), codes, sizes)
        syy = np.bincount(codes, dy * dy, len(sizes))
    dx = _centred(_ranks_within(x, codes), codes, sizes)
    sxx, sxy = np.bincount(codes, dx * dx, len(sizes)), np.bincount(codes, dx * dy, len(sizes))
    ok = (sizes >= MIN_GROUP_ROWS) & (sxx > 0) & (syy > 0)
    if not ok.any():
        return 0.0, 0
    rho = sxy[ok] / np.sqrt(sxx[ok] * syy[ok])
    return float(np.sum(rho * sizes[ok]) / sizes[ok].sum()), int(sizes[ok].sum())


class GroupRanks:
    """The groupings of a sample's categorical columns, found once, against which each
    numeric feature is judged (:meth:`find`)."""

    def __init__(self, target: Encoded, groups: Sequence[Encoded]) -> None:
        self.y = target.values if target.kind == "numeric" else None
        found = [_grouping(g, self.y) for g in groups] if self.y is not None else []
        self.groupings = [g for g in found if g is not None]

    def find(self, feature: Encoded) -> tuple[str, float, int] | None:
        """(group column, weighted within-group Spearman, rows) when ``feature`` ranks the
        target within the groups of a column (:data:`GROUP_SPEARMAN`), else None."""
        if self.y is None or feature.kind != "numeric":
            return None
        for g in self.groupings:
            if g.name == feature.name or not g.screens_in(feature.values):
                continue
            rho, covered = _within(g, feature.values, self.y)
            if covered >= MIN_ROWS and abs(rho) >= GROUP_SPEARMAN:
                return g.name, rho, covered
        return None
