"""Agreement with fairlearn 0.15 where the quantities overlap, on a real model's predictions.

fairlearn's group metrics are unsigned across groups (max − min, min / max); Clarify's are
signed facet a against facet d. With two groups: |DPPL| is the demographic parity
difference, min(DI, 1/DI) the demographic parity ratio, RD the true positive rate of a
minus that of d, SD = TNR_d − TNR_a = FPR_a − FPR_d, and the equalized odds difference
is max(|RD|, |SD|).
"""

from __future__ import annotations

import pandas as pd
import pytest
from fairlearn.metrics import (
    MetricFrame,
    demographic_parity_difference,
    demographic_parity_ratio,
    equalized_odds_difference,
    false_positive_rate,
    selection_rate,
    true_positive_rate,
)

from shipyard.fairness import BiasConfig, bias_report


@pytest.mark.parametrize("facet", ["senior_citizen", "female"])
def test_two_groups_agree_with_fairlearn(churn: pd.DataFrame, churn_predicted: pd.Series,
                                         facet: str) -> None:
    y = (churn["churn"] == "Yes").astype(int)
    yhat = (churn_predicted == "Yes").astype(int)
    groups = churn[facet]
    report = bias_report(churn, BiasConfig(label="churn", positive=("Yes",), facet=facet,
                                           facet_values=(1,)), churn_predicted,
                         features=["tenure", "monthly_charges"])
    f = report.facets[0]
    dppl, di = f.metric("DPPL").value, f.metric("DI").value
    rd, sd = f.metric("RD").value, f.metric("SD").value
    assert dppl is not None and di is not None and rd is not None and sd is not None

    assert abs(dppl) == pytest.approx(
        demographic_parity_difference(y, yhat, sensitive_features=groups), abs=1e-12)
    assert min(di, 1 / di) == pytest.approx(
        demographic_parity_ratio(y, yhat, sensitive_features=groups), abs=1e-12)

    frame = MetricFrame(metrics={"tpr": true_positive_rate, "fpr": false_positive_rate,
                                 "selection": selection_rate},
                        y_true=y, y_pred=yhat, sensitive_features=groups)
    by = frame.by_group
    assert rd == pytest.approx(by.loc[0, "tpr"] - by.loc[1, "tpr"], abs=1e-12)
    assert sd == pytest.approx(by.loc[0, "fpr"] - by.loc[1, "fpr"], abs=1e-12)
    assert dppl == pytest.approx(by.loc[0, "selection"] - by.loc[1, "selection"], abs=1e-12)
    assert max(abs(rd), abs(sd)) == pytest.approx(
        equalized_odds_difference(y, yhat, sensitive_features=groups), abs=1e-12)


def test_each_value_against_the_rest_agrees_with_fairlearn(
        churn: pd.DataFrame, churn_predicted: pd.Series) -> None:
    """A three-valued facet, each value in turn against the rest (fairlearn on d vs not d)."""
    y = (churn["churn"] == "Yes").astype(int)
    yhat = (churn_predicted == "Yes").astype(int)
    report = bias_report(churn, BiasConfig(label="churn", positive=("Yes",),
                                           facet="contract"), churn_predicted,
                         features=["tenure"])
    assert [f.value for f in report.facets] == ["Month-to-month", "One year", "Two year"]
    for f in report.facets:
        is_d = churn["contract"] == f.value
        frame = MetricFrame(metrics={"tpr": true_positive_rate, "selection": selection_rate},
                            y_true=y, y_pred=yhat, sensitive_features=is_d)
        by = frame.by_group
        assert f.metric("DPPL").value == pytest.approx(
            by.loc[False, "selection"] - by.loc[True, "selection"], abs=1e-12)
        assert f.metric("RD").value == pytest.approx(
            by.loc[False, "tpr"] - by.loc[True, "tpr"], abs=1e-12)
