"""The bias metrics: a registry of named pure functions over one facet split.

Definitions follow Amazon SageMaker Clarify's published bias metrics. Facet *d* (the
disadvantaged facet) is the rows the facet selects, facet *a* (advantaged) the rest;
``n`` counts rows, ``q = n^(1) / n`` is the share of positive outcomes, a hat marks the
model's predicted labels. Signs are Clarify's, formula for formula: a positive value
(DI: below 1) is the direction Clarify reads as bias against *d*.

A quantity that divides by zero is *undefined*: the function raises :class:`Undefined`
with the reason, and the report shows null (never inf or NaN).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import numpy as np

INF = math.inf
#: Nearest neighbours of the flip test (Clarify: 5, or 1 when facet a has at most 9 rows).
FT_NEIGHBORS, FT_MIN_NEIGHBORS, FT_SMALL_A = 5, 1, 9


class Undefined(Exception):  # noqa: N818 - a value, not a failure
    """The metric has no value on these rows (a zero denominator); ``str()`` says why."""


@dataclass(frozen=True)
class FacetData:
    """One facet split, as the metric functions read it.

    Attributes:
        d: Rows of facet *d* (bool); the others are facet *a*.
        labels: The label's category of each row (int codes); for a binary label,
            1 = positive, 0 = negative.
        y: Positive label (bool), or None when the label has no positive outcome.
        yhat: Positive predicted label (bool), or None before training.
        group: The group column's codes (CDDL, CDDPL), or None.
        features: The encoded, scaled feature matrix (flip test), or None.
        ft_rows: The rows of *d* the flip test queries (all of them, or a sample).
    """

    d: np.ndarray
    labels: np.ndarray
    y: np.ndarray | None = None
    yhat: np.ndarray | None = None
    group: np.ndarray | None = None
    features: np.ndarray | None = None
    ft_rows: np.ndarray | None = None


Stage = Literal["pre", "post"]


@dataclass(frozen=True)
class Metric:
    """One registered metric: its identity, how to read it, and its function."""

    code: str
    title: str
    stage: Stage
    #: The range of values; None = unbounded on that side.
    low: float | None
    high: float | None
    #: The value of no bias (0 for differences and divergences, 1 for DI).
    fair: float
    #: A rule-of-thumb band around ``fair`` drawn on the report's bars (not a verdict).
    band: tuple[float, float]
    description: str
    compute: Callable[[FacetData], float]

    def to_dict(self) -> dict[str, object]:
        return {"code": self.code, "title": self.title, "stage": self.stage,
                "range": [self.low, self.high], "fair": self.fair,
                "band": list(self.band), "description": self.description}


def _div(num: float, den: float, what: str) -> float:
    if den == 0:
        raise Undefined(f"{what} is 0")
    return num / den


def _need_y(data: FacetData) -> np.ndarray:
    if data.y is None:
        raise Undefined("the label has no positive outcome (give positive values or a "
                        "label threshold)")
    return data.y


def _need_yhat(data: FacetData) -> tuple[np.ndarray, np.ndarray]:
    y = _need_y(data)
    if data.yhat is None:
        raise Undefined("no predicted labels")
    return y, data.yhat


def _confusion(data: FacetData, facet: np.ndarray) -> tuple[int, int, int, int]:
    """(TP, FP, FN, TN) within the rows of ``facet``."""
    y, yhat = _need_yhat(data)
    y, yhat = y[facet], yhat[facet]
    return (int((y & yhat).sum()), int((~y & yhat).sum()), int((y & ~yhat).sum()),
            int((~y & ~yhat).sum()))


def _label_distributions(data: FacetData) -> tuple[np.ndarray, np.ndarray]:
    """P_a(y) and P_d(y) over every label category seen in the rows."""
    k = int(data.labels.max()) + 1 if len(data.labels) else 1
    na = np.bincount(data.labels[~data.d], minlength=k).astype(float)
    nd = np.bincount(data.labels[data.d], minlength=k).astype(float)
    return na / max(na.sum(), 1.0), nd / max(nd.sum(), 1.0)


# --- pre-training -----------------------------------------------------------------------

def class_imbalance(data: FacetData) -> float:
    """CI = (n_a − n_d) / n. Range [−1, 1]; 0 is balanced, positive: *d* is the smaller."""
    n_d = int(data.d.sum())
    n_a = len(data.d) - n_d
    return _div(n_a - n_d, n_a + n_d, "the number of rows")


def _q(flags: np.ndarray, facet: np.ndarray, what: str) -> float:
    return _div(float(flags[facet].sum()), float(facet.sum()), what)


def dpl(data: FacetData) -> float:
    """DPL = q_a − q_d, with q = n^(1) / n the share of positive labels. Range [−1, 1]."""
    y = _need_y(data)
    return _q(y, ~data.d, "n_a") - _q(y, data.d, "n_d")


def kl(data: FacetData) -> float:
    """KL = Σ_y P_a(y) · ln(P_a(y) / P_d(y)). Range [0, ∞).

    Undefined (infinite) when a label value of facet *a* never occurs in *d*.
    (Clarify's implementation drops such values from both distributions; the published
    formula does not, and neither does Shipyard.)
    """
    pa, pd_ = _label_distributions(data)
    if np.any((pa > 0) & (pd_ == 0)):
        raise Undefined("a label value of facet a never occurs in facet d (KL is infinite)")
    keep = pa > 0
    return float(np.sum(pa[keep] * np.log(pa[keep] / pd_[keep])))


def js(data: FacetData) -> float:
    """JS = ½ [KL(P_a, P) + KL(P_d, P)] with P = ½ (P_a + P_d). Range [0, ln 2]."""
    pa, pd_ = _label_distributions(data)
    p = (pa + pd_) / 2

    def part(q: np.ndarray) -> float:
        keep = q > 0
        return float(np.sum(q[keep] * np.log(q[keep] / p[keep])))

    return 0.5 * (part(pa) + part(pd_))


def lp(data: FacetData) -> float:
    """LP = √(Σ_y (P_a(y) − P_d(y))²), the L2 norm. Range [0, √2]."""
    pa, pd_ = _label_distributions(data)
    return float(np.sqrt(np.sum((pa - pd_) ** 2)))


def tvd(data: FacetData) -> float:
    """TVD = ½ Σ_y |P_a(y) − P_d(y)|, half the L1 norm. Range [0, 1]."""
    pa, pd_ = _label_distributions(data)
    return float(0.5 * np.sum(np.abs(pa - pd_)))


def ks(data: FacetData) -> float:
    """KS = max_y |P_a(y) − P_d(y)|. Range [0, 1]."""
    pa, pd_ = _label_distributions(data)
    return float(np.max(np.abs(pa - pd_)))


def conditional_dd(d: np.ndarray, positive: np.ndarray, group: np.ndarray | None) -> float:
    """CDD = (1/n) Σ_i n_i · DD_i, DD_i = n_d^(0)/n^(0) − n_d^(1)/n^(1) within group i.

    Without a group it is DD over all rows. As in Clarify, a group with no rejected
    (or no accepted) rows contributes 0 for that share; the whole set must have both.
    """
    if not positive.any():
        raise Undefined("there are no positive outcomes")
    if positive.all():
        raise Undefined("there are no negative outcomes")
    codes = np.zeros(len(d), dtype=np.int64) if group is None else group
    k = int(codes.max()) + 1

    def counts(rows: np.ndarray) -> np.ndarray:
        return np.bincount(codes[rows], minlength=k).astype(float)

    n_i = counts(np.ones(len(d), dtype=bool))
    rejected, accepted = counts(~positive), counts(positive)
    d_rejected, d_accepted = counts(d & ~positive), counts(d & positive)
    with np.errstate(divide="ignore", invalid="ignore"):
        dd = (np.where(rejected > 0, d_rejected / np.where(rejected > 0, rejected, 1), 0.0)
              - np.where(accepted > 0, d_accepted / np.where(accepted > 0, accepted, 1), 0.0))
    return float(np.sum(n_i * dd) / n_i.sum())


def cddl(data: FacetData) -> float:
    """CDDL: CDD on the observed labels (DD when no group is given). Range [−1, 1]."""
    return conditional_dd(data.d, _need_y(data), data.group)


# --- post-training ----------------------------------------------------------------------

def dppl(data: FacetData) -> float:
    """DPPL = q̂_a − q̂_d, the share of positive predictions. Range [−1, 1]."""
    _, yhat = _need_yhat(data)
    return _q(yhat, ~data.d, "n_a") - _q(yhat, data.d, "n_d")


def di(data: FacetData) -> float:
    """DI = q̂_d / q̂_a. Range [0, ∞); 1 is parity, below 1 favours *a*."""
    _, yhat = _need_yhat(data)
    return _div(_q(yhat, data.d, "n_d"), _q(yhat, ~data.d, "n_a"),
                "the share of positive predictions in facet a")


def _sums(data: FacetData, facet: np.ndarray) -> tuple[int, int, int, int]:
    """(n^(1), n̂^(1), n^(0), n̂^(0)) within ``facet``."""
    tp, fp, fn, tn = _confusion(data, facet)
    return tp + fn, tp + fp, fp + tn, fn + tn


def dcacc(data: FacetData) -> float:
    """DCAcc = c_a − c_d, c = n^(1) / n̂^(1) (observed over predicted positives). Range (−∞, ∞)."""
    a, d = _sums(data, ~data.d), _sums(data, data.d)
    return _div(a[0], a[1], "predicted positives in facet a") \
        - _div(d[0], d[1], "predicted positives in facet d")


def dcr(data: FacetData) -> float:
    """DCR = r_d − r_a, r = n^(0) / n̂^(0) (observed over predicted negatives). Range (−∞, ∞)."""
    a, d = _sums(data, ~data.d), _sums(data, data.d)
    return _div(d[2], d[3], "predicted negatives in facet d") \
        - _div(a[2], a[3], "predicted negatives in facet a")


def sd(data: FacetData) -> float:
    """SD = TNR_d − TNR_a, TNR = TN / (TN + FP) (specificity). Range [−1, 1]."""
    _, fp_a, _, tn_a = _confusion(data, ~data.d)
    _, fp_d, _, tn_d = _confusion(data, data.d)
    return _div(tn_d, tn_d + fp_d, "negative labels in facet d") \
        - _div(tn_a, tn_a + fp_a, "negative labels in facet a")


def rd(data: FacetData) -> float:
    """RD = TPR_a − TPR_d, TPR = TP / (TP + FN) (recall). Range [−1, 1]."""
    tp_a, _, fn_a, _ = _confusion(data, ~data.d)
    tp_d, _, fn_d, _ = _confusion(data, data.d)
    return _div(tp_a, tp_a + fn_a, "positive labels in facet a") \
        - _div(tp_d, tp_d + fn_d, "positive labels in facet d")


def dar(data: FacetData) -> float:
    """DAR = TP_a / n̂_a^(1) − TP_d / n̂_d^(1) (precision a − precision d). Range [−1, 1]."""
    tp_a, fp_a, _, _ = _confusion(data, ~data.d)
    tp_d, fp_d, _, _ = _confusion(data, data.d)
    return _div(tp_a, tp_a + fp_a, "predicted positives in facet a") \
        - _div(tp_d, tp_d + fp_d, "predicted positives in facet d")


def drr(data: FacetData) -> float:
    """DRR = TN_d / n̂_d^(0) − TN_a / n̂_a^(0) (negative predictive values). Range [−1, 1]."""
    _, _, fn_a, tn_a = _confusion(data, ~data.d)
    _, _, fn_d, tn_d = _confusion(data, data.d)
    return _div(tn_d, tn_d + fn_d, "predicted negatives in facet d") \
        - _div(tn_a, tn_a + fn_a, "predicted negatives in facet a")


def ad(data: FacetData) -> float:
    """AD = ACC_a − ACC_d, ACC = (TP + TN) / n. Range [−1, 1]."""
    tp_a, fp_a, fn_a, tn_a = _confusion(data, ~data.d)
    tp_d, fp_d, fn_d, tn_d = _confusion(data, data.d)
    return _div(tp_a + tn_a, tp_a + fp_a + fn_a + tn_a, "n_a") \
        - _div(tp_d + tn_d, tp_d + fp_d + fn_d + tn_d, "n_d")


def te(data: FacetData) -> float:
    """TE = FN_d / FP_d − FN_a / FP_a. Range (−∞, ∞)."""
    _, fp_a, fn_a, _ = _confusion(data, ~data.d)
    _, fp_d, fn_d, _ = _confusion(data, data.d)
    return _div(fn_d, fp_d, "false positives in facet d") \
        - _div(fn_a, fp_a, "false positives in facet a")


def cddpl(data: FacetData) -> float:
    """CDDPL: CDD on the predicted labels (DD when no group is given). Range [−1, 1]."""
    _, yhat = _need_yhat(data)
    return conditional_dd(data.d, yhat, data.group)


def flip_test(data: FacetData) -> float:
    """FT = (F⁺ − F⁻) / n_d over the *d* rows tested. Range [−1, 1].

    Each *d* row's counterfactual is the majority of the model's predictions for its
    k nearest *a* rows on the scaled features (k = 5; 1 when *a* has at most 9 rows).
    F⁺ counts *d* rows predicted negative whose counterfactual is positive, F⁻ rows
    predicted positive whose counterfactual is negative (the published definition;
    Clarify's smclarify code counts them the other way round).
    """
    from sklearn.neighbors import NearestNeighbors

    _, yhat = _need_yhat(data)
    if data.features is None or data.features.shape[1] == 0:
        raise Undefined("there are no feature columns to find neighbours on")
    a_rows = np.flatnonzero(~data.d)
    d_rows = np.flatnonzero(data.d) if data.ft_rows is None else data.ft_rows
    if len(a_rows) == 0 or len(d_rows) == 0:
        raise Undefined("a facet has no rows")
    k = FT_NEIGHBORS if len(a_rows) > FT_SMALL_A else FT_MIN_NEIGHBORS
    k = min(k, len(a_rows))
    index = NearestNeighbors(n_neighbors=k).fit(data.features[a_rows])
    neighbours = index.kneighbors(data.features[d_rows], return_distance=False)
    counterfactual = yhat[a_rows][neighbours].mean(axis=1) > 0.5
    predicted = yhat[d_rows]
    f_plus = int((~predicted & counterfactual).sum())
    f_minus = int((predicted & ~counterfactual).sum())
    return (f_plus - f_minus) / len(d_rows)


def generalized_entropy(data: FacetData) -> float:
    """GE = 1 / (2n) Σ_i [(b_i / μ)² − 1], b_i = ŷ_i − y_i + 1, μ = mean(b) (α = 2).

    Over all rows: it does not depend on the facet. Range [0, ∞); 0 is equal benefit.
    """
    y, yhat = _need_yhat(data)
    b = yhat.astype(float) - y.astype(float) + 1.0
    mu = float(b.mean()) if len(b) else 0.0
    if mu == 0:
        raise Undefined("every prediction is a false negative (mean benefit is 0)")
    return float(np.sum((b / mu) ** 2 - 1) / (2 * len(b)))


_DIFF = (-0.1, 0.1)
_DIST = (0.0, 0.1)
METRICS: dict[str, Metric] = {m.code: m for m in [
    Metric("CI", "Class imbalance", "pre", -1, 1, 0, _DIFF,
           "How much smaller facet d is than facet a, as a share of all rows.", class_imbalance),
    Metric("DPL", "Difference in proportions of labels", "pre", -1, 1, 0, _DIFF,
           "Share of positive labels in facet a minus that in facet d.", dpl),
    Metric("KL", "Kullback-Leibler divergence", "pre", 0, None, 0, _DIST,
           "How far facet d's label distribution is from facet a's (in nats).", kl),
    Metric("JS", "Jensen-Shannon divergence", "pre", 0, math.log(2), 0, _DIST,
           "A symmetric, bounded divergence between the facets' label distributions.", js),
    Metric("LP", "Lp-norm (L2)", "pre", 0, math.sqrt(2), 0, _DIST,
           "Euclidean distance between the facets' label distributions.", lp),
    Metric("TVD", "Total variation distance", "pre", 0, 1, 0, _DIST,
           "Half the L1 distance between the facets' label distributions.", tvd),
    Metric("KS", "Kolmogorov-Smirnov", "pre", 0, 1, 0, _DIST,
           "Largest gap between the facets' label distributions at any label value.", ks),
    Metric("CDDL", "Conditional demographic disparity in labels", "pre", -1, 1, 0, _DIFF,
           "Facet d's share of rejections minus its share of acceptances, averaged over "
           "groups.", cddl),
    Metric("DPPL", "Difference in positive proportions in predicted labels", "post", -1, 1,
           0, _DIFF, "Share of positive predictions in facet a minus that in facet d.", dppl),
    Metric("DI", "Disparate impact", "post", 0, None, 1, (0.8, 1.25),
           "Share of positive predictions in facet d divided by that in facet a.", di),
    Metric("DCAcc", "Difference in conditional acceptance", "post", None, None, 0, _DIFF,
           "Observed over predicted positives, facet a minus facet d.", dcacc),
    Metric("DCR", "Difference in conditional rejection", "post", None, None, 0, _DIFF,
           "Observed over predicted negatives, facet d minus facet a.", dcr),
    Metric("SD", "Specificity difference", "post", -1, 1, 0, _DIFF,
           "True negative rate of facet d minus that of facet a.", sd),
    Metric("RD", "Recall difference", "post", -1, 1, 0, _DIFF,
           "True positive rate of facet a minus that of facet d.", rd),
    Metric("DAR", "Difference in acceptance rates", "post", -1, 1, 0, _DIFF,
           "Precision in facet a minus precision in facet d.", dar),
    Metric("DRR", "Difference in rejection rates", "post", -1, 1, 0, _DIFF,
           "Negative predictive value in facet d minus that in facet a.", drr),
    Metric("AD", "Accuracy difference", "post", -1, 1, 0, _DIFF,
           "Accuracy in facet a minus accuracy in facet d.", ad),
    Metric("TE", "Treatment equality", "post", None, None, 0, _DIFF,
           "False negatives per false positive, facet d minus facet a.", te),
    Metric("CDDPL", "Conditional demographic disparity in predicted labels", "post", -1, 1,
           0, _DIFF, "CDDL on the model's predicted labels.", cddpl),
    Metric("FT", "Counterfactual flip test", "post", -1, 1, 0, _DIFF,
           "Facet d rows whose nearest facet-a neighbours get a better prediction, minus "
           "those who get a worse one, as a share of facet d.", flip_test),
    Metric("GE", "Generalized entropy (alpha = 2)", "post", 0, None, 0, _DIST,
           "Inequality of the benefit ŷ − y + 1 across all rows.", generalized_entropy),
]}
