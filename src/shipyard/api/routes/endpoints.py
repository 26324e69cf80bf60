"""Real-time endpoints: deploy a model version, list, show, delete, and invoke.

``POST /endpoints/{name}/invocations`` needs only ``read``, so a viewer token can
call a deployed model; changing endpoints needs ``write``. The invocation is
forwarded byte for byte (body and content type) to a healthy instance over pooled
keep-alive connections (:mod:`shipyard.endpoints._invoke`); the control plane never
parses the rows.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import Annotated, Any, Literal

import anyio.to_thread
from fastapi import APIRouter, Depends, Query, Request, Response
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic_core import PydanticCustomError

from shipyard.api._auth import current_principal, permit
from shipyard.api._context import Services, services
from shipyard.api._owners import owned
from shipyard.api.schemas import (
    Capture,
    Deleted,
    Endpoint,
    EndpointDetail,
    EndpointHealth,
    deleted,
)
from shipyard.endpoints import (
    IN_SERVICE,
    UPDATING,
    endpoint_to_dict,
    unavailable,
    unknown_autoscaling_keys,
)
from shipyard.endpoints import invoke as invoke_endpoint
from shipyard.errors import InvalidRequest, ServerUnavailable
from shipyard.store import EndpointRecord
from shipyard.tokens import Principal

router = APIRouter(prefix="/endpoints", tags=["endpoints"])

class VariantBody(BaseModel):
    name: str = "primary"
    model: str = Field(description="The model version this variant serves, as GROUP:VERSION.")
    weight: float = 1.0
    instances: int = 1
    shadow: bool = Field(
        False, description="Receives a copy of each request; its answers are only recorded.")


class AutoscalingBody(BaseModel):
    """Autoscaling of each production variant; a key that is not one of these is a 422."""

    model_config = ConfigDict(extra="forbid")

    min_instances: int | None = Field(None, description="Instances kept at least [1].")
    max_instances: int | None = Field(
        None, description="The most instances to scale out to (required to scale).")
    target_concurrency: float | None = Field(
        None, description="Requests in flight per instance above which one more starts [4].")
    cooldown_seconds: float | None = Field(
        None, description="Idle seconds before an instance is removed, and between two "
        "scaling steps [60].")

    @model_validator(mode="before")
    @classmethod
    def _known_keys(cls, data: Any) -> Any:
        # Name every unknown key at once, with the key it was probably meant to be.
        problem = unknown_autoscaling_keys(data) if isinstance(data, dict) else None
        if problem:
            raise PydanticCustomError("extra_forbidden", problem)
        return data

    def given(self) -> dict[str, Any]:
        return self.model_dump(exclude_none=True)


UnseenField = Field(
    None, description="A category the model never saw in training: allow (answer, count), "
    "warn (answer, count, and say so in the answer) or refuse (422 naming the column and "
    "value) [warn].")


class NewEndpoint(BaseModel):
    name: str
    model: str | None = Field(None, description="The model version to deploy, as GROUP:VERSION.")
    instances: int = 1
    variants: list[VariantBody] | None = None
    capture_percent: float = 0.0
    allow_unapproved: bool = Field(
        False, description="Deploy a version that is not Approved (admin only).")
    autoscaling: AutoscalingBody | None = Field(
        None, description="min_instances, max_instances, target_concurrency (requests in "
        "flight per instance) and cooldown_seconds, per production variant.")
    unseen_categories: Literal["allow", "warn", "refuse"] | None = UnseenField


class EndpointChange(BaseModel):
    model: str | None = None
    instances: int | None = None
    variants: list[VariantBody] | None = None
    capture_percent: float | None = None
    allow_unapproved: bool = False
    autoscaling: AutoscalingBody | None = Field(
        None, description="The settings to change; {} turns autoscaling off.")
    unseen_categories: Literal["allow", "warn", "refuse"] | None = UnseenField


def _doc(svc: Services, name: str) -> dict[str, Any]:
    return endpoint_to_dict(svc.endpoints.get(name), svc.endpoint_supervisor, svc.settings.url)


@router.post("", status_code=202, response_model=Endpoint, **permit("write"))
def create(body: NewEndpoint, svc: Services = Depends(services),
           who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Create an endpoint (Creating); it becomes InService once its instances are healthy."""
    rec = svc.endpoints.create(body.name, body.model, instances=body.instances,
                               variants=[v.model_dump() for v in body.variants or []] or None,
                               capture_percent=body.capture_percent,
                               allow_unapproved=body.allow_unapproved,
                               autoscaling=body.autoscaling.given() if body.autoscaling
                               else None, unseen_categories=body.unseen_categories,
                               actor=who.name, actor_role=who.role)
    return endpoint_to_dict(rec, svc.endpoint_supervisor, svc.settings.url)


@router.get("", response_model=list[Endpoint], **permit("read"))
def list_endpoints(svc: Services = Depends(services)) -> list[dict[str, Any]]:
    return [endpoint_to_dict(r, svc.endpoint_supervisor, svc.settings.url)
            for r in svc.endpoints.list()]


@router.get("/{name}", response_model=EndpointDetail, **permit("read"))
def show(name: str, svc: Services = Depends(services)) -> dict[str, Any]:
    """The endpoint, its variants, instances and stats; ``unseen`` sums the categories its
    instances met that the model never saw in training (since they started)."""
    return endpoint_to_dict(svc.endpoints.get(name), svc.endpoint_supervisor, svc.settings.url,
                            instances=True)


@router.patch("/{name}", status_code=202, response_model=Endpoint,
              **owned("write", "endpoint"))
def update(name: str, body: EndpointChange, svc: Services = Depends(services),
           who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Roll the endpoint over without downtime (Updating, then InService again).

    New instances start and must be healthy before traffic moves to them; the old ones
    then finish their requests and stop. If the new ones fail, the old ones keep
    serving and ``reason`` says why.
    """
    rec = svc.endpoints.update(
        name, model=body.model, instances=body.instances,
        variants=[v.model_dump() for v in body.variants] if body.variants else None,
        capture_percent=body.capture_percent, allow_unapproved=body.allow_unapproved,
        autoscaling=body.autoscaling.given() if body.autoscaling is not None else None,
        unseen_categories=body.unseen_categories, actor=who.name, actor_role=who.role)
    return endpoint_to_dict(rec, svc.endpoint_supervisor, svc.settings.url)


@router.get("/{name}/capture", response_model=Capture, **permit("read"))
def capture(name: str, start: datetime | None = None, end: datetime | None = None,
            limit: int = Query(1000, ge=1, le=100_000),
            svc: Services = Depends(services)) -> dict[str, Any]:
    """Captured invocations with ``start <= timestamp < end``, oldest first (JSON records)."""
    from shipyard.serving import read_capture

    svc.endpoints.get(name)
    if start is not None and end is not None and end <= start:
        raise InvalidRequest("end must be after start.")
    sup = svc.endpoint_supervisor
    folder = sup.capture_dir(name) if sup is not None else \
        svc.settings.home / "endpoints" / name / "capture"
    frame = read_capture(folder, start, end)
    total = len(frame)
    frame = frame.head(limit)
    rows = json.loads(frame.to_json(orient="records", date_format="iso")) if total else []
    return {"name": name, "rows": rows, "count": len(rows), "truncated": total > len(rows)}


@router.delete("/{name}", response_model=Deleted, **owned("write", "endpoint"))
def delete(name: str, force: Annotated[bool, Query(
               description="Delete it even though a monitor watches it (admin only; "
                           "audited).")] = False,
           svc: Services = Depends(services),
           who: Principal = Depends(current_principal)) -> Deleted:
    """Stop the endpoint's instances, delete its files and its record (its creator or an
    admin; refused while a monitor watches it, unless an admin forces it)."""
    audit = svc.references.check_delete("endpoint", f"Endpoint {name!r}", name, who, force)
    svc.endpoints.delete(name, who.name, audit)
    return deleted("endpoint", name, forced=bool(audit))


@router.get("/{name}/health", response_model=EndpointHealth, **permit("read"))
def health(name: str, svc: Services = Depends(services)) -> dict[str, Any]:
    """Whether the endpoint can take invocations now (503 when it cannot)."""
    doc = _doc(svc, name)
    ok = doc["status"] in (IN_SERVICE, UPDATING) and doc["healthy_instances"] > 0
    if not ok:
        raise ServerUnavailable(unavailable(name, doc["status"], doc["reason"]))
    return {"name": name, "status": doc["status"], "healthy_instances": doc["healthy_instances"]}


@router.post("/{name}/invocations", response_class=Response, responses={200: {
    "description": "The instance's answer, byte for byte: predictions (with labels and "
                   "probabilities for a classifier) and inference ids.",
    "content": {"application/json": {"schema": {"type": "object",
                                             "additionalProperties": True}}}}},
    **permit("read"))
async def invoke(name: str, request: Request, explain: bool = Query(
        False, description="Also each row's SHAP values over the raw input columns "
                           "(`explanations`): exact TreeSHAP for xgboost, lightgbm and "
                           "catboost models, KernelSHAP against the model's typical "
                           "training row for the others.")) -> Response:
    """Forward the rows (JSON records, JSON columns/data, or CSV) to a healthy instance.

    The answer is the instance's, byte for byte: the predictions with their inference
    ids, or a 4xx naming the field. ``X-Shipyard-Variant`` and ``X-Shipyard-Instance``
    say which variant and instance answered. The control plane's middleware serves
    this path directly (same code, without the routing overhead); this route is what
    the API document shows.
    """
    svc: Services = request.app.state.services
    answer = await invoke_endpoint(
        svc.endpoint_supervisor, request.app.state.forwarder, find_endpoint(svc), name,
        await request.body(), request.headers.get("content-type", "").encode("latin-1"),
        request.url.query.encode("latin-1"))
    return Response(content=answer.body, status_code=answer.status,
                    headers={k.decode("latin-1"): v.decode("latin-1")
                             for k, v in answer.headers})


def find_endpoint(svc: Services) -> Callable[[str], Awaitable[EndpointRecord | None]]:
    """The endpoint record lookup the invocation path uses off the event loop."""
    async def find(name: str) -> EndpointRecord | None:
        return await anyio.to_thread.run_sync(svc.endpoints.repo.find, name)
    return find
