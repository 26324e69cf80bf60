"""Clustering, anomaly and dimensionality-reduction metrics on real data."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as skm
from sklearn.cluster import KMeans
from sklearn.decomposition import PCA
from sklearn.ensemble import IsolationForest
from sklearn.preprocessing import StandardScaler

from shipyard.errors import InvalidRequest
from shipyard.evaluation import anomaly_metrics, clustering_metrics, dimensionality_metrics

approx = pytest.approx
MEASURES = ["bill_length_mm", "bill_depth_mm", "flipper_length_mm", "body_mass_g"]


@pytest.fixture(scope="module")
def penguin_X(penguins: pd.DataFrame) -> np.ndarray:
    return StandardScaler().fit_transform(penguins[MEASURES].dropna().to_numpy(dtype=float))


def test_silhouette_agrees_with_sklearn(penguin_X: np.ndarray) -> None:
    labels = KMeans(n_clusters=3, n_init=3, random_state=0).fit_predict(penguin_X)
    m = clustering_metrics(penguin_X, labels)
    assert m["silhouette"] == approx(skm.silhouette_score(penguin_X, labels))
    assert m["silhouette_sample_size"] is None
    assert m["n_clusters"] == 3 and m["n_noise"] == 0
    assert sum(m["cluster_sizes"].values()) == len(labels)
    assert m["cluster_sizes"] == {str(k): int(v) for k, v in zip(*np.unique(labels,
                                  return_counts=True), strict=True)}
    assert json.loads(json.dumps(m)) == m


def test_silhouette_is_sampled_like_sklearn(ames: pd.DataFrame) -> None:
    X = StandardScaler().fit_transform(ames[["area", "Lot.Area", "Year.Built"]].to_numpy(float))
    labels = KMeans(n_clusters=4, n_init=2, random_state=0).fit_predict(X)
    m = clustering_metrics(X, labels, sample_size=800, seed=3)
    expected = skm.silhouette_score(X, labels, sample_size=800, random_state=3)
    assert m["silhouette"] == approx(expected)
    assert m["silhouette_sample_size"] == 800


def test_noise_points_are_counted_not_clustered(penguin_X: np.ndarray) -> None:
    labels = KMeans(n_clusters=2, n_init=2, random_state=0).fit_predict(penguin_X)
    labels[:10] = -1
    m = clustering_metrics(penguin_X, labels)
    assert m["n_noise"] == 10 and m["n_clusters"] == 2 and "-1" not in m["cluster_sizes"]
    assert m["silhouette"] == approx(skm.silhouette_score(penguin_X[10:], labels[10:]))


def test_one_cluster_has_no_silhouette(penguin_X: np.ndarray) -> None:
    m = clustering_metrics(penguin_X, np.zeros(len(penguin_X), dtype=int))
    assert m["silhouette"] is None and m["n_clusters"] == 1


def test_clustering_bad_input() -> None:
    with pytest.raises(InvalidRequest, match="2-D"):
        clustering_metrics(np.arange(5.0), np.zeros(5))
    with pytest.raises(InvalidRequest, match="same number of rows"):
        clustering_metrics(np.ones((5, 2)), np.zeros(4))
    with pytest.raises(InvalidRequest, match="finite"):
        clustering_metrics(np.full((3, 2), np.nan), np.zeros(3))


def test_anomaly_score_distribution(penguin_X: np.ndarray) -> None:
    forest = IsolationForest(random_state=0).fit(penguin_X)
    scores = -forest.score_samples(penguin_X)  # higher = more anomalous
    flagged = forest.predict(penguin_X) == -1
    m = anomaly_metrics(scores, flagged=flagged)
    assert m["n_samples"] == len(scores)
    assert m["quantiles"]["p50"] == approx(np.median(scores))
    assert m["quantiles"]["p95"] == approx(np.quantile(scores, 0.95))
    assert m["share_flagged"] == approx(flagged.mean()) and m["n_flagged"] == flagged.sum()
    hist = m["histogram"]
    assert sum(hist["counts"]) == len(scores) and sum(hist["flagged_counts"]) == flagged.sum()
    assert json.loads(json.dumps(m)) == m
    unflagged = anomaly_metrics(scores)
    assert unflagged["share_flagged"] is None and "flagged_counts" not in unflagged["histogram"]


def test_anomaly_bad_input() -> None:
    with pytest.raises(InvalidRequest, match="same number of rows"):
        anomaly_metrics([0.1, 0.2], flagged=[True])
    with pytest.raises(InvalidRequest, match="no scores"):
        anomaly_metrics([])


def test_explained_variance(penguin_X: np.ndarray) -> None:
    pca = PCA().fit(penguin_X)
    m = dimensionality_metrics(pca.explained_variance_ratio_)
    assert m["n_components"] == 4
    assert m["explained_variance_ratio"] == approx(pca.explained_variance_ratio_.tolist())
    assert m["cumulative"] == approx(np.cumsum(pca.explained_variance_ratio_).tolist())
    assert m["total"] == approx(1.0)
    needed = int(np.searchsorted(np.cumsum(pca.explained_variance_ratio_), 0.9) + 1)
    assert m["components_for"]["0.9"] == needed
    partial = dimensionality_metrics([0.5, 0.3])
    assert partial["components_for"]["0.8"] == 2 and partial["components_for"]["0.9"] is None
    with pytest.raises(InvalidRequest, match="negative"):
        dimensionality_metrics([0.5, -0.1])
