"""Monitoring core: baselines, data-quality checks, drift, model quality, reports and webhooks.

Pure functions: frames and JSON documents in, frozen results out, no storage.
A monitor keeps a baseline (two JSON documents and a Parquet sample) and, for
each captured window, builds a report::

    from shipyard.monitoring import build_report, compute_baseline, render_html
    baseline = compute_baseline(train, exclude=["arr_delay"])
    report = build_report(baseline, window)
    report.alerts, report.to_dict(), render_html(report)

The contracts (document formats, the drift-test registry and selection rule,
thresholds, the report) are in ``docs/monitoring.md``.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shipyard.monitoring._alerts import ALERT_KINDS, Alert, drift_alerts, quality_alerts
from shipyard.monitoring._baseline import (
    SAMPLE_ROWS,
    STATISTICS_FORMAT,
    Baseline,
    compute_baseline,
)
from shipyard.monitoring._common import CAPTURE_META, KINDS, infer_kind
from shipyard.monitoring._constraints import (
    CONSTRAINTS_FORMAT,
    suggest_constraints,
    validate_constraints,
)
from shipyard.monitoring._drift import (
    ColumnDrift,
    DriftOptions,
    DriftResult,
    compute_drift,
    default_test,
)
from shipyard.monitoring._html import render_html
from shipyard.monitoring._model_quality import (
    DEFAULT_THRESHOLDS,
    MetricThreshold,
    ModelQualityResult,
    WindowMetrics,
    join_ground_truth,
    model_quality,
)
from shipyard.monitoring._quality import QualityResult, Violation, check_quality
from shipyard.monitoring._report import MonitoringReport, build_report
from shipyard.monitoring._stattests import TESTS, DriftTest, TestOutcome, get_test
from shipyard.monitoring._webhooks import (
    CheckedURL,
    WebhookDelivery,
    blocked_reason,
    check_webhook_url,
    post_webhook,
)

if TYPE_CHECKING:
    from shipyard.monitoring._service import (
        MonitorService,
        ground_truth_dataset,
        register_monitor_kind,
    )

#: Names served by the monitor service, imported on first use: the service needs the
#: metadata store, and the pure core should stay quick to import (notebooks, jobs).
_LAZY = {"MonitorService": "_service", "register_monitor_kind": "_service",
         "ground_truth_dataset": "_service"}


def __getattr__(name: str) -> Any:
    if name in _LAZY:
        import importlib

        return getattr(importlib.import_module(f"shipyard.monitoring.{_LAZY[name]}"), name)
    raise AttributeError(f"module 'shipyard.monitoring' has no attribute {name!r}")


__all__ = [
    "ALERT_KINDS",
    "CAPTURE_META",
    "CONSTRAINTS_FORMAT",
    "DEFAULT_THRESHOLDS",
    "KINDS",
    "SAMPLE_ROWS",
    "STATISTICS_FORMAT",
    "TESTS",
    "Alert",
    "Baseline",
    "CheckedURL",
    "ColumnDrift",
    "DriftOptions",
    "DriftResult",
    "DriftTest",
    "MetricThreshold",
    "ModelQualityResult",
    "MonitorService",
    "MonitoringReport",
    "QualityResult",
    "TestOutcome",
    "Violation",
    "WebhookDelivery",
    "WindowMetrics",
    "blocked_reason",
    "build_report",
    "check_quality",
    "check_webhook_url",
    "compute_baseline",
    "compute_drift",
    "default_test",
    "drift_alerts",
    "get_test",
    "ground_truth_dataset",
    "infer_kind",
    "join_ground_truth",
    "model_quality",
    "post_webhook",
    "quality_alerts",
    "register_monitor_kind",
    "render_html",
    "suggest_constraints",
    "validate_constraints",
]
