"""Bearer tokens and roles.

Tokens are random (256 bits), shown once, and stored only as SHA-256 hashes
(a fast hash is right for secrets of this entropy). The first start of a home
creates an admin token and writes it to ``$SHIPYARD_HOME/credentials`` (0600).
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass
from pathlib import Path

from shipyard.credentials import read_credentials, write_credentials
from shipyard.errors import InvalidRequest
from shipyard.names import check_name
from shipyard.store import Database, EventLog, TokenRecord, TokenRepository

__all__ = [
    "PERMISSIONS", "ROLES", "Principal", "TokenService", "hash_token", "new_secret",
    "read_credentials", "write_credentials",
]

#: What each role may do. ``read``: see everything; ``write``: create and change data,
#: jobs, models, endpoints; ``approve``: approve or reject model versions; ``admin``:
#: manage tokens and settings.
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"read", "write", "approve", "admin"}),
    "data-scientist": frozenset({"read", "write"}),
    "approver": frozenset({"read", "approve"}),
    "viewer": frozenset({"read"}),
}
ROLES = tuple(PERMISSIONS)


@dataclass(frozen=True)
class Principal:
    name: str
    role: str

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, frozenset())


def new_secret() -> str:
    return "sy_" + secrets.token_urlsafe(32)


def hash_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class TokenService:
    def __init__(self, db: Database, events: EventLog) -> None:
        self.repo = TokenRepository(db, events)

    def create(self, name: str, role: str, actor: str | None) -> tuple[TokenRecord, str]:
        """Create a token; return its record and the secret (shown only this once)."""
        check_name(name, "token name")
        if role not in PERMISSIONS:
            raise InvalidRequest(f"Unknown role {role!r}; choose one of: {', '.join(ROLES)}.")
        secret = new_secret()
        return self.repo.create(name, role, hash_token(secret), actor), secret

    def revoke(self, name: str, actor: str | None) -> TokenRecord:
        return self.repo.revoke(name, actor)

    def list(self) -> list[TokenRecord]:
        return self.repo.list()

    def authenticate(self, token: str) -> Principal | None:
        rec = self.repo.find_active_by_hash(hash_token(token))
        return Principal(rec.name, rec.role) if rec else None

    def bootstrap(self, credentials: Path, url: str | None) -> bool:
        """On a home's first start, create the admin token and write the credentials file.

        Returns True if a token was created. A home that already has tokens is left alone.
        """
        if self.repo.count() > 0:
            return False
        _, secret = self.create("admin", "admin", actor="bootstrap")
        write_credentials(credentials, secret, "admin", url)
        return True
