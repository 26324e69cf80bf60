"""SQL over catalog tables and datasets: names in a query → sandbox views, then run it.

Names a query may use (docs/catalog.md):

- ``datasets.churn`` (latest version) or ``datasets."churn:3"`` (version 3);
- ``lake.flights``: table ``flights`` of catalog location ``lake``;
- a plain ``churn`` is the dataset of that name if there is one, else the catalog
  table of that name if exactly one location has it.

Only the tables a query names become views, and only their files (the exact
Parquet parts of a dataset version; the folders of the locations used, and of those
holding a file the query names by path) may be read by the query.
"""

from __future__ import annotations

import os
import shutil
import tempfile
from collections.abc import Iterable, Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

from shipyard.catalog._location import Location
from shipyard.catalog._service import CatalogService, as_location
from shipyard.datasets import parse_ref
from shipyard.errors import InvalidRequest, NotFound
from shipyard.names import names_hint
from shipyard.sandbox import (
    DEFAULT_MAX_ROWS,
    DEFAULT_TIMEOUT_SECONDS,
    Limits,
    QueryResult,
    Sources,
    UnknownTable,
    View,
    keep_warm,
    path_references,
    run,
    table_references,
    write_parquet,
)
from shipyard.store import TableRecord, VersionRecord

#: The most rows a query may return to a client (``save`` writes them all).
MAX_ROWS = 1_000_000
MAX_TIMEOUT_SECONDS = 3600.0
DATASETS_SCHEMA = "datasets"


def path_locations(catalog: CatalogService, paths: Iterable[str]) -> list[Location]:
    """The registered locations whose folder holds one of ``paths`` (files a query names by
    path). Decided on the text, with ``..`` folded; DuckDB then checks each file it opens
    against the allowed folders after resolving symlinks and ``..`` itself, so a link or a
    ``..`` out of a location is still refused."""
    wanted = [p for p in paths if p]
    if not wanted:
        return []
    found = []
    for rec in catalog.repo.list_locations():
        location = as_location(rec)
        if any(_inside(location, p) for p in wanted):
            found.append(location)
    return found


def _inside(location: Location, path: str) -> bool:
    if location.kind == "local":
        text = path[len("file://"):] if path.startswith("file://") else path
        if "://" in text:
            return False
        folded = Path(os.path.normpath(os.path.expanduser(text)))
        return folded.is_absolute() and folded.is_relative_to(location.url)
    try:
        prefixes = location.allowed_directories()
    except InvalidRequest:
        return False
    return any(path.startswith(p.rstrip("/") + "/") for p in prefixes)


def table_view(table: TableRecord, location: Any, schema: str | None) -> View:
    """A catalog table as a sandbox view (``schema`` None: its plain name)."""
    if table.error:
        raise InvalidRequest(f"Catalog table {table.location}.{table.name} cannot be queried: "
                             f"{table.error}")
    return View(name=table.name, schema=schema, format=table.format,
                files=tuple(location.absolute(f["path"]) for f in table.files),
                hive_partitioning=bool(table.partition_keys))


class SqlService:
    """Runs queries in the sandbox over the catalog tables and datasets they name."""

    def __init__(self, catalog: CatalogService, datasets: Any) -> None:
        self.catalog = catalog
        self.datasets = datasets
        self.artifacts = datasets.artifacts
        self.settings = catalog.settings
        self._local_store = self.artifacts.backend.local_path("objects") is not None
        keep_warm(1)

    def limits(self, max_rows: int | None = None, timeout: float | None = None) -> Limits:
        rows = DEFAULT_MAX_ROWS if max_rows is None else max_rows
        seconds = DEFAULT_TIMEOUT_SECONDS if timeout is None else timeout
        if not 0 <= rows <= MAX_ROWS:
            raise InvalidRequest(f"limit must be between 0 and {MAX_ROWS:,} rows; got {rows}.")
        if not 0 < seconds <= MAX_TIMEOUT_SECONDS:
            raise InvalidRequest(f"timeout must be more than 0 and at most "
                                 f"{MAX_TIMEOUT_SECONDS:g} seconds; got {seconds:g}.")
        return Limits(max_rows=rows, timeout_seconds=seconds,
                      temp_directory=self.settings.tmp_dir / "sql")

    # -- names → views --------------------------------------------------------------------
    def _dataset(self, ref: str) -> VersionRecord | None:
        try:
            name, version = parse_ref(ref)
            return self.datasets.version(name, version)
        except (InvalidRequest, NotFound):
            return None

    @contextmanager
    def _part_files(self, rec: VersionRecord) -> Iterator[list[str]]:
        """Checked local files for a version's parts (copies only when the store is remote)."""
        if self._local_store:
            yield [str(self.artifacts.verified_path(p["sha256"])) for p in rec.parts]
            return
        self.settings.tmp_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="sql-parts-", dir=self.settings.tmp_dir))
        try:
            paths = []
            for i, part in enumerate(rec.parts):
                dest = work / f"part-{i:05d}.parquet"
                self.artifacts.copy_to(part["sha256"], dest)
                paths.append(str(dest))
            yield paths
        finally:
            shutil.rmtree(work, ignore_errors=True)

    @contextmanager
    def sources(self, query: str) -> Iterator[Sources]:
        """The views ``query`` names, and the allow-lists that go with them."""
        views: dict[tuple[str | None, str], View] = {}
        paths: list[str] = []
        directories: dict[str, None] = {}
        filesystems: list[Any] = []
        used_locations: set[str] = set()

        def use(table: TableRecord, schema: str | None) -> None:
            location = as_location(self.catalog.repo.get_location(table.location))
            views[(schema, table.name)] = table_view(table, location, schema)
            if table.location not in used_locations:
                used_locations.add(table.location)
                directories.update(dict.fromkeys(location.allowed_directories()))
                filesystems.extend(location.filesystems())

        with ExitStack() as stack:
            for schema, name in sorted(table_references(query)):
                if schema in ("", DATASETS_SCHEMA):
                    rec = self._dataset(name)
                    if rec is not None:
                        files = stack.enter_context(self._part_files(rec))
                        paths.extend(files)
                        for target in {DATASETS_SCHEMA, schema or None}:
                            views[(target, name)] = View(name=name, files=tuple(files),
                                                         schema=target)
                        continue
                    if schema == DATASETS_SCHEMA:
                        self.datasets.version(*parse_ref(name))  # raises, saying what is wrong
                    found = self.catalog.repo.find_tables(name)
                    if len(found) == 1:
                        use(found[0], None)
                    elif len(found) > 1:
                        where = ", ".join(f"{t.location}.{t.name}" for t in found)
                        raise InvalidRequest(f"Table {name!r} is in more than one catalog "
                                             f"location ({where}); name it with its location.")
                    continue
                try:
                    use(self.catalog.repo.get_table(schema, name), schema)
                except NotFound:
                    continue
            # Files named by path: the folders of the locations that hold them (docs/catalog.md).
            for location in path_locations(self.catalog, path_references(query)):
                if location.name not in used_locations:
                    used_locations.add(location.name)
                    directories.update(dict.fromkeys(location.allowed_directories()))
                    filesystems.extend(location.filesystems())
            yield Sources(views=tuple(views.values()), allowed_directories=tuple(directories),
                          allowed_paths=tuple(dict.fromkeys(paths)),
                          filesystems=tuple(filesystems))

    @contextmanager
    def _naming_tables(self) -> Iterator[None]:
        """An unknown table named as the user looks for it: a dataset or a catalog table."""
        try:
            yield
        except UnknownTable as exc:
            if "/" in exc.table or "\\" in exc.table:  # a path used as a table (FROM '/x.csv')
                raise InvalidRequest(
                    f"The query reads {exc.table!r}, which is not a file inside a registered "
                    "catalog location; query catalog tables and datasets by name, or name a "
                    "file inside a registered location by its path.") from None
            schema, _, name = exc.table.rpartition(".")
            if schema and schema != DATASETS_SCHEMA:
                try:
                    tables = [t.name for t in self.catalog.repo.list_tables(schema)]
                    where = (f"catalog location {schema!r} has no table {name!r}; "
                             f"{names_hint(name, tables, 'table')}")
                except NotFound:
                    where = (f"there is no catalog location {schema!r}; `shipyard catalog "
                             "locations` lists them")
                raise InvalidRequest(f"The query reads {exc.table!r}, but {where}.") from None
            known = [d.name for d in self.datasets.list()]
            known += [t.name for t in self.catalog.repo.list_tables()]
            raise InvalidRequest(
                f"The query reads {exc.table!r}, which is neither a dataset nor a catalog "
                f"table: {names_hint(name, known, 'name')} (`shipyard datasets list`, "
                "`shipyard catalog tables`).") from None

    # -- running --------------------------------------------------------------------------
    def query(self, query: str, *, max_rows: int | None = None,
              timeout: float | None = None) -> QueryResult:
        """Run a read-only query; at most ``max_rows`` rows come back (``truncated`` says if
        there were more)."""
        limits = self.limits(max_rows, timeout)
        with self.sources(query) as sources, self._naming_tables():
            return run(query, sources, limits)

    def save(self, query: str, dataset: str, *, actor: str | None = None,
             timeout: float | None = None,
             idempotency_key: str | None = None) -> VersionRecord:
        """Run a query and store all its rows as a new version of ``dataset``.

        With ``idempotency_key``, a retry of the same query into the same dataset answers
        with the version the first made, without running the query again (its data may
        have changed since); the key with another query or dataset is a 409.
        """
        request = {"sql": query, "dataset": dataset}
        if idempotency_key:
            done = self.datasets.replayed(idempotency_key, request)
            if done is not None:
                return done
        limits = self.limits(None, timeout)
        self.settings.tmp_dir.mkdir(parents=True, exist_ok=True)
        work = Path(tempfile.mkdtemp(prefix="sql-save-", dir=self.settings.tmp_dir))
        try:
            dest = work / "query.parquet"
            with self.sources(query) as sources, self._naming_tables():
                rows = write_parquet(query, sources, dest, limits)
            if rows == 0:
                raise InvalidRequest(f"The query returned no rows, so nothing was saved to "
                                     f"{dataset!r}; check its filters.")
            source = {"type": "sql", "query": query[:20_000]}
            rec: VersionRecord = self.datasets.ingest(
                dataset, [("query.parquet", dest)], mode="replace", format="parquet",
                source=source, actor=actor, idempotency_key=idempotency_key, request=request)
            return rec
        finally:
            shutil.rmtree(work, ignore_errors=True)
