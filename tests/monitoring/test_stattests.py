"""The drift-test registry agrees with scipy on the same samples."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.spatial.distance import jensenshannon as scipy_js
from scipy.special import rel_entr
from scipy.stats import chi2_contingency, ks_2samp
from scipy.stats import wasserstein_distance as scipy_wasserstein

from shipyard.errors import InvalidRequest
from shipyard.monitoring import TESTS, get_test
from shipyard.monitoring._stattests import EPSILON, wasserstein_distance

RNG = np.random.default_rng(2024)


def _pairs() -> list[tuple[str, np.ndarray, np.ndarray]]:
    """Continuous, tied, tiny and lopsided samples: both code paths of the distance."""
    return [
        ("normal", RNG.normal(size=2000), RNG.normal(0.2, 1.3, size=3000)),
        ("gamma-vs-normal", RNG.gamma(2.0, size=20_000), RNG.normal(2, 1, size=170_000)),
        ("integers", RNG.integers(0, 40, size=5000).astype(float),
         RNG.integers(5, 50, size=800).astype(float)),
        ("few values", RNG.integers(0, 3, size=1000).astype(float),
         RNG.integers(0, 4, size=1000).astype(float)),
        ("one each", np.array([1.5]), np.array([-2.0])),
        ("tiny", np.array([0.0, 1.0, 1.0]), np.array([0.5, 3.0, 3.0, 7.0, 7.0])),
        ("identical", np.arange(100.0), np.arange(100.0)),
    ]


@pytest.mark.parametrize(("label", "u", "v"), _pairs(), ids=[p[0] for p in _pairs()])
def test_wasserstein_agrees_with_scipy(label: str, u: np.ndarray, v: np.ndarray) -> None:
    ours = wasserstein_distance(np.sort(u), np.sort(v))
    assert ours == pytest.approx(scipy_wasserstein(u, v), rel=1e-9, abs=1e-12)


def test_wasserstein_test_is_normed_by_reference_std() -> None:
    u, v = RNG.normal(size=3000), RNG.normal(0.5, 2.0, size=4000)
    outcome = TESTS["wasserstein"].function(np.sort(u), np.sort(v), reference_std=float(u.std()))
    assert outcome.score == pytest.approx(scipy_wasserstein(u, v) / np.std(u), rel=1e-9)
    assert outcome.statistic == pytest.approx(scipy_wasserstein(u, v), rel=1e-9)


@pytest.mark.parametrize(("label", "u", "v"), _pairs()[:4], ids=[p[0] for p in _pairs()[:4]])
def test_ks_agrees_with_scipy(label: str, u: np.ndarray, v: np.ndarray) -> None:
    outcome = TESTS["ks"].function(np.sort(u), np.sort(v))
    expected = ks_2samp(u, v)
    assert outcome.score == pytest.approx(expected.pvalue, rel=1e-12)
    assert outcome.statistic == pytest.approx(expected.statistic, rel=1e-12)


COUNTS = [
    ("overlap", np.array([50, 30, 20.0]), np.array([45, 35, 20.0])),
    ("zeros", np.array([10, 0, 5, 7.0]), np.array([0, 3, 5, 9.0])),
    ("big shift", np.array([1000, 10, 1.0]), np.array([1, 10, 1000.0])),
    ("two", np.array([500, 500.0]), np.array([480, 520.0])),
]


@pytest.mark.parametrize(("label", "p", "q"), COUNTS, ids=[c[0] for c in COUNTS])
def test_jensenshannon_agrees_with_scipy(label: str, p: np.ndarray, q: np.ndarray) -> None:
    ours = TESTS["jensenshannon"].function(p, q).score
    assert ours == pytest.approx(scipy_js(p / p.sum(), q / q.sum()), rel=1e-9, abs=1e-12)


@pytest.mark.parametrize(("label", "p", "q"), COUNTS, ids=[c[0] for c in COUNTS])
def test_chisquare_agrees_with_scipy(label: str, p: np.ndarray, q: np.ndarray) -> None:
    outcome = TESTS["chisquare"].function(p, q)
    table = np.vstack([p, q])
    expected = chi2_contingency(table[:, table.sum(axis=0) > 0])
    assert outcome.score == pytest.approx(expected.pvalue, rel=1e-12, abs=1e-300)
    assert outcome.statistic == pytest.approx(expected.statistic, rel=1e-12)


def test_chisquare_with_one_category_is_no_evidence() -> None:
    assert TESTS["chisquare"].function(np.array([5.0, 0.0]), np.array([9.0, 0.0])).score == 1.0


@pytest.mark.parametrize(("label", "p", "q"), COUNTS, ids=[c[0] for c in COUNTS])
def test_psi_is_the_symmetric_kl_divergence(label: str, p: np.ndarray, q: np.ndarray) -> None:
    # PSI = sum((q - p) ln(q / p)) = KL(q || p) + KL(p || q), zeros replaced by EPSILON.
    pp = np.where(p == 0, EPSILON, p / p.sum())
    qq = np.where(q == 0, EPSILON, q / q.sum())
    expected = rel_entr(qq, pp).sum() + rel_entr(pp, qq).sum()
    assert TESTS["psi"].function(p, q).score == pytest.approx(expected, rel=1e-9)


def test_registry_declares_kinds_thresholds_and_direction() -> None:
    assert set(TESTS) == {"ks", "wasserstein", "psi", "jensenshannon", "chisquare"}
    for test in TESTS.values():
        assert test.threshold > 0 and test.kinds and test.data in ("values", "counts")
        assert test.to_dict()["name"] == test.name
    assert not TESTS["ks"].higher_is_drift and TESTS["ks"].drifted(0.01, 0.05)
    assert not TESTS["ks"].drifted(0.2, 0.05)
    assert TESTS["wasserstein"].drifted(0.1, 0.1) and not TESTS["wasserstein"].drifted(0.09, 0.1)
    assert "categorical" not in TESTS["ks"].kinds and "categorical" in TESTS["psi"].kinds


def test_unknown_test_names_the_choices() -> None:
    with pytest.raises(InvalidRequest, match="Unknown drift test 'kolmogorov'.*ks"):
        get_test("kolmogorov")
