"""From uploaded files to Parquet parts that agree on one schema.

Each uploaded file becomes one Parquet part, written batch by batch (bounded
memory). The parts of one upload must then agree with each other, and an
appended upload with the dataset it joins; a part whose types differ but convert
(an integer column where the dataset has floats) is rewritten, anything else is
refused naming the file, the column and, where there is one, the row.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from shipyard.datasets._base import Limits
from shipyard.datasets._dialect import Dialect, ungroup
from shipyard.datasets._readers import Chunk, CsvReader, Reader, Restart, Where, open_reader
from shipyard.datasets._semantic import ColumnSchema, profile_column
from shipyard.datasets._types import BadValue, Incompatible, cast_to, type_name
from shipyard.errors import InvalidRequest, MalformedData

#: How many times a CSV may be re-read because a column's type was learnt late.
MAX_RESTARTS = 64
PARQUET_COMPRESSION = "zstd"


@dataclass(frozen=True)
class Part:
    """One uploaded file, written as a Parquet file in the ingest's work folder."""

    path: Path
    display: str
    format: str
    rows: int
    schema: pa.Schema
    #: How a CSV/TSV was read (given or sniffed): ``{"sep", "decimal", "encoding"}``.
    dialect: dict[str, str] | None = None


def _short(value: object) -> str:
    text = repr(value)
    return text if len(text) <= 60 else text[:57] + "...'"


def _check_declared(names: list[str], declared: dict[str, pa.DataType], display: str) -> None:
    unknown = [c for c in declared if c not in names]
    if unknown:
        listed = ", ".join(repr(c) for c in unknown)
        raise InvalidRequest(
            f"column_types names {listed}, which {display!r} does not have; its columns are "
            f"{', '.join(names[:30])}{' …' if len(names) > 30 else ''}."
        )


def _apply_declared(table: pa.Table, declared: dict[str, pa.DataType], where: Where,
                    display: str, decimal_comma: bool = False) -> pa.Table:
    for name, target in declared.items():
        i = table.schema.get_field_index(name)
        column = table.column(i).combine_chunks()
        try:
            if decimal_comma and pa.types.is_floating(target) and pa.types.is_string(column.type):
                column = _ungrouped(column)
            converted = cast_to(column, target)
        except BadValue as bad:
            raise MalformedData(
                f"Column {name!r} must be {type_name(target)}; got {_short(bad.value)} in "
                f"{where(bad.index)} of {display!r}. Fix the value or declare the column as string."
            ) from None
        except Incompatible:
            raise MalformedData(
                f"Column {name!r} of {display!r} holds {column.type} values, which cannot be "
                f"read as {type_name(target)}; declare another type for it in column_types."
            ) from None
        table = table.set_column(i, name, converted)
    return table


def _ungrouped(column: pa.Array) -> pa.Array:
    """``1.234,5`` → 1234.5, or the column as it was when a value is not such a number."""
    try:
        return ungroup(column)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
        return column  # cast_to names the first value that is not a number


def _write(reader: Reader, part: Part, declared: dict[str, pa.DataType], limits: Limits,
           rows_before: int) -> Part:
    writer: pq.ParquetWriter | None = None
    rows = 0
    comma = isinstance(reader, CsvReader) and reader.dialect.decimal == ","
    try:
        chunk: Chunk
        for chunk in reader.chunks():
            table = chunk.table
            if writer is None:
                _check_declared(table.column_names, declared, part.display)
            table = _apply_declared(table, declared, chunk.where, part.display, comma)
            if table.num_columns == 0:  # an empty JSON array
                continue
            if rows_before + rows + table.num_rows > limits.rows:
                raise limits.too_many_rows(part.display)
            if writer is None:
                writer = pq.ParquetWriter(part.path, table.schema, compression=PARQUET_COMPRESSION)
            writer.write_table(table)
            rows += table.num_rows
    finally:
        if writer is not None:
            writer.close()
    if rows == 0 or writer is None:
        raise MalformedData(
            f"{part.display!r} has no data rows; upload a file with at least one row of data "
            "(below the header, for CSV and TSV)."
        )
    return replace(part, rows=rows, schema=pq.read_schema(part.path))


def write_part(display: str, path: Path, fmt: str, declared: dict[str, pa.DataType],
               out: Path, *, dialect: Dialect | None = None, limits: Limits | None = None,
               rows_before: int = 0, text_columns: set[str] | None = None) -> Part:
    """Read one uploaded file and write it as the Parquet file ``out``.

    Args:
        dialect: the delimiter, decimal mark and encoding where the user gave them.
        limits: what the upload may expand to; ``rows_before`` rows of it were read already.
        text_columns: columns to read as text where the file has them (not inferred), e.g.
            the text columns of the version an append extends.

    Raises:
        MalformedData: the file cannot become a table (the message names row or column).
        InvalidRequest: ``declared`` names a column the file does not have.
        PayloadTooLarge: the file expands past ``limits``.
    """
    limits = limits or Limits()
    reader = open_reader(path, display, fmt, set(declared) | (text_columns or set()), dialect,
                         limits)
    used = None
    if isinstance(reader, CsvReader):
        used = {"sep": reader.delimiter, "decimal": reader.dialect.decimal or ".",
                "encoding": reader.dialect.encoding}
    part = Part(path=out, display=display, format=fmt, rows=0, schema=pa.schema([]),
                dialect=used)
    for _ in range(MAX_RESTARTS):
        try:
            return _write(reader, part, declared, limits, rows_before)
        except Restart:
            continue
    raise MalformedData(
        f"The column types of {display!r} kept changing as it was read; declare them with "
        "column_types."
    )


# -- making parts agree ----------------------------------------------------------------------
def _check_columns(part: Part, target: pa.Schema, context: str) -> None:
    missing = [n for n in target.names if n not in part.schema.names]
    extra = [n for n in part.schema.names if n not in target.names]
    if missing or extra:
        said = []
        if missing:
            said.append(f"lacks {', '.join(repr(n) for n in missing[:10])}")
        if extra:
            said.append(f"has {', '.join(repr(n) for n in extra[:10])} in addition")
        raise MalformedData(
            f"The columns of {part.display!r} do not match {context}: it "
            f"{' and '.join(said)}. Every file of a dataset needs the same columns."
        )
    for field in target:
        source = part.schema.field(field.name).type
        try:
            cast_to(pa.nulls(0, source), field.type)
        except Incompatible:
            raise MalformedData(
                f"Column {field.name!r} is {field.type} in {context} but {source} in "
                f"{part.display!r}; make the types agree, or declare the column's type with "
                "column_types."
            ) from None


def _unify(parts: list[Part]) -> pa.Schema:
    """The schema the parts of one upload share: types widened where that is safe."""
    first = parts[0]
    context = f"the first file, {first.display!r}"
    fields = []
    for field in first.schema:
        t = field.type
        for other in parts[1:]:
            if field.name not in other.schema.names:
                _check_columns(other, first.schema, context)
            u = other.schema.field(field.name).type
            try:
                t = pa.unify_schemas([pa.schema([(field.name, t)]), pa.schema([(field.name, u)])],
                                     promote_options="permissive").field(0).type
            except (pa.ArrowInvalid, pa.ArrowTypeError):
                raise MalformedData(
                    f"Column {field.name!r} is {type_name(t)} in {first.display!r} but "
                    f"{type_name(u)} in {other.display!r}; the files of one upload must agree. "
                    "Make them agree, or declare the column's type with column_types."
                ) from None
        # A column with no value anywhere has no type yet; text is the one that takes anything.
        fields.append(pa.field(field.name, pa.string() if pa.types.is_null(t) else t))
    return pa.schema(fields)


def _rewrite(part: Part, target: pa.Schema, context: str, out: Path) -> Part:
    pf = pq.ParquetFile(part.path)
    offset = 0
    with pq.ParquetWriter(out, target, compression=PARQUET_COMPRESSION) as writer:
        for batch in pf.iter_batches(batch_size=128 * 1024):
            columns = []
            for field in target:
                try:
                    columns.append(cast_to(batch.column(field.name), field.type))
                except BadValue as bad:
                    raise MalformedData(
                        f"Column {field.name!r} of {part.display!r} must be "
                        f"{type_name(field.type)} to match {context}; got {_short(bad.value)} in "
                        f"row {offset + bad.index + 1}. Fix the value, or declare the column's "
                        "type with column_types."
                    ) from None
            writer.write_table(pa.table(columns, schema=target))
            offset += batch.num_rows
    part.path.unlink(missing_ok=True)
    return replace(part, path=out, schema=target)


def conform(parts: list[Part], base: pa.Schema | None, context: str | None) -> list[Part]:
    """Make every part hold exactly ``base`` (an append) or the parts' common schema.

    Args:
        base: the schema of the version appended to, or ``None`` for a new dataset.
        context: how messages name ``base`` ("version 2 of 'churn'").
    """
    if base is None:
        target = _unify(parts)
        context = f"the first file, {parts[0].display!r}"
    else:
        target = base
    out = []
    for i, part in enumerate(parts):
        _check_columns(part, target, context or "the dataset")
        if part.schema.equals(target):
            out.append(part)
        else:
            dest = part.path.with_name(f"{part.path.stem}-{i}.conformed.parquet")
            out.append(_rewrite(part, target, context or "the dataset", dest))
    return out


def profile_parts(paths: list[Path], schema: pa.Schema) -> list[ColumnSchema]:
    """Column schemas over all ``paths`` (one column in memory at a time)."""
    files = [pq.ParquetFile(p) for p in paths]
    result = []
    for position, name in enumerate(schema.names):
        column = pa.chunked_array(
            [chunk for f in files for chunk in f.read(columns=[name]).column(0).chunks],
            type=schema.field(name).type,
        )
        result.append(profile_column(name, column, position))
    return result
