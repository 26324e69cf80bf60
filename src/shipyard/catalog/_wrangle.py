"""Wrangle jobs at submit time: check the query or recipe, pin the catalog tables it reads.

A wrangle job's SQL sees its input channels by name (``inputs: {"raw": "churn"}``
→ ``FROM raw``) and catalog tables (``lake.flights``, or ``flights`` when one
location has it). The files of those tables are pinned into the stored spec, so
the job reads exactly what the catalog listed when it was submitted, and may read
nothing else (docs/catalog.md).
"""

from __future__ import annotations

from typing import Any

from shipyard.errors import InvalidRequest, NotFound
from shipyard.sandbox import check_query, path_references, table_references


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


def plan_wrangle(spec: Any, stored: dict[str, Any], catalog: Any, datasets: Any) -> None:
    """Fill the wrangle fields of a stored job spec (``sql`` or ``recipe``, pinned tables).

    Raises:
        InvalidRequest: the query or recipe cannot run.
    """
    stored.update({"sql": spec.sql, "recipe": spec.recipe, "target": spec.target,
                   "tables": [], "allowed_directories": [], "filesystems": []})
    if spec.sql is not None:
        stored.update(plan_sql(spec.sql, stored["inputs"], catalog, datasets))
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
