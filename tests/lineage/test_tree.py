"""The graph's faces: its JSON round trip, the text tree, and the SDK's HTML (escaped)."""

from __future__ import annotations

from typing import Any

from shipyard.client import Lineage
from shipyard.lineage import Edge, LineageGraph, Node, branches, text_tree

HOSTILE = "<script>alert(1)</script>"


def _graph(**kw: Any) -> LineageGraph:
    nodes = (Node("endpoint:ep", "endpoint", "ep", {"status": "InService"}),
             Node("model:m:1", "model", "m:1", {"status": HOSTILE}),
             Node("execution:e1", "execution", f"retrain {HOSTILE}", {}),
             Node("job:job-1", "job", "job-1", {"kind": "training", "missing": True}))
    edges = (Edge("model:m:1", "endpoint:ep", "serves"),
             Edge("job:job-1", "model:m:1", "registered_as"),
             Edge("endpoint:ep", "execution:e1", "triggered"),
             Edge("execution:e1", "job:job-1", "ran"))  # a loop back to the model's job
    return LineageGraph(root="endpoint:ep", direction=kw.get("direction", "both"), depth=10,
                        nodes=nodes, edges=edges, truncated=kw.get("truncated", False))


def test_the_json_form_round_trips() -> None:
    graph = _graph(truncated=True)
    doc = graph.to_dict()
    assert doc["edges"][0] == {"from": "model:m:1", "to": "endpoint:ep", "relation": "serves"}
    assert LineageGraph.from_dict(doc) == graph


def test_the_text_tree_shows_each_side_and_ends_a_loop_at_a_node_met_again() -> None:
    text = text_tree(_graph(truncated=True))
    assert text.splitlines() == [
        "endpoint:ep · InService",
        "├── upstream",
        f"│   └── model:m:1 · {HOSTILE} — serves",
        "│       └── job:job-1 · training · no longer exists — registered_as",
        f"│           └── execution:e1 · retrain {HOSTILE} — ran",
        "│               └── endpoint:ep · InService — triggered (see above)",
        "└── downstream",
        f"    └── execution:e1 · retrain {HOSTILE} — triggered",
        "        └── job:job-1 · training · no longer exists — ran",
        f"            └── model:m:1 · {HOSTILE} — registered_as",
        "                └── endpoint:ep · InService — serves (see above)",
        "(stopped at 4 nodes; ask for less depth or one side)",
    ]
    (model,) = branches(_graph(), "upstream")
    assert not model.repeated and model.children[0].children[0].children[0].repeated
    one = text_tree(_graph(direction="upstream")).splitlines()
    assert one[1] == "└── upstream" and not any("downstream" in line for line in one)
    alone = LineageGraph("job:job-1", "upstream", 3, (Node.bare("job:job-1"),), ())
    assert text_tree(alone) == "job:job-1\n└── upstream: nothing"


def test_the_sdk_draws_html_with_everything_escaped() -> None:
    lineage = Lineage("endpoint:ep", _doc=_graph(truncated=True).to_dict())
    html = lineage._repr_html_()
    assert "<script>" not in html and "&lt;script&gt;alert(1)&lt;/script&gt;" in html
    assert html.count("<li>") == 8 and "stopped at 4 nodes" in html
    assert [n.id for n in lineage.find("job")] == ["job:job-1"]
    assert lineage.truncated and lineage.root == "endpoint:ep"
    assert str(lineage) == text_tree(lineage.graph)
    assert repr(lineage) == "<Lineage of endpoint:ep: 4 nodes, 4 edges>"
