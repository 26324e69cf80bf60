"""Real data and quick scikit-learn models, fitted once per session.

Each fixture returns what the evaluation functions take: true targets and the
model's predictions on held-out rows.
"""

from __future__ import annotations

import pandas as pd
import pytest
from sklearn.linear_model import Ridge
from sklearn.model_selection import train_test_split
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from .data import Classified, Regressed, classify, load


@pytest.fixture(scope="session")
def churn() -> pd.DataFrame:
    return load("modeldata", "wa_churn")


@pytest.fixture(scope="session")
def penguins() -> pd.DataFrame:
    return load("palmerpenguins", "penguins")


@pytest.fixture(scope="session")
def ames() -> pd.DataFrame:
    return load("openintro", "ames")


@pytest.fixture(scope="session")
def chicago() -> pd.DataFrame:
    return load("modeldata", "Chicago")


@pytest.fixture(scope="session")
def binary(churn: pd.DataFrame) -> Classified:
    """Churn (No/Yes) from tenure and charges: the positive class is "Yes"."""
    features = ["tenure", "monthly_charges", "total_charges", "senior_citizen"]
    return classify(churn, "churn", features, ["No", "Yes"])


@pytest.fixture(scope="session")
def multiclass(penguins: pd.DataFrame) -> Classified:
    """Penguin species from two measurements (so the model makes some mistakes)."""
    labels = sorted(penguins["species"].dropna().unique())
    return classify(penguins, "species", ["bill_depth_mm", "body_mass_g"], labels)


@pytest.fixture(scope="session")
def regression(ames: pd.DataFrame) -> Regressed:
    features = ["area", "Lot.Area", "Overall.Qual", "Year.Built", "Garage.Cars", "Total.Bsmt.SF"]
    df = ames.dropna(subset=[*features, "price"])
    X, y = df[features].to_numpy(dtype=float), df["price"].to_numpy(dtype=float)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0)
    model = make_pipeline(StandardScaler(), Ridge(alpha=1.0)).fit(X_tr, y_tr)
    return Regressed(y_te, model.predict(X_te), y_tr)
