"""scikit-learn built-ins: the linear learner, random forest, k-NN, k-means, PCA, isolation forest.

Models are fitted on float arrays (the recipe's output, one-hot encoded), so
they carry no feature names and predict from arrays the same way after a skops
round trip. Every type they are made of is on the bundle's skops allow-list.
"""

from __future__ import annotations

import time
import warnings
from typing import Any

import numpy as np

from shipyard.training._algorithms import Algorithm, AlgorithmInfo, FitData, FitResult, register
from shipyard.training._hyperparameters import Hyperparameter as H

SUPERVISED = frozenset({"binary", "multiclass", "regression"})


def _array(data: FitData) -> np.ndarray:
    from shipyard.bundle import get_framework

    return get_framework("scikit-learn").array(data.X_train)  # type: ignore[attr-defined]


def _class_weight(value: str) -> str | None:
    return None if value == "none" else value


@register
class Linear(Algorithm):
    info = AlgorithmInfo(
        name="linear", problem_types=SUPERVISED, needs_scaling=True, categorical="onehot",
        framework="scikit-learn",
        description="The linear learner: L2-regularised logistic regression (classification) "
                    "or ridge regression.",
        hyperparameters=(
            H("alpha", "float", 1.0, 1e-6, 1e4, log=True, search=(1e-4, 100.0, True),
              description="L2 regularisation strength (C = 1/alpha for logistic regression)"),
            H("max_iter", "int", 1000, 10, 100_000, tuned=False, description="solver iterations"),
            H("class_weight", "categorical", "none", choices=("none", "balanced"),
              description="weigh classes by inverse frequency (classification)"),
        ),
    )

    def fit(self, data: FitData) -> FitResult:
        from sklearn.exceptions import ConvergenceWarning
        from sklearn.linear_model import LogisticRegression, Ridge

        hp, notes = data.hyperparameters, []
        model: Any
        if data.problem_type == "regression":
            model = Ridge(alpha=hp["alpha"], max_iter=hp["max_iter"])
        else:
            model = LogisticRegression(C=1.0 / hp["alpha"], max_iter=hp["max_iter"],
                                       class_weight=_class_weight(hp["class_weight"]))
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always", ConvergenceWarning)
            model.fit(_array(data), data.y_train)
        if any(issubclass(w.category, ConvergenceWarning) for w in caught):
            notes.append(f"the solver did not converge in {hp['max_iter']} iterations; "
                         "raise max_iter or alpha")
        return FitResult(model=model, notes=notes)


@register
class RandomForest(Algorithm):
    info = AlgorithmInfo(
        name="random-forest", problem_types=SUPERVISED, needs_scaling=False,
        categorical="onehot", framework="scikit-learn",
        description="Random forest of decision trees (scikit-learn).",
        size_drivers="n_estimators, and each tree's leaves: they grow with the training rows "
                     "unless max_leaf_nodes, min_samples_leaf or max_depth bound them",
        hyperparameters=(
            # Sized so the bundle stays under 50 MB on 50k rows (benchmarks/
            # bench_bundle_size.py): 200 unbounded trees made 171 MB on 50k flights.
            H("n_estimators", "int", 100, 1, 5000, search=(50, 500, True), description="trees"),
            H("max_depth", "int", None, 1, 200, description="depth limit; null for none"),
            H("min_samples_leaf", "int", 3, 1, 10_000, search=(1, 50, True),
              description="minimum rows in a leaf"),
            # At most 200k: scikit-learn reserves room for 2 × max_leaf_nodes nodes a tree
            # up front (10 million would reserve GBs).
            H("max_leaf_nodes", "int", 2000, 2, 200_000, nullable=True, search=(16, 4096, True),
              description="leaves per tree at most, the best splits first: bounds the "
                          "model's size however many rows (about 0.3 MB a tree); null for "
                          "no limit"),
            H("max_features", "categorical", "auto", choices=("auto", "sqrt", "log2", "all"),
              description="features tried per split; auto: sqrt (classification), "
                          "all (regression)"),
            H("class_weight", "categorical", "none", choices=("none", "balanced"),
              description="weigh classes by inverse frequency (classification)"),
        ),
    )

    def fit(self, data: FitData) -> FitResult:
        from sklearn.ensemble import RandomForestClassifier, RandomForestRegressor

        hp = data.hyperparameters
        regression = data.problem_type == "regression"
        features = {"auto": 1.0 if regression else "sqrt", "all": 1.0}.get(
            hp["max_features"], hp["max_features"])
        common = {"n_estimators": hp["n_estimators"], "max_depth": hp["max_depth"],
                  "min_samples_leaf": hp["min_samples_leaf"],
                  "max_leaf_nodes": hp["max_leaf_nodes"], "max_features": features,
                  "n_jobs": data.n_jobs, "random_state": data.seed}
        model: Any = (RandomForestRegressor(**common) if regression else RandomForestClassifier(
            **common, class_weight=_class_weight(hp["class_weight"])))
        grow_in_slices(model, _array(data), data.y_train, hp["n_estimators"], data)
        return FitResult(model=model)


#: Seconds one slice of a growing forest should take: progress lines stay seconds apart.
SLICE_SECONDS = 2.0


def grow_in_slices(model: Any, X: np.ndarray, y: Any, total: int, data: FitData) -> None:
    """Fit a forest ``total`` trees at a time slice, reporting progress between slices.

    scikit-learn's ``warm_start`` adds trees to a fitted forest and draws their seeds
    as one fit would, so the forest is the same as ``fit`` in one go. The first slice
    has one tree per CPU; later ones are sized from the time per tree so far to take
    about :data:`SLICE_SECONDS`, in whole multiples of the CPUs (no idle core).
    """
    progress = data.progress(total, "trees")
    cpus = max(1, data.n_jobs)
    done, size = 0, cpus
    model.set_params(warm_start=True)
    while done < total:
        n = min(total, done + size)
        started = time.perf_counter()
        model.set_params(n_estimators=n)
        model.fit(X, y)
        per_tree = max((time.perf_counter() - started) / (n - done), 1e-6)
        done = n
        progress.update(done)
        size = max(cpus, int(SLICE_SECONDS / per_tree) // cpus * cpus)
    model.set_params(warm_start=False)  # the saved model reads as one plain fit


@register
class KNN(Algorithm):
    info = AlgorithmInfo(
        name="knn", problem_types=SUPERVISED, needs_scaling=True, categorical="onehot",
        framework="scikit-learn",
        description="k nearest neighbours (scikit-learn), on standardised features.",
        size_drivers="the training rows: the model keeps every one of them",
        hyperparameters=(
            H("n_neighbors", "int", 25, 1, 1000, search=(3, 100, True),
              description="neighbours that vote"),
            H("weights", "categorical", "uniform", choices=("uniform", "distance"),
              description="equal votes, or votes weighted by inverse distance"),
            H("p", "int", 2, 1, 2, description="1: Manhattan distance, 2: Euclidean"),
        ),
    )

    def fit(self, data: FitData) -> FitResult:
        from sklearn.neighbors import KNeighborsClassifier, KNeighborsRegressor

        hp, notes = data.hyperparameters, []
        X = _array(data)
        k = hp["n_neighbors"]
        if k > len(X):
            notes.append(f"n_neighbors {k} is more than the {len(X)} training rows; used {len(X)}")
            k = len(X)
        cls = KNeighborsRegressor if data.problem_type == "regression" else KNeighborsClassifier
        model = cls(n_neighbors=k, weights=hp["weights"], p=hp["p"], n_jobs=data.n_jobs)
        model.fit(X, data.y_train)
        return FitResult(model=model, notes=notes)


@register
class KMeansAlgorithm(Algorithm):
    info = AlgorithmInfo(
        name="kmeans", problem_types=frozenset({"clustering"}), needs_scaling=True,
        categorical="onehot", framework="scikit-learn",
        description="k-means clustering (scikit-learn), on standardised features.",
        hyperparameters=(
            H("n_clusters", "int", 3, 2, 1000, description="clusters"),
            H("n_init", "int", 10, 1, 100, description="restarts; the best is kept"),
            H("max_iter", "int", 300, 10, 100_000, description="iterations per restart"),
        ),
    )

    def fit(self, data: FitData) -> FitResult:
        from sklearn.cluster import KMeans

        hp = data.hyperparameters
        X = _array(data)
        if hp["n_clusters"] > len(X):
            from shipyard.errors import InvalidRequest

            raise InvalidRequest(
                f"n_clusters {hp['n_clusters']} is more than the {len(X)} training rows; "
                "ask for fewer clusters.")
        model = KMeans(n_clusters=hp["n_clusters"], n_init=hp["n_init"],
                       max_iter=hp["max_iter"], random_state=data.seed)
        model.fit(X)
        return FitResult(model=model)


@register
class PCAAlgorithm(Algorithm):
    info = AlgorithmInfo(
        name="pca", problem_types=frozenset({"dimensionality_reduction"}), needs_scaling=True,
        categorical="onehot", framework="scikit-learn",
        description="Principal component analysis (scikit-learn), on standardised features.",
        hyperparameters=(
            H("n_components", "int", 2, 1, 10_000, description="components kept"),
            H("whiten", "bool", False, description="scale components to unit variance"),
        ),
    )

    def fit(self, data: FitData) -> FitResult:
        from sklearn.decomposition import PCA

        hp, notes = data.hyperparameters, []
        X = _array(data)
        k = hp["n_components"]
        limit = min(X.shape)
        if k > limit:
            notes.append(f"n_components {k} is more than the data allows ({limit}); used {limit}")
            k = limit
        model = PCA(n_components=k, whiten=hp["whiten"], random_state=data.seed)
        model.fit(X)
        return FitResult(model=model, notes=notes)


@register
class IsolationForestAlgorithm(Algorithm):
    info = AlgorithmInfo(
        name="isolation-forest", problem_types=frozenset({"anomaly_detection"}),
        needs_scaling=False, categorical="onehot", framework="scikit-learn",
        description="Isolation forest anomaly detection (scikit-learn); higher score means "
                    "more anomalous.",
        size_drivers="n_estimators and max_samples (the rows each tree isolates)",
        hyperparameters=(
            H("n_estimators", "int", 200, 1, 5000, description="trees"),
            H("contamination", "float", None, 1e-4, 0.5,
              description="expected share of anomalies, which sets the flagging threshold; "
                          "null: scikit-learn's 'auto' threshold"),
            H("max_samples", "int", 256, 2, 1_000_000, description="rows drawn per tree"),
            H("max_features", "float", 1.0, 0.01, 1.0, description="share of features per tree"),
        ),
    )

    def fit(self, data: FitData) -> FitResult:
        from sklearn.ensemble import IsolationForest

        hp = data.hyperparameters
        X = _array(data)
        model = IsolationForest(
            n_estimators=hp["n_estimators"], contamination=hp["contamination"] or "auto",
            max_samples=min(hp["max_samples"], len(X)), max_features=hp["max_features"],
            n_jobs=data.n_jobs, random_state=data.seed)
        model.fit(X)
        return FitResult(model=model)
