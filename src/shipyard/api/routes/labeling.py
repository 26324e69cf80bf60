"""Labeling jobs: managed with ``write``, seen with ``read``, worked on with ``label``.

The annotator's routes (``label``: queues, next, item, answers, skip, undo, progress) answer
only about the caller's own assignments, and a job it may not work on is a 404.
"""

from __future__ import annotations

from contextlib import suppress
from typing import Any

import anyio.to_thread
from fastapi import APIRouter, Depends, Header, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from shipyard.api._auth import current_principal, permit
from shipyard.api._context import Services, services
from shipyard.api._downloads import image_file
from shipyard.api._owners import owned
from shipyard.api.schemas import DatasetVersion, binary
from shipyard.api.schemas._labeling import (
    LabelingAnswer,
    LabelingItem,
    LabelingJob,
    LabelingProgress,
    LabelingQueue,
    LabelingStatus,
    NextItem,
)
from shipyard.datasets import version_to_dict
from shipyard.errors import InvalidRequest, NotFound
from shipyard.labeling import AutoLabelStatus, ItemView, LabelingSpec
from shipyard.store import AssignmentRecord, LabelingJobRecord, iso
from shipyard.tokens import PERMISSIONS, Principal, check_owner

router = APIRouter(tags=["labeling"])
JOBS = "/labeling-jobs"


class NewLabelingJob(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str = Field(max_length=128)
    dataset: str = Field(max_length=160, description="NAME or NAME:VERSION (pinned at create).")
    task: str = Field(max_length=64)
    labels: list[str] = Field(max_length=1000)
    column: str | None = Field(default=None, max_length=256)
    instructions: str | None = Field(default=None, max_length=20_000)
    annotators_per_item: int = 1
    gold: str | None = Field(default=None, max_length=160,
                             description="A dataset with columns item and label.")
    auto_label: bool = False
    auto_label_after: int = Field(default=100, description="K: human-labeled items before "
                                  "the first auto-label model (auto_label only).")
    target_accuracy: float = Field(default=0.9, description="The accuracy machine labels must "
                                   "reach on held-out human labels (auto_label only).")
    auto_label_features: str | None = Field(
        default=None, max_length=64, description="A text job's auto-label model features: "
        "words, words+chars, words+sentiment, words+chars+sentiment (the default), "
        "embeddings or words+chars+sentiment+embeddings (the text extra).")
    workforce: list[str] = Field(default_factory=list, max_length=1000)
    lease_seconds: int = 600


class ExportRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

    output: str = Field(max_length=128, description="The dataset the labels are written to.")
    method: str = Field(default="dawid_skene", max_length=32,
                        description="dawid_skene or majority (one-label tasks).")


def job_to_dict(rec: LabelingJobRecord) -> dict[str, Any]:
    return {
        "name": rec.name, "task": rec.task, "labels": rec.labels,
        "dataset": f"{rec.dataset}:{rec.version}", "column": rec.column,
        "instructions": rec.instructions, "annotators_per_item": rec.annotators_per_item,
        "gold": rec.gold, "auto_label": rec.auto_label,
        "auto_label_after": (rec.auto_label_config or {}).get("after"),
        "target_accuracy": (rec.auto_label_config or {}).get("target_accuracy"),
        "auto_label_features": (rec.auto_label_config or {}).get("features"),
        "workforce": rec.workforce,
        "lease_seconds": rec.lease_seconds, "status": rec.status, "items": rec.num_items,
        "created_at": iso(rec.created_at), "updated_at": iso(rec.updated_at),
        "created_by": rec.created_by,
    }


def _check_workforce(svc: Services, names: list[str]) -> None:
    """Each name of a workforce is a live token that may label. A mistyped name made a
    job that name's annotator never saw, and a viewer's token one it could never work on;
    both were taken without a word."""
    tokens = {t.name: t for t in svc.tokens.list() if t.active}
    for name in names:
        token = tokens.get(name)
        if token is None:
            raise InvalidRequest(
                f"The workforce names token {name!r}, which does not exist or was revoked; "
                "fix the name, or create the token first (shipyard tokens create --name "
                f"{name} --role annotator).")
        if "label" not in PERMISSIONS.get(token.role, frozenset()):
            raise InvalidRequest(
                f"The workforce names token {name!r}, whose role {token.role!r} may not "
                "label; name annotators (or admins).")


def _item(view: ItemView) -> dict[str, Any]:
    a = view.assignment
    return {"job": view.job.name, "task": view.job.task, "labels": view.job.labels,
            "instructions": view.job.instructions, "item": a.item, "content": view.content,
            "status": a.status, "leased_at": iso(a.leased_at), "expires_at": iso(a.expires_at),
            "answer": a.answer}


def _answer(rec: AssignmentRecord, replay: bool = False) -> dict[str, Any]:
    return {"job": rec.job, "item": rec.item, "status": rec.status, "answer": rec.answer,
            "answered_at": iso(rec.answered_at), "seconds": rec.seconds, "replay": replay}


# -- managers: write and read ----------------------------------------------------------------
@router.get(JOBS, response_model=list[LabelingJob], **permit("read"))
def list_jobs(svc: Services = Depends(services)) -> list[dict[str, Any]]:
    return [job_to_dict(j) for j in svc.labeling.list()]


@router.post(JOBS, status_code=201, response_model=LabelingJob, **permit("write"),
             responses={200: {"model": LabelingJob,
                              "description": "The job this Idempotency-Key created."}})
async def create_job(body: NewLabelingJob, response: Response,
                     svc: Services = Depends(services),
                     who: Principal = Depends(current_principal),
                     idempotency_key: str | None = Header(default=None, alias="Idempotency-Key",
                                                          max_length=255)) -> dict[str, Any]:
    """Create a labeling job over a dataset version (one item per row)."""
    spec = LabelingSpec(**body.model_dump())
    if spec.workforce:
        await anyio.to_thread.run_sync(lambda: _check_workforce(svc, spec.workforce))
    rec, created = await anyio.to_thread.run_sync(
        lambda: svc.labeling.create_once(spec, who.name, idempotency_key))
    if not created:
        response.status_code = 200
    return job_to_dict(rec)


@router.get(JOBS + "/{name}", response_model=LabelingJob, **permit("read"))
def get_job(name: str, svc: Services = Depends(services)) -> dict[str, Any]:
    return job_to_dict(svc.labeling.get(name))


@router.get(JOBS + "/{name}/status", response_model=LabelingStatus, **permit("read"))
def job_status(name: str, svc: Services = Depends(services)) -> dict[str, Any]:
    """Items answered and complete, answers per label, agreement, each annotator's figures."""
    st = svc.labeling.status(name)
    c = st.counts
    return {
        "name": st.job.name, "task": st.job.task, "status": st.job.status,
        "items": {"total": c.total, "answered": c.answered, "complete": c.complete,
                  "answers": c.answers, "leased": c.leased},
        "labels": st.label_counts, "agreement": st.agreement,
        "label_agreement": st.label_agreement, "agreement_note": st.agreement_note,
        "annotators": [{"name": a.name, "answered": a.answered, "gold_answered": a.gold_answered,
                        "gold_accuracy": a.gold_accuracy, "median_seconds": a.median_seconds}
                       for a in st.annotators],
        "auto_label": _auto_status(st.auto_label),
    }


def _auto_status(auto: AutoLabelStatus | None) -> dict[str, Any] | None:
    if auto is None:
        return None
    a = auto.audit
    return {
        "after": auto.after, "target_accuracy": auto.target_accuracy, "next_at": auto.next_at,
        "machine_labeled": auto.machine_labeled, "machine_share": auto.machine_share,
        "estimated_accuracy": auto.estimated_accuracy, "threshold": auto.threshold,
        "audit": {"sampled": a.sampled, "answered": a.answered, "correct": a.correct,
                  "accuracy": a.accuracy},
        "runs": [{"run": r.seq, "job": r.model_job, "status": r.status,
                  "human_labels": r.human_labels,
                  "machine_labeled": (r.summary or {}).get("applied"),
                  "threshold": (r.summary or {}).get("threshold"),
                  "estimated_accuracy": (r.summary or {}).get("estimated_accuracy"),
                  "error": r.error, "created_at": iso(r.created_at),
                  "finished_at": iso(r.finished_at)} for r in auto.runs],
    }


@router.post(JOBS + "/{name}/stop", response_model=LabelingJob,
             **owned("write", "labeling_job"))
def stop_job(name: str, svc: Services = Depends(services),
             who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Hand out no more items (answers to items already held are still taken)."""
    return job_to_dict(svc.labeling.stop(name, who.name))


@router.post(JOBS + "/{name}/export", status_code=201, response_model=DatasetVersion,
             **permit("write"))
async def export_job(name: str, body: ExportRequest, svc: Services = Depends(services),
                     who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Write the consolidated labels of the complete items as a new dataset version."""
    def run() -> dict[str, Any]:
        with suppress(NotFound):  # a new version of someone else's dataset is theirs to make
            check_owner(who, f"Dataset {body.output!r}", svc.datasets.get(body.output).created_by)
        return version_to_dict(svc.labeling.export(name, body.output, method=body.method,
                                                   actor=who.name))

    return await anyio.to_thread.run_sync(run)


# -- annotators: label ---------------------------------------------------------------------
@router.get("/labeling-queues", response_model=list[LabelingQueue], **permit("label"))
def list_queues(svc: Services = Depends(services),
                who: Principal = Depends(current_principal)) -> list[dict[str, Any]]:
    """The labeling jobs this token may work on."""
    return [{"name": j.name, "task": j.task, "labels": j.labels,
             "instructions": j.instructions, "status": j.status, "items": j.num_items}
            for j in svc.labeling.list(who)]


@router.get(JOBS + "/{name}/next", response_model=NextItem, **permit("label"))
async def next_item(name: str, svc: Services = Depends(services),
                    who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Lease the next item for this token (the one it holds, if it holds one)."""
    view = await anyio.to_thread.run_sync(lambda: svc.labeling.next(name, who))
    if view is None:
        job = svc.labeling.get(name)
        why = ("the job is stopped" if job.status != "Running"
               else "every item has its annotators or was answered by this token")
        return {"item": None, "message": f"No item left for {who.name!r}: {why}."}
    return {"item": _item(view), "message": f"Answer before {iso(view.assignment.expires_at)}."}


@router.get(JOBS + "/{name}/progress", response_model=LabelingProgress, **permit("label"))
def progress(name: str, svc: Services = Depends(services),
             who: Principal = Depends(current_principal)) -> dict[str, Any]:
    p = svc.labeling.progress(name, who)
    return {"job": p.job.name, "answered": p.answered, "median_seconds": p.median_seconds,
            "holding": p.holding}


@router.get(JOBS + "/{name}/items/{item}", response_model=LabelingItem, **permit("label"))
def get_item(name: str, item: str, svc: Services = Depends(services),
             who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """An item this token holds or answered, with its own answer (404 for any other)."""
    return _item(svc.labeling.item(name, item, who))


@router.get(JOBS + "/{name}/items/{item}/image", response_class=StreamingResponse,
            responses=binary("The item's image.", "image/png", "image/jpeg"),
            **permit("label"))
def get_item_image(name: str, item: str, svc: Services = Depends(services),
                   who: Principal = Depends(current_principal)) -> StreamingResponse:
    """The image of an item this token holds or answered (404 for any other): an annotator
    may not read the dataset, so this is the one way its bytes reach it."""
    sha, size, media = svc.labeling.image(name, item, who)
    return image_file(svc, sha, size, media, what=f"item {item!r} of labeling job {name!r}")


@router.post(JOBS + "/{name}/items/{item}/answers", status_code=201,
             response_model=LabelingAnswer, **permit("label"),
             responses={200: {"model": LabelingAnswer,
                              "description": "The same answer was stored before (a replay)."}})
async def answer_item(name: str, item: str, body: dict[str, Any], response: Response,
                      svc: Services = Depends(services),
                      who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Answer an item this token holds: ``{"label"}``, ``{"labels"}`` or ``{"spans"}``."""
    rec, stored = await anyio.to_thread.run_sync(
        lambda: svc.labeling.answer(name, item, who, body))
    if not stored:
        response.status_code = 200
    return _answer(rec, replay=not stored)


@router.post(JOBS + "/{name}/items/{item}/skip", response_model=LabelingAnswer,
             **permit("label"))
async def skip_item(name: str, item: str, svc: Services = Depends(services),
                    who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Give a held item back to the queue; it is not offered to this token again."""
    rec = await anyio.to_thread.run_sync(lambda: svc.labeling.skip(name, item, who))
    return _answer(rec)


@router.post(JOBS + "/{name}/undo", response_model=LabelingItem, **permit("label"))
async def undo(name: str, svc: Services = Depends(services),
               who: Principal = Depends(current_principal)) -> dict[str, Any]:
    """Take back this token's own latest answer or skip while the job runs: the item is
    its lease again, ``answer`` holding the answer taken back (the pre-fill); the item it
    held goes back to the queue. 409 when there is nothing to undo, the job is stopped, or
    a skipped item has since gone to other annotators."""
    view = await anyio.to_thread.run_sync(lambda: svc.labeling.undo(name, who))
    return _item(view)
