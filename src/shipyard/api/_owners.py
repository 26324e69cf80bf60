"""Ownership on the routes that change or delete a resource.

The rule itself is :func:`shipyard.tokens.check_owner` (a data-scientist may change
or delete only what it created; an admin anything). This module only says, per kind
of resource, how a route's path names the resource and who created it, and wires
the check in as a route dependency with :func:`owned`, which replaces ``permit`` on
those routes: it enforces the permission first, then ownership, and records both in
the OpenAPI document (``x-shipyard-owner``), so the route inventory test can find a
changing route that forgot.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from fastapi import Depends, Request

from shipyard.api._auth import current_principal, permit
from shipyard.api._context import Services, services
from shipyard.errors import InvalidRequest
from shipyard.tokens import check_owner

#: (what, owner) of the resource a route's path parameters name.
Lookup = Callable[[Services, Mapping[str, str]], tuple[str, str | None]]


def _number(params: Mapping[str, str], key: str) -> int:
    raw = params[key]
    if not raw.isdigit():
        raise InvalidRequest(f"{key} must be a whole number; got {raw!r}.")
    return int(raw)


def _model_version(svc: Services, p: Mapping[str, str]) -> tuple[str, str | None]:
    rec = svc.registry.get(p["group"], _number(p, "version"))
    return f"Model version {rec.group}:{rec.version}", rec.created_by


#: How each kind of resource is found from a route's path, and who created it.
LOOKUPS: dict[str, Lookup] = {
    "dataset": lambda svc, p: (f"Dataset {p['name']!r}", svc.datasets.get(p["name"]).created_by),
    "job": lambda svc, p: (f"Job {p['job_id']!r}", svc.jobs.get(p["job_id"]).created_by),
    "experiment": lambda svc, p: (f"Experiment {p['name']!r}",
                                  svc.experiments.get(p["name"]).created_by),
    "model_group": lambda svc, p: (f"Model group {p['group']!r}",
                                   svc.registry.group(p["group"]).created_by),
    "model_version": _model_version,
    "endpoint": lambda svc, p: (f"Endpoint {p['name']!r}", svc.endpoints.get(p["name"]).created_by),
    "monitor": lambda svc, p: (f"Monitor {p['name']!r}", svc.monitors.get(p["name"]).created_by),
    "schedule": lambda svc, p: (f"Schedule {p['name']!r}",
                                svc.schedules.get(p["name"]).created_by),
    "pipeline": lambda svc, p: (f"Pipeline {p['name']!r}",
                                svc.pipelines.get(p["name"]).created_by),
    "pipeline_trigger": lambda svc, p: (
        f"Trigger {p['trigger_id']} of pipeline {p['name']!r}",
        svc.pipeline_triggers.get(p["name"], _number(p, "trigger_id")).created_by),
    "labeling_job": lambda svc, p: (f"Labeling job {p['name']!r}",
                                    svc.labeling.get(p["name"]).created_by),
    "pipeline_execution": lambda svc, p: (
        f"Pipeline execution {p['execution_id']!r}",
        svc.pipelines.execution(p["execution_id"]).created_by),
}


def _check(kind: str) -> Callable[..., None]:
    lookup = LOOKUPS[kind]

    def dependency(request: Request, svc: Services = Depends(services)) -> None:
        what, owner = lookup(svc, request.path_params)  # NotFound → 404 before any 403
        check_owner(current_principal(request), what, owner)

    dependency.__name__ = f"owner_of_{kind}"
    return dependency


def owned(permission: str, kind: str) -> dict[str, Any]:
    """Route decorator arguments: ``permission``, then ownership of the ``kind`` in the path."""
    base = permit(permission)
    return {
        "dependencies": [*base["dependencies"], Depends(_check(kind))],
        "openapi_extra": {**base["openapi_extra"], "x-shipyard-owner": kind},
    }
