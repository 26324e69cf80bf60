"""Jobs: submit, list, show, cancel, resume; logs (followed by polling), metrics, artifacts."""

from __future__ import annotations

import json
from typing import Annotated, Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Header, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel

from shipyard.api._auth import current_principal, permit, with_extra
from shipyard.api._context import Services, services
from shipyard.api._downloads import stored_file
from shipyard.api._owners import owned
from shipyard.api.schemas import (
    Job,
    JobArtifacts,
    JobDetail,
    JobKind,
    JobMetrics,
    JobProfile,
    binary,
)
from shipyard.errors import InvalidRequest, UnsupportedMediaType
from shipyard.jobs import job_to_dict
from shipyard.tokens import Principal

router = APIRouter(prefix="/jobs", tags=["jobs"])

Verify = Annotated[bool, Query(
    description="Check the whole file before sending a byte: a damaged one is then a clear "
                "error instead of a cut-off transfer.")]


#: The body of ``POST /jobs``, read by the route itself (its kinds are plug-ins: the union
#: of their specs is only known at run time, and ``GET /jobs/kinds`` gives each schema).
JOB_SPEC_BODY = {"requestBody": {"required": True, "content": {"application/json": {"schema": {
    "type": "object", "required": ["kind"], "additionalProperties": True,
    "properties": {"kind": {"type": "string", "description": "processing, training, …"}},
    "description": "A job spec; GET /jobs/kinds has the JSON schema of each kind's spec."}}}}}


@router.post("", status_code=201, response_model=JobDetail,
             responses={200: {"model": JobDetail, "description": "The job this Idempotency-Key "
                              "made before."}},
             **with_extra(permit("write"), JOB_SPEC_BODY))
async def submit_job(
    request: Request, response: Response, svc: Services = Depends(services),
    who: Principal = Depends(current_principal),
    idempotency_key: str | None = Header(default=None, alias="Idempotency-Key"),
) -> dict[str, Any]:
    """Submit a job spec (JSON). 201: a new job; 200: the job this Idempotency-Key made."""
    ctype = request.headers.get("content-type", "application/json")
    if not ctype.split(";")[0].strip().lower().endswith("json"):
        raise UnsupportedMediaType(f"A job spec is sent as JSON (application/json); got {ctype!r}.")
    raw = await request.body()
    try:
        body = json.loads(raw)
    except ValueError as exc:
        raise InvalidRequest(f"The request body is not valid JSON: {exc}.") from None
    job, created = await anyio.to_thread.run_sync(
        lambda: svc.jobs.submit(body, who.name, idempotency_key))
    response.status_code = 201 if created else 200
    return job_to_dict(job, {})


@router.get("", response_model=list[Job], **permit("read"))
def list_jobs(status: str | None = None, kind: str | None = None,
              limit: int = Query(100, ge=1, le=1000),
              svc: Services = Depends(services)) -> list[dict[str, Any]]:
    """Jobs, newest first; ``status`` may list several, comma-separated."""
    return [job_to_dict(j) for j in svc.jobs.list(status=status, kind=kind, limit=limit)]


@router.get("/kinds", response_model=list[JobKind], **permit("read"))
def job_kinds(svc: Services = Depends(services)) -> list[dict[str, Any]]:
    """The registered job kinds: ``{name, summary, entry, warm, builtin, schema}`` each, where
    ``schema`` is the JSON schema of that kind's spec (the spec is a union on ``kind``)."""
    return svc.jobs.kinds()


@router.get("/{job_id}", response_model=JobDetail, **permit("read"))
def get_job(job_id: str, svc: Services = Depends(services)) -> dict[str, Any]:
    job = svc.jobs.get(job_id)
    return {**job_to_dict(job, svc.jobs.metrics_summary(job_id)),
            "findings": svc.jobs.findings(job_id)}


class Annotation(BaseModel):
    tags: dict[str, str] | None = None
    notes: str | None = None


@router.patch("/{job_id}", response_model=JobDetail, **owned("write", "job"))
def annotate_job(job_id: str, body: Annotation, svc: Services = Depends(services),
                 who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Set tags on a job (merged with the ones it has) and/or replace its notes."""
    job = svc.jobs.annotate(job_id, who.name, tags=body.tags, notes=body.notes)
    return {**job_to_dict(job, svc.jobs.metrics_summary(job_id)),
            "findings": svc.jobs.findings(job_id)}


@router.post("/{job_id}/cancel", response_model=JobDetail, **owned("write", "job"))
def cancel_job(job_id: str, svc: Services = Depends(services),
               who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Cancel: a Pending job stops at once; a started one gets SIGTERM, then SIGKILL."""
    job = svc.jobs.cancel(job_id, who.name)
    return job_to_dict(job, svc.jobs.metrics_summary(job_id))


@router.post("/{job_id}/resume", response_model=JobDetail,
             responses={409: {"description": "The job is not Failed or Stopped."}},
             **owned("write", "job"))
def resume_job(job_id: str, svc: Services = Depends(services),
               who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Resume a Failed or Stopped job as a new attempt: it goes back to Pending and gets
    its last checkpoint back in ``checkpoints/`` before its process starts."""
    job = svc.jobs.resume(job_id, who.name)
    return job_to_dict(job, svc.jobs.metrics_summary(job_id))


@router.get("/{job_id}/logs", response_class=Response,
            responses=binary("Log bytes from offset.", "text/plain"), **permit("read"))
def job_logs(job_id: str, offset: int = Query(0, ge=0),
             svc: Services = Depends(services)) -> Response:
    """Log bytes from ``offset``. Follow a live log by calling again with
    ``X-Shipyard-Next-Offset`` until ``X-Shipyard-Job-Status`` is terminal and no bytes
    come back."""
    data, next_offset, status = svc.jobs.logs(job_id, offset)
    return Response(content=data, media_type="text/plain; charset=utf-8", headers={
        "X-Shipyard-Next-Offset": str(next_offset), "X-Shipyard-Job-Status": status})


@router.get("/{job_id}/metrics", response_model=JobMetrics, **permit("read"))
def job_metrics(job_id: str, name: str | None = None,
                svc: Services = Depends(services)) -> dict[str, Any]:
    """Metric time series: ``{"job_id", "metrics": {name: [{step, value, timestamp}]}}``."""
    return {"job_id": job_id, "metrics": svc.jobs.metrics(job_id, name)}


@router.get("/{job_id}/profile", response_model=JobProfile, **permit("read"))
def job_profile(job_id: str, svc: Services = Depends(services)) -> dict[str, Any]:
    """The job's resource profile (live while it runs): CPU % of its process tree and of
    each core it is pinned to, resident memory and I/O bytes over time (``series``), the
    seconds in each phase it reported, and findings such as "CPU-bound on one core of
    2: set n_jobs"."""
    return svc.jobs.profile(job_id).to_dict()


@router.get("/{job_id}/artifacts", response_model=JobArtifacts, **permit("read"))
def job_artifacts(job_id: str, svc: Services = Depends(services)) -> dict[str, Any]:
    """The job's files (model files, its log) and the dataset versions it wrote."""
    return svc.jobs.artifacts_of(job_id)


@router.get("/{job_id}/artifacts/{path:path}", response_class=StreamingResponse,
            responses=binary("The file's bytes.", "application/octet-stream"), **permit("read"))
def download_artifact(job_id: str, path: str, verify: Verify = False,
                      svc: Services = Depends(services)) -> StreamingResponse:
    """One file of the job's manifest, by its path there (e.g. ``model/weights.json``).

    Checked against its SHA-256 while it streams (``X-Shipyard-SHA256``): a damaged file
    is an error or a cut-off transfer, never a complete answer.
    """
    entry = svc.jobs.artifact_entry(job_id, path)
    filename = path.rsplit("/", 1)[-1]
    return stored_file(svc, entry["sha256"], int(entry["size"]), what=f"{path!r} of job {job_id}",
                       filename=filename, verify=verify)
