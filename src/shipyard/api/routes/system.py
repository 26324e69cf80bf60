"""Health, identity and the audit log."""

from __future__ import annotations

import os
from typing import Any

from fastapi import APIRouter, Depends, Request

from shipyard import __version__
from shipyard.api._auth import current_principal, permit
from shipyard.api._context import Services, services
from shipyard.api.schemas import ControlPlane, Event, Health, Identity
from shipyard.store import iso
from shipyard.tokens import Principal

router = APIRouter()


@router.get("/healthz", tags=["system"], response_model=Health)
def healthz() -> dict[str, str]:
    """Liveness: answers without a token."""
    return {"status": "ok", "version": __version__}


@router.get("/api/v1/whoami", tags=["system"], response_model=Identity, **permit("read"))
def whoami(principal: Principal = Depends(current_principal)) -> dict[str, str]:
    return {"name": principal.name, "role": principal.role}


@router.get("/api/v1/control-plane", tags=["system"], response_model=ControlPlane,
            **permit("read"))
def control_plane(request: Request, svc: Services = Depends(services)) -> ControlPlane:
    """Whether this server leads (runs jobs, endpoints, schedules) and where the leader is."""
    election = request.app.state.election
    leader = election.lock.leader()
    return ControlPlane(role="leader" if election.leading else "follower",
                        url=svc.settings.public_url, pid=os.getpid(),
                        leader_url=leader.url if leader else None)


@router.get("/api/v1/events", tags=["system"], response_model=list[Event], **permit("read"))
def list_events(
    resource_type: str | None = None, resource_id: str | None = None, kind: str | None = None,
    after_id: int = 0, limit: int = 500, svc: Services = Depends(services),
) -> list[dict[str, Any]]:
    """The audit log, oldest first; poll with ``after_id`` to follow it."""
    return [
        {"id": e.id, "created_at": iso(e.created_at), "kind": e.kind,
         "resource_type": e.resource_type, "resource_id": e.resource_id, "actor": e.actor,
         "payload": e.payload}
        for e in svc.events.list(resource_type, resource_id, kind, after_id, min(limit, 5000))
    ]
