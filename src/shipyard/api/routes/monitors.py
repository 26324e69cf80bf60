"""Monitors: create one on an endpoint, read and edit its baseline, run it, read its reports.

Reading needs ``read``; creating, editing, running and uploading ground truth need
``write``. Each evaluation of a monitor is a *monitoring execution* (a job of kind
monitoring; never called a "run", which is a training job in an experiment): its
report is a JSON snapshot (``/report``) and an HTML page with plots (``/report.html``);
the executions are the monitor's history.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, Query, UploadFile
from fastapi.responses import HTMLResponse
from pydantic import BaseModel, Field

from shipyard.api._auth import current_principal, permit
from shipyard.api._context import Services, services
from shipyard.api._owners import owned
from shipyard.api._uploads import saved_uploads
from shipyard.api.schemas import (
    Alert,
    Deleted,
    GroundTruth,
    Monitor,
    MonitoringExecution,
    OpenDoc,
    deleted,
)
from shipyard.errors import NotFound
from shipyard.monitoring._service import schedule_name
from shipyard.scheduling import schedule_to_dict
from shipyard.store import MonitorRecord, MonitorRunRecord, iso
from shipyard.tokens import Principal

router = APIRouter(prefix="/monitors", tags=["monitors"])


class NewMonitor(BaseModel):
    name: str
    endpoint: str = Field(description="The endpoint to watch (its captured invocations).")
    baseline: str = Field(description="The baseline dataset, NAME or NAME:VERSION (normally "
                          "the training data).")
    every: str | None = Field(None, description="Run every interval: 30s, 15m, 1h, 1d.")
    cron: str | None = Field(None, description="Run on a 5-field cron expression (UTC).")
    config: dict[str, Any] | None = Field(
        None, description="drift (options), thresholds (model quality), quality_window, "
        "label_key, label_column, min_labelled_rows.")
    webhook: str | None = Field(None, description="Where alerts are posted (http or https; "
                                "private addresses only if an admin allowed them).")
    retrain: dict[str, Any] | None = Field(
        None, description="A job spec submitted when an execution raises alerts (closing "
        "the loop).")


def monitor_to_dict(rec: MonitorRecord, svc: Services) -> dict[str, Any]:
    executions = svc.monitors.runs(rec.name, limit=1)
    try:
        schedule: dict[str, Any] | None = schedule_to_dict(
            svc.schedules.get(schedule_name(rec.name)))
    except NotFound:
        schedule = None
    return {"name": rec.name, "endpoint": rec.endpoint, "baseline": rec.baseline,
            "config": rec.config, "schedule": schedule,
            "last_execution": execution_to_dict(executions[-1]) if executions else None,
            "created_at": iso(rec.created_at), "updated_at": iso(rec.updated_at),
            "created_by": rec.created_by}


def execution_to_dict(rec: MonitorRunRecord) -> dict[str, Any]:
    """A monitoring execution as the API shows it (the store still calls it a run)."""
    return {"monitor": rec.monitor, "execution": rec.seq, "status": rec.status,
            "trigger": rec.trigger, "job_id": rec.job_id,
            "window_start": iso(rec.window_start), "window_end": iso(rec.window_end),
            "summary": rec.summary, "has_report": rec.report_key is not None,
            "error": rec.error, "created_at": iso(rec.created_at),
            "finished_at": iso(rec.finished_at)}


@router.post("", status_code=201, response_model=Monitor, **permit("write"))
def create(body: NewMonitor, svc: Services = Depends(services),
           who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Create a monitor: compute its baseline now; executions come on its schedule or on
    demand."""
    rec = svc.monitors.create(body.name, body.endpoint, body.baseline, every=body.every,
                              cron=body.cron, config=body.config, webhook=body.webhook,
                              retrain=body.retrain, actor=who.name)
    return monitor_to_dict(rec, svc)


@router.get("", response_model=list[Monitor], **permit("read"))
def list_monitors(endpoint: str | None = None,
                  svc: Services = Depends(services)) -> list[dict[str, Any]]:
    return [monitor_to_dict(m, svc) for m in svc.monitors.list(endpoint)]


@router.get("/{name}", response_model=Monitor, **permit("read"))
def show(name: str, svc: Services = Depends(services)) -> dict[str, Any]:
    return monitor_to_dict(svc.monitors.get(name), svc)


@router.delete("/{name}", response_model=Deleted, **owned("write", "monitor"))
def delete(name: str, svc: Services = Depends(services),
           who: Principal = Depends(current_principal)) -> Deleted:
    svc.monitors.delete(name, who.name)
    return deleted("monitor", name)


@router.get("/{name}/baseline/statistics", response_model=OpenDoc, **permit("read"))
def statistics(name: str, svc: Services = Depends(services)) -> dict[str, Any]:
    """The baseline's statistics per column (JSON, as computed at create)."""
    return svc.monitors.statistics(name)


@router.get("/{name}/baseline/constraints", response_model=OpenDoc, **permit("read"))
def constraints(name: str, svc: Services = Depends(services)) -> dict[str, Any]:
    """The constraints each execution checks (suggested at create; edit and PUT them back)."""
    return svc.monitors.constraints(name)


@router.put("/{name}/baseline/constraints", response_model=OpenDoc, **owned("write", "monitor"))
def put_constraints(name: str, body: dict[str, Any], svc: Services = Depends(services),
                    who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Replace the constraints with an edited document (checked; refused whole if wrong)."""
    return svc.monitors.set_constraints(name, body, who.name)


@router.post("/{name}/executions", status_code=202, response_model=MonitoringExecution,
             **permit("write"))
def create_execution(name: str, svc: Services = Depends(services),
                     who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Evaluate the monitor now over the invocations captured since its last execution
    (``shipyard monitors run``)."""
    return execution_to_dict(svc.monitors.run(name, "manual", who.name))


class CheckBody(BaseModel):
    dataset: str = Field(description="The dataset version to check, NAME or NAME:VERSION.")


@router.post("/{name}/checks", status_code=202, response_model=MonitoringExecution,
             **permit("write"))
def check(name: str, body: CheckBody, svc: Services = Depends(services),
          who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Check a dataset version against the baseline (data quality, drift): an execution of
    its own."""
    return execution_to_dict(svc.monitors.check_dataset(name, body.dataset, who.name))


@router.get("/{name}/executions", response_model=list[MonitoringExecution], **permit("read"))
def list_executions(name: str, limit: int = Query(100, ge=1, le=10_000),
                    svc: Services = Depends(services)) -> list[dict[str, Any]]:
    """The monitor's executions, oldest first (its history)."""
    return [execution_to_dict(r) for r in svc.monitors.runs(name, limit)]


@router.get("/{name}/executions/{seq}", response_model=MonitoringExecution,
            **permit("read"))
def show_execution(name: str, seq: int, svc: Services = Depends(services)) -> dict[str, Any]:
    return execution_to_dict(svc.monitors.repo.get_run(name, seq))


Execution = Annotated[int | None, Query(
    ge=1, description="The execution's number [the latest with a report].")]


@router.get("/{name}/report", response_model=OpenDoc, **permit("read"))
def report(name: str, execution: Execution = None,
           svc: Services = Depends(services)) -> dict[str, Any]:
    """The JSON report of an execution (the latest with a report by default)."""
    return svc.monitors.report(name, execution)


@router.get("/{name}/report.html", response_class=HTMLResponse, **permit("read"))
def report_html(name: str, execution: Execution = None,
                svc: Services = Depends(services)) -> HTMLResponse:
    """The report as a self-contained HTML page with its plots."""
    return HTMLResponse(svc.monitors.html(name, execution), headers={
        "content-security-policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'"})


@router.get("/{name}/alerts", response_model=list[Alert], **permit("read"))
def alerts(name: str, limit: int = Query(200, ge=1, le=10_000),
           svc: Services = Depends(services)) -> list[dict[str, Any]]:
    """The alerts the monitor's executions raised, oldest first."""
    out = []
    for e in svc.monitors.alerts(name, limit):
        payload = dict(e.payload)
        # Events recorded before the rename say "run" for the execution's number.
        execution = payload.pop("execution", payload.pop("run", None))
        out.append({"id": e.id, "created_at": iso(e.created_at), "execution": execution,
                    **payload})
    return out


@router.post("/{name}/ground-truth", status_code=201, response_model=GroundTruth,
             **owned("write", "monitor"))
def ground_truth(name: str,
                 file: Annotated[list[UploadFile], File(description="CSV, JSON or Parquet "
                                                        "with the key and label columns.")],
                 format: Annotated[str | None, Form()] = None,
                 label_column: Annotated[str | None, Form(
                     description="The files' label column [default: the monitor's "
                     "label_column, else 'label' or the model's target].")] = None,
                 svc: Services = Depends(services),
                 who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Upload true labels keyed by inference id (or the monitor's label_key column)."""
    with saved_uploads(file, svc.settings.tmp_dir, prefix="labels-") as saved:
        return svc.monitors.add_ground_truth(name, saved, who.name, format or None,
                                             label_column or None)
