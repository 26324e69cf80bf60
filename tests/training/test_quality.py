"""Every built-in trains on a real table and beats a trivial baseline on the test split."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import adjusted_rand_score, roc_auc_score

from shipyard.bundle import load_bundle

from .conftest import train

SUPERVISED = ["xgboost", "lightgbm", "catboost", "linear", "random-forest", "knn"]


@pytest.mark.parametrize("algorithm", SUPERVISED)
def test_binary_on_churn_beats_the_prior(algorithm: str, churn: pd.DataFrame,
                                         tmp_path: Path) -> None:
    result = train(churn, algorithm, "churn", tmp_path)
    test, base = result.metrics["test"], result.manifest["baseline"]["test"]
    assert result.manifest["problem_type"] == "binary"
    assert result.manifest["classes"] == ["No", "Yes"]
    assert test["roc_auc"] >= 0.75 > base["roc_auc"]
    assert test["accuracy"] > base["accuracy"]
    if algorithm != "knn":  # a class no neighbour has gets 0: log loss punishes it unboundedly
        assert test["log_loss"] < base["log_loss"]


@pytest.mark.parametrize("algorithm", SUPERVISED)
def test_multiclass_on_penguins_beats_the_majority_class(algorithm: str,
                                                         penguins: pd.DataFrame,
                                                         tmp_path: Path) -> None:
    result = train(penguins, algorithm, "species", tmp_path)
    test, base = result.metrics["test"], result.manifest["baseline"]["test"]
    assert result.manifest["problem_type"] == "multiclass"
    assert result.manifest["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert test["accuracy"] >= 0.9 > base["accuracy"]


@pytest.mark.parametrize("algorithm", SUPERVISED)
def test_regression_on_ames_beats_the_mean(algorithm: str, ames: pd.DataFrame,
                                           tmp_path: Path) -> None:
    result = train(ames, algorithm, "price", tmp_path)
    test, base = result.metrics["test"], result.manifest["baseline"]["test"]
    assert result.manifest["problem_type"] == "regression"
    assert test["rmse"] < 0.8 * base["rmse"]
    assert test["r2"] > 0.4


def test_kmeans_finds_the_penguin_species(penguins: pd.DataFrame, tmp_path: Path) -> None:
    numeric = penguins[["bill_length_mm", "bill_depth_mm", "flipper_length_mm",
                        "body_mass_g"]].dropna()
    result = train(numeric, "kmeans", None, tmp_path, hyperparameters={"n_clusters": 3})
    assert result.manifest["task"] == "clustering"
    assert result.metrics["test"]["silhouette"] > 0.3  # a random labelling scores about 0
    clusters = load_bundle(tmp_path).predict(numeric)["prediction"]
    species = penguins.loc[numeric.index, "species"]
    assert adjusted_rand_score(species, clusters) > 0.5


def test_kmeans_given_a_target_leaves_it_out(penguins: pd.DataFrame, tmp_path: Path) -> None:
    result = train(penguins, "kmeans", "species", tmp_path)
    assert "species" not in {e["name"] for e in result.manifest["input_signature"]}
    assert any("is not used: kmeans is unsupervised" in n for n in result.notes)


def test_pca_explains_more_than_its_share(penguins: pd.DataFrame, tmp_path: Path) -> None:
    numeric = penguins[["bill_length_mm", "bill_depth_mm", "flipper_length_mm",
                        "body_mass_g"]]
    result = train(numeric, "pca", None, tmp_path, hyperparameters={"n_components": 2})
    test = result.metrics["test"]
    assert result.manifest["task"] == "dimensionality_reduction"
    # Two of four standardised columns: a structureless table would explain about half.
    assert test["total"] > 0.8
    out = load_bundle(tmp_path).predict(numeric.head(3))
    assert list(out.columns) == ["component.1", "component.2"]


def test_isolation_forest_ranks_planted_anomalies_first(churn: pd.DataFrame,
                                                        tmp_path: Path) -> None:
    features = churn[["tenure", "monthly_charges", "total_charges"]]
    result = train(features, "isolation-forest", None, tmp_path,
                   hyperparameters={"contamination": 0.05})
    assert result.manifest["task"] == "anomaly_detection"
    assert 0.02 < result.metrics["test"]["share_flagged"] < 0.1
    normal = features.sample(300, random_state=3)
    odd = features.sample(30, random_state=4).assign(
        monthly_charges=lambda d: d["monthly_charges"] * 20, tenure=400,
        total_charges=lambda d: d["total_charges"] * 50)
    scores = load_bundle(tmp_path).predict(pd.concat([normal, odd]))
    labels = np.r_[np.zeros(len(normal)), np.ones(len(odd))]
    assert roc_auc_score(labels, scores["score"]) > 0.95  # chance is 0.5
    assert scores["is_anomaly"].to_numpy()[len(normal):].mean() > 0.9
