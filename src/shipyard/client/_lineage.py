"""Lineage in the SDK: ``sy.Lineage("endpoint:churn")``, ``ModelVersion.lineage()``.

The server walks the store; the SDK holds the graph it sent and draws it as a text tree
(``print``) or as HTML in Jupyter. (There is no ``sy.lineage()`` function: the name
``shipyard.lineage`` is the package that walks the store, and importing it would hide a
function of that name.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from shipyard.client import _render
from shipyard.client._client import Client, default_client

if TYPE_CHECKING:  # pragma: no cover
    from shipyard.lineage import Edge, LineageGraph, Node


class Lineage:
    """What made an object (upstream) and what it made (downstream), as the server walked it:
    ``sy.Lineage("endpoint:churn", direction="upstream")``.

    ``ref`` is a typed reference: ``dataset:NAME[:VERSION]``, ``job:JOB_ID`` (or a bare
    ``job-…`` id), ``model:GROUP[:VERSION]``, ``endpoint:NAME``, ``capture:ENDPOINT``,
    ``monitor:NAME``, ``monitor-execution:MONITOR:SEQ``. ``direction`` is ``upstream`` (what
    made it), ``downstream`` (what it made) or ``both``; ``depth`` the links away from it at
    most (the server's default: 10). ``nodes`` are typed references with their attributes;
    ``edges`` point the way things were made.

    Raises:
        InvalidRequest: a malformed reference, direction or depth.
        NotFound: the reference names nothing that exists.
    """

    def __init__(self, ref: str, direction: str = "both", depth: int | None = None, *,
                 client: Client | None = None, _doc: dict[str, Any] | None = None) -> None:
        from shipyard.lineage import LineageGraph

        if _doc is None:
            _doc = (client or default_client()).get("/lineage", ref=ref, direction=direction,
                                                    depth=depth)
        self.graph: LineageGraph = LineageGraph.from_dict(_doc)

    @property
    def root(self) -> str:
        """The node id the graph was walked from."""
        return self.graph.root

    @property
    def nodes(self) -> list[Node]:
        return list(self.graph.nodes)

    @property
    def edges(self) -> list[Edge]:
        return list(self.graph.edges)

    @property
    def truncated(self) -> bool:
        """The walk stopped at the server's node cap: more exists than is shown."""
        return self.graph.truncated

    def find(self, type_: str) -> list[Node]:
        """The nodes of one type: ``find("dataset")`` for the dataset versions."""
        return self.graph.of_type(type_)

    def to_dict(self) -> dict[str, Any]:
        """The graph as the API sends it: ``{root, direction, depth, nodes, edges, truncated}``."""
        return self.graph.to_dict()

    def __str__(self) -> str:
        from shipyard.lineage import text_tree

        return text_tree(self.graph)

    def __repr__(self) -> str:
        return (f"<Lineage of {self.root}: {len(self.graph.nodes)} nodes, "
                f"{len(self.graph.edges)} edges>")

    def _repr_html_(self) -> str:
        return _render.lineage_html(self.graph)

