"""Pipelines: definitions (versioned), executions (start, show, retry, stop)."""

from __future__ import annotations

import json
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Header, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from shipyard.api._auth import current_principal, permit, with_extra
from shipyard.api._context import Services, services
from shipyard.api._owners import owned
from shipyard.api.schemas import (
    Deleted,
    Execution,
    ExecutionDetail,
    Pipeline,
    PipelineDetail,
    PipelineSaved,
    PipelineVersion,
    deleted,
)
from shipyard.errors import InvalidRequest, UnsupportedMediaType
from shipyard.pipelines import execution_to_dict, pipeline_to_dict
from shipyard.tokens import Principal

router = APIRouter(tags=["pipelines"])

DEFINITION_BODY = {"requestBody": {"required": True, "content": {"application/json": {
    "schema": {
        "type": "object", "required": ["name", "steps"], "additionalProperties": False,
        "properties": {"name": {"type": "string"}, "description": {"type": "string"},
                       "parameters": {"type": "array", "items": {"type": "object"}},
                       "steps": {"type": "array", "items": {"type": "object"}}},
        "description": "A pipeline definition; see docs/pipelines.md."}}}}}


class StartExecution(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parameters: dict[str, Any] = Field(default_factory=dict)
    version: int | None = Field(default=None, ge=1,
                                description="The definition version (default: the latest).")


@router.get("/pipelines", response_model=list[Pipeline], **permit("read"))
def list_pipelines(svc: Services = Depends(services)) -> list[dict[str, Any]]:
    return [pipeline_to_dict(p) for p in svc.pipelines.list()]


@router.post("/pipelines", status_code=201, response_model=PipelineSaved,
             responses={200: {"model": PipelineSaved,
                              "description": "The definition was already the latest version."}},
             **with_extra(permit("write"), DEFINITION_BODY))
async def save_pipeline(request: Request, response: Response, svc: Services = Depends(services),
                        who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Create a pipeline from its JSON definition, or make a new version of an existing one
    (201); the same definition as the latest version changes nothing (200)."""
    ctype = request.headers.get("content-type", "application/json")
    if not ctype.split(";")[0].strip().lower().endswith("json"):
        raise UnsupportedMediaType(f"A pipeline definition is sent as JSON; got {ctype!r}.")
    try:
        doc = json.loads(await request.body())
    except ValueError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}.") from None
    rec, changed = await anyio.to_thread.run_sync(lambda: svc.pipelines.create(doc, who.name))
    response.status_code = 201 if changed else 200
    return {"pipeline": pipeline_to_dict(rec), "version": rec.latest_version, "changed": changed}


@router.get("/pipelines/{name}", response_model=PipelineDetail, **permit("read"))
def get_pipeline(name: str, svc: Services = Depends(services)) -> dict[str, Any]:
    rec = svc.pipelines.get(name)
    return {**pipeline_to_dict(rec), "definition": svc.pipelines.definition(name)["definition"]}


@router.get("/pipelines/{name}/versions/{version}", response_model=PipelineVersion,
            **permit("read"))
def get_pipeline_version(name: str, version: int,
                         svc: Services = Depends(services)) -> dict[str, Any]:
    return svc.pipelines.definition(name, version)


@router.delete("/pipelines/{name}", response_model=Deleted, **owned("write", "pipeline"))
def delete_pipeline(name: str, svc: Services = Depends(services),
                    who: Principal = Depends(current_principal)) -> Deleted:
    """Delete a pipeline with its versions, executions and triggers (not while one runs)."""
    svc.pipelines.delete(name, who.name)
    svc.pipeline_triggers.forget(name, who.name)
    return deleted("pipeline", name)


@router.post("/pipelines/{name}/executions", status_code=201, response_model=ExecutionDetail,
             responses={200: {"model": ExecutionDetail,
                              "description": "The execution this Idempotency-Key started."}},
             **permit("write"))
def start_execution(name: str, body: StartExecution, response: Response,
                    svc: Services = Depends(services),
                    who: Principal = Depends(current_principal),
                    idempotency_key: str | None = Header(default=None,
                                                         alias="Idempotency-Key")
                    ) -> dict[str, Any]:
    """Start an execution with parameters (each typed; defaults fill the rest)."""
    ex, created = svc.pipelines.start(name, body.parameters, who.name,
                                      idempotency_key=idempotency_key, version=body.version)
    response.status_code = 201 if created else 200
    return execution_to_dict(ex, svc.pipelines.steps(ex.id))


@router.get("/pipelines/{name}/executions", response_model=list[Execution], **permit("read"))
def list_executions(name: str, status: str | None = None, limit: int = 100,
                    svc: Services = Depends(services)) -> list[dict[str, Any]]:
    return [execution_to_dict(e) for e in svc.pipelines.executions(name, status, limit)]


@router.get("/pipeline-executions/{execution_id}", response_model=ExecutionDetail,
            **permit("read"))
def get_execution(execution_id: str, svc: Services = Depends(services)) -> dict[str, Any]:
    ex = svc.pipelines.execution(execution_id)
    return execution_to_dict(ex, svc.pipelines.steps(ex.id))


@router.post("/pipeline-executions/{execution_id}/stop", response_model=ExecutionDetail,
             **owned("write", "pipeline_execution"))
def stop_execution(execution_id: str, svc: Services = Depends(services),
                   who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Stop an execution: running jobs are cancelled, pending steps never start."""
    ex = svc.pipelines.stop(execution_id, who.name)
    return execution_to_dict(ex, svc.pipelines.steps(ex.id))


@router.post("/pipeline-executions/{execution_id}/retry", response_model=ExecutionDetail,
             **owned("write", "pipeline_execution"))
def retry_execution(execution_id: str, svc: Services = Depends(services),
                    who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Run a Failed or Stopped execution again from its failed steps (the succeeded ones
    keep their outputs)."""
    ex = svc.pipelines.retry(execution_id, who.name)
    return execution_to_dict(ex, svc.pipelines.steps(ex.id))
