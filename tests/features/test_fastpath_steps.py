"""The new recipe steps at serving: the per-row fast path equals the pipeline, or steps aside.

(Recipe steps meet serving here; the fast path's own suite is tests/serving.)
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from shipyard.bundle import load_bundle
from shipyard.serving import Predictor, Unsupported, compile_fast_path, parse_body
from shipyard.training import TrainingContext, run_training

COVERED = {"steps": [
    {"step": "drop", "columns": ["customer_id"]},
    {"step": "impute", "columns": ["multiple_lines"], "params": {"strategy": "most_frequent"}},
    {"step": "log", "columns": ["total_charges"]},
    {"step": "clip", "columns": ["monthly_charges"], "params": {"lower": 0.05, "upper": 0.95}},
    {"step": "spline", "columns": ["monthly_charges", "total_charges"]},
    {"step": "bin", "columns": ["tenure"], "params": {"method": "edges",
                                                      "edges": [12, 24, 48],
                                                      "output": "onehot"}},
    {"step": "encode", "columns": ["payment_method"], "params": {"method": "target"}},
    {"step": "encode", "columns": ["internet_service"], "params": {"method": "count"}},
    {"step": "encode", "columns": ["contract"],
     "params": {"method": "ordinal",
                "order": {"contract": ["Month-to-month", "One year", "Two year"]}}},
    {"step": "encode", "params": {"method": "onehot", "min_count": 50}},
    {"step": "impute", "params": {"strategy": "mean"}},
    {"step": "scale", "params": {"method": "robust"}},
    {"step": "select", "params": {"method": "correlation", "threshold": 0.95}},
    {"step": "balance", "params": {"method": "oversample"}},
]}


def _train(df: pd.DataFrame, recipe: dict, model_dir: Path) -> Predictor:
    run_training(TrainingContext(train=df, algorithm="xgboost", target="churn",
                                 model_dir=model_dir, hyperparameters={"n_estimators": 40},
                                 recipe=recipe, n_jobs=1, plots=False, log=lambda line: None))
    predictor = Predictor(load_bundle(model_dir))
    predictor.warm_up()
    return predictor


def _same(predictor: Predictor, rows: pd.DataFrame) -> None:
    want = predictor.pipeline.predict(rows.reset_index(drop=True))
    got = predictor.predict(parse_body("json", rows.to_json(orient="records").encode()))
    assert got.predictions == want["prediction"].tolist()
    proba = np.array([[p[c] for c in predictor.classes] for p in got.probabilities or []])
    np.testing.assert_allclose(
        proba, want[[f"probability.{c}" for c in predictor.classes]].to_numpy(), rtol=1e-9)


@pytest.fixture(scope="module")
def covered(tmp_path_factory: pytest.TempPathFactory, churn: pd.DataFrame) -> Predictor:
    return _train(churn, COVERED, tmp_path_factory.mktemp("fast") / "model")


def test_covered_steps_compile_and_equal_the_pipeline(covered: Predictor,
                                                      churn: pd.DataFrame) -> None:
    assert covered.fast is not None, covered.fast_reason
    rows = churn.drop(columns="churn").sample(300, random_state=5)
    _same(covered, rows)
    _same(covered, rows.head(1))


def test_unseen_and_missing_values_on_the_fast_path(covered: Predictor,
                                                    churn: pd.DataFrame) -> None:
    rows = churn.drop(columns="churn").head(60).copy()
    rows["payment_method"] = rows["payment_method"].where(rows.index % 3 != 0, "Bitcoin")
    rows["contract"] = rows["contract"].astype(object).where(rows.index % 4 != 0, None)
    rows["multiple_lines"] = rows["multiple_lines"].astype(object).where(
        rows.index % 5 != 0, None)
    rows["total_charges"] = rows["total_charges"].where(rows.index % 2 == 0, -5.0)
    rows["tenure"] = rows["tenure"].astype(float).where(rows.index % 6 != 0, np.nan)
    assert covered.fast is not None
    _same(covered, rows)


@pytest.mark.parametrize(("step", "reason"), [
    ({"step": "impute", "params": {"strategy": "knn", "max_reference_rows": 300}},
     "impute strategy 'knn'"),
    ({"step": "expression", "params": {"name": "per_month",
                                       "expression": "total_charges / max(tenure, 1)"}},
     "recipe step 'expression'"),
])
def test_uncovered_steps_fall_back_to_the_pipeline(step: dict, reason: str, churn: pd.DataFrame,
                                                   tmp_path: Path) -> None:
    recipe = {"steps": [{"step": "drop", "columns": ["customer_id"]}, step,
                        {"step": "categorical"}, {"step": "impute"}]}
    df = churn.sample(1500, random_state=2)
    predictor = _train(df, recipe, tmp_path / "model")
    with pytest.raises(Unsupported, match=reason):
        compile_fast_path(predictor.pipeline)
    assert predictor.fast is None and reason in predictor.fast_reason
    _same(predictor, df.drop(columns="churn").head(50))
