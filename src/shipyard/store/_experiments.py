"""Experiment repository: a named set of training runs with a problem and success criteria."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from shipyard.errors import NotFound
from shipyard.store._common import as_utc, utcnow
from shipyard.store._engine import Database
from shipyard.store._events import EventLog
from shipyard.store._schema import experiments
from shipyard.store._types import by_code_point


@dataclass(frozen=True)
class ExperimentRecord:
    name: str
    description: str | None
    problem_statement: str | None
    success_criteria: list[dict[str, Any]]
    created_at: datetime
    updated_at: datetime
    created_by: str | None


def _record(row: Any) -> ExperimentRecord:
    return ExperimentRecord(
        name=row.name,
        description=row.description,
        problem_statement=row.problem_statement,
        success_criteria=row.success_criteria or [],
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        created_by=row.created_by,
    )


class ExperimentRepository:
    def __init__(self, db: Database, events: EventLog) -> None:
        self.db = db
        self.events = events

    def upsert(self, name: str, actor: str | None, **fields: Any) -> ExperimentRecord:
        """Create the experiment, or update the given fields of an existing one."""
        fields = {k: v for k, v in fields.items() if v is not None}
        for _ in range(2):  # a concurrent create of the same name: retry as an update
            try:
                with self.db.write() as conn:
                    row = conn.execute(
                        select(experiments).where(experiments.c.name == name)
                    ).first()
                    now = utcnow()
                    if row is None:
                        conn.execute(
                            insert(experiments).values(
                                name=name,
                                created_at=now,
                                updated_at=now,
                                created_by=actor,
                                success_criteria=fields.pop("success_criteria", []),
                                **fields,
                            )
                        )
                        self.events.record(conn, "experiment.created", "experiment", name, actor)
                    elif fields:
                        conn.execute(
                            update(experiments)
                            .where(experiments.c.name == name)
                            .values(updated_at=now, **fields)
                        )
                        self.events.record(
                            conn,
                            "experiment.updated",
                            "experiment",
                            name,
                            actor,
                            fields=sorted(fields),
                        )
                return self.get(name)
            except SAIntegrityError:
                continue
        return self.get(name)

    def get(self, name: str) -> ExperimentRecord:
        with self.db.read() as conn:
            row = conn.execute(select(experiments).where(experiments.c.name == name)).first()
        if row is None:
            raise NotFound(f"No experiment named {name!r}; `shipyard experiments list` shows them.")
        return _record(row)

    def find(self, name: str) -> ExperimentRecord | None:
        try:
            return self.get(name)
        except NotFound:
            return None

    def list(self) -> list[ExperimentRecord]:
        with self.db.read() as conn:
            q = select(experiments).order_by(by_code_point(experiments.c.name))
            rows = conn.execute(q).all()
        return [_record(r) for r in rows]
