"""The studio's pipeline pages: pipelines, one pipeline's definition versions and
executions (with a form to start one), and an execution's steps (a graph and a table),
refreshed live while it runs, with stop and retry.

Actions are their REST twins' own checks and service calls:

- start: ``POST /api/v1/pipelines/{name}/executions`` (``write``);
- stop, retry: ``POST /api/v1/pipeline-executions/{id}/stop`` and ``…/retry`` (``write``,
  and the execution's creator or an admin).
"""

from __future__ import annotations

import secrets
from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup

from shipyard.api._context import Services, services
from shipyard.errors import ShipyardError
from shipyard.pipelines import CONTROL_TYPES
from shipyard.store import ExecutionRecord
from shipyard.studio._charts import dag
from shipyard.studio._security import PREFIX
from shipyard.studio._web import (
    BadRequest,
    action_error,
    authorize,
    error_page,
    read_form,
    render,
    run,
)

router = APIRouter(include_in_schema=False)

#: Execution statuses that may still change (the page polls while one is shown).
RUNNING = frozenset({"Executing", "Stopping"})
RETRYABLE = frozenset({"Failed", "Stopped"})


@router.get(PREFIX + "/pipelines")
def pipelines_page(request: Request, svc: Services = Depends(services)) -> HTMLResponse:
    """Every pipeline, and the newest executions of any."""
    return render(request, "pipelines.html", pipelines=svc.pipelines.list(),
                  executions=svc.pipelines.executions(limit=20))


@router.get(PREFIX + "/pipelines/{name}")
def pipeline_page(request: Request, name: str, version: int | None = None,
                  svc: Services = Depends(services)) -> HTMLResponse:
    """A pipeline: its versions, a version's parameters and steps (what each waits for),
    its executions, and the start form for a role that may start one."""
    try:
        rec = svc.pipelines.get(name)
        shown = svc.pipelines.definition(name, version)
        defn = svc.pipelines.parsed(name, shown["version"])
        executions = svc.pipelines.executions(name, limit=50)
    except ShipyardError as exc:
        return error_page(request, exc)
    described = {str(d.get("name")): str(d.get("description") or "")
                 for d in defn.document.get("steps") or [] if isinstance(d, dict)}
    steps = [(s, defn.needs.get(s.name, ()), described.get(s.name, "")) for s in defn.steps]
    graph = Markup(dag([(s.name, None) for s in defn.steps],  # noqa: S704 - SVG we drew
                       {s.name: needs for s, needs, _ in steps}))
    return render(request, "pipeline.html", rec=rec, shown=shown, defn=defn, steps=steps,
                  graph=graph,
                  versions=list(range(rec.latest_version, 0, -1)), executions=executions,
                  key=secrets.token_hex(16))


@router.post(PREFIX + "/pipelines/{name}/executions")
async def start_execution(request: Request, name: str,
                          svc: Services = Depends(services)) -> Response:
    """Start an execution with the form's parameters (REST: ``POST /api/v1/pipelines/
    {name}/executions``): each value is sent as text and typed by the service, an empty
    field takes the default. The form's idempotency key (new with each page) makes a
    second click return the same execution. On to the execution's page."""
    try:
        form = await read_form(request)
        who = authorize(request, svc, "write")
        if "version" not in form:  # the page's form always sends it; an empty form is refused
            raise BadRequest("The start form came without its fields; reload the page and "
                             "start again.")
        version = _version(form.pop("version"))
        key = form.pop("idempotency_key", "") or None
        params = {k.removeprefix("param."): v for k, v in form.items()
                  if k.startswith("param.") and v != ""}
        ex, _ = await run(lambda: svc.pipelines.start(name, params, who.name,
                                                      idempotency_key=key, version=version))
    except ShipyardError as exc:
        return action_error(exc)
    return Response(status_code=204,
                    headers={"HX-Redirect": f"{PREFIX}/pipeline-executions/{ex.id}"})


def _version(text: str) -> int | None:
    if not text:
        return None
    if not text.isdigit() or int(text) < 1:
        raise BadRequest(f"The version must be a whole number from 1; got {text[:20]!r}.")
    return int(text)


@router.get(PREFIX + "/pipeline-executions/{execution_id}")
def execution_page(request: Request, execution_id: str,
                   svc: Services = Depends(services)) -> HTMLResponse:
    """An execution: parameters, its steps in order with what each waits for, their
    statuses, jobs and cache hits (refreshed while it runs); stop and retry."""
    try:
        ex = svc.pipelines.execution(execution_id)
        rows = _step_rows(svc, ex)
    except ShipyardError as exc:
        return error_page(request, exc)
    who = request.scope.get("state", {}).get("principal")
    may_change = who is not None and who.can("write") and who.may_change(ex.created_by)
    return render(request, "pipeline_execution.html", ex=ex, rows=rows, graph=_graph(rows),
                  running=ex.status in RUNNING, may_stop=may_change and ex.status in RUNNING,
                  may_retry=may_change and ex.status in RETRYABLE)


@router.get(PREFIX + "/pipeline-executions/{execution_id}/steps")
def execution_steps(request: Request, execution_id: str, live: bool = False,
                    svc: Services = Depends(services)) -> HTMLResponse:
    """The steps table as a fragment (htmx polls it while the execution runs). A poll that
    finds the execution ended reloads the page once, for its final status and buttons."""
    try:
        ex = svc.pipelines.execution(execution_id)
        rows = _step_rows(svc, ex)
    except ShipyardError as exc:
        return action_error(exc)
    page = render(request, "_pipeline_steps.html", ex=ex, rows=rows, graph=_graph(rows),
                  running=ex.status in RUNNING)
    if live and ex.status not in RUNNING:
        page.headers["HX-Refresh"] = "true"
    return page


def _step_rows(svc: Services, ex: ExecutionRecord) -> list[dict[str, Any]]:
    """Each step of the execution in its definition's order: its record and what it
    waits for."""
    defn = svc.pipelines.parsed(ex.pipeline, ex.version)
    records = {s.name: s for s in svc.pipelines.steps(ex.id)}
    return [{"step": s, "rec": records.get(s.name), "needs": defn.needs.get(s.name, ()),
             "control": s.type in CONTROL_TYPES} for s in defn.steps]


def _graph(rows: list[dict[str, Any]]) -> Markup:
    """The steps as a graph, each box filled by its step's status."""
    return Markup(dag(  # noqa: S704 - SVG we drew, names escaped there
        [(r["step"].name, r["rec"].status if r["rec"] else None) for r in rows],
        {r["step"].name: r["needs"] for r in rows}))


@router.post(PREFIX + "/pipeline-executions/{execution_id}/stop")
async def stop_execution(request: Request, execution_id: str,
                         svc: Services = Depends(services)) -> Response:
    """Stop an execution (REST: ``POST /api/v1/pipeline-executions/{id}/stop``)."""
    try:
        who = authorize(request, svc, "write",
                        ("pipeline_execution", {"execution_id": execution_id}))
        await run(lambda: svc.pipelines.stop(execution_id, who.name))
    except ShipyardError as exc:
        return action_error(exc)
    return Response(status_code=204, headers={"HX-Refresh": "true"})


@router.post(PREFIX + "/pipeline-executions/{execution_id}/retry")
async def retry_execution(request: Request, execution_id: str,
                          svc: Services = Depends(services)) -> Response:
    """Run a Failed or Stopped execution again from its failed steps (REST: ``POST
    /api/v1/pipeline-executions/{id}/retry``)."""
    try:
        who = authorize(request, svc, "write",
                        ("pipeline_execution", {"execution_id": execution_id}))
        await run(lambda: svc.pipelines.retry(execution_id, who.name))
    except ShipyardError as exc:
        return action_error(exc)
    return Response(status_code=204, headers={"HX-Refresh": "true"})
