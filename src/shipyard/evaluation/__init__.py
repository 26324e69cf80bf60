"""Evaluation core: metrics, training curves, train/validation/test splits and plots.

Pure functions: arrays, DataFrames and configs in, JSON-able dicts and frozen
results out, no I/O. Metrics are scikit-learn's own implementations (imported on
first use); plots are renderers of those results (matplotlib, imported on the
first plot)::

    from shipyard.evaluation import classification_metrics, plot_roc_pr
    m = classification_metrics(y_test, model.predict_proba(X_test), ["no", "yes"])
    m["roc_auc"], plot_roc_pr(m)  # PNG bytes
"""

from __future__ import annotations

from shipyard.evaluation._baseline import baseline_metrics
from shipyard.evaluation._classification import classification_metrics
from shipyard.evaluation._common import PROBLEM_TYPES
from shipyard.evaluation._curves import curves_from_evals
from shipyard.evaluation._plots import (
    plot_confusion_matrix,
    plot_explained_variance,
    plot_learning_curve,
    plot_residuals,
    plot_roc_pr,
    plot_score_distribution,
    render_plots,
)
from shipyard.evaluation._regression import regression_metrics
from shipyard.evaluation._report import EvaluationReport, scalar_metrics
from shipyard.evaluation._splits import (
    Split,
    SplitSpec,
    reproduce_split,
    sample_train,
    split_frame,
)
from shipyard.evaluation._unsupervised import (
    anomaly_metrics,
    clustering_metrics,
    dimensionality_metrics,
)

__all__ = [
    "PROBLEM_TYPES",
    "EvaluationReport",
    "Split",
    "SplitSpec",
    "sample_train",
    "anomaly_metrics",
    "baseline_metrics",
    "classification_metrics",
    "clustering_metrics",
    "curves_from_evals",
    "dimensionality_metrics",
    "plot_confusion_matrix",
    "plot_explained_variance",
    "plot_learning_curve",
    "plot_residuals",
    "plot_roc_pr",
    "plot_score_distribution",
    "regression_metrics",
    "render_plots",
    "reproduce_split",
    "scalar_metrics",
    "split_frame",
]
