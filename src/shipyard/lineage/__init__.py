"""Lineage: every object links to what made it and what it made.

``dataset version → job → model version → endpoint → capture → monitoring execution →
retraining job``, walked from any of them::

    service = LineageService(db, events, references)
    graph = service.graph("endpoint:churn", direction="upstream")
    graph.of_type("dataset")          # the dataset versions the served model came from

Nodes are typed references (``dataset:NAME:VERSION``, ``job:JOB_ID``,
``model:GROUP:VERSION``, ``endpoint:NAME``, ``capture:ENDPOINT``, ``monitor:NAME``,
``monitor-execution:MONITOR:SEQ``); edges point the way things were made, with a relation
(:data:`RELATIONS`). A walk goes ``upstream``, ``downstream`` or both from its root, at
most ``depth`` links away and :data:`MAX_NODES` nodes in all (``truncated`` says it
stopped). The links come from what the store records (``_builtin.py``).

Edge providers
--------------
Another package adds links without editing this one (pipelines: ``monitor-execution →
execution:ID → step jobs``)::

    from shipyard.lineage import EdgeProvider, Edge, Links, Node, Visit, register_provider

    def links(visit: Visit) -> Links:
        if visit.type == "monitor-execution" and visit.direction == "downstream":
            ...  # read your own tables through visit.db / visit.events
            return Links(edges=(Edge(visit.node, "execution:e-1", "triggered"),),
                         nodes=(Node("execution:e-1", "execution", "retrain #1",
                                     {"status": "Succeeded"}),))
        return Links()

    def describe(visit: Visit) -> Node | None:   # visit.direction is None here
        ...  # the node visit.node, or None when no such execution exists (404)

    register_provider(EdgeProvider("pipelines", links, node_types=("execution",),
                                   describe=describe))

The contract:

- ``register_provider(provider: EdgeProvider) -> None`` adds it to every walk in the
  process (a new provider of the same ``name`` replaces the old;
  ``unregister_provider(name)`` takes it out). A ``LineageService`` given its own
  :class:`ProviderRegistry` asks only that one.
- ``provider.links(visit: Visit) -> Links`` is called for every node the walk reaches
  (built-in types included), with ``visit.direction`` the side walked: ``"upstream"``
  wants edges whose ``target`` is ``visit.node`` (what made it), ``"downstream"`` edges
  whose ``source`` is ``visit.node`` (what it made). Edges that do not touch the node on
  that side are ignored. ``Links.nodes`` describes far ends of its own types; a far end of
  a built-in type is described by the built-in reader. Return ``Links()`` for a node it
  knows nothing about. A provider that raises a ``ShipyardError`` is logged and skipped.
- ``node_types`` lists the types the provider owns; a reference of such a type
  (``execution:ID``) is accepted as a root and resolved with
  ``provider.describe(visit) -> Node | None`` (``None``: 404).
"""

from typing import TYPE_CHECKING, Any

from shipyard.lineage._graph import (
    DEFAULT_DEPTH,
    DIRECTIONS,
    MAX_DEPTH,
    MAX_NODES,
    RELATIONS,
    Attribute,
    Direction,
    Edge,
    LineageGraph,
    Links,
    Node,
    Side,
)
from shipyard.lineage._providers import (
    PROVIDERS,
    EdgeProvider,
    ProviderRegistry,
    Visit,
    register_provider,
    unregister_provider,
)
from shipyard.lineage._refs import BUILTIN_TYPES, FORMS, Ref, parse_ref
from shipyard.lineage._tree import Branch, branches, line, sides, summary, text_tree

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.lineage._service import LineageService


def __getattr__(name: str) -> Any:
    # The service needs the store; the graph, its tree and the providers stay quick to import
    # (the SDK draws graphs the server sent).
    if name == "LineageService":
        from shipyard.lineage._service import LineageService

        return LineageService
    raise AttributeError(f"module 'shipyard.lineage' has no attribute {name!r}")


__all__ = [
    "BUILTIN_TYPES", "DEFAULT_DEPTH", "DIRECTIONS", "FORMS", "MAX_DEPTH", "MAX_NODES",
    "PROVIDERS", "RELATIONS", "Attribute", "Branch", "Direction", "Edge", "EdgeProvider",
    "LineageGraph", "LineageService", "Links", "Node", "ProviderRegistry", "Ref", "Side",
    "Visit", "branches", "line", "parse_ref", "register_provider", "sides", "summary",
    "text_tree", "unregister_provider",
]
