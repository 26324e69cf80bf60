"""Creating, revoking and checking tokens; the admin token of a home."""

from __future__ import annotations

import hashlib
import secrets
from pathlib import Path

from shipyard.credentials import read_credentials, write_credentials
from shipyard.errors import InvalidRequest
from shipyard.names import check_name
from shipyard.store import Database, EventLog, JobTokenRepository, TokenRecord, TokenRepository
from shipyard.tokens._cache import AuthCache
from shipyard.tokens._roles import JOB_ROLE, PERMISSIONS, ROLES, Principal


def new_secret() -> str:
    return "sy_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


def job_principal(job_id: str) -> Principal:
    """Who a job's own token acts as: ``job:<id>``, role ``job``, bound to that job."""
    return Principal(f"job:{job_id}", JOB_ROLE, job_id=job_id)


def issue_job_token(repo: JobTokenRepository, job_id: str, attempt: int) -> str:
    """A fresh token for one attempt of a job (only its hash is stored); return the secret.

    It works until the job leaves Starting/Running/Stopping (the job repository revokes
    it then) or the job's next attempt gets its own.
    """
    secret = "syj_" + secrets.token_urlsafe(32)
    repo.issue(job_id, attempt, hash_token(secret))
    return secret


class TokenService:
    def __init__(self, db: Database, events: EventLog) -> None:
        self.repo = TokenRepository(db, events)
        self.job_tokens = JobTokenRepository(db)
        self.cache = AuthCache()

    def create(self, name: str, role: str, actor: str | None) -> tuple[TokenRecord, str]:
        """Create a token; return its record and the secret (shown only this once)."""
        check_name(name, "token name")
        if role not in PERMISSIONS:
            raise InvalidRequest(f"Unknown role {role!r}; choose one of: {', '.join(ROLES)}.")
        secret = new_secret()
        return self.repo.create(name, role, hash_token(secret), actor), secret

    def revoke(self, name: str, actor: str | None) -> TokenRecord:
        """Revoke a token; from the next request on, this process refuses it.

        Raises:
            Conflict: it is the last active admin token.
        """
        rec = self.repo.revoke(name, actor)
        self.cache.forget(name)
        return rec

    def list(self) -> list[TokenRecord]:
        return self.repo.list()

    def cached(self, token: str) -> tuple[bool, Principal | None]:
        """(hit, principal) from the auth cache, without touching the store."""
        return self.cache.get(hash_token(token))

    def authenticate(self, token: str) -> Principal | None:
        """The principal of an active token (None: unknown or revoked).

        A user's token is cached (:class:`AuthCache`). A job token is looked up every
        time, so it stops working the moment its job leaves Running, whichever process
        moved it; a job makes few requests.
        """
        key = hash_token(token)
        generation = self.cache.generation
        rec = self.repo.find_active_by_hash(key)
        if rec is None and (job := self.job_tokens.find_active(key)) is not None:
            return job_principal(job.job_id)
        principal = Principal(rec.name, rec.role) if rec else None
        self.cache.put(key, principal, generation)
        return principal

    def bootstrap(self, credentials: Path, url: str | None) -> bool:
        """On a home's first start, create the admin token and write the credentials file.

        Returns True if a token was created. A home that already has tokens is left alone.
        """
        if self.repo.count() > 0:
            return False
        _, secret = self.create("admin", "admin", actor="bootstrap")
        write_credentials(credentials, secret, "admin", url)
        return True

    def reset_admin(self, credentials: Path, url: str | None, actor: str) -> TokenRecord:
        """Give the home a working admin token again and write it to the credentials file.

        The admin token the credentials file names (``admin`` when the file is gone) gets
        a new secret, so a copy of the lost one stops working; when that token is no
        longer an active admin, a new admin token is created. Other admin tokens are left
        as they are: whoever holds them keeps access, and revoking them stays a deliberate
        act.
        """
        creds = read_credentials(credentials) or {}
        secret = new_secret()
        # A lost file names nothing: the token it held is the one the first start made.
        rec = self.repo.reset_admin(creds.get("name") or "admin", hash_token(secret), actor)
        write_credentials(credentials, secret, rec.name, creds.get("url") or url)
        self.cache.forget(rec.name)
        return rec
