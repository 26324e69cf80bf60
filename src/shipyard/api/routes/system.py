"""Health, identity and the audit log."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends

from shipyard import __version__
from shipyard.api._auth import current_principal, permit
from shipyard.api._context import Services, services
from shipyard.store import iso
from shipyard.tokens import Principal

router = APIRouter()


@router.get("/healthz", tags=["system"])
def healthz() -> dict[str, str]:
    """Liveness: answers without a token."""
    return {"status": "ok", "version": __version__}


@router.get("/api/v1/whoami", tags=["system"], **permit("read"))
def whoami(principal: Principal = Depends(current_principal)) -> dict[str, str]:
    return {"name": principal.name, "role": principal.role}


@router.get("/api/v1/events", tags=["system"], **permit("read"))
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
