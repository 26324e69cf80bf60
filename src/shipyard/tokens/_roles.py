"""Roles, principals, and the one ownership rule every delete and change obeys."""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.errors import Forbidden

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
    """Who a request acts for: a token's name and its role.

    Resources record the name of the principal that created them (``created_by``), so
    ownership is by name; a future kind of principal (a job's own token, say) needs
    only a name and a role to obey the same rules.
    """

    name: str
    role: str

    def can(self, permission: str) -> bool:
        return permission in PERMISSIONS.get(self.role, frozenset())

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
