"""``shipyard catalog``: register data locations, crawl them, list and show their tables."""

from __future__ import annotations

from typing import Annotated, Any

import typer

from shipyard.cli._common import (
    JsonOpt,
    YesOpt,
    client,
    confirm_delete,
    fail,
    human_bytes,
    out,
    print_deleted,
    print_json,
    print_table,
    table,
    when,
)
from shipyard.client import Catalog

app = typer.Typer(help="The data catalog: register a folder or URL, crawl it into tables, "
                       "query them with `shipyard sql`.", no_args_is_help=True)


def _print_changes(changes: dict[str, Any]) -> None:
    parts = [f"{len(changes.get(k) or [])} {k}" for k in ("added", "removed", "changed")]
    out.print(f"{changes.get('tables', 0)} tables ({', '.join(parts)}); "
              f"{changes.get('files', 0)} files, {changes.get('ignored_files', 0)} ignored.")
    for skipped in changes.get("skipped") or []:
        out.print(f"  skipped {skipped}")


def _print_tables(docs: list[dict[str, Any]], empty: str) -> None:
    print_table(["table", "format", "files", "rows", "size", "partitions", "columns", "error"],
                ([d.get("ref"), d.get("format"), d.get("num_files"), d.get("num_rows"),
                  human_bytes(d.get("size_bytes")), ", ".join(d.get("partition_keys") or []),
                  len(d.get("columns") or []), d.get("error")] for d in docs),
                empty=empty)


@app.command("create")
def create(
    path: Annotated[str, typer.Argument(
        metavar="PATH", help="An absolute folder path on the server, or an fsspec URL.")],
    name: Annotated[str, typer.Option(
        "--name", metavar="NAME",
        help="The location's name, its schema in SQL (lake → lake.flights).")],
    description: Annotated[str | None, typer.Option(
        "--description", metavar="TEXT", help="What the location holds.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Register a data location (admin) and crawl it into tables."""
    doc = Catalog.create(name, path, description=description, client=client())
    if json_out:
        print_json(doc)
        return
    out.print(f"Registered location {doc['name']!r} at {doc['url']}.")
    _print_changes(doc.get("crawl") or {})
    _print_tables(doc.get("tables") or [], "No tables found.")


@app.command("crawl")
def crawl(name: Annotated[str, typer.Argument(metavar="NAME")], json_out: JsonOpt = False) -> None:
    """Crawl a location again: new files and folders become tables, gone ones go."""
    doc = Catalog.crawl(name, client=client())
    if json_out:
        print_json(doc)
        return
    _print_changes(doc.get("changes") or {})


@app.command("locations")
def locations(json_out: JsonOpt = False) -> None:
    """Registered locations."""
    docs = client().get("/catalog/locations")
    if json_out:
        print_json(docs)
        return
    print_table(["name", "url", "kind", "tables", "crawled", "by"],
                ([d.get("name"), d.get("url"), d.get("kind"),
                  (d.get("crawl") or {}).get("tables"), when(d.get("crawled_at")),
                  d.get("created_by")] for d in docs),
                empty="No locations; register one with `shipyard catalog create PATH --name NAME`.")


@app.command("tables")
def tables(
    location: Annotated[str | None, typer.Option(
        "--location", metavar="NAME", help="Only this location's tables.")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Catalog tables: format, files, rows, partition columns."""
    docs = client().get("/catalog/tables", location=location)
    if json_out:
        print_json(docs)
        return
    _print_tables(docs, "No catalog tables.")


@app.command("show")
def show(ref: Annotated[str, typer.Argument(metavar="LOCATION.TABLE")],
         json_out: JsonOpt = False) -> None:
    """A table's columns and files."""
    if "." not in ref:
        fail(f"Name the table as LOCATION.TABLE (e.g. lake.flights); got {ref!r}.")
    doc = Catalog.table(ref, client=client())
    if json_out:
        print_json(doc)
        return
    rows: list[list[Any]] = [
            ["table", doc.get("ref")], ["path", doc.get("path")], ["format", doc.get("format")],
            ["files", doc.get("num_files")], ["rows", doc.get("num_rows")],
            ["size", human_bytes(doc.get("size_bytes"))],
            ["partitions", ", ".join(doc.get("partition_keys") or [])],
            ["error", doc.get("error")], ["crawled", when(doc.get("crawled_at"))]]
    t = table(["", ""], [r for r in rows if r[1] not in (None, "")])
    t.show_header = False
    out.print(t)
    print_table(["column", "type"], ([c.get("name"), c.get("type")]
                                     for c in doc.get("columns") or []))


@app.command("delete")
def delete(name: Annotated[str, typer.Argument(metavar="NAME")], yes: YesOpt = False,
           json_out: JsonOpt = False) -> None:
    """Forget a location and its tables (admin); its files are not touched."""
    # Its files stay, but its registration, its tables' crawl and every SQL name under it
    # (NAME.table) go: asked first, as every other delete is.
    confirm_delete(f"catalog location {name!r}", yes,
                   " and its tables (its files are not touched)")
    doc = Catalog.delete(name, client=client())
    if json_out:
        print_json(doc)
        return
    print_deleted(doc)
