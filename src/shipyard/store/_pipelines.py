"""Pipeline repository: definitions (versioned), executions and their steps, the step
cache, and triggers.

An execution and its steps are a state machine kept here, so a restarted control plane
goes on where the last one stood. Every status change is a guarded update (``WHERE
status IN (...) AND attempt = ...``): of two actors racing on one step (the engine and a
stop), exactly one wins.
"""

from __future__ import annotations

import builtins
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    JSON,
    Boolean,
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

pipelines = Table(
    "pipelines",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(128), nullable=False, unique=True),
    Column("description", Text),
    Column("latest_version", Integer, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("created_by", String(128)),
)

pipeline_versions = Table(
    "pipeline_versions",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pipeline_id", Integer, ForeignKey("pipelines.id", ondelete="CASCADE"),
           nullable=False),
    Column("version", Integer, nullable=False),
    Column("definition", JSON, nullable=False),
    Column("definition_hash", String(64), nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("created_by", String(128)),
    UniqueConstraint("pipeline_id", "version", name="uq_pipeline_version"),
)

pipeline_executions = Table(
    "pipeline_executions",
    metadata,
    Column("id", String(40), primary_key=True),
    Column("pipeline_id", Integer, ForeignKey("pipelines.id", ondelete="CASCADE"),
           nullable=False),
    Column("pipeline", String(128), nullable=False),
    Column("version", Integer, nullable=False),
    Column("status", String(16), nullable=False),
    Column("parameters", JSON, nullable=False),
    Column("trigger", JSON, nullable=False),
    Column("idempotency_key", String(255)),
    Column("reason", Text),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("ended_at", UtcDateTime()),
    Column("created_by", String(128)),
    UniqueConstraint("pipeline_id", "idempotency_key", name="uq_pipeline_execution_key"),
    Index("ix_pipeline_executions_status", "status"),
    Index("ix_pipeline_executions_pipeline", "pipeline_id", "created_at"),
)

pipeline_steps = Table(
    "pipeline_steps",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("execution_id", String(40),
           ForeignKey("pipeline_executions.id", ondelete="CASCADE"), nullable=False),
    Column("name", String(64), nullable=False),
    Column("type", String(32), nullable=False),
    Column("status", String(16), nullable=False),
    Column("attempt", Integer, nullable=False),
    Column("job_id", String(40)),
    Column("cache_hit", Boolean, nullable=False),
    Column("cache_key", String(64)),
    Column("outputs", JSON, nullable=False),
    Column("reason", Text),
    Column("next_attempt_at", UtcDateTime()),
    Column("started_at", UtcDateTime()),
    Column("ended_at", UtcDateTime()),
    Column("updated_at", UtcDateTime(), nullable=False),
    UniqueConstraint("execution_id", "name", name="uq_pipeline_step"),
)

pipeline_cache = Table(
    "pipeline_cache",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(64), nullable=False),
    Column("pipeline", String(128), nullable=False),
    Column("step", String(64), nullable=False),
    Column("execution_id", String(40), nullable=False),
    Column("job_id", String(40)),
    Column("outputs", JSON, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("expires_at", UtcDateTime(), nullable=False),
    Index("ix_pipeline_cache_key", "key"),
)

pipeline_triggers = Table(
    "pipeline_triggers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("pipeline_id", Integer, ForeignKey("pipelines.id", ondelete="CASCADE"),
           nullable=False),
    Column("pipeline", String(128), nullable=False),
    Column("kind", String(32), nullable=False),
    Column("config", JSON, nullable=False),
    Column("state", JSON, nullable=False),
    Column("parameters", JSON, nullable=False),
    Column("enabled", Boolean, nullable=False),
    Column("created_at", UtcDateTime(), nullable=False),
    Column("updated_at", UtcDateTime(), nullable=False),
    Column("created_by", String(128)),
    Index("ix_pipeline_triggers_kind", "kind"),
)


@dataclass(frozen=True)
class PipelineRecord:
    id: int
    name: str
    description: str
    latest_version: int
    created_at: datetime
    updated_at: datetime
    created_by: str | None


@dataclass(frozen=True)
class PipelineVersionRecord:
    pipeline: str
    version: int
    definition: dict[str, Any]
    definition_hash: str
    created_at: datetime
    created_by: str | None


@dataclass(frozen=True)
class ExecutionRecord:
    id: str
    pipeline: str
    version: int
    status: str
    parameters: dict[str, Any]
    trigger: dict[str, Any]
    idempotency_key: str | None
    reason: str | None
    created_at: datetime
    updated_at: datetime
    ended_at: datetime | None
    created_by: str | None


@dataclass(frozen=True)
class StepRecord:
    execution_id: str
    name: str
    type: str
    status: str
    attempt: int
    job_id: str | None
    cache_hit: bool
    cache_key: str | None
    outputs: dict[str, Any]
    reason: str | None
    next_attempt_at: datetime | None
    started_at: datetime | None
    ended_at: datetime | None
    updated_at: datetime


@dataclass(frozen=True)
class CacheRecord:
    key: str
    pipeline: str
    step: str
    execution_id: str
    job_id: str | None
    outputs: dict[str, Any]
    created_at: datetime
    expires_at: datetime


@dataclass(frozen=True)
class TriggerRecord:
    id: int
    pipeline: str
    kind: str
    config: dict[str, Any]
    state: dict[str, Any]
    parameters: dict[str, Any]
    enabled: bool
    created_at: datetime
    updated_at: datetime
    created_by: str | None


def _pipeline(row: Any) -> PipelineRecord:
    return PipelineRecord(row.id, row.name, row.description or "", row.latest_version,
                          as_utc(row.created_at), as_utc(row.updated_at), row.created_by)


def _execution(row: Any) -> ExecutionRecord:
    return ExecutionRecord(
        id=row.id, pipeline=row.pipeline, version=row.version, status=row.status,
        parameters=row.parameters or {}, trigger=row.trigger or {},
        idempotency_key=row.idempotency_key, reason=row.reason,
        created_at=as_utc(row.created_at), updated_at=as_utc(row.updated_at),
        ended_at=as_utc(row.ended_at), created_by=row.created_by)


def _step(row: Any) -> StepRecord:
    return StepRecord(
        execution_id=row.execution_id, name=row.name, type=row.type, status=row.status,
        attempt=row.attempt, job_id=row.job_id, cache_hit=bool(row.cache_hit),
        cache_key=row.cache_key, outputs=row.outputs or {}, reason=row.reason,
        next_attempt_at=as_utc(row.next_attempt_at), started_at=as_utc(row.started_at),
        ended_at=as_utc(row.ended_at), updated_at=as_utc(row.updated_at))


def _trigger(row: Any) -> TriggerRecord:
    return TriggerRecord(
        id=row.id, pipeline=row.pipeline, kind=row.kind, config=row.config or {},
        state=row.state or {}, parameters=row.parameters or {}, enabled=bool(row.enabled),
        created_at=as_utc(row.created_at), updated_at=as_utc(row.updated_at),
        created_by=row.created_by)


class PipelineRepository:
    def __init__(self, db: Database, events: EventLog) -> None:
        self.db = db
        self.events = events

    # -- definitions ----------------------------------------------------------------------
    def _get(self, conn: Connection, name: str) -> PipelineRecord:
        row = conn.execute(select(pipelines).where(pipelines.c.name == name)).first()
        if row is None:
            raise NotFound(f"No pipeline named {name!r}; `shipyard pipelines list` shows them.")
        return _pipeline(row)

    def save(self, name: str, definition: dict[str, Any], definition_hash: str,
             description: str, actor: str | None) -> tuple[PipelineRecord, bool]:
        """Create the pipeline or add a version of its definition; return it and whether a
        new version was made (the same definition as the latest makes none)."""
        try:
            with self.db.write() as conn:
                row = conn.execute(select(pipelines).where(pipelines.c.name == name)).first()
                now = utcnow()
                if row is None:
                    pid = conn.execute(insert(pipelines).values(
                        name=name, description=description, latest_version=1,
                        created_at=now, updated_at=now, created_by=actor)).inserted_primary_key[0]  # type: ignore[index]
                    version = 1
                else:
                    latest = conn.execute(select(pipeline_versions.c.definition_hash).where(
                        pipeline_versions.c.pipeline_id == row.id,
                        pipeline_versions.c.version == row.latest_version)).scalar()
                    if latest == definition_hash:
                        return _pipeline(row), False
                    pid, version = row.id, row.latest_version + 1
                    conn.execute(update(pipelines).where(pipelines.c.id == pid).values(
                        latest_version=version, description=description, updated_at=now))
                conn.execute(insert(pipeline_versions).values(
                    pipeline_id=pid, version=version, definition=definition,
                    definition_hash=definition_hash, created_at=now, created_by=actor))
                self.events.record(conn, "pipeline.created" if version == 1
                                   else "pipeline.updated", "pipeline", name, actor,
                                   version=version)
                return self._get(conn, name), True
        except SAIntegrityError as exc:
            raise Conflict(f"Pipeline {name!r} was changed at the same time; try again.") \
                from exc

    def get(self, name: str) -> PipelineRecord:
        with self.db.read() as conn:
            return self._get(conn, name)

    def list(self) -> builtins.list[PipelineRecord]:
        with self.db.read() as conn:
            rows = conn.execute(select(pipelines).order_by(by_code_point(pipelines.c.name)))
            return [_pipeline(r) for r in rows]

    def version(self, name: str, version: int | None = None) -> PipelineVersionRecord:
        with self.db.read() as conn:
            p = self._get(conn, name)
            v = p.latest_version if version is None else version
            row = conn.execute(select(pipeline_versions).where(
                pipeline_versions.c.pipeline_id == p.id,
                pipeline_versions.c.version == v)).first()
            if row is None:
                raise NotFound(f"Pipeline {name!r} has no version {v}; its latest is "
                               f"{p.latest_version}.")
            return PipelineVersionRecord(name, row.version, row.definition,
                                         row.definition_hash, as_utc(row.created_at),
                                         row.created_by)

    def delete(self, name: str, actor: str | None) -> None:
        with self.db.write() as conn:
            p = self._get(conn, name)
            active = conn.execute(select(func.count()).select_from(pipeline_executions).where(
                pipeline_executions.c.pipeline_id == p.id,
                pipeline_executions.c.status.in_(("Executing", "Stopping")))).scalar()
            if active:
                raise Conflict(f"Pipeline {name!r} has {active} running execution(s); stop "
                               "them first (`shipyard pipelines stop EXECUTION_ID`).")
            conn.execute(delete(pipelines).where(pipelines.c.id == p.id))
            self.events.record(conn, "pipeline.deleted", "pipeline", name, actor)

    # -- executions -----------------------------------------------------------------------
    def create_execution(self, execution_id: str, name: str, version: int,
                         parameters: dict[str, Any], trigger: dict[str, Any],
                         steps: builtins.list[tuple[str, str]], actor: str | None,
                         idempotency_key: str | None = None) -> tuple[ExecutionRecord, bool]:
        """Record a new Executing execution with its steps Pending; with an idempotency key
        already used on this pipeline, return that execution instead (and False)."""
        try:
            with self.db.write() as conn:
                p = self._get(conn, name)
                if idempotency_key is not None:
                    row = conn.execute(select(pipeline_executions).where(
                        pipeline_executions.c.pipeline_id == p.id,
                        pipeline_executions.c.idempotency_key == idempotency_key)).first()
                    if row is not None:
                        return _execution(row), False
                now = utcnow()
                conn.execute(insert(pipeline_executions).values(
                    id=execution_id, pipeline_id=p.id, pipeline=name, version=version,
                    status="Executing", parameters=parameters, trigger=trigger,
                    idempotency_key=idempotency_key, created_at=now, updated_at=now,
                    created_by=actor))
                for step, stype in steps:
                    conn.execute(insert(pipeline_steps).values(
                        execution_id=execution_id, name=step, type=stype, status="Pending",
                        attempt=0, cache_hit=False, outputs={}, updated_at=now))
                self.events.record(conn, "pipeline_execution.started", "pipeline_execution",
                                   execution_id, actor, pipeline=name, version=version,
                                   trigger=trigger)
        except SAIntegrityError:
            if idempotency_key is None:
                raise
            with self.db.read() as conn:  # the same event started it at the same moment
                row = conn.execute(select(pipeline_executions).where(
                    pipeline_executions.c.pipeline == name,
                    pipeline_executions.c.idempotency_key == idempotency_key)).first()
            if row is None:
                raise
            return _execution(row), False
        return self.execution(execution_id), True

    def execution(self, execution_id: str) -> ExecutionRecord:
        with self.db.read() as conn:
            row = conn.execute(select(pipeline_executions).where(
                pipeline_executions.c.id == execution_id)).first()
        if row is None:
            raise NotFound(f"No pipeline execution {execution_id!r}; `shipyard pipelines "
                           "executions NAME` lists a pipeline's executions.")
        return _execution(row)

    def executions(self, name: str | None = None, statuses: builtins.list[str] | None = None,
                   limit: int = 100) -> builtins.list[ExecutionRecord]:
        q = select(pipeline_executions)
        if name is not None:
            q = q.where(pipeline_executions.c.pipeline == name)
        if statuses:
            q = q.where(pipeline_executions.c.status.in_(statuses))
        q = q.order_by(pipeline_executions.c.created_at.desc(),
                       pipeline_executions.c.id).limit(limit)
        with self.db.read() as conn:
            return [_execution(r) for r in conn.execute(q)]

    def set_execution_status(self, execution_id: str, status: str, among: builtins.list[str],
                             actor: str | None = None, reason: str | None = None,
                             ended: bool = False) -> bool:
        """Move an execution to ``status`` if it is in one of ``among``; True if it moved."""
        with self.db.write() as conn:
            now = utcnow()
            values: dict[str, Any] = {"status": status, "updated_at": now, "reason": reason}
            values["ended_at"] = now if ended else None
            res = conn.execute(update(pipeline_executions).where(
                pipeline_executions.c.id == execution_id,
                pipeline_executions.c.status.in_(among)).values(**values))
            if res.rowcount != 1:
                return False
            self.events.record(conn, "pipeline_execution.status_changed", "pipeline_execution",
                               execution_id, actor, status=status, reason=reason)
            return True

    # -- steps ----------------------------------------------------------------------------
    def steps(self, execution_id: str) -> builtins.list[StepRecord]:
        with self.db.read() as conn:
            rows = conn.execute(select(pipeline_steps).where(
                pipeline_steps.c.execution_id == execution_id).order_by(pipeline_steps.c.id))
            return [_step(r) for r in rows]

    def update_step(self, execution_id: str, name: str, among: builtins.list[str],
                    expect_attempt: int | None = None, **values: Any) -> bool:
        """Change a step if its status is one of ``among`` (and its attempt is
        ``expect_attempt``, when given); True if it changed. A status change is an event."""
        with self.db.write() as conn:
            q = update(pipeline_steps).where(pipeline_steps.c.execution_id == execution_id,
                                             pipeline_steps.c.name == name,
                                             pipeline_steps.c.status.in_(among))
            if expect_attempt is not None:
                q = q.where(pipeline_steps.c.attempt == expect_attempt)
            res = conn.execute(q.values(updated_at=utcnow(), **values))
            if res.rowcount != 1:
                return False
            if "status" in values:
                self.events.record(conn, "pipeline_execution.step_changed",
                                   "pipeline_execution", execution_id, None, step=name,
                                   status=values["status"], job_id=values.get("job_id"),
                                   reason=values.get("reason"))
            return True

    # -- cache ----------------------------------------------------------------------------
    def cached(self, key: str, now: datetime) -> CacheRecord | None:
        """The newest unexpired cache entry under ``key``."""
        with self.db.read() as conn:
            row = conn.execute(select(pipeline_cache).where(
                pipeline_cache.c.key == key, pipeline_cache.c.expires_at > now)
                .order_by(pipeline_cache.c.id.desc()).limit(1)).first()
        if row is None:
            return None
        return CacheRecord(row.key, row.pipeline, row.step, row.execution_id, row.job_id,
                           row.outputs or {}, as_utc(row.created_at), as_utc(row.expires_at))

    def add_cached(self, key: str, pipeline: str, step: str, execution_id: str,
                   job_id: str | None, outputs: dict[str, Any], expires_at: datetime) -> None:
        with self.db.write() as conn:
            now = utcnow()
            conn.execute(delete(pipeline_cache).where(pipeline_cache.c.expires_at <= now))
            conn.execute(insert(pipeline_cache).values(
                key=key, pipeline=pipeline, step=step, execution_id=execution_id,
                job_id=job_id, outputs=outputs, created_at=now, expires_at=expires_at))

    # -- triggers -------------------------------------------------------------------------
    def add_trigger(self, name: str, kind: str, config: dict[str, Any],
                    parameters: dict[str, Any], actor: str | None,
                    state: dict[str, Any] | None = None) -> TriggerRecord:
        with self.db.write() as conn:
            p = self._get(conn, name)
            # Under the write lock, so two creates at once cannot both pass.
            for same in conn.execute(select(pipeline_triggers).where(
                    pipeline_triggers.c.pipeline == name, pipeline_triggers.c.kind == kind)):
                if (same.config or {}) == config and (same.parameters or {}) == parameters:
                    raise Conflict(
                        f"Pipeline {name!r} already has this {kind} trigger (trigger "
                        f"{same.id}); a second would start a second execution for every "
                        "event. `shipyard pipelines triggers list "
                        f"{name}` shows it; delete it first to make it anew.")
            now = utcnow()
            tid = conn.execute(insert(pipeline_triggers).values(
                pipeline_id=p.id, pipeline=name, kind=kind, config=config,
                state=state or {}, parameters=parameters, enabled=True, created_at=now,
                updated_at=now, created_by=actor)).inserted_primary_key[0]  # type: ignore[index]
            self.events.record(conn, "pipeline.trigger_added", "pipeline", name, actor,
                               trigger=tid, kind=kind)
            row = conn.execute(select(pipeline_triggers).where(
                pipeline_triggers.c.id == tid)).first()
            return _trigger(row)

    def trigger(self, trigger_id: int) -> TriggerRecord:
        with self.db.read() as conn:
            row = conn.execute(select(pipeline_triggers).where(
                pipeline_triggers.c.id == trigger_id)).first()
        if row is None:
            raise NotFound(f"No pipeline trigger {trigger_id}; `shipyard pipelines triggers "
                           "list NAME` lists a pipeline's triggers.")
        return _trigger(row)

    def triggers(self, name: str | None = None,
                 kind: str | None = None) -> builtins.list[TriggerRecord]:
        q = select(pipeline_triggers).order_by(pipeline_triggers.c.id)
        if name is not None:
            q = q.where(pipeline_triggers.c.pipeline == name)
        if kind is not None:
            q = q.where(pipeline_triggers.c.kind == kind)
        with self.db.read() as conn:
            return [_trigger(r) for r in conn.execute(q)]

    def set_trigger_state(self, trigger_id: int, state: dict[str, Any],
                          expect: dict[str, Any] | None = None) -> bool:
        """Replace a trigger's state; with ``expect``, only if the state is still that
        (a compare-and-set, so two watchers never both act on one change)."""
        with self.db.write() as conn:
            row = conn.execute(select(pipeline_triggers.c.state).where(
                pipeline_triggers.c.id == trigger_id).with_for_update()).first()
            if row is None or (expect is not None and (row.state or {}) != expect):
                return False
            conn.execute(update(pipeline_triggers).where(pipeline_triggers.c.id == trigger_id)
                         .values(state=state, updated_at=utcnow()))
            return True

    def delete_trigger(self, trigger_id: int, actor: str | None) -> None:
        with self.db.write() as conn:
            row = conn.execute(select(pipeline_triggers).where(
                pipeline_triggers.c.id == trigger_id)).first()
            if row is None:
                raise NotFound(f"No pipeline trigger {trigger_id}.")
            conn.execute(delete(pipeline_triggers).where(pipeline_triggers.c.id == trigger_id))
            self.events.record(conn, "pipeline.trigger_removed", "pipeline", row.pipeline,
                               actor, trigger=trigger_id, kind=row.kind)
