"""Token management (admin only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from shipyard.api._auth import current_principal, permit
from shipyard.api._context import Services, services
from shipyard.api.schemas import Deleted, NewToken, Token, deleted
from shipyard.store import TokenRecord, iso
from shipyard.tokens import Principal

router = APIRouter(prefix="/tokens", tags=["tokens"])


class TokenCreate(BaseModel):
    name: str
    role: str


def _out(rec: TokenRecord) -> dict[str, Any]:
    return {"name": rec.name, "role": rec.role, "created_at": iso(rec.created_at),
            "created_by": rec.created_by, "revoked_at": iso(rec.revoked_at), "active": rec.active}


@router.get("", response_model=list[Token], **permit("admin"))
def list_tokens(svc: Services = Depends(services)) -> list[dict[str, Any]]:
    return [_out(t) for t in svc.tokens.list()]


@router.post("", status_code=201, response_model=NewToken, **permit("admin"))
def create_token(body: TokenCreate, svc: Services = Depends(services),
                 who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Create a token; the secret is in the answer and is never shown again."""
    rec, secret = svc.tokens.create(body.name, body.role, who.name)
    return {**_out(rec), "token": secret}


@router.delete("/{name}", response_model=Deleted, **permit("admin"))
def revoke_token(name: str, svc: Services = Depends(services),
                 who: Principal = Depends(current_principal)) -> Deleted:
    """Revoke a token at once; its record stays, inactive, for the audit log."""
    rec = svc.tokens.revoke(name, who.name)
    return deleted("token", rec.name, status="Revoked")
