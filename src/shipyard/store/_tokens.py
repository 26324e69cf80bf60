"""Token repository: only hashes of tokens are ever stored."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError as SAIntegrityError

from shipyard.errors import Conflict, NotFound
from shipyard.store._common import as_utc, utcnow
from shipyard.store._engine import Database
from shipyard.store._events import EventLog
from shipyard.store._schema import tokens


@dataclass(frozen=True)
class TokenRecord:
    id: int
    name: str
    role: str
    created_at: datetime
    created_by: str | None
    revoked_at: datetime | None

    @property
    def active(self) -> bool:
        return self.revoked_at is None


def _record(row: Any) -> TokenRecord:
    return TokenRecord(
        id=row.id,
        name=row.name,
        role=row.role,
        created_at=as_utc(row.created_at),
        created_by=row.created_by,
        revoked_at=as_utc(row.revoked_at),
    )


class TokenRepository:
    def __init__(self, db: Database, events: EventLog) -> None:
        self.db = db
        self.events = events

    def create(
        self, name: str, role: str, token_hash: str, created_by: str | None = None
    ) -> TokenRecord:
        values = dict(
            name=name, role=role, token_hash=token_hash, created_at=utcnow(), created_by=created_by
        )
        try:
            with self.db.write() as conn:
                conn.execute(insert(tokens).values(**values))
                self.events.record(conn, "token.created", "token", name, created_by, role=role)
        except SAIntegrityError as exc:
            raise Conflict(
                f"A token named {name!r} already exists; pick another name or revoke it first."
            ) from exc
        return self.get(name)

    def count(self) -> int:
        with self.db.read() as conn:
            return len(conn.execute(select(tokens.c.id)).all())

    def get(self, name: str) -> TokenRecord:
        with self.db.read() as conn:
            row = conn.execute(select(tokens).where(tokens.c.name == name)).first()
        if row is None:
            raise NotFound(f"No token named {name!r}; `shipyard tokens list` shows the names.")
        return _record(row)

    def find_active_by_hash(self, token_hash: str) -> TokenRecord | None:
        with self.db.read() as conn:
            row = conn.execute(
                select(tokens).where(
                    tokens.c.token_hash == token_hash, tokens.c.revoked_at.is_(None)
                )
            ).first()
        return _record(row) if row is not None else None

    def active_hash(self, name: str) -> tuple[TokenRecord, str] | None:
        """An active token and its stored hash (a browser session is bound to that hash)."""
        with self.db.read() as conn:
            row = conn.execute(select(tokens).where(
                tokens.c.name == name, tokens.c.revoked_at.is_(None))).first()
        return (_record(row), str(row.token_hash)) if row is not None else None

    def list(self) -> list[TokenRecord]:
        with self.db.read() as conn:
            rows = conn.execute(select(tokens).order_by(tokens.c.id)).all()
        return [_record(r) for r in rows]

    def revoke(self, name: str, actor: str | None = None) -> TokenRecord:
        """Revoke a token; the last active admin token is refused (409).

        The active admin rows are locked (PostgreSQL ``FOR UPDATE``; SQLite write
        transactions are serialised anyway), so two admins revoking each other at the
        same moment cannot leave the home with none.
        """
        with self.db.write() as conn:
            row = conn.execute(select(tokens).where(tokens.c.name == name)).first()
            if row is None:
                raise NotFound(f"No token named {name!r}; `shipyard tokens list` shows the names.")
            if row.role == "admin" and row.revoked_at is None:
                admins = conn.execute(
                    select(tokens.c.name)
                    .where(tokens.c.role == "admin", tokens.c.revoked_at.is_(None))
                    .with_for_update()
                ).all()
                if [a.name for a in admins] == [name]:
                    raise Conflict(
                        f"Token {name!r} is the last active admin token, and a home needs "
                        "one; create another admin token first (shipyard tokens create "
                        "--role admin), or replace its secret with `shipyard tokens "
                        "reset-admin`.")
            res = conn.execute(
                update(tokens)
                .where(tokens.c.name == name, tokens.c.revoked_at.is_(None))
                .values(revoked_at=utcnow())
            )
            if res.rowcount:
                self.events.record(conn, "token.revoked", "token", name, actor)
        return self.get(name)

    def reset_admin(self, name: str | None, token_hash: str, actor: str) -> TokenRecord:
        """Give admin token ``name`` a new secret, or create an admin token if it is gone.

        ``name`` is the token the credentials file names; when it is not an active admin
        token, a new one is created as ``admin`` (or ``admin-2``, ``admin-3``… when taken).
        """
        with self.db.write() as conn:
            row = None
            if name:
                row = conn.execute(select(tokens).where(
                    tokens.c.name == name, tokens.c.role == "admin",
                    tokens.c.revoked_at.is_(None))).first()
            if row is not None:
                conn.execute(update(tokens).where(tokens.c.id == row.id)
                             .values(token_hash=token_hash))
                self.events.record(conn, "token.reset", "token", row.name, actor, role="admin")
                return _record(conn.execute(select(tokens).where(tokens.c.id == row.id)).one())
            taken = {r.name for r in conn.execute(select(tokens.c.name)).all()}
            new = next(n for n in ("admin", *(f"admin-{i}" for i in range(2, 10_000)))
                       if n not in taken)
            conn.execute(insert(tokens).values(
                name=new, role="admin", token_hash=token_hash, created_at=utcnow(),
                created_by=actor))
            self.events.record(conn, "token.created", "token", new, actor, role="admin",
                               reset=True)
            return _record(conn.execute(select(tokens).where(tokens.c.name == new)).one())
