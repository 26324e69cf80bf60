"""The monitoring report: one run's quality, drift and model quality, and its alerts, as JSON.

The snapshot (:meth:`MonitoringReport.to_dict`) holds everything its HTML page
draws (per-feature distributions binned on the baseline's edges, drift scores,
metrics per window), so a stored snapshot can be rendered again later without
the data (:meth:`MonitoringReport.from_dict` then :func:`render_html`).
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, ClassVar

from shipyard.errors import InvalidRequest
from shipyard.monitoring._alerts import Alert, drift_alerts, quality_alerts
from shipyard.monitoring._baseline import Baseline
from shipyard.monitoring._common import as_frame
from shipyard.monitoring._drift import DriftOptions, DriftResult, compute_drift
from shipyard.monitoring._model_quality import ModelQualityResult
from shipyard.monitoring._quality import QualityResult, check_quality
from shipyard.monitoring._unseen import unseen_categories


@dataclass(frozen=True)
class MonitoringReport:
    """What one monitoring run found; ``alerts`` gathers every part's alerts in one list."""

    FORMAT: ClassVar[str] = "shipyard.monitoring.report/1"

    created_at: str
    n_baseline_rows: int
    n_current_rows: int
    quality: QualityResult | None = None
    drift: DriftResult | None = None
    model_quality: ModelQualityResult | None = None
    alerts: tuple[Alert, ...] = ()
    meta: dict[str, Any] = field(default_factory=dict)
    #: Categories the model never saw, met at invocation (see ``_unseen``); None: not known.
    unseen_categories: dict[str, Any] | None = None
    #: Post-training bias metrics of the window against the baseline (``_explain_drift``).
    bias_drift: dict[str, Any] | None = None
    #: NDCG of the window's SHAP importance ranking against the baseline's.
    attribution_drift: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        """The JSON snapshot of the run."""
        return {
            "format": self.FORMAT, "created_at": self.created_at,
            "n_baseline_rows": self.n_baseline_rows, "n_current_rows": self.n_current_rows,
            "quality": self.quality.to_dict() if self.quality else None,
            "drift": self.drift.to_dict() if self.drift else None,
            "model_quality": self.model_quality.to_dict() if self.model_quality else None,
            "alerts": [a.to_dict() for a in self.alerts],
            "unseen_categories": copy.deepcopy(self.unseen_categories),
            "bias_drift": copy.deepcopy(self.bias_drift),
            "attribution_drift": copy.deepcopy(self.attribution_drift),
            "meta": copy.deepcopy(self.meta),
        }

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> MonitoringReport:
        """Read a snapshot that :meth:`to_dict` wrote.

        Raises:
            InvalidRequest: not a monitoring report, or a newer format.
        """
        if not isinstance(doc, Mapping) or doc.get("format") != cls.FORMAT:
            raise InvalidRequest(
                f"Not a monitoring report of format {cls.FORMAT!r}; got "
                f"{doc.get('format') if isinstance(doc, Mapping) else type(doc).__name__!r}."
            )
        try:
            return cls(
                created_at=str(doc["created_at"]),
                n_baseline_rows=int(doc["n_baseline_rows"]),
                n_current_rows=int(doc["n_current_rows"]),
                quality=QualityResult.from_dict(doc["quality"]) if doc.get("quality") else None,
                drift=DriftResult.from_dict(doc["drift"]) if doc.get("drift") else None,
                model_quality=(ModelQualityResult.from_dict(doc["model_quality"])
                               if doc.get("model_quality") else None),
                alerts=tuple(Alert.from_dict(a) for a in doc.get("alerts") or ()),
                meta=copy.deepcopy(dict(doc.get("meta") or {})),
                unseen_categories=copy.deepcopy(doc.get("unseen_categories")),
                bias_drift=copy.deepcopy(doc.get("bias_drift")),
                attribution_drift=copy.deepcopy(doc.get("attribution_drift")),
            )
        except (KeyError, TypeError, ValueError) as exc:
            raise InvalidRequest(f"The monitoring report is damaged ({type(exc).__name__}: "
                                 f"{exc}); recompute it.") from exc

    def alerts_of(self, kind: str) -> list[Alert]:
        return [a for a in self.alerts if a.kind == kind]

    def _repr_html_(self) -> str:
        from shipyard.monitoring._html import render_html

        return render_html(self, full_page=False)


def build_report(baseline: Baseline, current: Any, *, drift: DriftOptions | None = None,
                 model_quality: ModelQualityResult | None = None, quality: bool = True,
                 created_at: datetime | None = None, meta: Mapping[str, Any] | None = None
                 ) -> MonitoringReport:
    """Check ``current`` against the baseline's constraints, test its drift, gather the alerts.

    Args:
        baseline: the monitor's baseline.
        current: the window (pandas DataFrame or pyarrow Table).
        drift: drift options; the selection rule and default thresholds without them.
        model_quality: a :func:`model_quality` result to include, when labels exist.
        quality: run the data-quality checks.
        created_at: the time of the run (now by default).
        meta: free JSON-able facts about the run (monitor name, window bounds…).
    """
    frame = as_frame(current, "current data")
    q = check_quality(frame, baseline.constraints) if quality else None
    d = compute_drift(baseline, frame, drift)
    alerts = [*(quality_alerts(q) if q else []), *drift_alerts(d),
              *(model_quality.alerts if model_quality else ())]
    when = (created_at or datetime.now(UTC)).isoformat()
    return MonitoringReport(
        created_at=when, n_baseline_rows=baseline.n_rows, n_current_rows=len(frame),
        quality=q, drift=d, model_quality=model_quality, alerts=tuple(alerts),
        meta=copy.deepcopy(dict(meta or {})), unseen_categories=unseen_categories(frame),
    )
