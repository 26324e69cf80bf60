"""The registry of drift tests: named pure functions, each with its kinds and default threshold.

Two families, by what they compare:

- ``values`` tests take two sorted float arrays (the reference sample and the
  current values): Kolmogorov–Smirnov (``ks``, a p-value) and the Wasserstein
  distance normed by the reference standard deviation (``wasserstein``).
- ``counts`` tests take two aligned count vectors (categories, or the baseline's
  quantile bins for numbers): Population Stability Index (``psi``),
  Jensen–Shannon distance (``jensenshannon``, natural log, as scipy) and
  chi-square (``chisquare``, a p-value from the 2×k contingency table).

A distance flags drift when it is at or above its threshold; a p-value when it
is below. The p-value tests call scipy.stats (imported on first use). The
distances are a few lines of numpy over data sorted once, because importing
scipy.stats costs about a second and ``scipy.stats.wasserstein_distance`` re-sorts
both samples on every call; the tests check they agree with scipy to 1e-9.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

from shipyard.errors import InvalidRequest

#: Proportions of 0 in a binned test are replaced by this, so logarithms stay finite.
EPSILON = 1e-4


@dataclass(frozen=True)
class TestOutcome:
    """What one test found: the score compared with the threshold, and the raw statistic."""

    score: float
    statistic: float | None = None


@dataclass(frozen=True)
class DriftTest:
    """One registered test: which column kinds it fits, what it compares and when it flags."""

    name: str
    title: str
    data: str  # "values" (sorted samples) or "counts" (aligned count vectors)
    kinds: frozenset[str]
    threshold: float
    higher_is_drift: bool  # False: the score is a p-value, and a low one means drift
    function: Callable[..., TestOutcome]

    def drifted(self, score: float, threshold: float) -> bool:
        """Whether ``score`` means drift at ``threshold``."""
        return score >= threshold if self.higher_is_drift else score < threshold

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "title": self.title, "data": self.data,
                "kinds": sorted(self.kinds), "threshold": self.threshold,
                "higher_is_drift": self.higher_is_drift}


def ks(reference: np.ndarray, current: np.ndarray, **_: Any) -> TestOutcome:
    """Two-sample Kolmogorov–Smirnov test (scipy's exact or asymptotic p-value)."""
    from scipy.stats import ks_2samp

    result = ks_2samp(reference, current)
    return TestOutcome(float(result.pvalue), float(result.statistic))


def wasserstein(reference: np.ndarray, current: np.ndarray, *, reference_std: float,
                **_: Any) -> TestOutcome:
    """Wasserstein-1 distance divided by the reference standard deviation.

    The same integral as ``scipy.stats.wasserstein_distance``: the area between the
    two empirical CDFs, over the merged, sorted values.
    """
    distance = wasserstein_distance(reference, current)
    scale = reference_std if reference_std > 0 else 1.0
    return TestOutcome(distance / scale, distance)


def wasserstein_distance(u: np.ndarray, v: np.ndarray) -> float:
    """Wasserstein-1 distance of two sorted samples (equal weights), exactly as scipy computes it.

    Values with many repeats (counts, integers) take the area between the two
    CDFs over their distinct values; otherwise the integral of
    ``|U⁻¹(t) - V⁻¹(t)|`` over t in (0, 1], where both quantile functions are
    steps at multiples of 1/n and 1/m, so each piece is found by index arithmetic.
    """
    xu, cu = _runs(u)
    xv, cv = _runs(v)
    if xu.size + xv.size <= (u.size + v.size) // 4:
        grid = np.union1d(xu, xv)
        f = _step_cdf(xu, cu, grid)
        f -= _step_cdf(xv, cv, grid)
        np.abs(f, out=f)
        return float((f[:-1] * np.diff(grid)).sum())
    n, m = u.size, v.size
    steps = np.empty(n + m)
    np.divide(np.arange(1, n + 1), n, out=steps[:n])
    np.divide(np.arange(1, m + 1), m, out=steps[n:])
    steps.sort(kind="stable")  # two sorted runs: a merge, not a full sort
    gaps = np.diff(steps, prepend=0.0)
    middle = steps - gaps / 2
    iu = (middle * n).astype(np.intp)
    np.minimum(iu, n - 1, out=iu)
    iv = (middle * m).astype(np.intp)
    np.minimum(iv, m - 1, out=iv)
    diff = u[iu]
    diff -= v[iv]
    np.abs(diff, out=diff)
    diff *= gaps  # an elementwise product and a sum, not np.dot: BLAS threads cost more here
    return float(diff.sum())


def _runs(v: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Distinct values of a sorted array, and how many values are at or below each one."""
    last = np.append(np.flatnonzero(v[1:] != v[:-1]), v.size - 1)
    return v[last], last + 1


def _step_cdf(values: np.ndarray, at_or_below: np.ndarray, grid: np.ndarray) -> np.ndarray:
    """The empirical CDF of a sample (given by :func:`_runs`) at each grid point."""
    k = np.searchsorted(values, grid, side="right") - 1
    cdf = at_or_below[np.maximum(k, 0)] / float(at_or_below[-1])
    cdf[k < 0] = 0.0
    return cdf


def _proportions(reference: np.ndarray, current: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    p = reference / reference.sum()
    q = current / current.sum()
    return p, q


def psi(reference: np.ndarray, current: np.ndarray, **_: Any) -> TestOutcome:
    """Population Stability Index: sum of (q - p) * ln(q / p) over the bins."""
    p, q = _proportions(reference, current)
    p = np.where(p == 0, EPSILON, p)
    q = np.where(q == 0, EPSILON, q)
    return TestOutcome(float(np.sum((q - p) * np.log(q / p))))


def jensenshannon(reference: np.ndarray, current: np.ndarray, **_: Any) -> TestOutcome:
    """Jensen–Shannon distance (the square root of the divergence, natural log), as scipy."""
    p, q = _proportions(reference, current)
    m = (p + q) / 2
    with np.errstate(divide="ignore", invalid="ignore"):
        kl_p = np.where(p > 0, p * np.log(p / m), 0.0).sum()
        kl_q = np.where(q > 0, q * np.log(q / m), 0.0).sum()
    return TestOutcome(float(np.sqrt(max((kl_p + kl_q) / 2, 0.0))))


def chisquare(reference: np.ndarray, current: np.ndarray, **_: Any) -> TestOutcome:
    """Chi-square test of homogeneity on the 2×k table of counts (scipy's chi2_contingency)."""
    from scipy.stats import chi2_contingency

    table = np.vstack((reference, current)).astype(float)
    table = table[:, table.sum(axis=0) > 0]
    if table.shape[1] < 2:  # one category on both sides: nothing can differ
        return TestOutcome(1.0, 0.0)
    result = chi2_contingency(table)
    return TestOutcome(float(result.pvalue), float(result.statistic))


_NUMERIC = frozenset({"numeric"})
_ANY = frozenset({"numeric", "categorical", "boolean"})

#: Every drift test, by name.
TESTS: dict[str, DriftTest] = {t.name: t for t in (
    DriftTest("ks", "Kolmogorov–Smirnov p-value", "values", _NUMERIC, 0.05, False, ks),
    DriftTest("wasserstein", "Wasserstein distance (normed)", "values", _NUMERIC, 0.1, True,
              wasserstein),
    DriftTest("psi", "Population Stability Index", "counts", _ANY, 0.1, True, psi),
    DriftTest("jensenshannon", "Jensen–Shannon distance", "counts", _ANY, 0.1, True,
              jensenshannon),
    DriftTest("chisquare", "chi-square p-value", "counts", _ANY, 0.05, False, chisquare),
)}


def get_test(name: str) -> DriftTest:
    """The registered test called ``name``, or a clear error."""
    try:
        return TESTS[name]
    except KeyError:
        raise InvalidRequest(
            f"Unknown drift test {name!r}; expected one of {', '.join(TESTS)}."
        ) from None
