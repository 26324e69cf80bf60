"""Roles, principals, and the one ownership rule every delete and change obeys."""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.errors import Forbidden

#: What each role may do. ``read``: see everything; ``write``: create and change data,
#: jobs, models, endpoints; ``approve``: approve or reject model versions; ``admin``:
#: manage tokens and settings; ``label``: fetch and answer items of the labeling jobs a
#: token may work on (docs/labeling.md); ``studio``: sign in to the studio (every
#: user's role: what it sees there is what its other permissions allow). An annotator
#: holds ``label`` (and ``studio``) alone, so every route that needs ``read`` (datasets,
#: models, endpoints, jobs…) refuses it.
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset({"read", "write", "approve", "admin", "label", "studio"}),
    "data-scientist": frozenset({"read", "write", "studio"}),
    "approver": frozenset({"read", "approve", "studio"}),
    "viewer": frozenset({"read", "studio"}),
    "annotator": frozenset({"label", "studio"}),
}
ROLES = tuple(PERMISSIONS)
#: The role of a job's own token: no permission of its own; it may read only its own
#: job (:meth:`Principal.may_use_job`). Not a role a token can be created with.
JOB_ROLE = "job"


@dataclass(frozen=True)
class Principal:
    """Who a request acts for: a token's name and its role.

    Resources record the name of the principal that created them (``created_by``), so
    ownership is by name. A job's own token is a principal too: role ``job``, named
    ``job:<id>``, bound to its job by ``job_id``.
    """

    name: str
    role: str
    #: The job a job token is bound to (role ``job``); None for every other token.
    job_id: str | None = None

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, frozenset())

    @property
    def is_job(self) -> bool:
        return self.role == JOB_ROLE

    def may_use_job(self, job_id: str | None, permission: str) -> bool:
        """Whether a job token may do ``permission`` on job ``job_id``: read its own job."""
        return self.is_job and permission == "read" and job_id is not None \
            and job_id == self.job_id

    def may_change(self, owner: str | None) -> bool:
        """Whether this principal may change or delete what ``owner`` created."""
        return self.can("admin") or (owner is not None and owner == self.name)


def check_owner(principal: Principal, what: str, owner: str | None) -> None:
    """Refuse (403) unless ``principal`` created ``what`` or is an admin.

    Args:
        principal: who asks.
        what: the resource as a sentence starts it, e.g. ``"Dataset 'churn'"``.
        owner: the name recorded as its creator (None: unknown, so only an admin may).
    """
    if principal.may_change(owner):
        return
    made = f"was created by {owner!r}" if owner else "has no recorded creator"
    ask = f"ask {owner!r} or an admin" if owner else "ask an admin"
    raise Forbidden(
        f"{what} {made}, and token {principal.name!r} ({principal.role}) may change or "
        f"delete only what it created; {ask}.")


def check_force(principal: Principal, what: str) -> None:
    """Only an admin may delete something that is still in use (``force``)."""
    if not principal.can("admin"):
        raise Forbidden(
            f"{what} is in use, and only an admin may delete it anyway (force); token "
            f"{principal.name!r} has role {principal.role!r}.")
