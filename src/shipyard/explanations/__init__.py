"""Model explanations: SHAP values over raw input columns, and partial dependence.

:class:`Explainer` is built once for a loaded bundle and explains rows per call::

    explainer = Explainer(load_bundle(path), background=train_rows)
    explanation = explainer.explain(rows)
    explanation.global_importance()   # [(raw column, mean |SHAP|), ...]
    explanation.row(0).top(5)

Tree models (xgboost, lightgbm, catboost) get exact TreeSHAP from the library in the
margin space, summed back to raw columns through the recipe's lineage; a regression
ensemble with such members (or linear ones) gets their exact values added up by weight
and KernelSHAP only for the rest; other models and ensembles get KernelSHAP over the
raw columns (probability space for a classifier). :func:`partial_dependence` gives the
mean output as one raw column varies. See docs/explain.md. Runtime layer: no server
module is imported, and never the ``shap`` package.
"""

from __future__ import annotations

from shipyard.explanations._explainer import (
    BACKGROUND_SIZE,
    METHODS,
    Explainer,
    explain,
    kernel_columns,
    lineage_matrix,
    raw_columns,
    resolve_method,
    summarise_background,
    typical_row,
)
from shipyard.explanations._explanation import OUTPUT_SPACES, Explanation, LocalExplanation
from shipyard.explanations._kernel import coalitions, kernel_shap
from shipyard.explanations._pdp import PartialDependence, partial_dependence

__all__ = [
    "BACKGROUND_SIZE", "METHODS", "OUTPUT_SPACES", "Explainer", "Explanation",
    "LocalExplanation", "PartialDependence", "coalitions", "explain", "kernel_columns",
    "kernel_shap",
    "lineage_matrix", "partial_dependence", "raw_columns", "resolve_method",
    "summarise_background",
    "typical_row",
]
