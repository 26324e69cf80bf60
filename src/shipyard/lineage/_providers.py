"""Edge providers: links the built-in walk does not know, plugged in by other packages.

A provider is asked about every node the walk reaches (one :class:`Visit`: the node's
id, the side being walked, the store) and answers :class:`~shipyard.lineage.Links`.
One that owns node types of its own (pipelines: ``execution``) also describes them,
so a reference such as ``execution:ID`` can be the root of a graph.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from shipyard.lineage._graph import Links, Node, Side

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.store import Database, EventLog


@dataclass(frozen=True)
class Visit:
    """What a provider is asked about: one node, on one side.

    ``direction`` is ``"upstream"`` (answer edges whose ``target`` is ``node``: what made
    it) or ``"downstream"`` (edges whose ``source`` is ``node``: what it made); it is
    ``None`` when the provider is asked to describe ``node`` itself. ``db`` and ``events``
    are the server's store, for the provider's own repositories.
    """

    node: str
    direction: Side | None
    db: Database
    events: EventLog

    @property
    def type(self) -> str:
        return self.node.partition(":")[0]

    @property
    def key(self) -> str:
        """The id without its type: ``"churn:3"`` of ``"model:churn:3"``."""
        return self.node.partition(":")[2]


@dataclass(frozen=True)
class EdgeProvider:
    """A named source of extra links (see the package docstring for the contract).

    Args:
        name: unique among providers (registering the name again replaces it).
        links: ``Visit → Links``; called for every node the walk reaches, on the side
            walked. Edges that do not touch ``visit.node`` on that side are ignored.
            Return ``Links()`` for nodes it knows nothing about.
        node_types: the node types this provider owns (``("execution",)``); a reference
            of such a type is described by ``describe``.
        describe: ``Visit → Node | None`` (``visit.direction`` is None): the node, or None
            when no such object exists (a 404 for a root).
    """

    name: str
    links: Callable[[Visit], Links]
    node_types: tuple[str, ...] = ()
    describe: Callable[[Visit], Node | None] | None = None


class ProviderRegistry:
    """The providers a :class:`~shipyard.lineage.LineageService` asks, in registration order."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._providers: dict[str, EdgeProvider] = {}

    def register(self, provider: EdgeProvider) -> None:
        """Add ``provider`` (replacing one of the same name)."""
        with self._lock:
            self._providers[provider.name] = provider

    def unregister(self, name: str) -> None:
        """Forget the provider named ``name`` (nothing if there is none)."""
        with self._lock:
            self._providers.pop(name, None)

    def all(self) -> list[EdgeProvider]:
        with self._lock:
            return list(self._providers.values())

    def owner(self, type_: str) -> EdgeProvider | None:
        """The provider that owns node type ``type_``, if any."""
        return next((p for p in self.all() if type_ in p.node_types), None)


#: The process's registry: what :func:`register_provider` adds to, and what a
#: ``LineageService`` built without its own registry asks.
PROVIDERS = ProviderRegistry()


def register_provider(provider: EdgeProvider) -> None:
    """Plug ``provider`` into every lineage walk of this process (see :class:`EdgeProvider`)."""
    PROVIDERS.register(provider)


def unregister_provider(name: str) -> None:
    """Take the provider named ``name`` out of this process's lineage walks."""
    PROVIDERS.unregister(name)
