"""``shipyard hub``: pre-trained models installed packages ship (list, show, deploy), and
end-to-end solutions.

``app`` is the ``hub`` Typer app; other modules add commands to it (``hub solutions`` and
``hub launch`` from ``_hub_solutions.py``; ``hub fine-tune`` from ``_hub_finetune.py``).
"""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shipyard.cli import _hub_solutions
from shipyard.cli._common import JsonOpt, client, out, print_json, print_table, say, table
from shipyard.humanize import number

app = typer.Typer(help="The hub: pre-trained models from installed packages, and one-command "
                       "solutions.", no_args_is_help=True)
_hub_solutions.register(app)

NameArg = Annotated[str, typer.Argument(metavar="NAME", help="The hub model (hub list).")]


def _size(value: Any) -> str:
    if not isinstance(value, int):
        return ""
    return f"{value / 1024 ** 2:.0f} MB"


def _speed(doc: dict[str, Any]) -> str:
    speed = doc.get("speed")
    if not speed:
        return "not measured here (hub show NAME --measure)"
    return (f"{number(speed['sentences_per_second'])} sentences/s, one sentence "
            f"{number(speed['single_sentence_ms_p50'])} ms (p50), {speed.get('threads')} "
            f"threads; measured {speed.get('measured_at')} by {speed.get('how')}")


@app.command("list")
def list_(json_out: JsonOpt = False) -> None:
    """Every hub model: task, size, licence, and whether its package is installed."""
    docs = client().get("/hub")
    if json_out:
        print_json(docs)
        return
    rows = []
    for d in docs:
        speed = d.get("speed")
        rows.append([d["name"], d["task"], f"{d['parameters'] / 1e6:.1f} M",
                     _size(d.get("size_bytes")), d["licence"],
                     "yes" if d["installed"] else f"not installed: {d['install']}",
                     f"{number(speed['sentences_per_second'])} sentences/s" if speed
                     else "not measured"])
    print_table(["model", "task", "parameters", "size", "licence", "installed", "speed"], rows,
                empty="The hub's catalog is empty.")


@app.command("show")
def show(name: NameArg, measure: Annotated[bool, typer.Option(
             "--measure", help="Measure its speed on this machine first (a few seconds).")]
         = False, json_out: JsonOpt = False) -> None:
    """A hub model's card: task, architecture, size, licence, source, input, output, speed."""
    from shipyard.client import hub

    doc = hub.show(name, measure=measure, client=client())
    if json_out:
        print_json(doc)
        return
    rows = [["model", doc["name"]], ["task", doc["task"]],
            ["architecture", doc["architecture"]],
            ["parameters", f"{doc['parameters']:,}"], ["size", _size(doc.get("size_bytes"))],
            ["licence", doc["licence"]], ["source", doc["source"]],
            ["input", doc["input"]], ["output", doc["output"]],
            ["installed", "yes" if doc["installed"] else f"no; install: {doc['install']}"],
            ["speed", _speed(doc)], ["deploy tasks", ", ".join(doc.get("deploy_tasks") or [])],
            ["fine-tune", doc.get("fine_tune_algorithm") or ""],
            ["description", doc["description"]]]
    facts = table(["", ""], rows)
    facts.show_header = False
    out.print(facts)


@app.command("deploy")
def deploy(name: NameArg,
           endpoint: Annotated[str, typer.Option("--endpoint", help="The endpoint's name.")],
           task: Annotated[str, typer.Option(
               "--task", help="embedding: text → vector; similarity: text_a, text_b → cosine.")]
           = "embedding",
           instances: Annotated[int, typer.Option("--instances", min=1)] = 1,
           json_out: JsonOpt = False) -> None:
    """Serve a hub model as an endpoint (a job bundles its files; registered; deployed)."""
    from shipyard.client import hub

    if not json_out:
        say(f"Bundling {name} ({task}) in a job, registering it, deploying {endpoint}…")
    ep = hub.deploy(name, endpoint, task=task, instances=instances, client=client())
    doc = ep.doc
    if json_out:
        print_json(doc)
        return
    variant = (doc.get("variants") or [{}])[0]
    say(f"Endpoint {endpoint} is {doc.get('status')}: {variant.get('model')} at {doc.get('url')}")
