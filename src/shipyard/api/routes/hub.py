"""The hub: pre-trained models that installed packages ship (cards), and their measured speed."""

from __future__ import annotations

import json
import subprocess
import sys
from typing import Any

from fastapi import APIRouter, Depends

from shipyard.api._auth import permit
from shipyard.api._context import Services, services
from shipyard.api.schemas import HubModelCard
from shipyard.errors import InvalidRequest

router = APIRouter(prefix="/hub", tags=["hub"])

#: Seconds a measurement may take (loading the model, embedding 128 sentences twice).
MEASURE_TIMEOUT = 600


def card(name: str, svc: Services) -> dict[str, Any]:
    """A hub model's card: the catalog's facts, whether it is installed, its measured speed."""
    from shipyard.hub import get_model
    from shipyard.hub._bundle import HUB_TASKS
    from shipyard.hub._measure import read_speeds

    model = get_model(name)
    return {**model.to_dict(),
            "deploy_tasks": sorted(HUB_TASKS) if model.task == "sentence-embedding" else [],
            "speed": read_speeds(svc.settings.home).get(name)}


@router.get("", response_model=list[HubModelCard], **permit("read"))
def list_hub(svc: Services = Depends(services)) -> list[dict[str, Any]]:
    """Every model in the hub's catalog, installed or not (with the install command)."""
    from shipyard.hub import CATALOG

    return [card(name, svc) for name in sorted(CATALOG)]


@router.get("/{name}", response_model=HubModelCard, **permit("read"))
def show_hub(name: str, svc: Services = Depends(services)) -> dict[str, Any]:
    return card(name, svc)


@router.post("/{name}/measure", response_model=HubModelCard, **permit("write"))
def measure_hub(name: str, svc: Services = Depends(services)) -> dict[str, Any]:
    """Measure the model's speed on this machine (in a subprocess) and keep it on its card."""
    from shipyard.hub import model_dir
    from shipyard.hub._measure import record_speed

    model_dir(name)  # unknown: 404; not installed: 400 with the install command
    try:
        done = subprocess.run([sys.executable, "-m", "shipyard.hub._measure", name],
                              capture_output=True, text=True, timeout=MEASURE_TIMEOUT,
                              check=False)
    except subprocess.TimeoutExpired:
        raise InvalidRequest(f"Measuring {name!r} took over {MEASURE_TIMEOUT}s; the machine "
                             "is too busy, try again later.") from None
    lines = done.stdout.strip().splitlines()
    if done.returncode != 0 or not lines:
        tail = (done.stderr.strip().splitlines() or ["no output"])[-1]
        raise InvalidRequest(f"Measuring {name!r} failed: {tail}")
    record_speed(svc.settings.home, name, json.loads(lines[-1]))
    return card(name, svc)
