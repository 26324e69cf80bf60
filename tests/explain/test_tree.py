"""TreeSHAP of xgboost, lightgbm and catboost bundles: additive, and summed back per column."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from shipyard.bundle import FRAMEWORKS
from shipyard.explanations import Explainer, explain
from shipyard.explanations._tree import contributions

from .conftest import BundleFactory

TASKS = {"churn": "churn", "penguins": "species", "ames": "price"}


@pytest.mark.parametrize("table", ["churn", "penguins", "ames"])
@pytest.mark.parametrize("algorithm", ["xgboost", "lightgbm", "catboost"])
def test_base_plus_values_is_the_models_margin(algorithm: str, table: str,
                                              bundles: BundleFactory,
                                              request: pytest.FixtureRequest) -> None:
    pipeline = bundles(algorithm, table)
    df = request.getfixturevalue(table).drop(columns=TASKS[table])
    rows = df.sample(200, random_state=1)
    explainer = Explainer(pipeline)
    e = explainer.explain(rows)
    assert e.method == "tree"
    k = 1 if table != "penguins" else 3
    assert e.values.shape == (200, len(e.columns), k)
    assert e.output_space == ("value" if table == "ames" else "margin")
    expected = explainer.output(rows)
    np.testing.assert_allclose(e.output_values, expected, rtol=1e-4, atol=1e-4 * np.abs(
        expected).max())
    if table == "churn":
        assert e.outputs == ("Yes",)
        # The margin is the model's log-odds of what it serves.
        proba = pipeline.predict(rows)["probability.Yes"].to_numpy()
        np.testing.assert_allclose(1 / (1 + np.exp(-expected[:, 0])), proba, rtol=1e-5)
    elif table == "penguins":
        assert e.outputs == ("Adelie", "Chinstrap", "Gentoo")
        proba = pipeline.predict(rows)[[f"probability.{c}" for c in e.outputs]].to_numpy()
        soft = np.exp(expected) / np.exp(expected).sum(axis=1, keepdims=True)
        np.testing.assert_allclose(soft, proba, rtol=1e-4, atol=1e-6)
    else:
        np.testing.assert_allclose(expected[:, 0], pipeline.predict(rows)["prediction"],
                                   rtol=1e-5)


@pytest.mark.parametrize("algorithm", ["xgboost", "lightgbm", "catboost"])
def test_a_raw_column_gets_the_sum_of_its_features(algorithm: str, bundles: BundleFactory,
                                                  churn: pd.DataFrame) -> None:
    pipeline = bundles(algorithm, "churn")
    rows = churn.drop(columns="churn").sample(100, random_state=2)
    e = explain(pipeline, rows)
    X = pipeline.recipe.transform(rows)
    c = contributions(pipeline.framework.name, pipeline.model, X)[:, :-1, 0]
    lineage = pipeline.recipe.lineage()
    for raw in ("contract", "total_charges", "payment_method"):
        features = [i for i, f in enumerate(pipeline.recipe.feature_names)
                    if lineage[f] == [raw]]
        assert features
        np.testing.assert_allclose(e.values[:, e.columns.index(raw), 0],
                                   c[:, features].sum(axis=1), atol=1e-9)
    if algorithm == "xgboost":  # one-hot: several features make one raw column
        assert sum(lineage[f] == ["contract"] for f in lineage) == 3


def test_matches_shap_tree_explainer(bundles: BundleFactory, churn: pd.DataFrame) -> None:
    shap = pytest.importorskip("shap")
    pipeline = bundles("xgboost", "churn")
    rows = churn.drop(columns="churn").sample(100, random_state=3)
    e = explain(pipeline, rows)
    X = pipeline.recipe.transform(rows)
    theirs = np.asarray(shap.TreeExplainer(pipeline.model).shap_values(
        FRAMEWORKS["xgboost"].matrix(X)))  # type: ignore[attr-defined]
    summed = theirs @ pipeline_matrix(pipeline, e.columns)
    np.testing.assert_allclose(e.values[:, :, 0], summed, rtol=1e-4, atol=1e-5)


def pipeline_matrix(pipeline: object, columns: tuple[str, ...]) -> np.ndarray:
    from shipyard.explanations import lineage_matrix

    return lineage_matrix(pipeline.recipe.lineage(), list(columns))  # type: ignore[attr-defined]


def test_explanation_views(bundles: BundleFactory, churn: pd.DataFrame) -> None:
    import json

    pipeline = bundles("lightgbm", "churn")
    rows = churn.drop(columns="churn").head(30)
    e = Explainer(pipeline).explain(rows)
    top = e.global_importance()
    assert [s for _, s in top] == sorted((s for _, s in top), reverse=True)
    assert {c for c, _ in top} == set(e.columns)
    assert "customer_id" not in e.columns  # the recipe drops it: it explains nothing
    local = e.row(3)
    assert local.output_values[0] == pytest.approx(e.output_values[3, 0])
    assert abs(local.top(1)[0][2]) == pytest.approx(np.abs(e.values[3, :, 0]).max())
    doc = json.loads(json.dumps(e.to_dict(), allow_nan=False))
    assert doc["method"] == "tree" and len(doc["values"]) == 30
    assert json.dumps(local.to_dict(), allow_nan=False)
    html = e._repr_html_()
    assert "<table>" in html and "contract" in html
