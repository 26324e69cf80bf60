"""The studio's monitor pages: the list, and a monitor's page with its executions, drift per
column, data-quality violations, model quality over time, alerts, run now and ground-truth
upload.

Everything shown is read from the monitor service: the executions (``runs`` in the store),
the latest report's JSON, and the ``monitor.alert`` events.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, Request
from fastapi.responses import HTMLResponse, Response
from markupsafe import Markup
from starlette.datastructures import UploadFile
from starlette.exceptions import HTTPException

from shipyard.api._context import Services, services
from shipyard.api._uploads import saved_uploads
from shipyard.errors import InvalidRequest, ShipyardError
from shipyard.monitoring._service import TERMINAL
from shipyard.store import MonitorRunRecord
from shipyard.studio._charts import line_chart, paired_bars
from shipyard.studio._security import PREFIX
from shipyard.studio._web import action_error, authorize, error_page, render, run

router = APIRouter(include_in_schema=False)

#: The studio's ground-truth upload (its body limit is the API's upload limit:
#: a studio ``…/upload`` path: ``shipyard.api._body.STUDIO_UPLOAD``).
GROUND_TRUTH = PREFIX + "/monitors/{name}/ground-truth/upload"
#: Executions shown (the newest), and the files one upload may carry.
EXECUTIONS_SHOWN = 50
MAX_FILES = 10
#: An execution in one of these has not ended yet (the page polls until it has).
DONE = frozenset(TERMINAL) | {"NoData"}


@router.get(PREFIX + "/monitors")
def monitors_page(request: Request, svc: Services = Depends(services)) -> HTMLResponse:
    """Every monitor with its endpoint and latest execution."""
    rows = []
    for mon in svc.monitors.list():
        last = svc.monitors.runs(mon.name, limit=1)
        rows.append((mon, last[-1] if last else None))
    return render(request, "monitors.html", monitors=rows)


@router.get(PREFIX + "/monitors/{name}")
def monitor_page(request: Request, name: str,
                 svc: Services = Depends(services)) -> HTMLResponse:
    """A monitor: its executions, drift per column, violations, model quality, alerts."""
    try:
        mon = svc.monitors.get(name)
    except ShipyardError as exc:
        return error_page(request, exc)
    who = request.scope.get("state", {}).get("principal")
    may_upload = who is not None and who.can("write") and who.may_change(mon.created_by)
    return render(request, "monitor.html", mon=mon, may_upload=may_upload,
                  **_body(svc, name))


@router.get(PREFIX + "/monitors/{name}/results")
def monitor_results(request: Request, name: str,
                    svc: Services = Depends(services)) -> HTMLResponse:
    """The executions and the latest report (htmx polls it while an execution runs)."""
    try:
        svc.monitors.get(name)
    except ShipyardError as exc:
        return action_error(exc)
    return render(request, "_monitor_results.html", monitor=name, **_body(svc, name))


def _body(svc: Services, name: str) -> dict[str, Any]:
    executions = svc.monitors.runs(name, limit=EXECUTIONS_SHOWN)
    latest = next((r for r in reversed(executions) if r.report_key), None)
    report: dict[str, Any] = {}
    if latest is not None:
        try:
            report = svc.monitors.report(name, latest.seq)
        except ShipyardError:
            report = {}
    alerts = []
    for e in reversed(svc.monitors.alerts(name, limit=100)):
        payload = dict(e.payload)
        alerts.append({"created_at": e.created_at, "message": payload.get("message", ""),
                       "kind": payload.get("kind", ""), "column": payload.get("column"),
                       "execution": payload.get("execution", payload.get("run"))})
    return {"executions": list(reversed(executions)), "latest": latest,
            "active": any(r.status not in DONE for r in executions),
            "drift": _drift(report), "violations": (report.get("quality") or {}).get(
                "violations") or [], "quality": _model_quality(executions, report),
            "alerts": alerts}


def _drift(report: dict[str, Any]) -> list[dict[str, Any]]:
    """Each column of the latest report's drift section, with its baseline/current chart."""
    out = []
    for c in (report.get("drift") or {}).get("columns") or []:
        dist = c.get("distribution") or {}
        ref, cur = dist.get("reference") or [], dist.get("current") or []
        if dist.get("type") == "histogram":
            edges = dist.get("edges") or []
            labels = [f"{edges[i]:.4g} to {edges[i + 1]:.4g}" for i in range(len(edges) - 1)]
        else:
            labels = [str(x) for x in dist.get("labels") or []]
        svg = paired_bars(ref, cur, labels) if ref and cur else ""
        out.append({**{k: c.get(k) for k in ("column", "kind", "test", "score", "threshold",
                                             "drifted", "reason", "n_current")},
                    "chart": Markup(svg)})  # noqa: S704 - SVG we drew, labels escaped
    return out


def _model_quality(executions: list[MonitorRunRecord], report: dict[str, Any]
                   ) -> dict[str, Any]:
    """Each model-quality metric over the executions that had labels, and the latest
    report's per-window figures."""
    series: dict[str, list[dict[str, Any]]] = {}
    for r in executions:
        for metric, value in (r.summary.get("model_quality") or {}).items():
            if isinstance(value, int | float) and not isinstance(value, bool):
                series.setdefault(metric, []).append({"step": r.seq, "value": value})
    charts = [(m, Markup(line_chart(points)))  # noqa: S704 - SVG we drew
              for m, points in sorted(series.items()) if len(points) > 1]
    latest = {m: points[-1] for m, points in sorted(series.items())}
    mq = report.get("model_quality") or {}
    return {"charts": charts, "latest": latest, "baseline": mq.get("baseline") or {},
            "matched": mq.get("n_matched"), "notes": mq.get("notes") or []}


# -- actions ---------------------------------------------------------------------------------
@router.post(PREFIX + "/monitors/{name}/executions")
async def run_now(request: Request, name: str,
                  svc: Services = Depends(services)) -> Response:
    """Evaluate the monitor now (REST: ``POST /api/v1/monitors/{name}/executions``)."""
    try:
        who = authorize(request, svc, "write")
        await run(lambda: svc.monitors.run(name, "manual", who.name))
    except ShipyardError as exc:
        return action_error(exc)
    return Response(status_code=204, headers={"HX-Refresh": "true"})


@router.post(GROUND_TRUTH)
async def ground_truth(request: Request, name: str,
                       svc: Services = Depends(services)) -> HTMLResponse:
    """Upload true labels keyed by inference id (REST: ``POST /api/v1/monitors/{name}/
    ground-truth``: the same check, limit and service call)."""
    try:
        who = authorize(request, svc, "write", ("monitor", {"name": name}))
        try:
            async with request.form(max_files=MAX_FILES, max_fields=10) as form:
                files = [f for f in form.getlist("file")
                         if isinstance(f, UploadFile) and f.filename]
                if not files:
                    raise InvalidRequest("Choose a CSV, JSON or Parquet file of labels to "
                                         "upload.")
                fmt, column = (str(form.get(k) or "").strip() or None
                               for k in ("format", "label_column"))
                with saved_uploads(files, svc.settings.tmp_dir, prefix="labels-") as saved:
                    stored = await run(lambda: svc.monitors.add_ground_truth(
                        name, saved, who.name, fmt, column))
        except HTTPException as exc:  # a body that is not multipart/form-data
            raise InvalidRequest(f"The upload could not be read ({exc.detail}); send the "
                                 "file from the form again.") from None
    except ShipyardError as exc:
        return action_error(exc)
    return render(request, "_ground_truth_stored.html", http_status=201, stored=stored)
