"""Idempotency keys: the same key and body give the same resource; another body gets 409."""

from __future__ import annotations

from sqlalchemy import Connection, insert, select

from shipyard.errors import Conflict
from shipyard.store._common import utcnow
from shipyard.store._schema import idempotency_keys


def claim(conn: Connection, scope: str, key: str, request_hash: str, resource_id: str) -> None:
    """Record ``key`` for a resource being created in ``conn``'s transaction.

    A concurrent claim of the same key makes the insert fail with a unique-key error,
    which rolls back the whole create; the caller then calls :func:`lookup`.
    """
    conn.execute(
        insert(idempotency_keys).values(
            scope=scope,
            key=key,
            request_hash=request_hash,
            resource_id=resource_id,
            created_at=utcnow(),
        )
    )


def lookup(conn: Connection, scope: str, key: str, request_hash: str) -> str | None:
    """Return the resource id a key already made, or ``None``; 409 if the body differs."""
    row = conn.execute(
        select(idempotency_keys).where(
            idempotency_keys.c.scope == scope, idempotency_keys.c.key == key
        )
    ).first()
    if row is None:
        return None
    if row.request_hash != request_hash:
        raise Conflict(
            f"Idempotency-Key {key!r} was already used with a different request body; "
            "use a new key for a new request."
        )
    return str(row.resource_id)
