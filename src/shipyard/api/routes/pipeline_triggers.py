"""Pipeline triggers: create, list, delete, and the commits a repository's hook reports."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Response
from pydantic import BaseModel, ConfigDict, Field

from shipyard.api._auth import current_principal, permit
from shipyard.api._context import Services, services
from shipyard.api._owners import owned
from shipyard.api.schemas import Deleted, ExecutionDetail, PipelineTrigger, deleted
from shipyard.pipelines import execution_to_dict, trigger_to_dict
from shipyard.tokens import Principal

router = APIRouter(tags=["pipelines"])


class NewTrigger(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description="schedule, git, model_approval, monitor_alert or "
                      "dataset_version.")
    config: dict[str, Any] = Field(
        default_factory=dict,
        description='schedule: {"every": "1h"} or {"cron": "0 6 * * *"}; git: {"repo": '
                    '"/abs/path", "branch": "main"}; model_approval: {"group": G}; '
                    'monitor_alert: {"monitor": M}; dataset_version: {"dataset": D}.')
    parameters: dict[str, Any] = Field(
        default_factory=dict, description="Fixed parameters of the executions it starts.")


class Commit(BaseModel):
    model_config = ConfigDict(extra="forbid")

    commit: str = Field(description="The full commit id (`git rev-parse HEAD`).")
    branch: str | None = Field(default=None,
                               description="The branch committed to (must be the trigger's).")


@router.get("/pipelines/{name}/triggers", response_model=list[PipelineTrigger],
            **permit("read"))
def list_triggers(name: str, svc: Services = Depends(services)) -> list[dict[str, Any]]:
    return [trigger_to_dict(t) for t in svc.pipeline_triggers.list(name)]


@router.post("/pipelines/{name}/triggers", status_code=201, response_model=PipelineTrigger,
             **permit("write"))
def create_trigger(name: str, body: NewTrigger, svc: Services = Depends(services),
                who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Create a trigger; each event it watches starts one execution (see
    docs/pipeline-triggers.md). A git trigger starts from the branch's current head."""
    rec = svc.pipeline_triggers.create(name, body.kind, body.config, body.parameters, who.name)
    return trigger_to_dict(rec)


@router.delete("/pipelines/{name}/triggers/{trigger_id}", response_model=Deleted,
               **owned("write", "pipeline_trigger"))
def delete_trigger(name: str, trigger_id: int, svc: Services = Depends(services),
                   who: Principal = Depends(current_principal)) -> Deleted:
    """Delete a trigger (a schedule trigger's schedule with it); its executions stay."""
    svc.pipeline_triggers.delete(name, trigger_id, who.name)
    return deleted("pipeline_trigger", str(trigger_id))


@router.post("/pipelines/{name}/triggers/{trigger_id}/commits", status_code=201,
             response_model=ExecutionDetail,
             responses={200: {"model": ExecutionDetail,
                              "description": "This commit had started it already."}},
             **permit("write"))
def fire_commit(name: str, trigger_id: int, body: Commit, response: Response,
                svc: Services = Depends(services),
                who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """What a repository's hook calls after a commit: the server checks the commit is on
    the trigger's branch, then starts its execution (201), once per commit (200 after)."""
    ex, created = svc.pipeline_triggers.fire_commit(name, trigger_id, body.commit,
                                                    body.branch, who.name)
    response.status_code = 201 if created else 200
    return execution_to_dict(ex, svc.pipelines.steps(ex.id))
