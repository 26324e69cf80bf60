"""Schedules: run a job spec (or another registered kind) every interval or on a cron."""

from __future__ import annotations

from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Depends
from pydantic import BaseModel, ConfigDict, Field

from shipyard.api._auth import current_principal, permit
from shipyard.api._context import Services, services
from shipyard.api._owners import owned
from shipyard.api.schemas import Deleted, Schedule, deleted
from shipyard.scheduling import schedule_to_dict
from shipyard.tokens import Principal

router = APIRouter(prefix="/schedules", tags=["schedules"])


class NewSchedule(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=128)
    kind: str = Field(default="job", max_length=32)
    #: Kind "job": ``{"spec": <job spec>}`` (a bare job spec is accepted too).
    target: dict[str, Any]
    every: str | None = Field(default=None, max_length=32)
    cron: str | None = Field(default=None, max_length=128)


@router.get("", response_model=list[Schedule], **permit("read"))
def list_schedules(kind: str | None = None,
                   svc: Services = Depends(services)) -> list[dict[str, Any]]:
    return [schedule_to_dict(s) for s in svc.schedules.list(kind)]


@router.post("", status_code=201, response_model=Schedule, **permit("write"))
async def create_schedule(body: NewSchedule, svc: Services = Depends(services),
                          who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Create a schedule; its runs act on behalf of the token that created it."""
    rec = await anyio.to_thread.run_sync(lambda: svc.schedules.create(
        body.name, body.kind, body.target, every=body.every, cron=body.cron, actor=who.name))
    return schedule_to_dict(rec)


@router.get("/{name}", response_model=Schedule, **permit("read"))
def get_schedule(name: str, svc: Services = Depends(services)) -> dict[str, Any]:
    return schedule_to_dict(svc.schedules.get(name))


@router.delete("/{name}", response_model=Deleted, **owned("write", "schedule"))
def delete_schedule(name: str, svc: Services = Depends(services),
                    who: Principal = Depends(current_principal)) -> Deleted:
    svc.schedules.delete(name, who.name)
    return deleted("schedule", name)


@router.post("/{name}/pause", response_model=Schedule, **owned("write", "schedule"))
def pause_schedule(name: str, svc: Services = Depends(services),
                   who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Stop firing the schedule until it is resumed."""
    return schedule_to_dict(svc.schedules.pause(name, who.name))


@router.post("/{name}/resume", response_model=Schedule, **owned("write", "schedule"))
def resume_schedule(name: str, svc: Services = Depends(services),
                    who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Fire the schedule again, from its next planned time after now."""
    return schedule_to_dict(svc.schedules.resume(name, who.name))
