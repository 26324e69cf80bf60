"""Lineage: what made an object and what it made, as a graph (``read``)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query

from shipyard.api._auth import permit
from shipyard.api._context import Services, services
from shipyard.api.schemas import Lineage
from shipyard.lineage import DEFAULT_DEPTH, FORMS, MAX_DEPTH

router = APIRouter(prefix="/lineage", tags=["lineage"])

_REF = ("The object: " + "; ".join(FORMS) + ". dataset:NAME and model:GROUP mean the latest "
        "version.")


@router.get("", response_model=Lineage, responses={404: {"description": "No such object."}},
            **permit("read"))
def get_lineage(
    ref: Annotated[str, Query(max_length=400, description=_REF)],
    direction: Annotated[str, Query(
        description="upstream (what made it), downstream (what it made) or both.")] = "both",
    depth: Annotated[int, Query(description=f"Links away from the object, 1 to {MAX_DEPTH}.")
                     ] = DEFAULT_DEPTH,
    svc: Services = Depends(services),
) -> dict[str, Any]:
    """The lineage graph of one object; 400 for a malformed reference, 404 for a missing one."""
    return svc.lineage.graph(ref, direction, depth).to_dict()
