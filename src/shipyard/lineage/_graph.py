"""The lineage graph as a frozen result: typed nodes, directed edges, and its JSON form.

An edge always points the way things were made (``dataset → job → model``), whichever
direction the graph was walked in; ``relation`` says how ``source`` led to ``target``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

#: A scalar node attribute (a status, a time as ISO text, a row count, a flag).
Attribute = str | int | float | bool | None
#: One side of a node: what made it, or what it made.
Side = Literal["upstream", "downstream"]
#: What a graph holds: one side of its root, or both.
Direction = Literal["upstream", "downstream", "both"]
DIRECTIONS: tuple[Direction, ...] = ("upstream", "downstream", "both")
#: How many links away from the root a walk goes, by default and at most.
DEFAULT_DEPTH = 10
MAX_DEPTH = 50
#: Nodes in one graph, at most: a walk that reaches this many stops (``truncated``).
MAX_NODES = 500

#: The relations the built-in links use, each read as "SOURCE <relation> TARGET".
RELATIONS: dict[str, str] = {
    "input_of": "a dataset version (or model version) was an input of a job, or the "
                "captured traffic was read by a monitoring execution",
    "produced": "a job or a monitoring execution wrote a dataset version",
    "registered_as": "a job's model was registered as a model version",
    "serves": "a model version serves behind an endpoint (one of its variants)",
    "captured": "an endpoint captured its traffic",
    "monitored_by": "an endpoint is watched by a monitor",
    "baseline_of": "a dataset version is a monitor's baseline",
    "checked": "a monitor checked once: one monitoring execution",
    "submitted": "a monitoring execution ran as a monitoring job",
    "triggered": "a monitoring execution's alerts started a retraining job, or an event "
                 "(an alert, an approval, a dataset version) started a pipeline execution",
    "ran": "a pipeline execution ran one of its steps as a job",
    "deployed": "a pipeline execution's deploy step put a model version behind an endpoint",
}


def node_type(node_id: str) -> str:
    """``"model"`` of ``"model:churn:3"`` (the text before the first colon)."""
    return node_id.partition(":")[0]


@dataclass(frozen=True)
class Node:
    """One object in the graph: ``id`` is its typed reference (``model:churn:3``)."""

    id: str
    type: str
    label: str
    attributes: Mapping[str, Attribute] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"id": self.id, "type": self.type, "label": self.label,
                "attributes": dict(self.attributes)}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Node:
        return cls(str(doc["id"]), str(doc["type"]), str(doc.get("label") or doc["id"]),
                   dict(doc.get("attributes") or {}))

    @classmethod
    def bare(cls, node_id: str) -> Node:
        """A node nothing describes (its type is known only by its id's prefix)."""
        return cls(node_id, node_type(node_id), node_id)


@dataclass(frozen=True)
class Edge:
    """``source`` led to ``target`` by ``relation`` (see :data:`RELATIONS`)."""

    source: str
    target: str
    relation: str

    def to_dict(self) -> dict[str, str]:
        return {"from": self.source, "to": self.target, "relation": self.relation}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> Edge:
        return cls(str(doc["from"]), str(doc["to"]), str(doc["relation"]))


@dataclass(frozen=True)
class Links:
    """What one look at a node found: edges that touch it, and nodes that describe their
    far ends (a far end left out is described by whoever knows its type, else bare)."""

    edges: tuple[Edge, ...] = ()
    nodes: tuple[Node, ...] = ()


@dataclass(frozen=True)
class LineageGraph:
    """The objects that made ``root`` (upstream) and that it made (downstream).

    ``nodes`` starts with the root, then in the order the walk met them; ``truncated``
    says the walk stopped at its node cap, so more exists than is shown.
    """

    root: str
    direction: Direction
    depth: int
    nodes: tuple[Node, ...]
    edges: tuple[Edge, ...]
    truncated: bool = False

    def node(self, node_id: str) -> Node | None:
        return next((n for n in self.nodes if n.id == node_id), None)

    def of_type(self, type_: str) -> list[Node]:
        """The nodes of one type (``"dataset"``, ``"job"``…), in walk order."""
        return [n for n in self.nodes if n.type == type_]

    def parents(self, node_id: str) -> list[Edge]:
        """The edges into ``node_id`` (what made it)."""
        return [e for e in self.edges if e.target == node_id]

    def children(self, node_id: str) -> list[Edge]:
        """The edges out of ``node_id`` (what it made)."""
        return [e for e in self.edges if e.source == node_id]

    def to_dict(self) -> dict[str, Any]:
        return {"root": self.root, "direction": self.direction, "depth": self.depth,
                "nodes": [n.to_dict() for n in self.nodes],
                "edges": [e.to_dict() for e in self.edges], "truncated": self.truncated}

    @classmethod
    def from_dict(cls, doc: Mapping[str, Any]) -> LineageGraph:
        """The graph the API sent (``GET /api/v1/lineage``)."""
        direction = doc.get("direction")
        return cls(root=str(doc["root"]),
                   direction=direction if direction in DIRECTIONS else "both",
                   depth=int(doc.get("depth") or 0),
                   nodes=tuple(Node.from_dict(n) for n in doc.get("nodes") or []),
                   edges=tuple(Edge.from_dict(e) for e in doc.get("edges") or []),
                   truncated=bool(doc.get("truncated")))
