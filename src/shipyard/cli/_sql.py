"""``shipyard sql "SELECT …"``: a read-only query over catalog tables and datasets."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shipyard.cli._common import JsonOpt, client, err, fail, out, print_json, print_table
from shipyard.humanize import count


def sql(
    query: Annotated[str, typer.Argument(
        metavar="QUERY", help="One SELECT (or WITH, VALUES, DESCRIBE, SUMMARIZE) statement.")],
    save: Annotated[str | None, typer.Option(
        "--save", metavar="DATASET",
        help="Save every row as a new version of DATASET instead of printing them.")] = None,
    limit: Annotated[int | None, typer.Option(
        "--limit", metavar="N", help="Rows to print at most [default: 10000].")] = None,
    timeout: Annotated[float | None, typer.Option(
        "--timeout", metavar="SECONDS", help="Stop the query after this long [default: 120].")
    ] = None,
    idempotency_key: Annotated[str | None, typer.Option(
        "--idempotency-key", metavar="KEY",
        help="With --save: saving again with this key returns the same version.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Run SQL on the server: tables are datasets.NAME (or plain NAME), LOCATION.TABLE."""
    body: dict[str, Any] = {"query": query}
    for key, value in (("save", save), ("limit", limit), ("timeout", timeout)):
        if value is not None:
            body[key] = value
    if idempotency_key and save is None:
        fail("--idempotency-key makes a --save repeatable; add --save DATASET or drop it.")
    headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
    doc = client().post("/sql", body, headers=headers)
    if json_out:
        print_json(doc)
        return
    if save is not None:
        saved = doc["saved"]
        out.print(f"Saved {count(saved['num_rows'], 'row')} as {saved['ref']}.")
        return
    print_table(doc["columns"], doc["data"], empty="(no rows)", data=True)
    rows = doc.get("num_rows", 0)
    more = " (truncated: the query has more; raise --limit or --save it)" \
        if doc.get("truncated") else ""
    err.print(f"{count(rows, 'row')} in {doc.get('seconds', 0):.2f} s{more}.")
