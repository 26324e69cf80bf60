"""The lineage walk: from one reference, what made it and what it made, within limits."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import cast

from shipyard.errors import InvalidRequest, NotFound, ShipyardError
from shipyard.lineage._builtin import Builtin
from shipyard.lineage._graph import (
    DEFAULT_DEPTH,
    DIRECTIONS,
    MAX_DEPTH,
    MAX_NODES,
    Direction,
    Edge,
    LineageGraph,
    Links,
    Node,
    Side,
)
from shipyard.lineage._providers import PROVIDERS, ProviderRegistry, Visit
from shipyard.lineage._refs import BUILTIN_TYPES, Ref, parse_ref
from shipyard.references import References
from shipyard.store import Database, EventLog

log = logging.getLogger("shipyard.lineage")


def _full_id(node_id: str) -> bool:
    """Whether a built-in node id names one object (every version given)."""
    try:
        ref = parse_ref(node_id)
    except InvalidRequest:
        return False
    needs_version = ref.type in ("dataset", "model", "monitor-execution")
    return ref.id == node_id and (ref.version is not None or not needs_version)


class _Walk:
    """The graph being built: nodes in the order met, edges once each, the node cap."""

    def __init__(self, max_nodes: int) -> None:
        self.nodes: dict[str, Node] = {}
        self.edges: dict[Edge, None] = {}
        self.max_nodes = max_nodes
        self.truncated = False

    def has_room(self) -> bool:
        return len(self.nodes) < self.max_nodes


class LineageService:
    """Walk the store from a reference (see :mod:`shipyard.lineage`)."""

    def __init__(self, db: Database, events: EventLog, references: References,
                 providers: ProviderRegistry | None = None) -> None:
        self.db = db
        self.events = events
        self.builtin = Builtin(db, events, references)
        self.providers = providers if providers is not None else PROVIDERS

    def graph(self, ref: str, direction: str = "both", depth: int = DEFAULT_DEPTH,
              max_nodes: int = MAX_NODES) -> LineageGraph:
        """The lineage of ``ref``: upstream (what made it), downstream (what it made) or both.

        Args:
            ref: a typed reference (``endpoint:churn``, ``dataset:churn:3``…; see
                :data:`shipyard.lineage.FORMS`) or a shorthand (``dataset:churn`` for its
                latest version, a bare ``job-…`` id).
            direction: ``upstream``, ``downstream`` or ``both``.
            depth: links away from the root, 1 to :data:`MAX_DEPTH`.
            max_nodes: the walk stops once the graph holds this many nodes (``truncated``).

        Raises:
            InvalidRequest: a malformed reference, direction or depth (400).
            NotFound: the reference names nothing that exists (404).
        """
        if direction not in DIRECTIONS:
            raise InvalidRequest(f"direction must be one of {', '.join(DIRECTIONS)}; "
                                 f"got {direction!r}.")
        if not 1 <= depth <= MAX_DEPTH:
            raise InvalidRequest(f"depth must be between 1 and {MAX_DEPTH}; got {depth}.")
        root = self.resolve(ref)
        walk = _Walk(max(1, max_nodes))
        walk.nodes[root.id] = root
        sides: tuple[Side, ...] = (("upstream", "downstream") if direction == "both"
                                   else ("upstream",) if direction == "upstream"
                                   else ("downstream",))
        for side in sides:
            self._walk(walk, root.id, side, depth)
        return LineageGraph(root=root.id, direction=cast(Direction, direction), depth=depth,
                            nodes=tuple(walk.nodes.values()), edges=tuple(walk.edges),
                            truncated=walk.truncated)

    def resolve(self, ref: str) -> Node:
        """The root node ``ref`` names.

        Raises:
            InvalidRequest: not an accepted form. NotFound: no such object.
        """
        owned = tuple(t for p in self.providers.all() for t in p.node_types)
        parsed = parse_ref(ref, owned)
        if parsed.type in BUILTIN_TYPES:
            return self.builtin.describe(self.builtin.resolve(parsed), strict=True)
        return self._provider_node(parsed)

    def _provider_node(self, ref: Ref) -> Node:
        provider = self.providers.owner(ref.type)
        node = None
        if provider is not None and provider.describe is not None:
            node = provider.describe(Visit(ref.id, None, self.db, self.events))
        if node is None:
            raise NotFound(f"No {ref.type} {ref.name!r}; check the reference {ref.id!r}.")
        return node

    # -- the walk --------------------------------------------------------------------------
    def _walk(self, walk: _Walk, root: str, side: Side, depth: int) -> None:
        frontier, seen = [root], {root}
        for _ in range(depth):
            following: list[str] = []
            for node_id in frontier:
                for edge, far, node in self._links(node_id, side):
                    if far not in walk.nodes:
                        if not walk.has_room():
                            walk.truncated = True
                            return
                        walk.nodes[far] = node or self._describe(far)
                    walk.edges[edge] = None
                    if far not in seen:
                        seen.add(far)
                        following.append(far)
            if not following:
                return
            frontier = following

    def _links(self, node_id: str, side: Side) -> Iterator[tuple[Edge, str, Node | None]]:
        """Each edge on ``side`` of ``node_id``, the id of its far end, and that node when
        the provider described it."""
        found: list[Links] = []
        if node_id.partition(":")[0] in BUILTIN_TYPES and _full_id(node_id):
            found.append(self.builtin.links(node_id, side))
        for provider in self.providers.all():
            try:
                found.append(provider.links(Visit(node_id, side, self.db, self.events)))
            except ShipyardError as exc:  # one provider's trouble does not sink the walk
                log.warning("lineage provider %r failed on %s: %s", provider.name, node_id,
                            exc.message)
        described = {n.id: n for links in found for n in links.nodes}
        for links in found:
            for edge in links.edges:
                touches = edge.target == node_id if side == "upstream" else \
                    edge.source == node_id
                far = edge.source if side == "upstream" else edge.target
                if touches and far != node_id:
                    yield edge, far, described.get(far)

    def _describe(self, node_id: str) -> Node:
        type_ = node_id.partition(":")[0]
        if type_ in BUILTIN_TYPES:
            return self.builtin.describe(node_id) if _full_id(node_id) else Node.bare(node_id)
        provider = self.providers.owner(type_)
        if provider is not None and provider.describe is not None:
            try:
                node = provider.describe(Visit(node_id, None, self.db, self.events))
            except ShipyardError:
                node = None
            if node is not None:
                return node
        return Node.bare(node_id)
