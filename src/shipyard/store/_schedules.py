"""Schedule repository: what runs when, claimed atomically so two servers never both fire it."""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
    Column,
    Connection,
    Index,
    Integer,
    String,
    Table,
    Text,
    delete,
    insert,
    select,
    update,
)
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from shipyard.errors import Conflict, NotFound
from shipyard.store._common import as_utc, utcnow
from shipyard.store._engine import Database
from shipyard.store._events import EventLog
from shipyard.store._schema import metadata
from shipyard.store._types import UtcDateTime, by_code_point

schedules = Table(
    "schedules",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("kind", String(32), nullable=False),
    Column("target", JSON, nullable=False),
    Column("cron", String(128)),
    Column("every", String(32)),
    Column("enabled", Boolean, nullable=False),
    Column("next_run_at", UtcDateTime()),
    Column("last_run_at", UtcDateTime()),
    Column("last_job_id", String(128)),
    Column("last_error", Text),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("created_by", String(128)),
    Index("ix_schedules_due", "enabled", "next_run_at"),
)


@dataclass(frozen=True)
class ScheduleRecord:
    id: int
    name: str
    kind: str
    target: dict[str, Any]
    cron: str | None
    every: str | None
    enabled: bool
    next_run_at: datetime | None
    last_run_at: datetime | None
    last_job_id: str | None
    last_error: str | None
    created_at: datetime
    updated_at: datetime
    created_by: str | None


def _record(row: Any) -> ScheduleRecord:
    return ScheduleRecord(
        id=row.id, name=row.name, kind=row.kind, target=row.target or {}, cron=row.cron,
        every=row.every, enabled=bool(row.enabled), next_run_at=as_utc(row.next_run_at),
        last_run_at=as_utc(row.last_run_at), last_job_id=row.last_job_id,
        last_error=row.last_error, created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at), created_by=row.created_by,
    )


def _utc(moment: datetime) -> datetime:
    """Every time is stored as an aware UTC value, so equality guards match on both backends."""
    return as_utc(moment).astimezone(UTC)


class ScheduleRepository:
    def __init__(self, db: Database, events: EventLog) -> None:
        self.db = db
        self.events = events

    def _get(self, conn: Connection, name: str) -> ScheduleRecord:
        row = conn.execute(select(schedules).where(schedules.c.name == name)).first()
        if row is None:
            raise NotFound(f"No schedule named {name!r}; `shipyard schedules list` shows them.")
        return _record(row)

    def create(self, name: str, kind: str, target: dict[str, Any], *, cron: str | None,
               every: str | None, next_run_at: datetime, actor: str | None) -> ScheduleRecord:
        try:
            with self.db.write() as conn:
                if conn.execute(select(schedules.c.id).where(schedules.c.name == name)).first():
                    raise Conflict(f"A schedule named {name!r} already exists; delete it first "
                                   "or choose another name.")
                now = utcnow()
                conn.execute(insert(schedules).values(
                    name=name, kind=kind, target=target, cron=cron, every=every, enabled=True,
                    next_run_at=_utc(next_run_at), created_at=now, updated_at=now,
                    created_by=actor))
                rec = self._get(conn, name)
                self.events.record(conn, "schedule.created", "schedule", name, actor, kind=kind,
                                   cron=cron, every=every)
                return rec
        except SAIntegrityError as exc:
            raise Conflict(f"A schedule named {name!r} was created at the same time.") from exc

    def get(self, name: str) -> ScheduleRecord:
        with self.db.read() as conn:
            return self._get(conn, name)

    def list(self, kind: str | None = None) -> builtins.list[ScheduleRecord]:
        q = select(schedules).order_by(by_code_point(schedules.c.name))
        if kind:
            q = q.where(schedules.c.kind == kind)
        with self.db.read() as conn:
            return [_record(r) for r in conn.execute(q).all()]

    def delete(self, name: str, actor: str | None) -> None:
        with self.db.write() as conn:
            self._get(conn, name)
            conn.execute(delete(schedules).where(schedules.c.name == name))
            self.events.record(conn, "schedule.deleted", "schedule", name, actor)

    def set_enabled(self, name: str, enabled: bool, next_run_at: datetime | None,
                    actor: str | None) -> ScheduleRecord:
        """Pause (``enabled=False``) or resume a schedule, planning its next run."""
        with self.db.write() as conn:
            self._get(conn, name)
            values: dict[str, Any] = {"enabled": enabled, "updated_at": utcnow()}
            if next_run_at is not None:
                values["next_run_at"] = _utc(next_run_at)
            conn.execute(update(schedules).where(schedules.c.name == name).values(**values))
            kind = "schedule.resumed" if enabled else "schedule.paused"
            self.events.record(conn, kind, "schedule", name, actor)
            return self._get(conn, name)

    def due(self, now: datetime, limit: int = 100) -> builtins.list[ScheduleRecord]:
        """Enabled schedules whose next run is at or before ``now``, the most overdue first."""
        q = (select(schedules)
             .where(schedules.c.enabled.is_(True), schedules.c.next_run_at <= _utc(now))
             .order_by(schedules.c.next_run_at).limit(limit))
        with self.db.read() as conn:
            return [_record(r) for r in conn.execute(q).all()]

    def next_due_at(self) -> datetime | None:
        """When the earliest enabled schedule is due (None: nothing is planned)."""
        q = (select(schedules.c.next_run_at).where(schedules.c.enabled.is_(True))
             .order_by(schedules.c.next_run_at).limit(1))
        with self.db.read() as conn:
            value = conn.execute(q).scalar()
        return as_utc(value) if value is not None else None

    def claim(self, schedule_id: int, planned: datetime, next_run_at: datetime,
              now: datetime) -> bool:
        """Move a due schedule on to ``next_run_at``; True only for the one caller that did.

        The update is guarded by the planned time it read, so of two servers that
        saw the same due schedule exactly one claims it.
        """
        with self.db.write() as conn:
            result = conn.execute(
                update(schedules)
                .where(schedules.c.id == schedule_id, schedules.c.enabled.is_(True),
                       schedules.c.next_run_at == _utc(planned))
                .values(next_run_at=_utc(next_run_at), last_run_at=_utc(now),
                        updated_at=utcnow()))
            return result.rowcount == 1

    def record_run(self, rec: ScheduleRecord, planned: datetime, *, job_id: str | None,
                   error: str | None) -> None:
        """Note what a fired schedule started (``schedule.fired``) or why it failed."""
        with self.db.write() as conn:
            values: dict[str, Any] = {"last_error": error, "updated_at": utcnow()}
            if error is None:
                values["last_job_id"] = job_id
            conn.execute(update(schedules).where(schedules.c.id == rec.id).values(**values))
            if error is None:
                self.events.record(conn, "schedule.fired", "schedule", rec.name, rec.created_by,
                                   kind=rec.kind, planned=as_utc(planned).isoformat(),
                                   job_id=job_id)
            else:
                self.events.record(conn, "schedule.failed", "schedule", rec.name,
                                   rec.created_by, kind=rec.kind,
                                   planned=as_utc(planned).isoformat(), error=error)
