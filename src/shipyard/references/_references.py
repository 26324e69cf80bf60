"""What still uses a resource, and the one rule for deleting something in use.

Each kind of resource that others can depend on (a *target*: a dataset, a model
group, an endpoint) has finders, registered here by whoever knows a kind of
*referrer* (a model version's lineage, a monitor's baseline, a job that has not
finished, a schedule's job spec…). A delete asks :meth:`References.check_delete`:
in use → 409 naming every referrer, unless an admin forces it, in which case the
referrers go into the delete's audit event. A new kind of referrer (pipelines)
plugs in with one :meth:`References.register` call; no delete path changes.
"""

from __future__ import annotations

from collections.abc import Callable, Collection
from dataclasses import dataclass
from typing import Any

from shipyard.errors import Conflict
from shipyard.tokens import Principal, check_force

#: The kinds of resource a delete checks for referrers.
TARGETS = ("dataset", "model_group", "endpoint")
#: How many referrers the 409 sentence names before "and N more" (all are in its details).
NAMED = 5


@dataclass(frozen=True)
class Referrer:
    """One thing that uses a target: ``kind`` and ``name`` find it, ``how`` says why."""

    kind: str
    name: str
    how: str

    def text(self) -> str:
        return f"{self.kind} {self.name!r} ({self.how})"

    def to_dict(self) -> dict[str, str]:
        return {"kind": self.kind, "name": self.name, "how": self.how}


#: A finder: the target's name → what uses it.
Finder = Callable[[str], list[Referrer]]


class References:
    """The registry of finders per target kind (see the module docstring)."""

    def __init__(self) -> None:
        self._finders: dict[str, list[tuple[str, Finder]]] = {t: [] for t in TARGETS}

    def register(self, target: str, referrer: str, finder: Finder) -> None:
        """Add a finder of ``referrer`` things that use a ``target`` (one of TARGETS)."""
        if target not in self._finders:
            raise ValueError(f"unknown reference target {target!r}; one of {TARGETS}")
        self._finders[target].append((referrer, finder))

    def kinds(self, target: str) -> list[str]:
        """The referrer kinds registered for ``target`` (for docs and the completeness test)."""
        return [kind for kind, _ in self._finders[target]]

    def of(self, target: str, name: str,
           kinds: Collection[str] | None = None) -> list[Referrer]:
        """Everything that uses ``target`` ``name`` now, in registration order; with
        ``kinds``, only referrers of those kinds are looked for (lineage asks for one)."""
        found: list[Referrer] = []
        for kind, finder in self._finders[target]:
            if kinds is None or kind in kinds:
                found.extend(finder(name))
        return found

    def check_delete(self, target: str, what: str, name: str, principal: Principal,
                     force: bool = False) -> dict[str, Any]:
        """Allow deleting ``name`` or refuse it; return what the delete event records.

        Args:
            target: its kind (one of TARGETS).
            what: how a sentence names it, e.g. ``"Dataset 'churn'"``.
            name: its name.
            principal: who deletes it.
            force: delete even though it is in use (admin only; audited).

        Returns:
            ``{}`` when nothing uses it, else ``{"forced": True, "referrers": [...]}``
            for the delete's event, so the audit log says what was left dangling.

        Raises:
            Conflict: it is in use and ``force`` was not given (409, naming the referrers).
            Forbidden: ``force`` from a principal that is not an admin.
        """
        referrers = self.of(target, name)
        if not referrers:
            return {}
        if not force:
            named = ", ".join(r.text() for r in referrers[:NAMED])
            more = f" and {len(referrers) - NAMED} more" if len(referrers) > NAMED else ""
            raise Conflict(
                f"{what} is still used by {named}{more}; delete or change those first, or "
                "an admin may delete it anyway with --force (?force=true).",
                referrers=[r.to_dict() for r in referrers])
        check_force(principal, what)
        return {"forced": True, "referrers": [r.to_dict() for r in referrers]}
