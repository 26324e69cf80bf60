"""``shipyard hub solutions`` and ``shipyard hub launch``: the hub's end-to-end templates.

:func:`register` adds the two commands to the ``hub`` command group (cli/_hub.py).
What a solution is and what a launch creates: ``shipyard.hub._solutions`` and
``shipyard.client._hub_solutions``.
"""

from __future__ import annotations

import sys
from typing import Annotated

import typer

from shipyard.cli._common import JsonOpt, client, err, out, print_json, print_table
from shipyard.client._hub_solutions import launch
from shipyard.hub._solutions import SOLUTIONS


def solutions_command(json_out: JsonOpt = False) -> None:
    """List the solutions: one-command end-to-end templates (data, pipeline, endpoint)."""
    rows = [s.to_dict() for s in SOLUTIONS.values()]
    if json_out:
        print_json(rows)
        return
    print_table(["name", "task", "trains", "data", "what it does"],
                [[r["name"], r["task"], r["algorithm"], r["source"], r["description"]]
                 for r in rows])
    out.print("Launch one with: shipyard hub launch NAME [--prefix NAME] [--approve]")


def launch_command(
    solution: Annotated[str, typer.Argument(metavar="SOLUTION",
                                            help="A solution (shipyard hub solutions).")],
    prefix: Annotated[str | None, typer.Option(
        "--prefix", metavar="NAME",
        help="Names everything the launch creates: datasets PREFIX-train…, pipeline, model "
             "group and endpoint PREFIX, monitor PREFIX-watch [default: the solution's "
             "name].")] = None,
    approve: Annotated[bool, typer.Option(
        "--approve", help="Approve the registered version as you (an approver or admin "
                          "token) so it deploys; without it the execution waits for an "
                          "approver.")] = False,
    no_wait: Annotated[bool, typer.Option(
        "--no-wait", help="Start the execution and return at once.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Launch a solution: its datasets, its pipeline, an execution, then its monitor."""
    def say(line: str) -> None:
        if json_out:
            print(line, file=sys.stderr, flush=True)
        else:
            out.print(line, markup=False, highlight=False)

    result = launch(solution, prefix=prefix, approve=approve, wait=not no_wait,
                    progress=say, client=client())
    if json_out:
        print_json(result.to_dict())
    else:
        out.print(repr(result), markup=False, highlight=False)
    if result.status in ("Failed", "Stopped"):
        err.print(f"The execution ended {result.status}: {result.reason}", markup=False)
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    """Add ``solutions`` and ``launch`` to the ``hub`` command group."""
    app.command("solutions")(solutions_command)
    app.command("launch")(launch_command)
