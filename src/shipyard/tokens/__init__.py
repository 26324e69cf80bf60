"""Bearer tokens and roles.

Tokens are random (256 bits), shown once, and stored only as SHA-256 hashes
(a fast hash is right for secrets of this entropy). The first start of a home
creates an admin token and writes it to ``$SHIPYARD_HOME/credentials`` (0600);
``shipyard tokens reset-admin`` writes a new one there when it is lost. The last
active admin token cannot be revoked.

Ownership: a data-scientist may change or delete only what it created (the
``created_by`` of a resource is the creating token's name); an admin may do
anything (:func:`check_owner`).

Job tokens: each attempt of a job gets its own random token (``SHIPYARD_TOKEN`` in
the job's environment, hash stored in ``job_tokens``). Its principal has role
``job`` and may only read its own job (``GET /jobs/{its id}`` and its logs, metrics
and artifacts); every other route answers 403. It stops working when the attempt
ends. A job never sees a user's or the admin token.
"""

from shipyard.credentials import read_credentials, write_credentials
from shipyard.tokens._cache import CACHE_SECONDS, AuthCache
from shipyard.tokens._reset import reset_admin
from shipyard.tokens._roles import (
    JOB_ROLE,
    PERMISSIONS,
    ROLES,
    Principal,
    check_force,
    check_owner,
)
from shipyard.tokens._service import (
    TokenService,
    hash_token,
    issue_job_token,
    job_principal,
    new_secret,
)

__all__ = [
    "CACHE_SECONDS", "JOB_ROLE", "PERMISSIONS", "ROLES", "AuthCache", "Principal", "TokenService",
    "check_force", "check_owner", "hash_token", "issue_job_token", "job_principal",
    "new_secret", "read_credentials", "reset_admin", "write_credentials",
]
