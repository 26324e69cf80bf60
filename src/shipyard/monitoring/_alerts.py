"""Alerts: one uniform record for whatever a monitor found worth telling someone about."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass
from typing import Any

from shipyard.humanize import count
from shipyard.monitoring._drift import ColumnDrift, DriftResult
from shipyard.monitoring._quality import QualityResult
from shipyard.monitoring._stattests import TESTS

ALERT_KINDS = ("data_quality", "drift", "model_quality")


@dataclass(frozen=True)
class Alert:
    """One alert: its kind, the check that fired, on which column, observed against threshold.

    ``window`` is the start of the time window (ISO 8601) for model-quality alerts.
    """

    kind: str
    check: str
    column: str | None
    observed: Any
    threshold: Any
    message: str
    window: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Alert:
        return cls(**doc)


def quality_alerts(result: QualityResult) -> list[Alert]:
    """One alert per data-quality violation."""
    return [Alert("data_quality", v.check, v.column, v.observed, v.expected, v.message)
            for v in result.violations]


def drift_alerts(result: DriftResult) -> list[Alert]:
    """One alert per drifted column or model output, and one when the dataset drifted."""
    out = [_column_alert(c) for c in (*result.columns, *result.outputs) if c.drifted]
    if result.dataset_drift:
        out.append(Alert(
            "drift", "dataset_drift", None, result.share_drifted, result.drift_share,
            f"Dataset drift: {len(result.drifted_columns)} of "
            f"{count(result.n_tested, 'tested column')} drifted ({result.share_drifted:.0%}, "
            f"threshold {result.drift_share:.0%}).",
        ))
    return out


def _column_alert(c: ColumnDrift) -> Alert:
    test = TESTS[c.test] if c.test else None
    title = test.title if test else str(c.test)
    relation = ">=" if test is None or test.higher_is_drift else "<"
    what = "Prediction drift on" if c.role == "output" else "Drift in column"
    return Alert(
        "drift", str(c.test), c.column, c.score, c.threshold,
        f"{what} {c.column!r}: {title} {c.score:.4g} {relation} {c.threshold:g}.",
    )
