"""The built-in algorithms and the hyperparameters each declares (tuning reads these)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from shipyard.api._auth import permit
from shipyard.api.schemas import Algorithm

router = APIRouter(prefix="/algorithms", tags=["algorithms"])


def _info(name: str) -> dict[str, Any]:
    from shipyard.training import get_algorithm

    info = get_algorithm(name).info
    return {
        "name": info.name, "problem_types": sorted(info.problem_types),
        "framework": info.framework, "description": info.description,
        "needs_scaling": info.needs_scaling, "categorical": info.categorical,
        "hyperparameters": [hp.to_dict() for hp in info.hyperparameters],
    }


@router.get("", response_model=list[Algorithm], **permit("read"))
def list_algorithms() -> list[dict[str, Any]]:
    from shipyard.training import ALGORITHMS

    return [_info(name) for name in sorted(ALGORITHMS)]


@router.get("/{name}", response_model=Algorithm, **permit("read"))
def show_algorithm(name: str) -> dict[str, Any]:
    return _info(name)
