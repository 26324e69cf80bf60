"""``shipyard algorithms``: the built-in algorithms a training job can run."""

from __future__ import annotations

from typing import Annotated
from urllib.parse import quote

import typer

from shipyard.cli._common import JsonOpt, client, out, print_json, print_table, table

app = typer.Typer(help="Built-in training algorithms and their hyperparameters.",
                  no_args_is_help=True)


@app.command("list")
def list_(json_out: JsonOpt = False) -> None:
    """Every built-in algorithm, with the problem types it solves."""
    docs = client().get("/algorithms")
    if json_out:
        print_json(docs)
        return
    print_table(["algorithm", "problem types", "framework", "description"],
                ([d.get("name"), ", ".join(sorted(d.get("problem_types") or [])),
                  d.get("framework"), d.get("description")] for d in docs),
                empty="No algorithms.")


@app.command("show")
def show(name: Annotated[str, typer.Argument(metavar="NAME", help="The algorithm.")],
         json_out: JsonOpt = False) -> None:
    """An algorithm and its hyperparameters (type, default, range or choices)."""
    doc = client().get(f"/algorithms/{quote(name, safe='')}")
    if json_out:
        print_json(doc)
        return
    facts = table(["", ""], [["algorithm", doc.get("name")],
                             ["problem types", ", ".join(sorted(doc.get("problem_types") or []))],
                             ["framework", doc.get("framework")],
                             ["description", doc.get("description")]])
    facts.show_header = False
    out.print(facts)
    rows = []
    for h in doc.get("hyperparameters") or []:
        if h.get("choices"):
            allowed = " | ".join(str(c) for c in h["choices"])
        elif h.get("low") is not None or h.get("high") is not None:
            allowed = f"{h.get('low')} … {h.get('high')}" + (" (log)" if h.get("log") else "")
        else:
            allowed = ""
        search = h.get("search") or {}
        tuned = ("" if not search else "all" if "choices" in search else
                 f"{search['low']:g} … {search['high']:g}" + (" (log)" if search["log"] else ""))
        rows.append([h.get("name"), h.get("type"), h.get("default"), allowed, tuned,
                     h.get("description")])
    print_table(["hyperparameter", "type", "default", "range", "tuned over", "description"],
                rows,
                title="Hyperparameters (--hp NAME=VALUE)", empty="No hyperparameters.")
