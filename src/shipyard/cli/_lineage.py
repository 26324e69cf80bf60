"""``shipyard lineage REF``: what made an object and what it made, as a tree."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.text import Text
from rich.tree import Tree

from shipyard.cli._common import JsonOpt, client, fail, out, print_json
from shipyard.client import Lineage

#: The text of the REF argument's help (the forms the server accepts).
_REF_HELP = ("dataset:NAME[:VERSION], job:JOB_ID (or a bare job-… id), model:GROUP[:VERSION], "
             "endpoint:NAME, capture:ENDPOINT, monitor:NAME or monitor-execution:MONITOR:SEQ.")


def _tree(found: Lineage) -> Tree:
    from shipyard.lineage import Branch, Node, branches, line, sides, summary

    graph = found.graph
    root = graph.node(graph.root) or Node.bare(graph.root)
    tree = Tree(Text(summary(root), style="bold"))

    def grow(parent: Tree, items: tuple[Branch, ...]) -> None:
        for b in items:
            grow(parent.add(Text(line(b), style="dim" if b.repeated else "")), b.children)

    for side in sides(graph):
        items = branches(graph, side)
        grow(tree.add(Text(side if items else f"{side}: nothing", style="bold")), items)
    return tree


def lineage(
    ref: Annotated[str, typer.Argument(metavar="REF", help=_REF_HELP)],
    upstream: Annotated[bool, typer.Option(
        "--upstream", help="Only what made it (its job, model, dataset versions…).")] = False,
    downstream: Annotated[bool, typer.Option(
        "--downstream", help="Only what it made (jobs, models, endpoints, monitors…).")
    ] = False,
    depth: Annotated[int | None, typer.Option(
        "--depth", metavar="N", help="Links away from REF, 1 to 50 [default: 10].")] = None,
    json_out: JsonOpt = False,
) -> None:
    """What made REF and what it made: dataset version → job → model → endpoint → monitor."""
    if upstream and downstream:
        fail("Give --upstream or --downstream, not both; without either, both are shown.")
    direction = "upstream" if upstream else "downstream" if downstream else "both"
    found = Lineage(ref, direction, depth, client=client())
    if json_out:
        print_json(found.to_dict())
        return
    out.print(_tree(found))
    if found.truncated:
        out.print(f"Stopped at {len(found.nodes)} nodes: more exists. Ask for less --depth, or "
                  "--upstream or --downstream alone.")
