"""Experiments: runs to compare, the problem they serve and its success criteria."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends
from pydantic import BaseModel

from shipyard.api._auth import current_principal, permit
from shipyard.api._context import Services, services
from shipyard.api._owners import owned
from shipyard.api.schemas import Experiment, ExperimentDetail, ExperimentSummary, Run
from shipyard.errors import NotFound
from shipyard.experiments import experiment_to_dict
from shipyard.tokens import Principal, check_owner

router = APIRouter(prefix="/experiments", tags=["experiments"])


class ExperimentBody(BaseModel):
    name: str
    description: str | None = None
    problem_statement: str | None = None
    success_criteria: list[Any] | None = None


class ExperimentUpdate(BaseModel):
    description: str | None = None
    problem_statement: str | None = None
    success_criteria: list[Any] | None = None


@router.get("", response_model=list[ExperimentSummary], **permit("read"))
def list_experiments(svc: Services = Depends(services)) -> list[dict[str, Any]]:
    out = []
    for e in svc.experiments.list():
        runs = svc.experiments.runs(e.name)
        out.append({**experiment_to_dict(e), "runs": len(runs)})
    return out


@router.post("", status_code=201, response_model=Experiment, **permit("write"))
def create_experiment(body: ExperimentBody, svc: Services = Depends(services),
                      who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Create an experiment, or update an existing one's description and criteria
    (its creator or an admin)."""
    try:
        existing = svc.experiments.get(body.name)
    except NotFound:
        pass
    else:
        check_owner(who, f"Experiment {body.name!r}", existing.created_by)
    rec = svc.experiments.upsert(body.name, who.name, description=body.description,
                                 problem_statement=body.problem_statement,
                                 success_criteria=body.success_criteria)
    return experiment_to_dict(rec)


@router.patch("/{name}", response_model=Experiment, **owned("write", "experiment"))
def update_experiment(name: str, body: ExperimentUpdate, svc: Services = Depends(services),
                      who: Principal = Depends(current_principal)) -> dict[str, Any]:
    rec = svc.experiments.upsert(name, who.name, description=body.description,
                                 problem_statement=body.problem_statement,
                                 success_criteria=body.success_criteria)
    return experiment_to_dict(rec)


@router.get("/{name}", response_model=ExperimentDetail, **permit("read"))
def show_experiment(name: str, svc: Services = Depends(services)) -> dict[str, Any]:
    rec = svc.experiments.get(name)
    return {**experiment_to_dict(rec), "runs": svc.experiments.runs(name)}


@router.get("/{name}/runs", response_model=list[Run], **permit("read"))
def list_runs(name: str, metric: str | None = None, descending: bool | None = None,
              svc: Services = Depends(services)) -> list[dict[str, Any]]:
    """Runs with parameters, metrics and pass/fail; ``metric`` sorts best first."""
    return svc.experiments.runs(name, metric, descending)
