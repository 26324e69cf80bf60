"""Bias metrics of data and models (SageMaker Clarify's definitions), usable on their own.

Pre-training metrics compare the label between the facet's groups; post-training
metrics compare the model's predicted labels too::

    from shipyard.fairness import BiasConfig, bias_report

    config = BiasConfig(label="churn", positive=("Yes",), facet="senior_citizen",
                        facet_values=(1,))
    report = bias_report(df, config)                      # pre-training
    report = bias_report(df, config, predicted=yhat)      # and post-training
    report.facet(1).metric("DPL").value

Facet *d* is the rows the facet selects, facet *a* the rest. :data:`METRICS` lists every
metric with its range, fair value and sign. The in-job entry is
``shipyard.fairness._job:main``. Imports numpy and pandas only; scikit-learn is imported by
the flip test when it runs.
"""

from __future__ import annotations

from shipyard.fairness._config import BiasConfig
from shipyard.fairness._html import render_html
from shipyard.fairness._metrics import METRICS, FacetData, Metric, Undefined
from shipyard.fairness._report import FT_MAX_ROWS, BiasReport, FacetResult, MetricValue, bias_report

__all__ = [
    "FT_MAX_ROWS", "METRICS", "BiasConfig", "BiasReport", "FacetData", "FacetResult",
    "Metric", "MetricValue", "Undefined", "bias_report", "render_html",
]
