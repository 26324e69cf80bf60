"""Crawling a location: which files make which table, and each table's schema.

Rules (documented in docs/catalog.md):

- CSV/TSV (``.csv``, ``.tsv``), Parquet (``.parquet``, ``.pq``) and JSON
  (``.json``, ``.jsonl``, ``.ndjson``) files are data, also gzip-compressed
  (``.csv.gz``); anything else is counted and ignored.
- A file directly in the location is a table of its own, named by its stem.
- Otherwise a table is a folder: its files of one format, including those in
  hive-style partition folders below it (``year=2013/month=1/``), whose keys
  become columns. A folder holding several formats makes one table per format.
- Table names are the folder's path with ``/`` and other characters that are
  not letters, digits or ``_`` turned into ``_``, in lower case.

The schema is DuckDB's reading of the files (``union_by_name``, so files that
add columns still make one table), inside the same sandbox queries use, so a
crawl never reads outside the location either.
"""

from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from shipyard.catalog._location import FileEntry, Location
from shipyard.errors import InvalidRequest
from shipyard.sandbox import Limits, Sources, View, quote_identifier, run
from shipyard.store import NewTable

#: CSV and JSON tables are counted (a full read) only up to this many bytes.
COUNT_ROWS_UP_TO_BYTES = 32 * 1024**2
CRAWL_TIMEOUT_SECONDS = 120.0
_SUFFIXES = {".parquet": "parquet", ".pq": "parquet", ".csv": "csv", ".tsv": "csv",
             ".json": "json", ".jsonl": "json", ".ndjson": "json"}
_COMPRESSED = (".gz", ".zst")
_NOT_WORD = re.compile(r"[^a-z0-9_]+")
_PARTITION = re.compile(r"^([^=/]+)=([^/]*)$")


def file_format(rel: str) -> str | None:
    """``parquet``, ``csv`` or ``json`` for a data file's name, else None."""
    name = rel.rsplit("/", 1)[-1].lower()
    for suffix in _COMPRESSED:
        if name.endswith(suffix):
            name = name[: -len(suffix)]
    dot = name.rfind(".")
    return _SUFFIXES.get(name[dot:]) if dot > 0 else None


def table_name(text: str) -> str:
    """A SQL-friendly table name from a path: ``sales/EU 2024`` → ``sales_eu_2024``."""
    name = _NOT_WORD.sub("_", text.lower()).strip("_") or "table"
    return f"t_{name}" if name[0].isdigit() else name[:120]


@dataclass(frozen=True)
class Group:
    """The files of one table before their schema is read."""

    name: str
    path: str
    format: str
    files: tuple[FileEntry, ...]
    partition_keys: tuple[str, ...]
    problem: str | None = None


def _split(rel: str) -> tuple[str, tuple[str, ...]]:
    """A file's table folder and its partition keys: ``t/year=1/a.csv`` → ``("t", ("year",))``."""
    folders = rel.split("/")[:-1]
    keys: list[str] = []
    while folders and (m := _PARTITION.fullmatch(folders[-1])):
        keys.insert(0, m.group(1))
        folders.pop()
    return "/".join(folders), tuple(keys)


def group_files(location: str, files: list[FileEntry]) -> tuple[list[Group], int]:
    """Group data files into tables; return the groups and how many files were ignored."""
    by_folder: dict[tuple[str, str], list[FileEntry]] = defaultdict(list)
    keys_of: dict[tuple[str, str], set[tuple[str, ...]]] = defaultdict(set)
    ignored = 0
    for entry in files:
        fmt = file_format(entry.rel)
        if fmt is None:
            ignored += 1
            continue
        folder, keys = _split(entry.rel)
        if not folder and not keys:  # a file directly in the location: a table of its own
            folder = entry.rel
        by_folder[(folder, fmt)].append(entry)
        keys_of[(folder, fmt)].add(keys)
    formats_in: dict[str, int] = defaultdict(int)
    for folder, _ in by_folder:
        formats_in[folder] += 1
    groups, taken = [], set()
    for (folder, fmt), entries in sorted(by_folder.items()):
        stem = folder
        if "/" not in folder and file_format(folder):  # a single file: name it by its stem
            stem = folder.split(".", 1)[0]
        base = table_name(stem) if folder else table_name(location)
        if formats_in[folder] > 1:
            base = f"{base}_{fmt}"
        name, n = base, 2
        while name in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(name)
        key_sets = keys_of[(folder, fmt)]
        keys = max(key_sets, key=len)
        problem = None
        if len(key_sets) > 1:
            spelled = " vs ".join("/".join(k) or "(none)" for k in sorted(key_sets))
            problem = (f"its files sit in different partition folders ({spelled}); put every "
                       "file at the same partition depth")
        groups.append(Group(name, folder, fmt, tuple(entries), keys, problem))
    return groups, ignored


def _view(location: Location, group: Group) -> View:
    return View(name=group.name, files=tuple(location.absolute(f.rel) for f in group.files),
                format=group.format, hive_partitioning=bool(group.partition_keys))


def infer(location: Location, group: Group) -> NewTable:
    """Read a group's schema (and row count, where cheap) in the sandbox."""
    files = [{"path": f.rel, "size": f.size} for f in group.files]
    size = sum(f.size for f in group.files)

    def table(columns: list[dict[str, str]], rows: int | None, error: str | None) -> NewTable:
        return NewTable(name=group.name, path=group.path, format=group.format, files=files,
                        partition_keys=list(group.partition_keys), columns=columns,
                        size_bytes=size, num_rows=rows, error=error)

    if group.problem:
        return table([], None, f"Table {group.name!r} cannot be read: {group.problem}.")
    sources = Sources(views=(_view(location, group),),
                      allowed_directories=location.allowed_directories(),
                      filesystems=location.filesystems())
    limits = Limits(max_rows=100_000, timeout_seconds=CRAWL_TIMEOUT_SECONDS)
    ident = quote_identifier(group.name)
    try:
        described = run(f"DESCRIBE {ident}", sources, limits).table
        columns = [{"name": str(n), "type": str(t)} for n, t in zip(
            described.column("column_name").to_pylist(),
            described.column("column_type").to_pylist(), strict=True)]
        rows = None
        if group.format == "parquet" or size <= COUNT_ROWS_UP_TO_BYTES:
            counted = run(f"SELECT count(*) AS n FROM {ident}", sources, limits).table
            rows = int(counted.column(0)[0].as_py())
    except InvalidRequest as exc:
        return table([], None, exc.message.replace("The query", "Reading the table", 1))
    return table(columns, rows, None)


def crawl(location: Location) -> tuple[list[NewTable], dict[str, object]]:
    """Every table in ``location``, and counts of what the crawl saw."""
    listing = location.list_files()
    groups, ignored = group_files(location.name, listing.files)
    tables = [infer(location, g) for g in groups]
    stats: dict[str, object] = {
        "files": len(listing.files), "ignored_files": ignored,
        "skipped": listing.skipped[:100], "errors": sum(1 for t in tables if t.error),
        "size_bytes": sum(f.size for f in listing.files),
    }
    return tables, stats
