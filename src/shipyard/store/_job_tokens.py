"""Job tokens: the scoped token of one job attempt, stored only as its hash.

A job token belongs to the jobs domain: it is issued when an attempt launches, and
:meth:`~shipyard.store.JobRepository.transition` revokes it in the same transaction
that moves the job out of Starting/Running/Stopping (to Pending for a retry, or to a
terminal status), so no token outlives its attempt, whichever actor ended it (the
supervisor, a cancel, the reaping of a restart).
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Connection, insert, select, update

from shipyard.store._common import utcnow
from shipyard.store._engine import Database
from shipyard.store._schema import job_tokens

#: The job statuses in which a job's token is valid (the token is issued while Starting).
LIVE_STATUSES = frozenset({"Starting", "Running", "Stopping"})


@dataclass(frozen=True)
class JobTokenRecord:
    job_id: str
    attempt: int


def revoke_job_tokens(conn: Connection, job_id: str) -> None:
    """Revoke every active token of ``job_id`` (inside the caller's transaction)."""
    conn.execute(update(job_tokens).where(job_tokens.c.job_id == job_id,
                                          job_tokens.c.revoked_at.is_(None))
                 .values(revoked_at=utcnow()))


class JobTokenRepository:
    def __init__(self, db: Database) -> None:
        self.db = db

    def issue(self, job_id: str, attempt: int, token_hash: str) -> None:
        """Record the token of ``job_id``'s ``attempt``; earlier ones stop working."""
        with self.db.write() as conn:
            revoke_job_tokens(conn, job_id)
            conn.execute(insert(job_tokens).values(job_id=job_id, attempt=attempt,
                                                   token_hash=token_hash, created_at=utcnow()))

    def revoke(self, job_id: str) -> None:
        with self.db.write() as conn:
            revoke_job_tokens(conn, job_id)

    def find_active(self, token_hash: str) -> JobTokenRecord | None:
        with self.db.read() as conn:
            row = conn.execute(select(job_tokens.c.job_id, job_tokens.c.attempt).where(
                job_tokens.c.token_hash == token_hash,
                job_tokens.c.revoked_at.is_(None))).first()
        return JobTokenRecord(row.job_id, row.attempt) if row else None
