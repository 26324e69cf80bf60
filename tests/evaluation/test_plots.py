"""Plots render every result of this package to PNG; render_plots names them for the bundle."""

from __future__ import annotations

import io

import numpy as np
import pytest

from shipyard.errors import InvalidRequest
from shipyard.evaluation import (
    anomaly_metrics,
    classification_metrics,
    dimensionality_metrics,
    plot_confusion_matrix,
    plot_explained_variance,
    plot_learning_curve,
    plot_residuals,
    plot_roc_pr,
    plot_score_distribution,
    regression_metrics,
    render_plots,
)

from .data import Classified, Regressed

PNG = b"\x89PNG\r\n\x1a\n"


def assert_png(data: bytes, min_width: int = 300) -> None:
    assert isinstance(data, bytes) and data.startswith(PNG)
    width, height = int.from_bytes(data[16:20], "big"), int.from_bytes(data[20:24], "big")
    assert width >= min_width and height >= 200


@pytest.fixture(scope="module")
def binary_metrics(binary: Classified) -> dict:
    return classification_metrics(binary.y_true, binary.proba, binary.labels)


@pytest.fixture(scope="module")
def multiclass_metrics(multiclass: Classified) -> dict:
    return classification_metrics(multiclass.y_true, multiclass.proba, multiclass.labels)


@pytest.fixture(scope="module")
def regression_result(regression: Regressed) -> dict:
    return regression_metrics(regression.y_true, regression.y_pred)


@pytest.fixture(scope="module")
def binary_pngs(binary_metrics: dict) -> dict[str, bytes]:
    return {"cm": plot_confusion_matrix(binary_metrics), "roc_pr": plot_roc_pr(binary_metrics)}


def test_classification_plots(binary_pngs: dict, multiclass_metrics: dict) -> None:
    assert_png(binary_pngs["cm"])
    assert_png(binary_pngs["roc_pr"], min_width=800)  # two panels side by side
    assert_png(plot_confusion_matrix(multiclass_metrics))
    assert_png(plot_roc_pr(multiclass_metrics), min_width=800)


def test_same_result_same_bytes(binary_pngs: dict, binary_metrics: dict) -> None:
    assert plot_confusion_matrix(binary_metrics) == binary_pngs["cm"]


def test_png_is_a_readable_image(binary_pngs: dict) -> None:
    from matplotlib.image import imread

    image = imread(io.BytesIO(binary_pngs["cm"]), format="png")
    assert image.ndim == 3 and image.std() > 0  # not a blank canvas


def test_roc_pr_of_a_single_class_split() -> None:
    m = classification_metrics(np.zeros(4, int), np.full((4, 2), 0.5), ["a", "b"])
    assert_png(plot_roc_pr(m))


def test_confusion_matrix_of_many_classes() -> None:
    rng = np.random.default_rng(0)
    k = 24  # more than are annotated
    m = classification_metrics(rng.integers(0, k, 200), rng.dirichlet(np.ones(k), 200),
                               [f"c{i}" for i in range(k)])
    assert_png(plot_confusion_matrix(m))


def test_residuals_plot(regression_result: dict) -> None:
    assert_png(plot_residuals(regression_result), min_width=800)


def test_learning_curve() -> None:
    curves = {
        "train.logloss": list(np.linspace(0.7, 0.2, 50)),
        "validation.logloss": list(np.linspace(0.7, 0.3, 50)),
        "validation.auc": [0.6, None, 0.8],
    }
    assert_png(plot_learning_curve(curves, title="xgboost"))
    assert_png(plot_learning_curve({}))


def test_score_distribution_and_explained_variance() -> None:
    scores = np.random.default_rng(0).normal(size=500)
    assert_png(plot_score_distribution(anomaly_metrics(scores, flagged=scores > 2)))
    assert_png(plot_score_distribution(anomaly_metrics(scores)))
    assert_png(plot_explained_variance(dimensionality_metrics([0.6, 0.25, 0.1, 0.05])))


def test_plot_of_the_wrong_result_is_a_clear_error(regression_result: dict) -> None:
    with pytest.raises(InvalidRequest, match="no 'confusion_matrix' to plot"):
        plot_confusion_matrix(regression_result)
    with pytest.raises(InvalidRequest, match="no 'residuals'"):
        plot_residuals({})


def test_render_plots_names(binary_metrics: dict, regression_result: dict) -> None:
    curves = {"train.logloss": [0.6, 0.5], "validation.logloss": [0.65, 0.6]}
    plots = render_plots("binary", {"validation": binary_metrics, "test": binary_metrics},
                         curves)
    assert set(plots) == {
        "validation_confusion_matrix.png", "validation_roc_pr.png",
        "test_confusion_matrix.png", "test_roc_pr.png", "learning_curve.png",
    }
    for data in plots.values():
        assert_png(data)
    assert set(render_plots("regression", {"test": regression_result, "validation": None},
                            {"train.rmse": []})) == {"test_residuals.png"}
    scores = anomaly_metrics(np.arange(10.0))
    assert set(render_plots("anomaly_detection", {"test": scores}, None)) == {
        "test_score_distribution.png"
    }
    assert render_plots("clustering", {"test": {"silhouette": 0.3}}, None) == {}


def test_render_plots_rejects_bad_names() -> None:
    with pytest.raises(InvalidRequest, match="Unknown problem type"):
        render_plots("ranking", {}, None)
    with pytest.raises(InvalidRequest, match="cannot name a plot file"):
        render_plots("regression", {"../x": regression_metrics([1.0, 2.0], [1.0, 2.0])}, None)
