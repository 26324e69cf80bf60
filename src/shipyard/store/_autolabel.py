"""Auto-labeling's side of the labeling store: the model's runs and the machine labels.

A labeling job with auto-labeling has *runs*: each one is a job (kind ``autolabel``)
that trained a model on the human labels so far. At most one run of a labeling job is
active (``Submitting`` or ``Running``) at a time: :meth:`AutolabelRepository.claim` takes
the slot in a write transaction (serialised on both backends), so two answers arriving
at once never start two models.

When a run completes, :meth:`AutolabelRepository.apply` writes its result on the items
in one transaction: the machine labels of the items no human has touched, a random audit
sample of them put back in front of humans (first in the queue), and the uncertainty
order of the rest as their ``priority``. An item a human answered or holds is never
given a machine label, and its earlier one (an audited item's) stays as it was: a human
answer always beats a machine label.
"""

from __future__ import annotations

import builtins
import math
import random
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Column,
    Connection,
    ForeignKey,
    Index,
    Integer,
    String,
    Table,
    Text,
    UniqueConstraint,
    bindparam,
    func,
    insert,
    select,
    update,
)

from shipyard.store._common import as_utc, utcnow
from shipyard.store._engine import Database
from shipyard.store._events import EventLog
from shipyard.store._labeling import LabelingJobRecord, LabelingRepository, labeling_items
from shipyard.store._schema import metadata
from shipyard.store._types import UtcDateTime

labeling_autolabel_runs = Table(
    "labeling_autolabel_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("job_id", Integer, ForeignKey("labeling_jobs.id", ondelete="CASCADE"),
           nullable=False),
    #: 1, 2, … per labeling job.
    Column("seq", Integer, nullable=False),
    #: The ``autolabel`` job that trains the model (NULL until it is submitted).
    Column("model_job", String(64)),
    Column("status", String(16), nullable=False),
    #: Consolidated human-labeled items when the run was started.
    Column("human_labels", Integer, nullable=False),
    Column("summary", JSON(none_as_null=True)),
    Column("error", Text),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime()),
    UniqueConstraint("job_id", "seq", name="uq_labeling_autolabel_run"),
    Index("ix_labeling_autolabel_runs_model_job", "model_job"),
)

#: Run statuses; the first two are active (at most one per labeling job).
SUBMITTING, RUNNING, COMPLETED, FAILED = "Submitting", "Running", "Completed", "Failed"
ACTIVE_RUN = (SUBMITTING, RUNNING)
#: Where machine-labeled items sit in the queue (they are filtered out unless audited).
_MACHINE_PRIORITY = 1e12
#: Audit items are served before any other.
_AUDIT_PRIORITY = -1.0

_R, _I = labeling_autolabel_runs, labeling_items


@dataclass(frozen=True)
class AutolabelRun:
    job: str
    seq: int
    model_job: str | None
    status: str
    human_labels: int
    summary: dict[str, Any] | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


@dataclass(frozen=True)
class MachineItem:
    """An item's machine label, and whether it is in the audit sample."""

    item: str
    position: int
    label: str
    confidence: float
    model_job: str
    audit: bool
    answers: int


@dataclass(frozen=True)
class Applied:
    """What :meth:`AutolabelRepository.apply` wrote."""

    machine_labeled: int
    audit: int
    skipped: int


def _run(name: str, row: Any) -> AutolabelRun:
    return AutolabelRun(job=name, seq=row.seq, model_job=row.model_job, status=row.status,
                        human_labels=row.human_labels, summary=row.summary, error=row.error,
                        created_at=as_utc(row.created_at), finished_at=as_utc(row.finished_at))


class AutolabelRepository:
    def __init__(self, db: Database, events: EventLog) -> None:
        self.db = db
        self.events = events
        self.labeling = LabelingRepository(db, events)

    def _job(self, conn: Connection, name: str) -> LabelingJobRecord:
        return self.labeling._get(conn, name)

    # -- runs ------------------------------------------------------------------------------
    def claim(self, name: str, human_labels: int) -> int | None:
        """Take the job's one active-run slot: the new run's ``seq``, or None when a run is
        already active."""
        with self.db.write() as conn:
            job = self._job(conn, name)
            active = conn.execute(select(_R.c.seq).where(
                _R.c.job_id == job.id, _R.c.status.in_(ACTIVE_RUN))).first()
            if active is not None:
                return None
            seq = int(conn.execute(select(func.coalesce(func.max(_R.c.seq), 0))
                                   .where(_R.c.job_id == job.id)).scalar() or 0) + 1
            conn.execute(insert(_R).values(job_id=job.id, seq=seq, status=SUBMITTING,
                                           human_labels=human_labels, created_at=utcnow()))
            return seq

    def started(self, name: str, seq: int, model_job: str) -> None:
        with self.db.write() as conn:
            job = self._job(conn, name)
            conn.execute(update(_R).where(_R.c.job_id == job.id, _R.c.seq == seq)
                         .values(status=RUNNING, model_job=model_job))
            self.events.record(conn, "labeling_job.auto_label_started", "labeling_job", name,
                               None, run=seq, job_id=model_job)

    def failed(self, name: str, seq: int, error: str) -> None:
        with self.db.write() as conn:
            job = self._job(conn, name)
            conn.execute(update(_R).where(_R.c.job_id == job.id, _R.c.seq == seq)
                         .values(status=FAILED, error=error[:2000], finished_at=utcnow()))

    def runs(self, name: str) -> builtins.list[AutolabelRun]:
        with self.db.read() as conn:
            job = self._job(conn, name)
            rows = conn.execute(select(_R).where(_R.c.job_id == job.id).order_by(_R.c.seq))
            return [_run(name, r) for r in rows.all()]

    def run_of(self, model_job: str) -> AutolabelRun | None:
        """The run whose model ``model_job`` trains (None: not an auto-label run)."""
        from shipyard.store._labeling import labeling_jobs

        with self.db.read() as conn:
            row = conn.execute(select(_R, labeling_jobs.c.name.label("job_name"))
                               .join(labeling_jobs, labeling_jobs.c.id == _R.c.job_id)
                               .where(_R.c.model_job == model_job)).first()
        return None if row is None else _run(row.job_name, row)

    # -- machine labels --------------------------------------------------------------------
    def apply(self, name: str, seq: int, labels: builtins.list[tuple[str, str, float]],
              order: builtins.list[str], summary: dict[str, Any], *,
              audit_share: float = 0.05, min_audit: int = 5, seed: int = 0) -> Applied:
        """Write a completed run's result (see the module docstring) and close the run; a
        run that is not ``Running`` any more is left as it is.

        Args:
            labels: ``(item, label, confidence)`` the model is sure enough of.
            order: the other items, most uncertain first (served in this order).
        """
        with self.db.write() as conn:
            job = self._job(conn, name)
            run = conn.execute(select(_R).where(_R.c.job_id == job.id, _R.c.seq == seq)).one()
            if run.status != RUNNING:  # applied already (an event and a catch-up both came)
                done = run.summary or {}
                return Applied(int(done.get("applied") or 0), int(done.get("audit") or 0),
                               int(done.get("skipped") or 0))
            model_job = str(run.model_job)
            untouched = conn.execute(select(_I.c.item).where(
                _I.c.job_id == job.id, _I.c.answers == 0, _I.c.taken == 0)).scalars().all()
            free = set(untouched)
            # Untouched items forget the previous run's labels and audit sample.
            conn.execute(update(_I).where(_I.c.job_id == job.id, _I.c.answers == 0,
                                          _I.c.taken == 0)
                         .values(machine_label=None, machine_confidence=None,
                                 machine_job=None, audit=False, priority=_I.c.position))
            kept = [(i, lab, conf) for i, lab, conf in labels if i in free]
            # A sample, not a secret: seeded, so a run's audit sample can be reproduced.
            rng = random.Random(f"{name}:{seq}:{seed}")  # noqa: S311
            n_audit = min(len(kept), max(min_audit, math.ceil(audit_share * len(kept))))
            audit = set(rng.sample([i for i, _, _ in kept], n_audit)) if kept else set()
            ranked = [i for i in order if i in free]
            rank = {i: float(r) for r, i in enumerate(ranked)}
            if kept:
                conn.execute(update(_I).where(_I.c.job_id == job.id,
                                              _I.c.item == bindparam("b_item")).values(
                    machine_label=bindparam("b_label"), machine_confidence=bindparam("b_conf"),
                    machine_job=model_job, audit=bindparam("b_audit"),
                    priority=bindparam("b_priority")),
                    [{"b_item": i, "b_label": lab, "b_conf": float(conf),
                      "b_audit": i in audit,
                      "b_priority": _AUDIT_PRIORITY if i in audit else _MACHINE_PRIORITY}
                     for i, lab, conf in kept])
            if ranked:
                conn.execute(update(_I).where(_I.c.job_id == job.id,
                                              _I.c.item == bindparam("b_item"))
                             .values(priority=bindparam("b_priority")),
                             [{"b_item": i, "b_priority": rank[i]} for i in ranked])
            applied = Applied(machine_labeled=len(kept), audit=len(audit),
                              skipped=len(labels) - len(kept))
            conn.execute(update(_R).where(_R.c.id == run.id).values(
                status=COMPLETED, finished_at=utcnow(),
                summary={**summary, "applied": applied.machine_labeled,
                         "audit": applied.audit, "skipped": applied.skipped}))
            self.events.record(conn, "labeling_job.auto_labeled", "labeling_job", name, None,
                               run=seq, job_id=model_job, machine_labeled=len(kept),
                               audit=len(audit))
            return applied

    def machine_items(self, name: str) -> builtins.list[MachineItem]:
        """Every item with a machine label, in item order."""
        with self.db.read() as conn:
            job = self._job(conn, name)
            rows = conn.execute(select(
                _I.c.item, _I.c.position, _I.c.machine_label, _I.c.machine_confidence,
                _I.c.machine_job, _I.c.audit, _I.c.answers).where(
                _I.c.job_id == job.id, _I.c.machine_label.is_not(None))
                .order_by(_I.c.position)).all()
        return [MachineItem(r.item, int(r.position), str(r.machine_label),
                            float(r.machine_confidence or 0.0), str(r.machine_job),
                            bool(r.audit), int(r.answers)) for r in rows]
