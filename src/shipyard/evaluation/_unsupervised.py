"""Metrics of unsupervised models: clustering, anomaly scores, dimensionality reduction."""

from __future__ import annotations

from typing import Any

import numpy as np

from shipyard.errors import InvalidRequest
from shipyard.evaluation._common import (
    as_vector,
    defined,
    distribution,
    num,
    nums,
    same_length,
    sklearn_metrics,
)

#: Label of noise points (DBSCAN, HDBSCAN): counted, but not a cluster.
NOISE = -1
#: Shares of explained variance for which the number of components needed is reported.
VARIANCE_LEVELS = (0.8, 0.9, 0.95, 0.99)


def clustering_metrics(
    X: Any, labels: Any, *, sample_size: int = 5000, seed: int = 0
) -> dict[str, Any]:
    """Silhouette and cluster sizes of a clustering.

    Noise points (label -1) are counted in ``n_noise`` and left out of the
    silhouette. With more than ``sample_size`` points the silhouette is computed on
    a random sample, exactly as ``silhouette_score(X, labels, sample_size=...,
    random_state=seed)`` does.

    Returns:
        ``n_samples``, ``n_clusters``, ``n_noise``, ``cluster_sizes`` {label: count},
        ``silhouette`` (None with fewer than 2 clusters or too few points),
        ``silhouette_sample_size`` (None when every point was used).

    Raises:
        InvalidRequest: ``X`` not a finite 2-D numeric array, or lengths that differ.
    """
    x = np.asarray(X)
    if x.ndim != 2:
        raise InvalidRequest(f"X must be a 2-D array (rows × features); got shape {x.shape}.")
    try:
        x = x.astype(float)
    except (TypeError, ValueError) as exc:
        raise InvalidRequest("X must hold numbers; encode the features first.") from exc
    if not np.all(np.isfinite(x)):
        raise InvalidRequest("X must hold finite numbers; impute missing values first.")
    lab = as_vector(labels, "labels", numeric=False)
    same_length(x.shape[0], lab.size, "X and labels")
    if isinstance(sample_size, bool) or not isinstance(sample_size, int) or sample_size < 2:
        raise InvalidRequest(f"sample_size must be an integer >= 2; got {sample_size!r}.")

    noise = (lab == NOISE) if np.issubdtype(lab.dtype, np.number) else np.zeros(lab.size, bool)
    values, counts = np.unique(lab[~noise], return_counts=True)
    kept_x, kept = x[~noise], lab[~noise]
    sampled = kept.size > sample_size
    silhouette = None
    if 2 <= values.size <= kept.size - 1:
        silhouette = defined(
            lambda: sklearn_metrics().silhouette_score(
                kept_x, kept, sample_size=sample_size if sampled else None, random_state=seed
            )
        )
    return {
        "n_samples": int(lab.size),
        "n_clusters": int(values.size),
        "n_noise": int(noise.sum()),
        "cluster_sizes": {_key(v): int(c) for v, c in zip(values, counts, strict=True)},
        "silhouette": num(silhouette),
        "silhouette_sample_size": sample_size if sampled else None,
    }


def anomaly_metrics(scores: Any, *, flagged: Any | None = None) -> dict[str, Any]:
    """The distribution of anomaly scores, and the share of rows flagged.

    Returns:
        ``n_samples``, ``mean``, ``std``, ``quantiles``, ``histogram`` {edges,
        counts, and ``flagged_counts`` on the same edges when ``flagged`` is given},
        ``n_flagged`` and ``share_flagged`` (None without ``flagged``).

    Raises:
        InvalidRequest: scores not finite numbers, or ``flagged`` of another length.
    """
    s = as_vector(scores, "scores")
    if s.size == 0:
        raise InvalidRequest("There are no scores to summarise; the split is empty.")
    summary = distribution(s)
    out: dict[str, Any] = {
        "n_samples": summary.pop("count"), **summary, "n_flagged": None, "share_flagged": None,
    }
    if flagged is not None:
        mask = as_vector(flagged, "flagged", numeric=False)
        same_length(s.size, mask.size, "scores and flagged")
        mask = mask.astype(bool)
        edges = np.asarray(out["histogram"]["edges"], dtype=float)
        out["histogram"]["flagged_counts"] = [
            int(c) for c in np.histogram(s[mask], bins=edges)[0]
        ]
        out["n_flagged"] = int(mask.sum())
        out["share_flagged"] = num(mask.mean())
    return out


def dimensionality_metrics(explained_variance_ratio: Any) -> dict[str, Any]:
    """Explained variance per component, cumulative, and components needed per level.

    Returns:
        ``n_components``, ``explained_variance_ratio``, ``cumulative``, ``total``
        and ``components_for`` {"0.9": k, …} (None when the components never reach it).

    Raises:
        InvalidRequest: not finite, non-negative numbers.
    """
    ratio = as_vector(explained_variance_ratio, "explained_variance_ratio")
    if ratio.size and ratio.min() < 0:
        raise InvalidRequest("explained_variance_ratio must not be negative.")
    cumulative = np.cumsum(ratio)
    # A tiny tolerance: cumulative sums of ratios that reach a level exactly land a hair below.
    reached = {
        str(level): (int(np.argmax(cumulative >= level - 1e-9)) + 1)
        if cumulative.size and cumulative[-1] >= level - 1e-9 else None
        for level in VARIANCE_LEVELS
    }
    return {
        "n_components": int(ratio.size),
        "explained_variance_ratio": nums(ratio),
        "cumulative": nums(cumulative),
        "total": num(cumulative[-1]) if cumulative.size else 0.0,
        "components_for": reached,
    }


def _key(value: Any) -> str:
    return str(value.item() if isinstance(value, np.generic) else value)
