"""On real data (IBM telco churn): every metric equals the published formula in plain pandas."""

from __future__ import annotations

import json
import math

import numpy as np
import pandas as pd
import pytest

from shipyard.fairness import METRICS, BiasConfig, bias_report

from .conftest import CHURN_NUMERIC


def published(df: pd.DataFrame, d: pd.Series, y: pd.Series, yhat: pd.Series,
              group: pd.Series) -> dict[str, float]:
    """Clarify's published formulas, written out with pandas on boolean Series."""
    a = ~d
    n, n_a, n_d = len(df), a.sum(), d.sum()
    q_a, q_d = y[a].mean(), y[d].mean()
    pa = pd.Series([1 - q_a, q_a])
    pd_ = pd.Series([1 - q_d, q_d])
    p = (pa + pd_) / 2
    out = {
        "CI": (n_a - n_d) / n,
        "DPL": q_a - q_d,
        "KL": (pa * np.log(pa / pd_)).sum(),
        "JS": 0.5 * ((pa * np.log(pa / p)).sum() + (pd_ * np.log(pd_ / p)).sum()),
        "LP": math.sqrt(((pa - pd_) ** 2).sum()),
        "TVD": 0.5 * (pa - pd_).abs().sum(),
        "KS": (pa - pd_).abs().max(),
    }

    def cdd(outcome: pd.Series) -> float:
        total = 0.0
        for _, rows in df.groupby(group).groups.items():
            o, dd = outcome.loc[rows], d.loc[rows]
            rejected = (dd & ~o).sum() / (~o).sum() if (~o).sum() else 0.0
            accepted = (dd & o).sum() / o.sum() if o.sum() else 0.0
            total += len(rows) * (rejected - accepted)
        return total / n

    out["CDDL"] = cdd(y)
    tp = lambda f: (f & y & yhat).sum()      # noqa: E731
    fp = lambda f: (f & ~y & yhat).sum()     # noqa: E731
    fn = lambda f: (f & y & ~yhat).sum()     # noqa: E731
    tn = lambda f: (f & ~y & ~yhat).sum()    # noqa: E731
    qh_a, qh_d = yhat[a].mean(), yhat[d].mean()
    out |= {
        "DPPL": qh_a - qh_d,
        "DI": qh_d / qh_a,
        "DCAcc": y[a].sum() / yhat[a].sum() - y[d].sum() / yhat[d].sum(),
        "DCR": (~y[d]).sum() / (~yhat[d]).sum() - (~y[a]).sum() / (~yhat[a]).sum(),
        "SD": tn(d) / (tn(d) + fp(d)) - tn(a) / (tn(a) + fp(a)),
        "RD": tp(a) / (tp(a) + fn(a)) - tp(d) / (tp(d) + fn(d)),
        "DAR": tp(a) / yhat[a].sum() - tp(d) / yhat[d].sum(),
        "DRR": tn(d) / (~yhat[d]).sum() - tn(a) / (~yhat[a]).sum(),
        "AD": (tp(a) + tn(a)) / n_a - (tp(d) + tn(d)) / n_d,
        "TE": fn(d) / fp(d) - fn(a) / fp(a),
        "CDDPL": cdd(yhat),
    }
    b = yhat.astype(int) - y.astype(int) + 1
    out["GE"] = (((b / b.mean()) ** 2) - 1).sum() / (2 * n)
    out["FT"] = flip_test(df, d, yhat)
    return {k: float(v) for k, v in out.items()}


def flip_test(df: pd.DataFrame, d: pd.Series, yhat: pd.Series) -> float:
    """Clarify's flip test: a k-NN classifier (k = 5) fitted on facet a's predicted labels,
    on z-scored numeric features, predicts each d row's counterfactual."""
    from sklearn.neighbors import KNeighborsClassifier

    x = df[CHURN_NUMERIC].astype(float)
    x = ((x - x.mean()) / x.std(ddof=0)).fillna(0.0).to_numpy()
    knn = KNeighborsClassifier(n_neighbors=5).fit(x[~d.to_numpy()], yhat[~d].to_numpy())
    counterfactual = knn.predict(x[d.to_numpy()]).astype(bool)
    model = yhat[d].to_numpy()
    f_plus = (~model & counterfactual).sum()      # predicted negative, as-a positive
    f_minus = (model & ~counterfactual).sum()     # predicted positive, as-a negative
    return (f_plus - f_minus) / d.sum()


@pytest.mark.parametrize("facet", ["senior_citizen", "female"])
def test_every_metric_matches_pandas(churn: pd.DataFrame, churn_predicted: pd.Series,
                                     facet: str) -> None:
    config = BiasConfig(label="churn", positive=("Yes",), facet=facet, group="contract")
    report = bias_report(churn, config, churn_predicted, features=CHURN_NUMERIC)
    assert [f.value for f in report.facets] == [0, 1]   # every value in turn
    y = churn["churn"] == "Yes"
    yhat = churn_predicted == "Yes"
    for result in report.facets:
        d = churn[facet] == result.value
        want = published(churn, d, y, yhat, churn["contract"])
        assert set(want) == set(METRICS)
        for code, value in want.items():
            got = result.metric(code)
            assert got.value == pytest.approx(value, rel=1e-9, abs=1e-12), code
        assert result.n_d == d.sum() and result.n_a == (~d).sum()
    json.dumps(report.to_dict(), allow_nan=False)


def test_senior_citizen_headline_figures(churn: pd.DataFrame) -> None:
    """Known shares: 41.7% of the 1,142 seniors churn, 23.6% of the 5,901 others."""
    report = bias_report(churn, BiasConfig(label="churn", positive=("Yes",),
                                           facet="senior_citizen", facet_values=("1",)))
    f = report.facets[0]
    assert (f.n_d, f.n_a) == (1142, 5901)
    assert f.metric("CI").value == pytest.approx((5901 - 1142) / 7043)
    assert f.metric("DPL").value == pytest.approx(1393 / 5901 - 476 / 1142)
    assert f.metric("DPL").value < 0     # seniors churn more: the positive label favours d
