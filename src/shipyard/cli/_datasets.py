"""``shipyard datasets``: create, append, inspect, download and delete datasets."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import typer
from rich.progress import BarColumn, DownloadColumn, Progress, SpinnerColumn, TextColumn

from shipyard.cli._common import (
    ForceOpt,
    JsonOpt,
    YesOpt,
    client,
    confirm_delete,
    fail,
    fmt,
    human_bytes,
    out,
    output_mode,
    parse_pairs,
    print_deleted,
    print_json,
    print_table,
    quiet_option,
    say,
    table,
    when,
)
from shipyard.client._datasets import _latest, upload
from shipyard.client._reports import bias_rows, parse_facet, parse_positive
from shipyard.client._sources import SQL, Upload, prepare
from shipyard.errors import InvalidRequest
from shipyard.humanize import count

app = typer.Typer(help="Versioned datasets: create from files or SQL, inspect, download.",
                  no_args_is_help=True)

FileOpt = Annotated[list[Path] | None, typer.Option(
    "--file", "-f", metavar="FILE",
    help="A data file (CSV, TSV, Parquet, JSON, JSONL); repeat for several.")]
PathOpt = Annotated[str | None, typer.Option(
    "--path", metavar="GLOB",
    help="A glob such as 'data/*.csv' (quote it), or a folder of data files.")]
FilesOpt = Annotated[Path | None, typer.Option(
    "--files", metavar="DIR",
    help="A folder of image files (PNG, JPEG, GIF, BMP, WebP, TIFF), read recursively: "
         "the version is their manifest (docs/datasets.md).")]
SqlOpt = Annotated[str | None, typer.Option(
    "--sql", metavar="QUERY", help="A query run here, on this machine, against --db.")]
DbOpt = Annotated[str | None, typer.Option(
    "--db", metavar="URL",
    help="SQLAlchemy URL of the database for --sql, e.g. sqlite:///data.db.")]
FormatOpt = Annotated[str | None, typer.Option(
    "--format", metavar="FORMAT",
    help="File format when the suffix does not say: csv, tsv, parquet, json, jsonl.")]
TypeOpt = Annotated[list[str] | None, typer.Option(
    "--type", metavar="COLUMN=TYPE",
    help="Read COLUMN as TYPE (int64, float64, string, bool, timestamp, date) instead of "
         "the inferred type, e.g. zip=string to keep leading zeros; repeatable.")]
SepOpt = Annotated[str | None, typer.Option(
    "--sep", metavar="CHAR",
    help="CSV/TSV delimiter: ',', ';', '|' or tab [sniffed from the file].")]
DecimalOpt = Annotated[str | None, typer.Option(
    "--decimal", metavar="MARK", help="Decimal mark of CSV/TSV numbers: '.' or ',' [sniffed].")]
EncodingOpt = Annotated[str | None, typer.Option(
    "--encoding", metavar="NAME",
    help="Text encoding of the files, e.g. latin-1 or cp1252 [utf-8].")]
QuietOpt = Annotated[bool, quiet_option("the new version as NAME:VERSION")]
VersionOpt = Annotated[int | None, typer.Option(
    "--version", "-v", metavar="N", help="Version [latest].")]


def _source(file: list[Path] | None, path: str | None, sql: str | None,
            db: str | None) -> Any:
    given = [opt for opt, val in (("--file", file), ("--path", path), ("--sql", sql)) if val]
    if len(given) != 1:
        fail("Give exactly one of --file, --path or --sql (with --db)"
             + (f"; got {' and '.join(given)}." if given else "."))
    if db and not sql:
        fail("--db goes with --sql; give the query with --sql.")
    if sql:
        if not db:
            fail("--sql needs --db, the database to run the query against.")
        return SQL(sql, db)
    return [str(f) for f in file] if file else path


def _only_files(*others: Any) -> None:
    if any(others):
        fail("--files takes a folder of images on its own; drop --file, --path, --sql, "
             "--format and --type.")


def _send(api_path: str, data: Any, fields: dict[str, Any], json_out: bool,
          idempotency_key: str | None = None) -> dict[str, Any]:
    """Prepare ``data`` and upload it, with a spinner for a query and a bar for the bytes."""
    quiet = json_out or not out.is_terminal
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                        DownloadColumn(), console=out, transient=True, disable=quiet)
    with progress:
        task = progress.add_task("Preparing…", total=None)

        def on_query(sql: SQL) -> None:
            progress.update(task, description="Running the query…")

        up: Upload
        with prepare(data, format=fields.get("format"), on_query=on_query) as up:
            n = len(up.files)
            progress.update(task, description=f"Uploading {count(n, 'file')}",
                            total=up.total_bytes, completed=0)

            def on_bytes(sent: int, total: int) -> None:
                done = "; the server is reading it…" if sent >= total else ""
                progress.update(task, completed=sent,
                                description=f"Uploading {count(n, 'file')}{done}")

            return upload(client(), api_path, up, fields, idempotency_key=idempotency_key,
                          progress=on_bytes)


def _send_files(name: str, folder: Path, mode: str, description: str | None,
                json_out: bool) -> dict[str, Any]:
    """Upload a folder of images, with a bar for the bytes; say what was skipped."""
    from shipyard.client._files import scan, upload_folder

    found = scan(folder)
    if found.skipped and not json_out:
        shown = ", ".join(found.skipped[:5]) + (" …" if len(found.skipped) > 5 else "")
        say(f"Skipped {count(len(found.skipped), 'file')} that are not images: {shown}")
    n = len(found.files)
    progress = Progress(SpinnerColumn(), TextColumn("{task.description}"), BarColumn(),
                        DownloadColumn(), console=out, transient=True,
                        disable=json_out or not out.is_terminal)
    with progress:
        task = progress.add_task(f"Uploading {count(n, 'image')}", total=found.total_bytes)
        return upload_folder(client(), name, found, mode=mode, description=description,
                             progress=lambda sent, _: progress.update(task, completed=sent))


def _report(verb: str, doc: dict[str, Any], json_out: bool, quiet: bool = False) -> None:
    name = doc.get("dataset") or doc.get("name")
    if quiet:
        say(f"{name}:{doc.get('version')}")
        return
    if json_out:
        print_json(doc)
        return
    out.print(f"{verb} dataset {name} version {doc.get('version')}: "
              f"{count(doc.get('num_rows') or 0, 'row')} × "
              f"{count(doc.get('num_columns') or 0, 'column')}.")


def _path(name: str, suffix: str = "") -> str:
    return f"/datasets/{quote(name, safe='')}{suffix}"


@app.command("create")
def create(
    name: Annotated[str, typer.Argument(help="Name of the new dataset.")],
    file: FileOpt = None, path: PathOpt = None, sql: SqlOpt = None, db: DbOpt = None,
    files: FilesOpt = None, format: FormatOpt = None, type: TypeOpt = None,
    description: Annotated[str | None, typer.Option("--description", "-d", metavar="TEXT")] = None,
    idempotency_key: Annotated[str | None, typer.Option("--idempotency-key", metavar="KEY")] = None,
    sep: SepOpt = None, decimal: DecimalOpt = None, encoding: EncodingOpt = None,
    json_out: JsonOpt = False, quiet: QuietOpt = False,
) -> None:
    """Create a dataset (version 1) from files, a glob, a SQL query or a folder of images."""
    output_mode(json_out, quiet)
    if files is not None:
        _only_files(file, path, sql, format, type)
        _report("Created", _send_files(name, files, "create", description, json_out or quiet),
                json_out, quiet)
        return
    data = _source(file, path, sql, db)
    fields = {"name": name, "format": format, "description": description,
              "column_types": parse_pairs(type, "--type") or None,
              "sep": sep, "decimal": decimal, "encoding": encoding}
    _report("Created", _send("/datasets", data, fields, json_out or quiet, idempotency_key),
            json_out, quiet)


@app.command("append")
def append(
    name: Annotated[str, typer.Argument(help="The dataset to add a version to.")],
    file: FileOpt = None, path: PathOpt = None, sql: SqlOpt = None, db: DbOpt = None,
    files: FilesOpt = None, format: FormatOpt = None, type: TypeOpt = None,
    sep: SepOpt = None, decimal: DecimalOpt = None, encoding: EncodingOpt = None,
    json_out: JsonOpt = False, quiet: QuietOpt = False,
) -> None:
    """Add a version: the latest rows plus the new ones (or the new image files)."""
    output_mode(json_out, quiet)
    if files is not None:
        _only_files(file, path, sql, format, type)
        _report("Appended to", _send_files(name, files, "append", None, json_out or quiet),
                json_out, quiet)
        return
    data = _source(file, path, sql, db)
    fields = {"format": format, "column_types": parse_pairs(type, "--type") or None,
              "sep": sep, "decimal": decimal, "encoding": encoding}
    _report("Appended to", _send(_path(name, "/versions"), data, fields, json_out or quiet),
            json_out, quiet)


@app.command("list")
def list_(json_out: JsonOpt = False) -> None:
    """Every dataset with its latest version."""
    docs = client().get("/datasets")
    if json_out:
        print_json(docs)
        return
    rows = []
    for d in docs:
        v = _latest(d)
        rows.append([d.get("name"), v.get("version"), v.get("num_rows"), v.get("num_columns"),
                     human_bytes(v.get("size_bytes")),
                     when(d.get("updated_at") or v.get("created_at")), d.get("description")])
    print_table(["name", "version", "rows", "columns", "size", "updated", "description"], rows,
                empty="No datasets yet; create one with `shipyard datasets create`.")


def _schema_rows(schema: list[dict[str, Any]]) -> tuple[list[str], list[list[Any]]]:
    first = ["name", "dtype", "semantic_type"]
    extra = [k for s in schema for k in s if k not in first]
    columns = first + list(dict.fromkeys(extra))
    return columns, [[s.get(c) for c in columns] for s in schema]


@app.command("show")
def show(name: str, version: VersionOpt = None, json_out: JsonOpt = False) -> None:
    """A dataset's latest version (or --version) and its schema as a table."""
    c = client()
    doc = c.get(_path(name))
    v = c.get(_path(name, f"/versions/{version}")) if version is not None else _latest(doc)
    if json_out:
        print_json(doc if version is None else {**doc, "version_detail": v})
        return
    out.print(f"Dataset {name}, version {v.get('version')}: "
              f"{count(v.get('num_rows') or 0, 'row')} × "
              f"{count(v.get('num_columns') or 0, 'column')}, {human_bytes(v.get('size_bytes'))}; "
              f"created {when(v.get('created_at'))} by {fmt(v.get('created_by')) or 'unknown'}.")
    if doc.get("description"):
        out.print(doc["description"])
    if v.get("source"):
        out.print(f"Source: {fmt(v['source'])}")
    columns, rows = _schema_rows(v.get("schema") or [])
    out.print(table(columns, rows, title="Schema"))


@app.command("head")
def head(name: str, n: Annotated[int, typer.Option("-n", metavar="N", help="Number of rows.")] = 10,
         version: VersionOpt = None, json_out: JsonOpt = False) -> None:
    """The first rows of a dataset."""
    body = client().get(_path(name, "/head"), n=n, version=version)
    if json_out:
        print_json(body)
        return
    print_table(body["columns"], body["data"], empty="(no rows)", data=True)


@app.command("versions")
def versions(name: str, json_out: JsonOpt = False) -> None:
    """Every version of a dataset, oldest first."""
    docs = client().get(_path(name, "/versions"))
    if json_out:
        print_json(docs)
        return
    print_table(["version", "rows", "columns", "size", "created", "by", "source"],
                ([d.get("version"), d.get("num_rows"), d.get("num_columns"),
                  human_bytes(d.get("size_bytes")), when(d.get("created_at")), d.get("created_by"),
                  d.get("source")] for d in docs))


@app.command("download")
def download(
    name: str,
    output: Annotated[Path, typer.Option(
        "--output", "-o", metavar="FILE", help="File to write.")],
    format: Annotated[str | None, typer.Option(
        "--format", metavar="FORMAT",
        help="parquet or csv [from the --output suffix, else parquet].")] = None,
    version: VersionOpt = None, json_out: JsonOpt = False,
) -> None:
    """Write a dataset version to a Parquet or CSV file."""
    fmt_ = format or ("csv" if output.suffix.lower() == ".csv" else "parquet")
    if fmt_ not in ("parquet", "csv"):
        fail(f"Unknown --format {fmt_!r}; choose parquet or csv.")
    if not output.expanduser().parent.is_dir():
        fail(f"Folder {str(output.parent)!r} does not exist; create it or pick another --output.")
    params = {"format": fmt_, **({"version": version} if version is not None else {})}
    if json_out or not out.is_terminal:
        size = client().download(_path(name, "/download"), output.expanduser(), params)
    else:
        with out.status(f"Downloading {name}…"):
            size = client().download(_path(name, "/download"), output.expanduser(), params)
    if json_out:
        print_json({"dataset": name, "version": version, "format": fmt_,
                    "path": str(output), "bytes": size})
    else:
        out.print(f"Wrote {output} ({human_bytes(size)}, {fmt_}).")


def _print_profile(name: str, doc: dict[str, Any], limit: int = 10) -> None:
    """A short human summary of a profile snapshot: shape, top warnings, best features."""
    ds, source = doc["dataset"], doc.get("source") or {}
    cached = " (cached)" if source.get("cached") else ""
    out.print(f"Dataset {name} version {source.get('version')}: {ds['rows']:,} rows × "
              f"{ds['columns']} columns, {ds['missing_cells']:,} missing cells, "
              f"{ds['duplicate_rows']:,} duplicate rows, {human_bytes(ds['memory_bytes'])} in "
              f"memory; profiled in {doc['timings'].get('total', 0):.2f} s{cached}.")
    warnings = doc.get("warnings") or []
    print_table(["severity", "kind", "finding"],
                ([w["severity"], w["kind"], w["message"]] for w in warnings[:limit]),
                title=f"Warnings ({len(warnings)}, most severe first)", empty="No warnings.")
    if len(warnings) > limit:
        out.print(f"… and {len(warnings) - limit} more; --json lists them all.")
    target = doc.get("target")
    if target:
        model = target.get("model") or {}
        scored = (f", quick model {model['metric']} {model['score']:.3f}"
                  if model.get("metric") else "")
        print_table(["rank", "feature", "importance", "mutual info", "association", "leak?"],
                    ([f["rank"], f["column"], f["importance"], f["mutual_info"],
                      f["association"],
                      "yes" if f["leak"] else "strong" if f.get("strong") else ""]
                     for f in target["features"][:limit]),
                    title=f"Most predictive of {target['column']} "
                          f"({target['problem_type']}{scored})")
    if doc.get("bias"):
        rows = bias_rows(doc["bias"])
        print_table(["facet", "metric", "value", "meaning"],
                    ([r["facet"], r["metric"], fmt(r["value"]),
                      r["title"] if r["value"] is not None else r.get("reason") or r["title"]]
                     for r in rows),
                    title="Pre-training bias of the target across the facet's groups "
                          "(docs/bias.md)")
    steps = {json.dumps(w["suggestion"], sort_keys=True) for w in warnings if w.get("suggestion")}
    if steps:
        out.print(f"{len(steps)} suggested recipe steps; --json shows them under each warning.")


@app.command("profile")
def profile(
    name: Annotated[str, typer.Argument(help="The dataset to profile.")],
    version: VersionOpt = None,
    target: Annotated[str | None, typer.Option(
        "--target", "-t", metavar="COLUMN", help="A column to analyse the others against.")] = None,
    html: Annotated[Path | None, typer.Option(
        "--html", metavar="FILE", help="Also write the offline HTML report to FILE.")] = None,
    facet: Annotated[str | None, typer.Option(
        "--facet", metavar="COLUMN[=VALUE]",
        help="A sensitive column (and its disadvantaged group): the target's pre-training "
             "bias metrics across its groups (docs/bias.md). Needs --target.")] = None,
    positive: Annotated[list[str] | None, typer.Option(
        "--positive", metavar="VALUE",
        help="With --facet: a target value that is the positive outcome (repeatable), or "
             "'>X' for a numeric target above X.")] = None,
    recipe_out: Annotated[Path | None, typer.Option(
        "--recipe-out", metavar="FILE",
        help="Also write the suggested recipe steps to FILE, as a recipe that extends the "
             "default (`shipyard jobs run --kind training --recipe FILE` reads it).")] = None,
    json_out: JsonOpt = False,
) -> None:
    """Profile a version: statistics, correlations, warnings; with --target, predictive power."""
    for flag, path in (("--html", html), ("--recipe-out", recipe_out)):
        if path is not None and not path.expanduser().parent.is_dir():
            fail(f"Folder {str(path.parent)!r} does not exist; create it or pick another "
                 f"{flag}.")
    params: dict[str, Any] = {k: v for k, v in (("version", version), ("target", target))
                              if v is not None}
    if positive and not facet:
        fail("--positive goes with --facet COLUMN[=VALUE]: the groups whose outcomes are "
             "compared.")
    if facet is not None:
        if target is None:
            fail("--facet compares the target between the facet's groups; give --target "
                 "COLUMN too.")
        try:
            params.update(parse_facet(facet))
            if positive:
                params.update(parse_positive(positive))
        except InvalidRequest as exc:
            fail(exc.message)
    c = client()
    if json_out or not out.is_terminal:
        doc = c.post(_path(name, "/profile"), json=params)
    else:
        with out.status(f"Profiling {name}…"):
            doc = c.post(_path(name, "/profile"), json=params)
    if html is not None:
        c.download(_path(name, "/profile.html"), html.expanduser(), params)
    written = _write_recipe(doc, recipe_out) if recipe_out is not None else None
    if json_out:
        print_json(doc)
        return
    _print_profile(name, doc)
    if html is not None:
        out.print(f"Wrote the report to {html}.")
    if written is not None:
        dropped = len(written.get("drop") or [])
        out.print(f"Wrote the suggested recipe to {recipe_out}: the default recipe plus "
                  f"{count(len(written['steps']), 'step')}"
                  + (f" and {dropped} column(s) to drop" if dropped else "")
                  + f"; review it, then `shipyard jobs run --kind training --recipe "
                    f"{recipe_out} …`.")


def _write_recipe(doc: dict[str, Any], path: Path) -> dict[str, Any]:
    """The profile's suggested steps as a recipe file that extends the default; returns it."""
    from shipyard.features import extending_recipe
    from shipyard.profiling import Profile

    recipe = extending_recipe(Profile.from_dict(doc).suggestions())
    path.expanduser().write_text(json.dumps(recipe, indent=2) + "\n", encoding="utf-8")
    return recipe


@app.command("delete")
def delete(name: str, yes: YesOpt = False, force: ForceOpt = False,
           json_out: JsonOpt = False) -> None:
    """Delete a dataset and every version of it (refused while something uses it)."""
    confirm_delete(f"dataset {name!r}", yes, " and all its versions")
    doc = client().delete(_path(name), force=force or None)
    if json_out:
        print_json(doc)
    else:
        print_deleted(doc)
