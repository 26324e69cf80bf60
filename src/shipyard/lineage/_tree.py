"""A lineage graph laid out as a tree from its root, for people: text, Rich and HTML faces
all draw the same :class:`Branch` tree.

Upstream branches list what made each node, downstream ones what it made. A node met a
second time on one side is shown again but not expanded (``repeated``), so a loop
(monitoring → retraining → a new version on the same endpoint) ends.
"""

from __future__ import annotations

from dataclasses import dataclass

from shipyard.humanize import count
from shipyard.lineage._graph import LineageGraph, Node, Side

#: The attributes a one-line summary shows, in this order.
_SHOWN = ("kind", "status", "trigger", "rows")


@dataclass(frozen=True)
class Branch:
    """``node``, reached from its parent in the tree by ``relation``."""

    node: Node
    relation: str
    children: tuple[Branch, ...] = ()
    repeated: bool = False


def summary(node: Node) -> str:
    """``"model:churn:3 · Approved"``: the id and its most telling attributes."""
    a = node.attributes
    parts = [node.id]
    if node.label not in (node.id, node.id.partition(":")[2]):
        parts.append(node.label)
    for key in _SHOWN:
        value = a.get(key)
        if value is None:
            continue
        parts.append(count(value, "row") if key == "rows" and isinstance(value, int)
                     else str(value))
    if a.get("missing"):
        parts.append("no longer exists")
    return " · ".join(parts)


def branches(graph: LineageGraph, side: Side) -> tuple[Branch, ...]:
    """The tree of ``side`` below the root (empty when the graph has none of that side)."""
    seen = {graph.root}

    def grow(node_id: str) -> tuple[Branch, ...]:
        edges = graph.parents(node_id) if side == "upstream" else graph.children(node_id)
        out = []
        for edge in edges:
            far = edge.source if side == "upstream" else edge.target
            node = graph.node(far) or Node.bare(far)
            if far in seen:
                out.append(Branch(node, edge.relation, repeated=True))
                continue
            seen.add(far)
            out.append(Branch(node, edge.relation, grow(far)))
        return tuple(out)

    return grow(graph.root)


def sides(graph: LineageGraph) -> tuple[Side, ...]:
    if graph.direction == "both":
        return ("upstream", "downstream")
    return (graph.direction,)


def line(branch: Branch) -> str:
    """One branch's text: ``"job:job-1a · training · Completed — registered_as"``."""
    return f"{summary(branch.node)} — {branch.relation}" + (" (see above)" if branch.repeated
                                                           else "")


def text_tree(graph: LineageGraph) -> str:
    """The graph as an indented text tree (what ``print(lineage)`` shows)."""
    root = graph.node(graph.root) or Node.bare(graph.root)
    lines = [summary(root)]

    def draw(items: tuple[Branch, ...], prefix: str) -> None:
        for i, b in enumerate(items):
            last = i == len(items) - 1
            lines.append(f"{prefix}{'└── ' if last else '├── '}{line(b)}")
            draw(b.children, prefix + ("    " if last else "│   "))

    shown = sides(graph)
    for i, side in enumerate(shown):
        last = i == len(shown) - 1
        items = branches(graph, side)
        lines.append(f"{'└── ' if last else '├── '}{side}" + ("" if items else ": nothing"))
        draw(items, "    " if last else "│   ")
    if graph.truncated:
        lines.append(f"(stopped at {len(graph.nodes)} nodes; ask for less depth or one side)")
    return "\n".join(lines)
