"""Endpoint repository: real-time endpoints, their spec (variants) and status."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, delete, insert, select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from shipyard.errors import Conflict, NotFound
from shipyard.store._common import as_utc, utcnow
from shipyard.store._engine import Database
from shipyard.store._events import EventLog
from shipyard.store._schema import endpoints
from shipyard.store._types import by_code_point


@dataclass(frozen=True)
class EndpointRecord:
    name: str
    status: str
    reason: str | None
    spec: dict[str, Any]
    created_at: datetime
    updated_at: datetime
    created_by: str | None


def _endpoint(row: Any) -> EndpointRecord:
    return EndpointRecord(
        name=row.name,
        status=row.status,
        reason=row.reason,
        spec=row.spec or {},
        created_at=as_utc(row.created_at),
        updated_at=as_utc(row.updated_at),
        created_by=row.created_by,
    )


class EndpointRepository:
    def __init__(self, db: Database, events: EventLog) -> None:
        self.db = db
        self.events = events

    def _get(self, conn: Connection, name: str) -> EndpointRecord:
        row = conn.execute(select(endpoints).where(endpoints.c.name == name)).first()
        if row is None:
            raise NotFound(f"No endpoint named {name!r}; `shipyard endpoints list` shows them.")
        return _endpoint(row)

    def create(
        self, name: str, status: str, spec: dict[str, Any], actor: str | None,
        owner: str | None = None,
    ) -> EndpointRecord:
        try:
            with self.db.write() as conn:
                exists = conn.execute(select(endpoints.c.id).where(endpoints.c.name == name))
                if exists.first() is not None:
                    raise Conflict(
                        f"An endpoint named {name!r} already exists; delete it first or "
                        "choose another name."
                    )
                now = utcnow()
                conn.execute(
                    insert(endpoints).values(
                        name=name,
                        status=status,
                        spec=spec,
                        created_at=now,
                        updated_at=now,
                        created_by=owner or actor,
                    )
                )
                self.events.record(conn, "endpoint.created", "endpoint", name, actor, spec=spec,
                                   **({"owner": owner} if owner else {}))
                return self._get(conn, name)
        except SAIntegrityError as exc:
            raise Conflict(f"An endpoint named {name!r} was created at the same time.") from exc

    def get(self, name: str) -> EndpointRecord:
        with self.db.read() as conn:
            return self._get(conn, name)

    def find(self, name: str) -> EndpointRecord | None:
        with self.db.read() as conn:
            row = conn.execute(select(endpoints).where(endpoints.c.name == name)).first()
        return _endpoint(row) if row is not None else None

    def list(self) -> list[EndpointRecord]:
        with self.db.read() as conn:
            rows = conn.execute(select(endpoints).order_by(by_code_point(endpoints.c.name))).all()
        return [_endpoint(r) for r in rows]

    def update(
        self,
        name: str,
        *,
        status: str | None = None,
        reason: str | None = None,
        spec: dict[str, Any] | None = None,
        actor: str | None = None,
        event: str | None = None,
        **payload: Any,
    ) -> EndpointRecord:
        """Change status (with its reason) and/or spec; ``endpoint.failed`` when it fails.

        ``event`` names the event recorded instead (``endpoint.update_failed``), with
        ``payload`` added to it.
        """
        with self.db.write() as conn:
            current = self._get(conn, name)
            values: dict[str, Any] = {"updated_at": utcnow(), "reason": reason}
            if status is not None:
                values["status"] = status
            if spec is not None:
                values["spec"] = spec
            conn.execute(update(endpoints).where(endpoints.c.name == name).values(**values))
            kind = event or ("endpoint.failed" if status == "Failed" else "endpoint.updated")
            self.events.record(
                conn,
                kind,
                "endpoint",
                name,
                actor,
                status=status or current.status,
                previous=current.status,
                reason=reason,
                **payload,
            )
            return self._get(conn, name)

    def delete(self, name: str, actor: str | None, **audit: Any) -> None:
        with self.db.write() as conn:
            self._get(conn, name)
            conn.execute(delete(endpoints).where(endpoints.c.name == name))
            self.events.record(conn, "endpoint.deleted", "endpoint", name, actor, **audit)

    def record(self, name: str, kind: str, actor: str | None = None, **payload: Any) -> None:
        """An event about the endpoint that changes no row (an instance restarted)."""
        with self.db.write() as conn:
            self.events.record(conn, kind, "endpoint", name, actor, **payload)
