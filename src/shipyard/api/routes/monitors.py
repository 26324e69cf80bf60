"""Monitors: create one on an endpoint, read and edit its baseline, run it, read its reports.

Reading needs ``read``; creating, editing, running and uploading ground truth need
``write``. A report is a JSON snapshot (``/report``) and an HTML page with plots
(``/report.html``), per run; the runs are the monitor's history.
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
from shipyard.errors import NotFound
from shipyard.monitoring._service import schedule_name
from shipyard.scheduling import schedule_to_dict
from shipyard.store import MonitorRecord, MonitorRunRecord, iso
from shipyard.tokens import Principal

router = APIRouter(prefix="/monitors", tags=["monitors"])


class CreateBody(BaseModel):
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
        None, description="A job spec submitted when a run raises alerts (closing the loop).")


def monitor_to_dict(rec: MonitorRecord, svc: Services) -> dict[str, Any]:
    runs = svc.monitors.runs(rec.name, limit=1)
    try:
        schedule: dict[str, Any] | None = schedule_to_dict(
            svc.schedules.get(schedule_name(rec.name)))
    except NotFound:
        schedule = None
    return {"name": rec.name, "endpoint": rec.endpoint, "baseline": rec.baseline,
            "config": rec.config, "schedule": schedule,
            "last_run": run_to_dict(runs[-1]) if runs else None,
            "created_at": iso(rec.created_at), "updated_at": iso(rec.updated_at),
            "created_by": rec.created_by}


def run_to_dict(run: MonitorRunRecord) -> dict[str, Any]:
    return {"monitor": run.monitor, "run": run.seq, "status": run.status,
            "trigger": run.trigger, "job_id": run.job_id,
            "window_start": iso(run.window_start), "window_end": iso(run.window_end),
            "summary": run.summary, "has_report": run.report_key is not None,
            "error": run.error, "created_at": iso(run.created_at),
            "finished_at": iso(run.finished_at)}


@router.post("", status_code=201, **permit("write"))
def create(body: CreateBody, svc: Services = Depends(services),
           who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Create a monitor: compute its baseline now; runs come on its schedule or on demand."""
    rec = svc.monitors.create(body.name, body.endpoint, body.baseline, every=body.every,
                              cron=body.cron, config=body.config, webhook=body.webhook,
                              retrain=body.retrain, actor=who.name)
    return monitor_to_dict(rec, svc)


@router.get("", **permit("read"))
def list_monitors(endpoint: str | None = None,
                  svc: Services = Depends(services)) -> list[dict[str, Any]]:
    return [monitor_to_dict(m, svc) for m in svc.monitors.list(endpoint)]


@router.get("/{name}", **permit("read"))
def show(name: str, svc: Services = Depends(services)) -> dict[str, Any]:
    return monitor_to_dict(svc.monitors.get(name), svc)


@router.delete("/{name}", **owned("write", "monitor"))
def delete(name: str, svc: Services = Depends(services),
           who: Principal = Depends(current_principal)) -> dict[str, Any]:
    svc.monitors.delete(name, who.name)
    return {"name": name, "deleted": True}


@router.get("/{name}/baseline/statistics", **permit("read"))
def statistics(name: str, svc: Services = Depends(services)) -> dict[str, Any]:
    """The baseline's statistics per column (JSON, as computed at create)."""
    return svc.monitors.statistics(name)


@router.get("/{name}/baseline/constraints", **permit("read"))
def constraints(name: str, svc: Services = Depends(services)) -> dict[str, Any]:
    """The constraints runs check (suggested at create; edit and PUT them back)."""
    return svc.monitors.constraints(name)


@router.put("/{name}/baseline/constraints", **owned("write", "monitor"))
def put_constraints(name: str, body: dict[str, Any], svc: Services = Depends(services),
                    who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Replace the constraints with an edited document (checked; refused whole if wrong)."""
    return svc.monitors.set_constraints(name, body, who.name)


@router.post("/{name}/runs", status_code=202, **permit("write"))
def run(name: str, svc: Services = Depends(services),
        who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Run the monitor now over the invocations captured since its last run."""
    return run_to_dict(svc.monitors.run(name, "manual", who.name))


class CheckBody(BaseModel):
    dataset: str = Field(description="The dataset version to check, NAME or NAME:VERSION.")


@router.post("/{name}/checks", status_code=202, **permit("write"))
def check(name: str, body: CheckBody, svc: Services = Depends(services),
          who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Check a dataset version against the baseline (data quality, drift): a run of its own."""
    return run_to_dict(svc.monitors.check_dataset(name, body.dataset, who.name))


@router.get("/{name}/runs", **permit("read"))
def runs(name: str, limit: int = Query(100, ge=1, le=10_000),
         svc: Services = Depends(services)) -> list[dict[str, Any]]:
    """The monitor's runs, oldest first (its history)."""
    return [run_to_dict(r) for r in svc.monitors.runs(name, limit)]


@router.get("/{name}/runs/{seq}", **permit("read"))
def show_run(name: str, seq: int, svc: Services = Depends(services)) -> dict[str, Any]:
    return run_to_dict(svc.monitors.repo.get_run(name, seq))


@router.get("/{name}/report", **permit("read"))
def report(name: str, run: int | None = Query(None, ge=1),
           svc: Services = Depends(services)) -> dict[str, Any]:
    """The JSON report of a run (the latest with a report by default)."""
    return svc.monitors.report(name, run)


@router.get("/{name}/report.html", response_class=HTMLResponse, **permit("read"))
def report_html(name: str, run: int | None = Query(None, ge=1),
                svc: Services = Depends(services)) -> HTMLResponse:
    """The report as a self-contained HTML page with its plots."""
    return HTMLResponse(svc.monitors.html(name, run), headers={
        "content-security-policy": "default-src 'none'; img-src data:; style-src 'unsafe-inline'"})


@router.get("/{name}/alerts", **permit("read"))
def alerts(name: str, limit: int = Query(200, ge=1, le=10_000),
           svc: Services = Depends(services)) -> list[dict[str, Any]]:
    """The alerts the monitor's runs raised, oldest first."""
    return [{"id": e.id, "created_at": iso(e.created_at), **e.payload}
            for e in svc.monitors.alerts(name, limit)]


@router.post("/{name}/ground-truth", status_code=201, **owned("write", "monitor"))
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
