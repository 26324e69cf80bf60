"""Kind ``monitoring``: one run of a monitor (docs/monitoring.md); the monitor service submits it.

Submit time pins the endpoint's model version like a transform; the job runs
``shipyard.monitoring._job:main`` and leaves ``output/report.json`` and
``output/report.html``, which reach the artifact store with the job's other files.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import Field, model_validator

from shipyard.jobs._kinds import JobKind, register
from shipyard.jobs._spec import JobSpecBase, check_model_ref
from shipyard.jobs.kinds._common import model_files, model_ref, pin_model

#: The channels it reads (baseline and current are required).
MONITORING_CHANNELS = ("baseline", "current", "ground_truth", "predictions")
#: The run settings written for the entry (``shipyard.monitoring._job.CONFIG_NAME``).
CONFIG_NAME = "monitoring.json"


class MonitoringSpec(JobSpecBase):
    """``model`` the endpoint serves, the ``monitor`` settings, baseline and current data."""

    kind: Literal["monitoring"]
    model: str | None = Field(default=None, max_length=300)
    monitor: dict[str, Any] | None = None

    @model_validator(mode="after")
    def _consistent(self) -> MonitoringSpec:
        check_model_ref(self.model, "monitoring")
        if self.monitor is None:
            raise ValueError("a monitoring job needs its 'monitor' settings")
        if not {"baseline", "current"} <= set(self.inputs) <= set(MONITORING_CHANNELS):
            raise ValueError("a monitoring job reads the channels baseline and current, and "
                             "optionally ground_truth and predictions")
        if self.outputs:
            raise ValueError("a monitoring job writes a report, not datasets; drop 'outputs'")
        return self


def configs(stored: Mapping[str, Any]) -> dict[str, Any]:
    return {CONFIG_NAME: {"model": model_ref(stored), **(stored.get("monitor") or {})}}


register(JobKind(
    name="monitoring", spec=MonitoringSpec,
    summary="One run of a monitor: drift, data quality and model quality of a window.",
    entry="shipyard.monitoring._job:main", check=pin_model, configs=configs,
    stage=model_files, warm=True,
))
