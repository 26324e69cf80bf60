"""Response models of pipelines, their versions, executions, steps and triggers."""

from __future__ import annotations

from pydantic import Field

from shipyard.api.schemas._common import OpenDoc, Out, Timestamp


class Pipeline(Out):
    name: str
    description: str
    latest_version: int = Field(description="Each change of the definition is a new version.")
    created_at: Timestamp
    updated_at: Timestamp
    created_by: str | None


class PipelineDetail(Pipeline):
    definition: OpenDoc = Field(description="The latest version's JSON definition.")


class PipelineSaved(Out):
    pipeline: Pipeline
    version: int = Field(description="The version the definition now is.")
    changed: bool = Field(description="False when the definition equals the latest version.")


class PipelineVersion(Out):
    name: str
    version: int
    definition: OpenDoc
    created_at: Timestamp
    created_by: str | None


class ExecutionStep(Out):
    name: str
    type: str = Field(description="A job kind (processing, training…) or condition, register, "
                      "approval, deploy, callback, quality_check, fail.")
    status: str = Field(description="Pending, Starting, Running, Succeeded, Failed, Skipped "
                        "or Stopped.")
    attempt: int
    job_id: str | None
    cache_hit: bool = Field(description="True when an earlier execution's output was reused.")
    outputs: OpenDoc = Field(description="job, model, outputs (dataset versions), metrics, "
                             "model_version, endpoint, result…")
    reason: str | None = Field(description="Why it failed, was skipped, or is retried.")
    next_attempt_at: Timestamp | None
    started_at: Timestamp | None
    ended_at: Timestamp | None


class Execution(Out):
    id: str
    pipeline: str
    version: int
    status: str = Field(description="Executing, Succeeded, Failed, Stopping or Stopped.")
    parameters: OpenDoc
    trigger: OpenDoc = Field(description="What started it: manual, schedule, git, "
                             "model_approval, monitor_alert, dataset_version.")
    reason: str | None
    created_at: Timestamp
    updated_at: Timestamp
    ended_at: Timestamp | None
    created_by: str | None


class ExecutionDetail(Execution):
    steps: list[ExecutionStep]


class PipelineTrigger(Out):
    id: int
    pipeline: str
    kind: str = Field(description="schedule, git, model_approval, monitor_alert or "
                      "dataset_version.")
    config: OpenDoc = Field(description="schedule: every or cron; git: repo and branch; "
                            "model_approval: group; monitor_alert: monitor; dataset_version: "
                            "dataset.")
    parameters: OpenDoc = Field(description="Fixed parameters of the executions it starts.")
    state: OpenDoc = Field(description="What the trigger remembers. git: last_commit, the "
                           "branch head it last started an execution for; event kinds: "
                           "after_event, the newest event when it was created (older events "
                           "start nothing).")
    enabled: bool
    schedule: str | None = Field(description="A schedule trigger's schedule (kind pipeline).")
    created_at: Timestamp
    updated_at: Timestamp
    created_by: str | None
