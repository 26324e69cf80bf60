"""Response models of the system routes and tokens."""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from shipyard.api.schemas._common import OpenDoc, Out, Timestamp


class Health(Out):
    status: Literal["ok"]
    version: str


class Identity(Out):
    name: str
    role: str


class ControlPlane(Out):
    """This control plane's part in the leader election (docs/deploy.md)."""

    role: Literal["leader", "follower"]
    url: str
    pid: int
    leader_url: str | None


class Event(Out):
    id: int
    created_at: Timestamp
    kind: str = Field(description="e.g. dataset.created, job.status_changed.")
    resource_type: str
    resource_id: str
    actor: str | None
    payload: OpenDoc


class Token(Out):
    name: str
    role: str
    created_at: Timestamp
    created_by: str | None
    revoked_at: Timestamp | None
    active: bool


class NewToken(Token):
    token: str = Field(description="The secret: shown once, never again.")
