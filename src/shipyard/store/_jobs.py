"""Job repository: job rows, guarded status transitions, and metric time series."""

from __future__ import annotations

import builtins
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Text, cast, insert, select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from shipyard.errors import Conflict, InvalidRequest, NotFound
from shipyard.store import _idempotency
from shipyard.store._common import as_utc, utcnow
from shipyard.store._engine import Database
from shipyard.store._events import EventLog
from shipyard.store._job_tokens import LIVE_STATUSES, revoke_job_tokens
from shipyard.store._schema import job_metrics, jobs

#: Metric names the platform keeps for itself (a job's profile: ``jobs/_profile.py``).
SYSTEM_METRICS = "system."


@dataclass(frozen=True)
class JobRecord:
    id: str
    kind: str
    name: str | None
    spec: dict[str, Any]
    status: str
    reason: str | None
    message: str | None
    attempts: int
    max_attempts: int
    pid: int | None
    pid_started_at: float | None
    outputs: dict[str, Any]
    created_at: datetime
    started_at: datetime | None
    ended_at: datetime | None
    updated_at: datetime
    created_by: str | None
    experiment: str | None = None
    tags: dict[str, str] | None = None
    notes: str | None = None
    executor: str | None = None
    #: The executor's handle state of the running attempt (JSON), for recovery.
    handle: dict[str, Any] | None = None
    heartbeat_at: datetime | None = None
    #: How far the running attempt's metrics have been read into ``job_metrics``.
    metrics_offset: int = 0


@dataclass(frozen=True)
class MetricPoint:
    name: str
    value: float
    step: int | None
    timestamp: float


def _record(row: Any) -> JobRecord:
    return JobRecord(
        id=row.id,
        kind=row.kind,
        name=row.name,
        spec=row.spec,
        status=row.status,
        reason=row.reason,
        message=row.message,
        attempts=row.attempts,
        max_attempts=row.max_attempts,
        pid=row.pid,
        pid_started_at=row.pid_started_at,
        outputs=row.outputs or {},
        created_at=as_utc(row.created_at),
        started_at=as_utc(row.started_at),
        ended_at=as_utc(row.ended_at),
        updated_at=as_utc(row.updated_at),
        created_by=row.created_by,
        experiment=row.experiment,
        tags=row.tags or {},
        notes=row.notes,
        executor=row.executor,
        handle=row.handle,
        heartbeat_at=as_utc(row.heartbeat_at),
        metrics_offset=int(row.metrics_offset or 0),
    )


class JobRepository:
    def __init__(self, db: Database, events: EventLog) -> None:
        self.db = db
        self.events = events

    def create(
        self,
        job_id: str,
        kind: str,
        spec: dict[str, Any],
        *,
        name: str | None,
        max_attempts: int,
        actor: str | None,
        initial_status: str,
        idempotency: tuple[str, str] | None = None,
        experiment: str | None = None,
        tags: dict[str, str] | None = None,
        notes: str | None = None,
    ) -> tuple[JobRecord, bool]:
        """Insert a job; return it and whether it is new (False: the key already made it)."""
        try:
            with self.db.write() as conn:
                if idempotency:
                    done = _idempotency.lookup(conn, "jobs", *idempotency)
                    if done is not None:
                        return self._get(conn, done), False
                now = utcnow()
                conn.execute(
                    insert(jobs).values(
                        id=job_id,
                        kind=kind,
                        name=name,
                        spec=spec,
                        status=initial_status,
                        attempts=0,
                        max_attempts=max_attempts,
                        outputs={},
                        created_at=now,
                        updated_at=now,
                        created_by=actor,
                        experiment=experiment,
                        tags=tags or {},
                        notes=notes,
                    )
                )
                if idempotency:
                    _idempotency.claim(conn, "jobs", idempotency[0], idempotency[1], job_id)
                self.events.record(
                    conn, "job.created", "job", job_id, actor, kind=kind, status=initial_status
                )
                return self._get(conn, job_id), True
        except SAIntegrityError as exc:
            if idempotency:
                with self.db.read() as conn:
                    done = _idempotency.lookup(conn, "jobs", *idempotency)
                    if done is not None:
                        return self._get(conn, done), False
            raise Conflict(
                f"A job with id {job_id!r} already exists; submit again for a new id."
            ) from exc

    def transition(
        self,
        job_id: str,
        to: str,
        from_statuses: Iterable[str],
        *,
        actor: str | None = None,
        **fields: Any,
    ) -> JobRecord | None:
        """Move a job to ``to`` only if it is in one of ``from_statuses``.

        Returns the updated job, or ``None`` if it was not in an allowed status (another
        actor got there first). The status change is recorded as an event.
        """
        allowed = list(from_statuses)
        with self.db.write() as conn:
            values = {"status": to, "updated_at": utcnow(), **fields}
            res = conn.execute(
                update(jobs).where(jobs.c.id == job_id, jobs.c.status.in_(allowed)).values(**values)
            )
            if res.rowcount == 0:
                return None
            if to not in LIVE_STATUSES:  # the attempt is over: so is its token
                revoke_job_tokens(conn, job_id)
            job = self._get(conn, job_id)
            self.events.record(
                conn,
                "job.status_changed",
                "job",
                job_id,
                actor,
                status=to,
                reason=job.reason,
                attempt=job.attempts,
            )
            return job

    def update_fields(self, job_id: str, **fields: Any) -> None:
        with self.db.write() as conn:
            conn.execute(
                update(jobs).where(jobs.c.id == job_id).values(updated_at=utcnow(), **fields)
            )

    def _get(self, conn: Connection, job_id: str) -> JobRecord:
        row = conn.execute(select(jobs).where(jobs.c.id == job_id)).first()
        if row is None:
            raise NotFound(f"No job with id {job_id!r}; `shipyard jobs list` shows the ids.")
        return _record(row)

    def get(self, job_id: str) -> JobRecord:
        with self.db.read() as conn:
            return self._get(conn, job_id)

    def list(
        self,
        statuses: Sequence[str] | None = None,
        kind: str | None = None,
        limit: int = 200,
        oldest_first: bool = False,
        experiment: str | None = None,
        spec_contains: str | None = None,
        offset: int = 0,
        tags_contains: str | None = None,
    ) -> list[JobRecord]:
        """Jobs, newest first (``oldest_first``: the other way), at most ``limit``, after
        skipping ``offset`` (a page of a list).

        ``spec_contains`` keeps the jobs whose stored spec JSON holds that text (such as
        ``'"dataset": "churn"'``): a coarse filter in SQL (``LIKE`` over the JSON text; on
        SQLite it ignores ASCII case), for callers that then check each spec themselves.
        ``tags_contains`` is the same over the job's tags (``'"canvas": "build"'``), which
        are stored beside the spec, not in it.
        """
        q = select(jobs)
        if spec_contains:
            q = q.where(cast(jobs.c.spec, Text).contains(spec_contains, autoescape=True))
        if tags_contains:  # the same coarse filter over the tags, a column of their own
            q = q.where(cast(jobs.c.tags, Text).contains(tags_contains, autoescape=True))
        if experiment:
            q = q.where(jobs.c.experiment == experiment)
        if statuses:
            q = q.where(jobs.c.status.in_(list(statuses)))
        if kind:
            q = q.where(jobs.c.kind == kind)
        order = jobs.c.created_at.asc() if oldest_first else jobs.c.created_at.desc()
        with self.db.read() as conn:
            rows = conn.execute(q.order_by(order, jobs.c.id).offset(max(offset, 0))
                                .limit(limit)).all()
        return [_record(r) for r in rows]

    # -- metrics --------------------------------------------------------------------------
    def add_metrics(self, job_id: str, points: Sequence[MetricPoint],
                    offset: int | None = None) -> None:
        """Append metric points, all or none; with ``offset``, record in the same transaction
        how far the job's metrics file has been read, so a control plane that restarts reads
        on from there (no point is stored twice).

        Raises:
            InvalidRequest: a value or timestamp is not a finite number (SQLite would
                store NaN as NULL and fail, PostgreSQL would keep it).
        """
        if not points and offset is None:
            return
        for p in points:
            if not (math.isfinite(p.value) and math.isfinite(p.timestamp)):
                raise InvalidRequest(
                    f"Metric {p.name!r} of job {job_id} must be a finite number; got "
                    f"{p.value!r} at {p.timestamp!r}. Log finite values only."
                )
        with self.db.write() as conn:
            if offset is not None:
                conn.execute(update(jobs).where(jobs.c.id == job_id)
                             .values(metrics_offset=offset))
            if not points:
                return
            conn.execute(
                insert(job_metrics),
                [
                    dict(
                        job_id=job_id,
                        name=p.name,
                        value=p.value,
                        step=p.step,
                        timestamp=p.timestamp,
                    )
                    for p in points
                ],
            )

    def last_metrics(self, job_ids: Sequence[str]) -> dict[str, dict[str, float]]:
        """The last value of every metric of each job (one query for a whole experiment);
        the platform's ``system.*`` samples are not the job's metrics."""
        out: dict[str, dict[str, float]] = {j: {} for j in job_ids}
        if not job_ids:
            return out
        q = (
            select(job_metrics.c.job_id, job_metrics.c.name, job_metrics.c.value)
            .where(job_metrics.c.job_id.in_(list(job_ids)))
            .where(~job_metrics.c.name.startswith(SYSTEM_METRICS, autoescape=True))
            .order_by(job_metrics.c.id)
        )
        with self.db.read() as conn:
            for row in conn.execute(q):
                out[row.job_id][row.name] = row.value
        return out

    def metrics(self, job_id: str, name: str | None = None, *,
                system: bool | None = False,
                steps: Sequence[int] | None = None) -> builtins.list[MetricPoint]:
        """A job's metric points in order: ``name``'s only, or all of them; ``system``:
        only the platform's ``system.*`` samples (True), none of them (False), or both
        (None); ``steps``: only the points at these steps."""
        q = select(job_metrics).where(job_metrics.c.job_id == job_id)
        if steps is not None:
            q = q.where(job_metrics.c.step.in_(list(steps)))
        if name:
            q = q.where(job_metrics.c.name == name)
        elif system is not None:
            sys_rows = job_metrics.c.name.startswith(SYSTEM_METRICS, autoescape=True)
            q = q.where(sys_rows if system else ~sys_rows)
        with self.db.read() as conn:
            self._get(conn, job_id)
            rows = conn.execute(q.order_by(job_metrics.c.id)).all()
        return [MetricPoint(r.name, r.value, r.step, r.timestamp) for r in rows]
