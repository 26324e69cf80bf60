"""Monitor repository: monitors of endpoints and the history of their runs."""

from __future__ import annotations

import builtins
from collections.abc import Mapping, Sequence
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
    delete,
    func,
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

monitors = Table(
    "monitors",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("endpoint", String(128), nullable=False),
    Column("baseline", JSON, nullable=False),
    Column("config", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("created_by", String(128)),
)

monitor_runs = Table(
    "monitor_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("monitor_id", Integer, ForeignKey("monitors.id", ondelete="CASCADE"),
           nullable=False),
    Column("seq", Integer, nullable=False),
    Column("status", String(32), nullable=False),
    Column("trigger", String(32), nullable=False),
    Column("job_id", String(128)),
    Column("window_start", UtcDateTime()),
    Column("window_end", UtcDateTime(), nullable=False),
    Column("summary", JSON, nullable=False),
    Column("report_key", String(128)),
    Column("html_key", String(128)),
    Column("error", Text),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("finished_at", UtcDateTime()),
    UniqueConstraint("monitor_id", "seq", name="uq_monitor_run_seq"),
    Index("ix_monitor_runs_job", "job_id"),
)

@dataclass(frozen=True)
class MonitorRecord:
    id: int
    name: str
    endpoint: str
    baseline: dict[str, Any]
    config: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    created_by: str | None


@dataclass(frozen=True)
class MonitorRunRecord:
    id: int
    monitor: str
    seq: int
    status: str
    trigger: str
    job_id: str | None
    window_start: datetime | None
    window_end: datetime
    summary: dict[str, Any]
    report_key: str | None
    html_key: str | None
    error: str | None
    created_at: datetime
    finished_at: datetime | None


def _monitor(row: Any) -> MonitorRecord:
    return MonitorRecord(id=row.id, name=row.name, endpoint=row.endpoint,
                         baseline=row.baseline or {}, config=row.config or {},
                         created_at=as_utc(row.created_at), updated_at=as_utc(row.updated_at),
                         created_by=row.created_by)


def _run(row: Any, monitor: str) -> MonitorRunRecord:
    return MonitorRunRecord(
        id=row.id, monitor=monitor, seq=row.seq, status=row.status, trigger=row.trigger,
        job_id=row.job_id, window_start=as_utc(row.window_start),
        window_end=as_utc(row.window_end), summary=row.summary or {},
        report_key=row.report_key, html_key=row.html_key, error=row.error,
        created_at=as_utc(row.created_at), finished_at=as_utc(row.finished_at))


class MonitorRepository:
    def __init__(self, db: Database, events: EventLog) -> None:
        self.db = db
        self.events = events

    # -- monitors -----------------------------------------------------------------------
    def _get(self, conn: Connection, name: str) -> MonitorRecord:
        row = conn.execute(select(monitors).where(monitors.c.name == name)).first()
        if row is None:
            raise NotFound(f"No monitor named {name!r}; `shipyard monitors list` shows them.")
        return _monitor(row)

    def create(self, name: str, endpoint: str, baseline: dict[str, Any],
               config: dict[str, Any], actor: str | None) -> MonitorRecord:
        now = utcnow()
        try:
            with self.db.write() as conn:
                conn.execute(insert(monitors).values(
                    name=name, endpoint=endpoint, baseline=baseline, config=config,
                    created_at=now, updated_at=now, created_by=actor))
                self.events.record(conn, "monitor.created", "monitor", name, actor,
                                   endpoint=endpoint, baseline=baseline.get("dataset"))
                return self._get(conn, name)
        except SAIntegrityError:
            raise Conflict(f"A monitor named {name!r} already exists; pick another name or "
                           "delete it first.") from None

    def get(self, name: str) -> MonitorRecord:
        with self.db.read() as conn:
            return self._get(conn, name)

    def list(self, endpoint: str | None = None) -> builtins.list[MonitorRecord]:
        query = select(monitors).order_by(by_code_point(monitors.c.name))
        if endpoint is not None:
            query = query.where(monitors.c.endpoint == endpoint)
        with self.db.read() as conn:
            return [_monitor(r) for r in conn.execute(query)]

    def update(self, name: str, actor: str | None, *, baseline: dict[str, Any] | None = None,
               config: dict[str, Any] | None = None) -> MonitorRecord:
        values: dict[str, Any] = {"updated_at": utcnow()}
        if baseline is not None:
            values["baseline"] = baseline
        if config is not None:
            values["config"] = config
        with self.db.write() as conn:
            self._get(conn, name)
            conn.execute(update(monitors).where(monitors.c.name == name).values(**values))
            self.events.record(conn, "monitor.updated", "monitor", name, actor,
                               changed=sorted(set(values) - {"updated_at"}))
            return self._get(conn, name)

    def delete(self, name: str, actor: str | None) -> None:
        with self.db.write() as conn:
            rec = self._get(conn, name)
            conn.execute(delete(monitor_runs).where(monitor_runs.c.monitor_id == rec.id))
            conn.execute(delete(monitors).where(monitors.c.id == rec.id))
            self.events.record(conn, "monitor.deleted", "monitor", name, actor)

    def record(self, name: str, event: str, actor: str | None = None, **payload: Any) -> None:
        """An event about the monitor (an alert, a webhook delivery, a retraining job)."""
        with self.db.write() as conn:
            self.events.record(conn, event, "monitor", name, actor, **payload)

    # -- runs ---------------------------------------------------------------------------
    def add_run(self, name: str, trigger: str, window_start: datetime | None,
                window_end: datetime) -> MonitorRunRecord:
        with self.db.write() as conn:
            mon = self._get(conn, name)
            seq = (conn.execute(select(func.max(monitor_runs.c.seq)).where(
                monitor_runs.c.monitor_id == mon.id)).scalar() or 0) + 1
            conn.execute(insert(monitor_runs).values(
                monitor_id=mon.id, seq=seq, status="Pending", trigger=trigger,
                window_start=window_start, window_end=window_end, summary={},
                created_at=utcnow()))
            return self._get_run(conn, mon, seq)

    def _get_run(self, conn: Connection, mon: MonitorRecord, seq: int) -> MonitorRunRecord:
        row = conn.execute(select(monitor_runs).where(
            monitor_runs.c.monitor_id == mon.id, monitor_runs.c.seq == seq)).first()
        if row is None:
            raise NotFound(f"Monitor {mon.name!r} has no run {seq}; `shipyard monitors "
                           f"reports {mon.name}` lists its runs.")
        return _run(row, mon.name)

    def get_run(self, name: str, seq: int) -> MonitorRunRecord:
        with self.db.read() as conn:
            return self._get_run(conn, self._get(conn, name), seq)

    def runs(self, name: str, limit: int = 100) -> builtins.list[MonitorRunRecord]:
        """The newest ``limit`` runs, oldest first."""
        with self.db.read() as conn:
            mon = self._get(conn, name)
            rows = conn.execute(select(monitor_runs).where(monitor_runs.c.monitor_id == mon.id)
                                .order_by(monitor_runs.c.seq.desc()).limit(limit)).all()
            return [_run(r, name) for r in reversed(rows)]

    def last_window_end(self, name: str) -> datetime | None:
        """Where the latest window run that did not fail stopped reading (the next starts there).

        Checks of a dataset version (trigger ``dataset``) read no window and do not count.
        """
        with self.db.read() as conn:
            mon = self._get(conn, name)
            value = conn.execute(select(func.max(monitor_runs.c.window_end)).where(
                monitor_runs.c.monitor_id == mon.id,
                monitor_runs.c.status != "Failed",
                monitor_runs.c.trigger != "dataset")).scalar()
            return as_utc(value) if value is not None else None

    def run_of_job(self, job_id: str) -> MonitorRunRecord | None:
        with self.db.read() as conn:
            row = conn.execute(select(monitor_runs, monitors.c.name.label("monitor_name"))
                               .join(monitors, monitors.c.id == monitor_runs.c.monitor_id)
                               .where(monitor_runs.c.job_id == job_id)).first()
            return _run(row, row.monitor_name) if row is not None else None

    def update_run(self, name: str, seq: int, *,
                   alerts: Sequence[Mapping[str, Any]] = (), **values: Any) -> MonitorRunRecord:
        """Change a run's fields; ``alerts`` become its ``monitor.alert`` events in the same
        transaction, so no reader sees a Completed execution whose alerts are not in yet
        (the monitor's page said "No alerts." beside a drifted report)."""
        allowed = {"status", "job_id", "summary", "report_key", "html_key", "error",
                   "finished_at"}
        unknown = set(values) - allowed
        if unknown:
            raise ValueError(f"not a run field: {sorted(unknown)}")
        with self.db.write() as conn:
            mon = self._get(conn, name)
            conn.execute(update(monitor_runs).where(
                monitor_runs.c.monitor_id == mon.id, monitor_runs.c.seq == seq).values(**values))
            for alert in alerts:
                self.events.record(conn, "monitor.alert", "monitor", name, None, execution=seq,
                                   **{k: v for k, v in alert.items()
                                      if k not in ("run", "execution")})
            run = self._get_run(conn, mon, seq)
            if "status" in values:
                self.events.record(conn, "monitor.execution_" + values["status"].lower(), "monitor",
                                   name, None, run=seq, job_id=run.job_id, error=run.error,
                                   alerts=len(run.summary.get("alerts", [])))
            return run
