"""Real-time endpoints: deploy a model version, list, show, delete, and invoke.

``POST /endpoints/{name}/invocations`` needs only ``read``, so a viewer token can
call a deployed model; changing endpoints needs ``write``. The invocation is
proxied byte for byte (body and content type) to a healthy instance through one
shared keep-alive ``httpx.AsyncClient``; the control plane never parses the rows.
"""

from __future__ import annotations

from typing import Any

import anyio.to_thread
import httpx
from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from shipyard.api._auth import current_principal, permit
from shipyard.api._context import Services, services
from shipyard.endpoints import IN_SERVICE, endpoint_to_dict
from shipyard.errors import NotFound, ServerUnavailable
from shipyard.tokens import Principal

router = APIRouter(prefix="/endpoints", tags=["endpoints"])

#: Response headers of an instance that are not passed on (hop by hop, or recomputed).
_DROP = frozenset({"content-length", "transfer-encoding", "connection", "keep-alive", "date",
                   "server"})


class CreateBody(BaseModel):
    name: str
    model: str = Field(description="The model version to deploy, as GROUP:VERSION.")
    instances: int = 1
    capture_percent: float = 0.0
    allow_unapproved: bool = Field(
        False, description="Deploy a version that is not Approved (admin only).")


def _doc(svc: Services, name: str) -> dict[str, Any]:
    return endpoint_to_dict(svc.endpoints.get(name), svc.endpoint_supervisor, svc.settings.url)


@router.post("", status_code=202, **permit("write"))
def create(body: CreateBody, svc: Services = Depends(services),
           who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Create an endpoint (Creating); it becomes InService once its instances are healthy."""
    rec = svc.endpoints.create(body.name, body.model, instances=body.instances,
                               capture_percent=body.capture_percent,
                               allow_unapproved=body.allow_unapproved,
                               actor=who.name, actor_role=who.role)
    return endpoint_to_dict(rec, svc.endpoint_supervisor, svc.settings.url)


@router.get("", **permit("read"))
def list_endpoints(svc: Services = Depends(services)) -> list[dict[str, Any]]:
    return [endpoint_to_dict(r, svc.endpoint_supervisor, svc.settings.url)
            for r in svc.endpoints.list()]


@router.get("/{name}", **permit("read"))
def show(name: str, svc: Services = Depends(services)) -> dict[str, Any]:
    return _doc(svc, name)


@router.delete("/{name}", **permit("write"))
def delete(name: str, svc: Services = Depends(services),
           who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Stop the endpoint's instances, remove its files and its record."""
    doc = _doc(svc, name)
    svc.endpoints.delete(name, who.name)
    return {**doc, "status": "Deleted"}


@router.get("/{name}/health", **permit("read"))
def health(name: str, svc: Services = Depends(services)) -> dict[str, Any]:
    """Whether the endpoint can take invocations now (503 when it cannot)."""
    doc = _doc(svc, name)
    ok = doc["status"] == IN_SERVICE and doc["healthy_instances"] > 0
    if not ok:
        raise ServerUnavailable(_unavailable(name, doc["status"], doc["reason"]))
    return {"name": name, "status": doc["status"], "healthy_instances": doc["healthy_instances"]}


def _unavailable(name: str, status: str, reason: str | None) -> str:
    if status == IN_SERVICE:
        return (f"Endpoint {name!r} has no healthy instance right now; it is being restarted, "
                "retry in a few seconds.")
    why = f" ({reason.splitlines()[0]})" if reason else ""
    return f"Endpoint {name!r} is {status}{why}, so it cannot take invocations yet."


@router.post("/{name}/invocations", **permit("read"))
async def invoke(name: str, request: Request) -> Response:
    """Proxy the rows (JSON records or CSV) to a healthy instance; answer what it answers."""
    svc: Services = request.app.state.services
    proxy: httpx.AsyncClient = request.app.state.endpoint_proxy
    sup = svc.endpoint_supervisor
    body = await request.body()
    headers = {"content-type": request.headers.get("content-type", "")}
    for _ in range(3):
        inst = sup.pick(name)
        if inst is None:
            break
        try:
            r = await proxy.post(inst.url + "/invocations", content=body, headers=headers)
        except httpx.TransportError:
            sup.mark_unhealthy(inst)
            continue
        out = {k: v for k, v in r.headers.items() if k.lower() not in _DROP}
        out["X-Shipyard-Variant"] = inst.variant
        out["X-Shipyard-Instance"] = inst.name
        return Response(content=r.content, status_code=r.status_code, headers=out)
    status = sup.status(name)
    if status is None or status != IN_SERVICE:
        rec = await anyio.to_thread.run_sync(svc.endpoints.repo.find, name)
        if rec is None:
            raise NotFound(f"No endpoint named {name!r}; `shipyard endpoints list` shows them.")
        raise ServerUnavailable(_unavailable(name, rec.status, rec.reason))
    raise ServerUnavailable(_unavailable(name, status, None))
