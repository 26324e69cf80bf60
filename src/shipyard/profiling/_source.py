"""The table to profile, as DuckDB sees it: a DataFrame or Arrow table in memory, or
Parquet files scanned where they lie.

Every input becomes a DuckDB relation named ``t`` over Arrow memory (no copy of an
Arrow table; one conversion of a DataFrame; Parquet files of up to
:data:`ARROW_BYTES` uncompressed, read once) or over ``read_parquet`` (larger
files, streamed, never loaded whole). Text columns whose values are ISO dates are read as
timestamps, as the dataset ingest does. The seeded sample is the same rows
whichever way the table came in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq
import pyarrow.types as pat

from shipyard.errors import InvalidRequest

#: An ISO date or date-time, with an optional zone ("Z" or "+02:00").
_ISO = re.compile(
    r"^\d{4}-\d{2}-\d{2}([ T]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?)?(Z|[+-]\d{2}:?\d{2})?$")
_ZONED = r"(Z|[+-]\d{2}:?\d{2})$"
#: Values of a text column looked at to decide whether it holds dates.
DATE_PROBE = 1000
#: Parquet files holding at most this many bytes uncompressed are read into Arrow memory
#: once (faster: the queries then share it); larger ones are scanned by DuckDB in place.
ARROW_BYTES = 512 * 2**20


def ident(name: str) -> str:
    """``name`` as a quoted SQL identifier."""
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    """``text`` as a quoted SQL string literal."""
    return "'" + text.replace("'", "''") + "'"


def is_text(t: pa.DataType) -> bool:
    return bool(pat.is_string(t) or pat.is_large_string(t) or pat.is_string_view(t))


def _date_kind(values: pa.Array | pa.ChunkedArray) -> pa.DataType | None:
    """The timestamp type the first text ``values`` parse as (zoned: UTC), or ``None``."""
    probe = pc.drop_null(values.slice(0, 20 * DATE_PROBE))
    if len(probe) == 0:
        return None
    probe = pc.unique(probe).slice(0, DATE_PROBE)
    if isinstance(probe, pa.ChunkedArray):
        probe = probe.combine_chunks()
    if not all(_ISO.fullmatch(v) for v in probe.to_pylist()):
        return None
    zoned = pc.match_substring_regex(probe, _ZONED)
    if pc.any(zoned).as_py() and not pc.all(zoned).as_py():
        return None  # a mix of zoned and naive times has no one honest type
    target = pa.timestamp("us", tz="UTC") if pc.all(zoned).as_py() else pa.timestamp("us")
    try:
        pc.cast(probe, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return None
    return target


def _to_arrow(df: Any) -> pa.Table:
    """A pandas DataFrame as an Arrow table; object columns of mixed values become text."""
    names = [str(c) for c in df.columns]
    if len(set(names)) != len(names):
        dupes = sorted({n for n in names if names.count(n) > 1})
        raise InvalidRequest(
            f"The DataFrame has duplicate column names ({', '.join(map(repr, dupes[:5]))}); "
            "rename them so each column has its own name.")
    frame = df.set_axis(names, axis=1)
    try:
        return pa.Table.from_pandas(frame, preserve_index=False)
    except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
        arrays = []
        for name in names:
            s = frame[name]
            try:
                arrays.append(pa.Array.from_pandas(s))
            except (pa.ArrowInvalid, pa.ArrowTypeError, pa.ArrowNotImplementedError):
                arrays.append(pa.array([None if v is None or v != v else str(v) for v in s],
                                       type=pa.string()))
        return pa.table(arrays, names=names)


def _tolerant_cast(column: pa.ChunkedArray, target: pa.DataType) -> pa.ChunkedArray:
    """``column`` cast to ``target``, values that do not parse becoming null (as TRY_CAST)."""
    try:
        return pc.cast(column, target)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        out = []
        for value in column.to_pylist():
            try:
                out.append(pc.cast(pa.array([value]), target)[0].as_py())
            except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
                out.append(None)
        return pa.chunked_array([pa.array(out, type=target)])


def conform(table: pa.Table, dates: dict[str, pa.DataType]) -> pa.Table:
    """Dictionary columns decoded, and the text columns in ``dates`` cast to timestamps."""
    for i, f in enumerate(table.schema):
        column = table.column(i)
        if pat.is_dictionary(f.type):
            column = column.cast(f.type.value_type)
        if f.name in dates:
            column = _tolerant_cast(column, dates[f.name])
        if column is not table.column(i):
            table = table.set_column(i, f.name, column)
    return table


def _read_dates(table: pa.Table) -> tuple[pa.Table, dict[str, pa.DataType]]:
    """``table`` with dictionaries decoded and the text columns whose every value parses
    as an ISO date or date-time cast to timestamps; and the types of those columns."""
    dates = {}
    for i, f in enumerate(table.schema):
        column = table.column(i)
        if pat.is_dictionary(f.type):
            table = table.set_column(i, f.name, column.cast(f.type.value_type))
            column = table.column(i)
        target = _date_kind(column) if is_text(column.type) else None
        if target is None:
            continue
        try:
            table = table.set_column(i, f.name, pc.cast(column, target))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            continue
        dates[f.name] = target
    return table, dates


@dataclass
class Source:
    """A DuckDB connection holding the relation ``t``, and what is known without a scan."""

    con: duckdb.DuckDBPyConnection
    schema: pa.Schema
    rows: int
    memory: dict[str, int]
    kind: str
    files: list[Path] = field(default_factory=list)
    table: pa.Table | None = None
    dates: dict[str, pa.DataType] = field(default_factory=dict)
    #: Floating-point columns known to hold no NaN and no infinity.
    finite: frozenset[str] = frozenset()

    def query(self, sql: str) -> list[tuple[Any, ...]]:
        return self.con.execute(sql).fetchall()

    def cursor(self) -> duckdb.DuckDBPyConnection:
        """Another connection to the same database (for a query run in another thread)."""
        cur = self.con.cursor()
        if self.table is not None:  # a registered table is seen by its connection only
            cur.register("t", self.table)
        return cur

    def sample(self, n: int, seed: int) -> pa.Table:
        """``n`` rows (all of them when there are fewer) drawn with ``seed``, in table order."""
        if self.rows <= n:
            index = np.arange(self.rows, dtype=np.int64)
        else:
            index = np.sort(np.random.default_rng(seed).choice(self.rows, n, replace=False))
        if self.table is not None:
            return self.table.take(pa.array(index))
        return conform(self._parquet_rows(index), self.dates)

    def _parquet_rows(self, index: np.ndarray) -> pa.Table:
        self.con.register("__sample_index", pa.table({"i": index}))
        try:
            scans, offset = [], 0
            for path in self.files:
                scans.append(f"SELECT *, file_row_number + {offset} AS __row FROM "
                             f"read_parquet({literal(str(path))}, file_row_number = true)")
                offset += pq.ParquetFile(path).metadata.num_rows
            sql = (f"SELECT * EXCLUDE (file_row_number, __row) FROM ({' UNION ALL '.join(scans)}) "
                   "WHERE __row IN (SELECT i FROM __sample_index) ORDER BY __row")
            return self.con.sql(sql).to_arrow_table()
        finally:
            self.con.unregister("__sample_index")

    def close(self) -> None:
        self.con.close()


def _connect(threads: int | None) -> duckdb.DuckDBPyConnection:
    config: dict[str, Any] = {}
    if threads:
        config["threads"] = int(threads)
    return duckdb.connect(config=config)


def _parquet_paths(data: str | Path | Sequence[str | Path]) -> list[Path]:
    items = [data] if isinstance(data, str | Path) else list(data)
    paths: list[Path] = []
    for item in items:
        p = Path(item).expanduser()
        if p.is_dir():
            paths.extend(sorted(p.glob("*.parquet")))
        elif p.is_file():
            paths.append(p)
        else:
            raise InvalidRequest(f"No Parquet file or folder at {str(p)!r}; give existing paths.")
    if not paths:
        raise InvalidRequest("No Parquet files to profile; give a file, a folder or a list.")
    return paths


def from_arrow(table: pa.Table, kind: str, threads: int | None) -> Source:
    table, dates = _read_dates(table)
    con = _connect(threads)
    con.register("t", table)
    memory = {f.name: int(table.column(i).nbytes) for i, f in enumerate(table.schema)}
    finite = frozenset(
        f.name for i, f in enumerate(table.schema) if pat.is_floating(f.type)
        and not pc.any(pc.invert(pc.is_finite(table.column(i)))).as_py())
    return Source(con=con, schema=table.schema, rows=table.num_rows, memory=memory, kind=kind,
                  table=table, dates=dates, finite=finite)


def from_parquet(paths: list[Path], threads: int | None) -> Source:
    files = [pq.ParquetFile(p) for p in paths]
    schema = files[0].schema_arrow
    for path, f in zip(paths[1:], files[1:], strict=True):
        if f.schema_arrow.names != schema.names:
            raise InvalidRequest(
                f"{path.name!r} does not have the columns of {paths[0].name!r}; profile files "
                "of one table together.")
    memory = {name: 0 for name in schema.names}
    for f in files:
        meta = f.metadata
        for g in range(meta.num_row_groups):
            group = meta.row_group(g)
            for j in range(group.num_columns):
                col = group.column(j)
                top = col.path_in_schema.split(".")[0]
                if top in memory:
                    memory[top] += int(col.total_uncompressed_size)
    if sum(memory.values()) <= ARROW_BYTES:
        # Small enough to decompress once: every query then reads Arrow memory.
        table = pa.concat_tables([pq.read_table(p) for p in paths],
                                 promote_options="permissive")
        source = from_arrow(table, "parquet", threads)
        source.files, source.memory = paths, memory
        return source
    con = _connect(threads)
    listing = "[" + ", ".join(literal(str(p)) for p in paths) + "]"
    texts = [f.name for f in schema if is_text(f.type)]
    dates: dict[str, pa.DataType] = {}
    if texts:  # the first rows only, streamed by DuckDB (a whole row group can be large)
        first = con.sql(f"SELECT {', '.join(ident(n) for n in texts)} FROM "
                        f"read_parquet({listing}) LIMIT {20 * DATE_PROBE}").to_arrow_table()
        dates = {n: t for n in texts if (t := _date_kind(first.column(n))) is not None}
    projection = ", ".join(
        f"TRY_CAST({ident(n)} AS {'TIMESTAMPTZ' if dates[n].tz else 'TIMESTAMP'}) AS {ident(n)}"
        if n in dates else ident(n) for n in schema.names)
    con.execute(f"CREATE VIEW t AS SELECT {projection} FROM read_parquet({listing})")
    for name, target in dates.items():
        schema = schema.set(schema.get_field_index(name), pa.field(name, target))
    rows = sum(f.metadata.num_rows for f in files)
    return Source(con=con, schema=schema, rows=rows, memory=memory, kind="parquet",
                  files=paths, dates=dates)


def open_source(data: Any, threads: int | None = None) -> Source:
    """A :class:`Source` over a pandas DataFrame, an Arrow table, or Parquet path(s).

    Raises:
        InvalidRequest: any other kind of input, missing files, or files that disagree.
    """
    if isinstance(data, pa.Table):
        return from_arrow(data, "arrow", threads)
    if isinstance(data, pa.RecordBatch):
        return from_arrow(pa.Table.from_batches([data]), "arrow", threads)
    if type(data).__name__ == "DataFrame" and hasattr(data, "columns"):
        return from_arrow(_to_arrow(data), "dataframe", threads)
    paths = isinstance(data, list | tuple) and data and all(isinstance(p, str | Path) for p in data)
    if isinstance(data, str | Path) or paths:
        return from_parquet(_parquet_paths(data), threads)
    raise InvalidRequest(
        f"Cannot profile a {type(data).__name__}; give a pandas DataFrame, a pyarrow Table, or "
        "the path(s) of Parquet files.")
