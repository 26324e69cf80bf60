"""Wrangle jobs at submit time: check the query or recipe, pin the catalog tables it reads.

A wrangle job's SQL sees its input channels by name (``inputs: {"raw": "churn"}``
→ ``FROM raw``) and catalog tables (``lake.flights``, or ``flights`` when one
location has it). The files of those tables are pinned into the stored spec, so
the job reads exactly what the catalog listed when it was submitted, and may read
nothing else (docs/catalog.md). The query is then bound (not run) on empty tables shaped
like its inputs and on those catalog tables, so a table or column that is not there is a
400 at submit, as ``shipyard sql`` says it, instead of a job that fails when it runs.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from shipyard.errors import InvalidRequest, NotFound
from shipyard.sandbox import check_query, path_references, table_references

#: Seconds binding a query at submit may take (it reads Parquet footers and CSV headers).
BIND_TIMEOUT_SECONDS = 30.0


def _pin(catalog: Any, schema: str | None, location: str, name: str,
         pinned: dict[str, Any]) -> None:
    from shipyard.catalog._service import as_location
    from shipyard.catalog._sql import table_view

    table = catalog.repo.get_table(location, name)
    loc = as_location(catalog.repo.get_location(location))
    view = table_view(table, loc, schema)
    pinned["tables"].append({"name": view.name, "schema": view.schema, "format": view.format,
                             "files": list(view.files),
                             "hive_partitioning": view.hive_partitioning})
    if location not in pinned["_seen"]:
        pinned["_seen"].add(location)
        pinned["allowed_directories"].extend(loc.allowed_directories())
        if loc.kind != "local":
            pinned["filesystems"].append(loc.url)


def plan_sql(sql: str, channels: dict[str, Any], catalog: Any,
             datasets: Any) -> dict[str, Any]:
    """The ``tables``, ``allowed_directories`` and ``filesystems`` a wrangle query needs.

    Raises:
        InvalidRequest: the query is not one read-only SELECT, or names a dataset that is
            not among the job's inputs.
    """
    check_query(sql)
    pinned: dict[str, Any] = {"tables": [], "allowed_directories": [], "filesystems": [],
                              "_seen": set()}
    for schema, name in sorted(table_references(sql)):
        if schema == "" and name in channels:
            continue
        if schema == "datasets" or (schema == "" and _is_dataset(datasets, name)):
            raise InvalidRequest(
                f"The query reads dataset {name!r}, which is not an input of the job; declare "
                f"it as one (inputs: {{\"{_channel(name)}\": \"{name}\"}}) and read it by its "
                "channel name.")
        if catalog is None:
            continue
        if schema:
            try:
                _pin(catalog, schema, schema, name, pinned)
            except NotFound:
                continue  # not a catalog table: DuckDB names what is missing
            continue
        found = catalog.repo.find_tables(name)
        if len(found) > 1:
            where = ", ".join(f"{t.location}.{t.name}" for t in found)
            raise InvalidRequest(f"Table {name!r} is in more than one catalog location "
                                 f"({where}); name it with its location.")
        if found:
            _pin(catalog, None, found[0].location, name, pinned)
    if catalog is not None:
        # Files named by path: their locations' folders may be read too (as in /sql).
        from shipyard.catalog._sql import path_locations

        for location in path_locations(catalog, path_references(sql)):
            if location.name not in pinned["_seen"]:
                pinned["_seen"].add(location.name)
                pinned["allowed_directories"].extend(location.allowed_directories())
                if location.kind != "local":
                    pinned["filesystems"].append(location.url)
    pinned.pop("_seen")
    return pinned


def _is_dataset(datasets: Any, name: str) -> bool:
    try:
        datasets.version(name.split(":", 1)[0])
    except (InvalidRequest, NotFound):
        return False
    return True


def _channel(name: str) -> str:
    text = "".join(ch if ch.isalnum() else "_" for ch in name.lower()).strip("_")
    return text if text[:1].isalpha() else f"d_{text}"


def bind_sql(sql: str, inputs: Mapping[str, Mapping[str, Any]], pinned: Mapping[str, Any],
             datasets: Any, catalog: Any = None) -> None:
    """Bind ``sql`` without running it: each input channel an empty table with its dataset
    version's columns, the ``pinned`` catalog tables (:func:`plan_sql`) over their files.

    Args:
        inputs: channel → ``{"dataset", "version"}`` (a stored spec's pinned inputs).
        catalog: where an unknown table's message looks for the closest names.

    Raises:
        InvalidRequest: the query names a table that is neither an input nor a catalog
            table, or a column its tables do not have (DuckDB's binder says which).
    """
    import pyarrow.parquet as pq

    from shipyard.sandbox import Limits, Sources, UnknownTable, View, pinned_sources, run

    tmp: Path = datasets.settings.tmp_dir
    tmp.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="wrangle-bind-", dir=tmp))
    try:
        views, paths = [], []
        for i, (channel, ref) in enumerate(inputs.items()):
            path = work / f"input-{i}.parquet"  # channel names are not file names
            pq.write_table(datasets.head(ref["dataset"], ref["version"], n=0), path)
            views.append(View(name=channel, files=(str(path),)))
            paths.append(str(path))
        tables, filesystems = pinned_sources(pinned)
        views += tables
        sources = Sources(views=tuple(views), allowed_paths=tuple(paths),
                          allowed_directories=tuple(pinned.get("allowed_directories") or []),
                          filesystems=tuple(filesystems))
        limits = Limits(timeout_seconds=BIND_TIMEOUT_SECONDS, temp_directory=work / "spill")
        try:
            # DESCRIBE binds the query and answers its columns; nothing is executed.
            run(f"DESCRIBE {check_query(sql)}", sources, limits)
        except UnknownTable as exc:
            raise InvalidRequest(_unknown_table(exc.table, inputs, catalog)) from None
        except InvalidRequest as exc:
            what = ", ".join(f"{c} = {r['dataset']}:{r['version']}" for c, r in inputs.items())
            detail = exc.message.removeprefix("The query failed: ").rstrip(".")
            raise InvalidRequest(
                f"The query cannot run: {detail} (checked, without running it, against "
                f"{'input ' + what if what else 'its tables'}). Fix the query.") from None
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _unknown_table(table: str, inputs: Mapping[str, Any], catalog: Any) -> str:
    """The sentence for a table the query names that is not there, with where to look."""
    from shipyard.names import names_hint

    schema, _, name = table.rpartition(".")
    if schema and catalog is not None:
        try:
            tables = [t.name for t in catalog.repo.list_tables(schema)]
        except NotFound:
            return (f"The query reads table {table!r}, but there is no catalog location "
                    f"{schema!r}; `shipyard catalog locations` lists them. Fix the name.")
        hint = names_hint(name, tables, "table") if tables else "it has no tables"
        return (f"The query reads table {table!r}, but catalog location {schema!r} has no "
                f"table {name!r}; {hint}. Fix the name, or crawl the location again if the "
                "files are new.")
    known = [*inputs, *(f"{t.location}.{t.name}" for t in
                        (catalog.repo.list_tables() if catalog is not None else []))]
    hint = names_hint(table, known, "table") if known else "it reads no tables"
    return (f"The query reads table {table!r}, which is neither an input of the job nor a "
            f"catalog table; {hint}. Fix the name, or declare the dataset as an input "
            "(inputs: {\"CHANNEL\": \"DATASET\"}) and read it as CHANNEL.")


def check_scheduled_wrangle(spec: Any, catalog: Any, datasets: Any) -> None:
    """What a schedule of a wrangle job can check when it is created: everything its
    submit will (:func:`plan_wrangle`), on the input versions there now.

    An input dataset (or pinned version) that does not exist yet, such as one another
    schedule writes, is left to each run; the query is then only parsed and checked to
    read datasets through its inputs.

    Raises:
        InvalidRequest: the query or recipe cannot run (a 400 before the schedule exists).
    """
    from shipyard.datasets import parse_ref

    inputs: dict[str, Any] = {}
    for channel, ref in spec.inputs.items():
        name, version = parse_ref(ref)
        try:
            rec = datasets.version(name, version)
        except NotFound:
            if spec.sql is not None:
                plan_sql(spec.sql, dict(spec.inputs), catalog, datasets)
            return
        inputs[channel] = {"dataset": rec.dataset, "version": rec.version}
    plan_wrangle(spec, {"inputs": inputs}, catalog, datasets)


def plan_wrangle(spec: Any, stored: dict[str, Any], catalog: Any, datasets: Any) -> None:
    """Fill the wrangle fields of a stored job spec (``sql`` or ``recipe``, pinned tables).

    Raises:
        InvalidRequest: the query or recipe cannot run.
    """
    stored.update({"sql": spec.sql, "recipe": spec.recipe, "target": spec.target,
                   "tables": [], "allowed_directories": [], "filesystems": []})
    if spec.sql is not None:
        stored.update(plan_sql(spec.sql, stored["inputs"], catalog, datasets))
        bind_sql(spec.sql, stored["inputs"], stored, datasets, catalog)
        return
    from shipyard.features import Recipe, UserRecipe
    from shipyard.names import names_hint

    Recipe.from_dict(spec.recipe)
    (channel, ref), = stored["inputs"].items()
    rec = datasets.version(ref["dataset"], ref["version"])
    names = [str(c["name"]) for c in rec.schema]
    if spec.target is not None and spec.target not in names:
        raise InvalidRequest(f"target: input {channel!r} ({ref['dataset']}:{ref['version']})"
                             f" has no column {spec.target!r}; its columns are {names}.")
    # A step naming a column the data lacks would fit as if it were not there and write a
    # version without the change asked for: refuse it here, as a training job does.
    for where, column in UserRecipe.from_dict(spec.recipe).unknown_columns(names):
        raise InvalidRequest(
            f"Recipe {where} names {column!r}, which is not a column of input {channel!r} "
            f"({ref['dataset']}:{ref['version']}); {names_hint(column, names, 'column')}. "
            "Fix the recipe.")
