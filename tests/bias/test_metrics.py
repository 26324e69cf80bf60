"""Every registered metric on small tables whose answer is worked out by hand.

A new metric without a case in CASES fails test_every_metric_has_a_case.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np
import pandas as pd
import pytest

from shipyard.fairness import METRICS, BiasConfig, BiasReport, bias_report

# SMALL: facet d = rows 0-3 (n_d = 4), facet a = rows 4-9 (n_a = 6).
#   d: label [1,0,0,0]      pred [1,1,1,0]  → TP_d=1 FP_d=2 FN_d=0 TN_d=1
#   a: label [1,1,1,0,0,0]  pred [1,1,0,1,1,0] → TP_a=2 FP_a=2 FN_a=1 TN_a=1
#   group x = rows 0,1,4,5,6; group y = rows 2,3,7,8,9
SMALL = pd.DataFrame({
    "facet": ["d"] * 4 + ["a"] * 6,
    "label": [1, 0, 0, 0, 1, 1, 1, 0, 0, 0],
    "pred": [1, 1, 1, 0, 1, 1, 0, 1, 1, 0],
    "group": ["x", "x", "y", "y", "x", "x", "x", "y", "y", "y"],
})
CONFIG = BiasConfig(label="label", positive=(1,), facet="facet", facet_values=("d",))


def confusion_table(a: tuple[int, int, int, int], d: tuple[int, int, int, int]) -> pd.DataFrame:
    """Rows with the given (TP, FP, FN, TN) counts in facet a and facet d."""
    rows = []
    for facet, counts in (("a", a), ("d", d)):
        for (y, p), n in zip([(1, 1), (0, 1), (1, 0), (0, 0)], counts, strict=True):
            rows += [{"facet": facet, "label": y, "pred": p}] * n
    return pd.DataFrame(rows)


# Clarify's published SD example: a TN=20 FN=5 FP=10 TP=65; d TN=18 FN=7 FP=5 TP=20.
CLARIFY_SD = confusion_table(a=(65, 10, 5, 20), d=(20, 5, 7, 18))

# FLIP (k = 1, facet a has 6 rows ≤ 9): one feature x.
#   a: x = 0, 1, 2, 10, 11, 12 with predictions 1, 1, 1, 0, 0, 0
#   d: x = 0.1 (pred 0 → nearest a x=0 pred 1: F+), 10.2 (pred 1 → x=10 pred 0: F−),
#      11.1 (pred 0 → x=11 pred 0: same), 1.9 (pred 1 → x=2 pred 1: same),
#      0.9 (pred 0 → x=1 pred 1: F+)
#   FT = (F+ − F−) / n_d = (2 − 1) / 5 = 0.2 (scaling x keeps every nearest neighbour)
FLIP = pd.DataFrame({
    "facet": ["a"] * 6 + ["d"] * 5,
    "x": [0, 1, 2, 10, 11, 12, 0.1, 10.2, 11.1, 1.9, 0.9],
    "pred": [1, 1, 1, 0, 0, 0, 0, 1, 0, 1, 0],
    "label": [1, 0, 1, 0, 1, 0, 1, 0, 1, 0, 1],
})
# FLIP5 (k = 5, facet a has 10 rows): a: x = 0..9, predictions 1 for x ≤ 4, else 0.
#   d x=0.2 pred 0: neighbours 0,1,2,3,4 all 1 → counterfactual 1: F+
#   d x=9.1 pred 1: neighbours 9,8,7,6,5 all 0 → counterfactual 0: F−
#   d x=4.6 pred 0: neighbours 5,4,6,3,7 → 0,1,0,1,0 → 2 of 5 → 0: same
#   d x=2.0 pred 0: neighbours 2,1,3,0|4 all 1 → 1: F+
#   FT = (2 − 1) / 4 = 0.25
FLIP5 = pd.DataFrame({
    "facet": ["a"] * 10 + ["d"] * 4,
    "x": [*range(10), 0.2, 9.1, 4.6, 2.0],
    "pred": [1] * 5 + [0] * 5 + [0, 1, 0, 0],
    "label": [1, 0] * 7,
})


def run(table: pd.DataFrame, group: str | None = None, **kw: object) -> BiasReport:
    config = BiasConfig(label="label", positive=(1,), facet="facet", facet_values=("d",),
                        group=group)
    return bias_report(table.drop(columns="pred"), config, predicted=table["pred"], **kw)


# code → (how to get the report, expected value)
CASES: dict[str, list[tuple[Callable[[], BiasReport], float]]] = {
    # CI = (n_a − n_d) / n = (6 − 4) / 10
    "CI": [(lambda: run(SMALL), 0.2), (lambda: run(CLARIFY_SD), (100 - 50) / 150)],
    # DPL = q_a − q_d = 3/6 − 1/4
    "DPL": [(lambda: run(SMALL), 0.25)],
    # P_a = (no 0.5, yes 0.5), P_d = (0.75, 0.25): KL = 0.5 ln(0.5/0.75) + 0.5 ln(0.5/0.25)
    "KL": [(lambda: run(SMALL), 0.5 * math.log(0.5 / 0.75) + 0.5 * math.log(2))],
    # P = (0.625, 0.375); JS = ½ [KL(P_a, P) + KL(P_d, P)]
    "JS": [(lambda: run(SMALL), 0.5 * (
        0.5 * math.log(0.5 / 0.625) + 0.5 * math.log(0.5 / 0.375)
        + 0.75 * math.log(0.75 / 0.625) + 0.25 * math.log(0.25 / 0.375)))],
    # LP = √(0.25² + 0.25²)
    "LP": [(lambda: run(SMALL), math.sqrt(2 * 0.25 ** 2))],
    # TVD = ½ (|0.5 − 0.75| + |0.5 − 0.25|)
    "TVD": [(lambda: run(SMALL), 0.25)],
    # KS = max(0.25, 0.25)
    "KS": [(lambda: run(SMALL), 0.25)],
    # No group: DD = n_d^(0)/n^(0) − n_d^(1)/n^(1) = 3/6 − 1/4.
    # Group x (5 rows): rejected {1 (d)} → 1/1; accepted {0 (d), 4, 5, 6} → 1/4; DD_x = 0.75
    # Group y (5 rows): rejected {2, 3 (d), 7, 8, 9} → 2/5; no accepted → 0; DD_y = 0.4
    # CDD = (5 · 0.75 + 5 · 0.4) / 10
    "CDDL": [(lambda: run(SMALL), 0.25), (lambda: run(SMALL, group="group"), 0.575)],
    # q̂_a = 4/6, q̂_d = 3/4: DPPL = 4/6 − 3/4
    "DPPL": [(lambda: run(SMALL), 4 / 6 - 3 / 4)],
    # DI = q̂_d / q̂_a = (3/4) / (4/6)
    "DI": [(lambda: run(SMALL), 1.125)],
    # c = n^(1) / n̂^(1): c_a = 3/4, c_d = 1/3
    "DCAcc": [(lambda: run(SMALL), 3 / 4 - 1 / 3)],
    # r = n^(0) / n̂^(0): r_d = 3/1, r_a = 3/2; DCR = r_d − r_a
    "DCR": [(lambda: run(SMALL), 1.5)],
    # TNR_d − TNR_a: SMALL 1/3 − 1/3; Clarify's example 18/23 − 20/30 = 0.1159
    "SD": [(lambda: run(SMALL), 0.0), (lambda: run(CLARIFY_SD), 18 / 23 - 20 / 30)],
    # TPR_a − TPR_d: SMALL 2/3 − 1/1; Clarify's table 65/70 − 20/27
    "RD": [(lambda: run(SMALL), 2 / 3 - 1), (lambda: run(CLARIFY_SD), 65 / 70 - 20 / 27)],
    # TP_a / n̂_a^(1) − TP_d / n̂_d^(1) = 2/4 − 1/3
    "DAR": [(lambda: run(SMALL), 2 / 4 - 1 / 3)],
    # TN_d / n̂_d^(0) − TN_a / n̂_a^(0) = 1/1 − 1/2
    "DRR": [(lambda: run(SMALL), 0.5)],
    # ACC_a − ACC_d: SMALL 3/6 − 2/4; Clarify's table 85/100 − 38/50
    "AD": [(lambda: run(SMALL), 0.0), (lambda: run(CLARIFY_SD), 0.85 - 0.76)],
    # FN_d / FP_d − FN_a / FP_a = 0/2 − 1/2
    "TE": [(lambda: run(SMALL), -0.5)],
    # Predicted: rejected d 1 of 3, accepted d 3 of 7: DD = 1/3 − 3/7
    # Group x: pred rows 0,1 (d), 4, 5 accepted, 6 rejected → rejected d 0/1, accepted d 2/4
    #   DD_x = 0 − 0.5; group y: rows 2 (d), 7, 8 accepted; 3 (d), 9 rejected →
    #   DD_y = 1/2 − 1/3; CDD = (5 · −0.5 + 5 · (1/6)) / 10
    "CDDPL": [(lambda: run(SMALL), 1 / 3 - 3 / 7),
              (lambda: run(SMALL, group="group"), (5 * -0.5 + 5 * (1 / 2 - 1 / 3)) / 10)],
    "FT": [(lambda: run(FLIP), 0.2), (lambda: run(FLIP5), 0.25)],
    # b = ŷ − y + 1 = [1,2,2,1, 1,1,0,2,2,1]: μ = 1.3, Σ b² = 21
    # GE = (Σ (b/μ)² − n) / (2n) = (21 / 1.69 − 10) / 20
    "GE": [(lambda: run(SMALL), (21 / 1.69 - 10) / 20)],
}


def test_every_metric_has_a_case() -> None:
    assert set(CASES) == set(METRICS), set(METRICS) ^ set(CASES)


@pytest.mark.parametrize(("code", "make", "expected"),
                         [(code, make, want) for code, cases in CASES.items()
                          for make, want in cases])
def test_metric_worked_by_hand(code: str, make: Callable[[], BiasReport],
                               expected: float) -> None:
    value = make().facets[0].metric(code)
    assert value.reason is None
    assert value.value == pytest.approx(expected, abs=1e-12)


def test_registry_entries_are_complete() -> None:
    for code, m in METRICS.items():
        assert m.code == code and m.stage in ("pre", "post") and m.description
        assert m.fair in (0, 1)
        assert m.band[0] <= m.fair <= m.band[1]
        assert m.low is None or m.high is None or m.low < m.high
        assert m.compute.__doc__ and "Range" in m.compute.__doc__, code
    pre = [c for c, m in METRICS.items() if m.stage == "pre"]
    assert pre == ["CI", "DPL", "KL", "JS", "LP", "TVD", "KS", "CDDL"]


def test_sign_convention_positive_means_against_d() -> None:
    # d: 1 positive label of 4 rows, never predicted positive; a: all positive.
    table = pd.DataFrame({"facet": ["d"] * 4 + ["a"] * 4,
                          "label": [1, 0, 0, 0, 1, 1, 1, 1],
                          "pred": [0, 0, 0, 0, 1, 1, 1, 1]})
    f = run(table).facets[0]
    assert f.metric("DPL").value == pytest.approx(0.75)        # 1 − 1/4
    assert f.metric("DPPL").value == pytest.approx(1.0)        # 1 − 0
    assert f.metric("DI").value == pytest.approx(0.0)          # 0 / 1
    assert f.metric("RD").value == pytest.approx(1.0)          # 1 − 0/1


def test_division_by_zero_is_null_with_a_reason() -> None:
    # a: no false positives (TE), every d prediction negative (DI fine, DCAcc: n̂_d^(1) = 0).
    table = pd.DataFrame({"facet": ["d"] * 3 + ["a"] * 3,
                          "label": [1, 0, 1, 1, 0, 0],
                          "pred": [0, 0, 0, 1, 0, 0]})
    f = run(table).facets[0]
    te, dcacc = f.metric("TE"), f.metric("DCAcc")
    assert te.value is None and "false positives in facet" in (te.reason or "")
    assert dcacc.value is None and "predicted positives in facet d is 0" in (dcacc.reason or "")
    # KL is infinite when a label value of a never occurs in d: null, not inf.
    kl = bias_report(pd.DataFrame({"facet": ["d", "d", "a", "a"], "label": [1, 1, 0, 1]}),
                     CONFIG).facets[0].metric("KL")
    assert kl.value is None and "KL is infinite" in (kl.reason or "")


def test_every_prediction_a_false_negative_leaves_ge_null() -> None:
    table = pd.DataFrame({"facet": ["d", "a"], "label": [1, 1], "pred": [0, 0]})
    ge = run(table).facets[0].metric("GE")
    assert ge.value is None and "false negative" in (ge.reason or "")


def test_one_class_label_keeps_what_is_defined() -> None:
    # Every label positive: DPL is 0, DD has no rejected rows (null), KL is 0.
    table = pd.DataFrame({"facet": ["d", "d", "a", "a"], "label": [1, 1, 1, 1]})
    f = bias_report(table, CONFIG).facets[0]
    assert f.metric("DPL").value == 0.0 and f.metric("KL").value == 0.0
    assert f.metric("CDDL").value is None and "no negative" in (f.metric("CDDL").reason or "")


def test_flip_test_samples_facet_d_above_the_cap() -> None:
    rng = np.random.default_rng(1)
    table = pd.DataFrame({"facet": ["a"] * 50 + ["d"] * 40, "x": rng.normal(size=90),
                          "label": rng.integers(0, 2, 90), "pred": rng.integers(0, 2, 90)})
    report = run(table, ft_max_rows=10)
    assert report.facets[0].ft_rows == 10
    assert any("seeded sample of 10" in n for n in report.notes)
    assert report.to_dict()["facets"][0]["post"]["FT"]["value"] is not None
