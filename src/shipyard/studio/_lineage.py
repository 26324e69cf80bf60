"""An object's lineage for a studio page: the tree ``shipyard lineage`` prints (the same
:func:`shipyard.lineage.branches`), with each node linked to its studio page.

Read through ``svc.lineage`` exactly as ``GET /api/v1/lineage`` reads it.
"""

from __future__ import annotations

from dataclasses import dataclass
from urllib.parse import quote

from shipyard.api._context import Services
from shipyard.errors import ShipyardError
from shipyard.lineage import DEFAULT_DEPTH, Branch, Node, branches, sides, summary
from shipyard.studio._security import PREFIX


@dataclass(frozen=True)
class LineageView:
    root: Node
    #: ``(side, branches)``: "upstream" (what made it), "downstream" (what it made).
    sides: tuple[tuple[str, tuple[Branch, ...]], ...]
    truncated: bool
    error: str = ""


def lineage_view(svc: Services, ref: str, depth: int = DEFAULT_DEPTH) -> LineageView:
    """The lineage of ``ref`` both ways; a refusal of the service becomes ``error``."""
    try:
        graph = svc.lineage.graph(ref, "both", depth)
    except ShipyardError as exc:
        return LineageView(Node.bare(ref), (), False, exc.message)
    root = graph.node(graph.root) or Node.bare(graph.root)
    return LineageView(root, tuple((s, branches(graph, s)) for s in sides(graph)),
                       graph.truncated)


def node_link(node: Node) -> str:
    """The studio page of a node, or "" where the studio has none (a capture, a monitor
    execution)."""
    kind, _, rest = node.id.partition(":")
    if node.attributes.get("missing") or not rest:
        return ""
    if kind == "dataset":
        name, _, version = rest.rpartition(":")
        return f"{PREFIX}/datasets/{quote(name, safe='')}?version={quote(version, safe='')}"
    if kind == "model":
        group, _, version = rest.rpartition(":")
        return f"{PREFIX}/models/{quote(group, safe='')}/{quote(version, safe='')}"
    if kind == "job":
        return f"{PREFIX}/jobs/{quote(rest, safe='')}"
    if kind == "endpoint":
        return f"{PREFIX}/endpoints/{quote(rest, safe='')}"
    if kind == "monitor":
        return f"{PREFIX}/monitors/{quote(rest, safe='')}"
    if kind == "execution":
        return f"{PREFIX}/pipeline-executions/{quote(rest, safe='')}"
    return ""


__all__ = ["LineageView", "lineage_view", "node_link", "summary"]
