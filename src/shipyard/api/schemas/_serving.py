"""Response models of endpoints, monitors and schedules."""

from __future__ import annotations

from typing import Any

from pydantic import Field

from shipyard.api.schemas._common import OpenDoc, Out, Timestamp


class Instance(Out):
    """One serving process of a variant."""

    name: str
    variant: str
    url: str
    pid: int | None
    healthy: bool
    alive: bool
    restarts: int
    invocations: int
    inflight: int
    model: str = Field(description="GROUP:VERSION")


class VariantStats(Out):
    invocations: int
    errors: int
    p50_ms: float | None
    p99_ms: float | None
    window: int = Field(description="How many recent latencies the percentiles are over.")


class Variant(Out):
    name: str
    model_group: str
    model_version: int
    model: str = Field(description="GROUP:VERSION")
    weight: float
    instances: int
    shadow: bool
    instance_list: list[Instance]
    healthy_instances: int
    stats: VariantStats


class Autoscaling(Out):
    min_instances: int | None = None
    max_instances: int | None = None
    target_concurrency: float | None = None
    cooldown_seconds: float | None = None


class Endpoint(Out):
    name: str
    status: str = Field(description="Creating, InService, Updating, Failed, …")
    reason: str | None = Field(description="Why it failed or an update rolled back.")
    capture_percent: float
    unseen_categories: str = Field(description="allow, warn or refuse.")
    autoscaling: Autoscaling | None
    variants: list[Variant]
    instances: int
    healthy_instances: int
    invocations: int
    restarts: int
    created_at: Timestamp
    updated_at: Timestamp
    created_by: str | None
    url: str = Field(description="Where to POST invocations.")


class UnseenColumn(Out):
    rows: int
    values: dict[str, int] = Field(description="Category → rows holding it.")


class Unseen(Out):
    """Categories the model never saw in training, counted since the instances started."""

    rows: int
    columns: dict[str, UnseenColumn]


class EndpointDetail(Endpoint):
    unseen: Unseen


class EndpointHealth(Out):
    name: str
    status: str
    healthy_instances: int


class Capture(Out):
    name: str
    rows: list[dict[str, Any]] = Field(description="Captured invocations as JSON records.")
    count: int
    truncated: bool


class Schedule(Out):
    name: str
    kind: str = Field(description="job, crawl, monitor…")
    target: OpenDoc = Field(description="What it fires: for kind job, {spec: <job spec>}.")
    every: str | None
    cron: str | None
    timing: str | None = Field(description="The timing in words.")
    enabled: bool
    status: str = Field(description="active or paused.")
    next_run_at: Timestamp | None
    last_run_at: Timestamp | None
    last_job_id: str | None
    last_error: str | None
    created_at: Timestamp
    updated_at: Timestamp
    created_by: str | None


class MonitoringExecution(Out):
    """One evaluation of a monitor (a job of kind monitoring)."""

    monitor: str
    execution: int = Field(description="Its number, from 1, in the monitor's history.")
    status: str = Field(description="Running, Completed, Failed or NoData.")
    trigger: str = Field(description="schedule, manual or dataset.")
    job_id: str | None
    window_start: Timestamp | None
    window_end: Timestamp | None
    summary: OpenDoc = Field(description="Rows, drift share, drifted columns, alerts, note.")
    has_report: bool
    error: str | None
    created_at: Timestamp
    finished_at: Timestamp | None


class Baseline(Out):
    """The dataset version a monitor compares against, and what was computed from it."""

    dataset: str
    version: int
    columns: list[str] = Field(description="The model's input columns it holds.")
    target: str | None
    statistics: str = Field(description="SHA-256 of the stored statistics document.")
    constraints: str = Field(description="SHA-256 of the stored constraints document.")
    rows: int


class Monitor(Out):
    name: str
    endpoint: str
    baseline: Baseline
    config: OpenDoc = Field(description="drift, thresholds, quality_window, label_key, …")
    schedule: Schedule | None
    last_execution: MonitoringExecution | None
    created_at: Timestamp
    updated_at: Timestamp
    created_by: str | None


class Alert(Out):
    id: int
    created_at: Timestamp
    execution: int | None = Field(description="The monitoring execution that raised it.")
    kind: str
    check: str
    column: str | None
    observed: Any
    threshold: Any
    message: str
    window: str | None = None


class GroundTruth(Out):
    dataset: str = Field(description="The endpoint's ground-truth dataset.")
    version: int
    rows: int
    matched: int = Field(description="Labels whose key is a prediction the endpoint captured "
                         "over the monitor's quality lookback.")
    note: str | None = Field(default=None, description="Why some labels match no captured "
                             "prediction (None when all do).")
