"""The audit log: every state change worth knowing about is an event row."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Text, cast, func, insert, select

from shipyard.store._common import as_utc, utcnow
from shipyard.store._engine import Database
from shipyard.store._schema import events


@dataclass(frozen=True)
class EventRecord:
    id: int
    created_at: datetime
    kind: str
    resource_type: str
    resource_id: str
    actor: str | None
    payload: dict[str, Any]


class EventLog:
    def __init__(self, db: Database) -> None:
        self.db = db

    def record(
        self,
        conn: Connection,
        event: str,
        resource_type: str,
        resource_id: str,
        actor: str | None = None,
        **payload: Any,
    ) -> None:
        """Append an event inside the caller's transaction, so it commits with the change."""
        conn.execute(
            insert(events).values(
                created_at=utcnow(),
                kind=event,
                resource_type=resource_type,
                resource_id=str(resource_id),
                actor=actor,
                payload=payload,
            )
        )

    def latest_id(self) -> int:
        """The id of the newest event (0 when the log is empty)."""
        with self.db.read() as conn:
            return int(conn.execute(select(func.max(events.c.id))).scalar() or 0)

    def list(
        self,
        resource_type: str | None = None,
        resource_id: str | None = None,
        kind: str | None = None,
        after_id: int = 0,
        limit: int = 500,
        payload_contains: str | None = None,
    ) -> list[EventRecord]:
        """Events after ``after_id``, oldest first, at most ``limit``.

        ``payload_contains`` keeps those whose payload JSON holds that text (a coarse
        ``LIKE`` filter; callers check each payload themselves).
        """
        q = select(events).where(events.c.id > after_id)
        if payload_contains:
            q = q.where(cast(events.c.payload, Text).contains(payload_contains,
                                                              autoescape=True))
        if resource_type:
            q = q.where(events.c.resource_type == resource_type)
        if resource_id:
            q = q.where(events.c.resource_id == str(resource_id))
        if kind:
            q = q.where(events.c.kind == kind)
        with self.db.read() as conn:
            rows = conn.execute(q.order_by(events.c.id).limit(limit)).all()
        return [
            EventRecord(
                r.id,
                as_utc(r.created_at),
                r.kind,
                r.resource_type,
                r.resource_id,
                r.actor,
                r.payload,
            )
            for r in rows
        ]
