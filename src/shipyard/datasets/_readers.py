"""Reading uploaded files into Arrow tables, one format at a time.

Every reader yields :class:`Chunk` objects: a table plus a function that names a
row of it the way the user counts in the file ("row 17", "line 17", "record 17"),
so that any later check can point at the offending value. Readers refuse what
they cannot read with :class:`MalformedData` naming the file and the row, line or
column. The uploaded file name is used for messages only, never as a path.
"""

from __future__ import annotations

import csv
import io
import re
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pyarrow.types as pat

from shipyard.datasets._base import (
    Chunk,
    Limits,
    Restart,
    Where,
    check_names,
    check_text,
    normalize,
    open_binary,
    rows_from,
)
from shipyard.datasets._dialect import (
    Dialect,
    grouped_numbers,
    resolve,
    sep_label,
    single_column_hint,
    ungroup,
)
from shipyard.datasets._json import JsonLinesReader, JsonReader
from shipyard.errors import MalformedData, UnsupportedMediaType

__all__ = ["FORMATS", "Chunk", "Reader", "Restart", "Where", "detect_format", "open_reader"]

#: The name a blank first header cell gets: pandas' and R's row-name column (``,a,b``).
UNNAMED_FIRST = "Unnamed: 0"

FORMATS = ("csv", "tsv", "parquet", "json", "jsonl")
_EXTENSIONS = {
    ".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".pq": "parquet",
    ".json": "json", ".jsonl": "jsonl", ".ndjson": "jsonl",
}
_FORMAT_ALIASES = {"ndjson": "jsonl", "pq": "parquet", "tab": "tsv"}
#: CSV is parsed in blocks of this many bytes; the first block decides the column types.
CSV_BLOCK_BYTES = 4 * 1024 * 1024
PARQUET_BATCH_ROWS = 128 * 1024
_CONVERSION = re.compile(
    r"In CSV column #(\d+): (?:Row #\d+: )?CSV conversion error to [^:]+: invalid value '(.*)'",
    re.DOTALL,
)


def detect_format(filename: str, declared: str | None = None) -> str:
    """The format of an upload: the declared one, else from the file name's extension.

    Raises:
        UnsupportedMediaType: an unknown declared format, or a name that says nothing.
    """
    if declared:
        fmt = _FORMAT_ALIASES.get(declared.strip().lower(), declared.strip().lower())
        if fmt not in FORMATS:
            raise UnsupportedMediaType(
                f"Unknown format {declared!r}; use one of {', '.join(FORMATS)}."
            )
        return fmt
    lower = filename.lower()
    if lower.endswith(".gz"):
        lower = lower[:-3]
    dot = lower.rfind(".")
    found = _EXTENSIONS.get(lower[dot:]) if dot >= 0 else None
    if found is None:
        raise UnsupportedMediaType(
            f"Cannot tell the format of {filename!r} from its name; name it *.csv, *.tsv, "
            f"*.parquet, *.json or *.jsonl, or pass format= one of {', '.join(FORMATS)}."
        )
    return found


# -- CSV / TSV -------------------------------------------------------------------------------
def _widen(current: pa.DataType, value: str) -> pa.DataType:
    """The type a column needs once ``value`` turned up after its type was guessed."""
    def parses(cast: Callable[[str], object]) -> bool:
        try:
            cast(value)
        except ValueError:
            return False
        return True

    if pat.is_null(current) and parses(int):
        return pa.int64()
    if (pat.is_null(current) or pat.is_integer(current)) and parses(float):
        return pa.float64()
    return pa.string()


class _Paced(io.RawIOBase):
    """A file that pyarrow's CSV reader may read only a few blocks ahead of its consumer.

    The streaming reader reads blocks in a background thread, up to 32 ahead of the
    batches handed out: on a large file that is hundreds of MB held for nothing. Here
    each read waits until the consumer has taken a batch, or a second at most, so a row
    longer than a block can never stall the reader.
    """

    def __init__(self, raw: IO[bytes], ahead: int = 3) -> None:
        super().__init__()
        self._raw = raw
        self._slots = threading.Semaphore(ahead)

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        self._slots.acquire(timeout=1.0)
        return self._raw.read(size)

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def consumed(self) -> None:
        self._slots.release()

    def close(self) -> None:
        self._raw.close()
        super().close()


class CsvReader:
    """A streaming CSV/TSV reader: bounded memory, types guessed from the first block.

    ``dialect`` is complete (see :func:`shipyard.datasets._dialect.resolve`). With a
    decimal comma, text columns whose every value in the first block is a number
    written like ``1.234,5`` become numbers; a later value that is not one makes the
    reader start again with the column as text.
    """

    def __init__(self, path: Path, display: str, dialect: Dialect, text_columns: set[str],
                 limits: Limits | None = None) -> None:
        self.path = path
        self.display = display
        self.dialect = dialect
        self.limits = limits or Limits()
        self.text_columns = set(text_columns)
        self.types: dict[str, pa.DataType] = {c: pa.string() for c in text_columns}
        self._bad_row: Any = None
        #: Columns found to hold grouped numbers, or refused as such, on an earlier pass.
        self._not_grouped: set[str] = set()

    @property
    def delimiter(self) -> str:
        return self.dialect.sep or ","

    def _invalid_row(self, row: Any) -> str:
        self._bad_row = row
        return "error"

    def _open(self, source: _Paced) -> pcsv.CSVStreamingReader:
        return pcsv.open_csv(
            source,
            # One thread: the streaming reader is as fast, and row numbers are then known.
            read_options=pcsv.ReadOptions(use_threads=False, block_size=CSV_BLOCK_BYTES,
                                          encoding=self.dialect.encoding),
            parse_options=pcsv.ParseOptions(
                delimiter=self.delimiter, newlines_in_values=True,
                invalid_row_handler=self._invalid_row,
            ),
            convert_options=pcsv.ConvertOptions(
                column_types=self.types, strings_can_be_null=True,
                decimal_point=self.dialect.decimal or "."),
        )

    def _header(self) -> list[str]:
        """The header's fields, read apart (when pyarrow refused a row before naming them)."""
        with open_binary(self.path, self.limits, self.display) as fh:
            line = fh.readline(1 << 20).decode(self.dialect.encoding, errors="replace")
        rows = list(csv.reader([line.lstrip("\ufeff")], delimiter=self.delimiter))
        return rows[0] if rows else []

    def _refuse(self, exc: pa.ArrowException, schema: pa.Schema | None) -> Exception:
        if self._bad_row is not None:
            row = self._bad_row
            if row.expected_columns == 1 and (one := self._one_column(self._header())):
                return one
            where = f"row {row.number - 1}" if row.number else "a row"
            got = row.actual_columns
            return MalformedData(
                f"{where.capitalize()} of {self.display!r} has {got} field{'s' * (got != 1)} but "
                f"the header has {row.expected_columns}: {row.text[:80]!r}. Every row needs one "
                "value per column; quote values that contain the delimiter (it was read as "
                f"{sep_label(self.delimiter)}; pass sep, --sep on the CLI, if that is wrong)."
            )
        msg = str(exc)
        if "Empty CSV file" in msg:
            return MalformedData(f"{self.display!r} is empty; upload a header and data rows.")
        conv = _CONVERSION.search(msg)
        if conv and schema is not None:
            field = schema.field(int(conv.group(1)))
            wider = _widen(field.type, conv.group(2))
            if self.types.get(field.name) != wider:
                self.types[field.name] = wider
                return Restart()
        return MalformedData(f"{self.display!r} could not be read as CSV: {msg}")

    def _one_column(self, names: list[str]) -> MalformedData | None:
        """The refusal of a file read as one column whose name holds another delimiter
        (unless the user chose the delimiter: then one column it is)."""
        if self.dialect.sep_given:
            return None
        hint = single_column_hint(names, self.delimiter)
        if hint is None:
            return None
        return MalformedData(
            f"{self.display!r} reads as a single column named {names[0][:60]!r}, so its "
            f"fields are probably separated by {sep_label(hint)}, not "
            f"{sep_label(self.delimiter)}: pass sep={hint!r} (--sep on the CLI).")

    def _check_header(self, names: list[str]) -> list[str]:
        if names and names[0] == "":
            names = [UNNAMED_FIRST, *names[1:]]
        if (one := self._one_column(names)) is not None:
            raise one
        check_names(names, self.display)
        return names

    def _grouped(self, table: pa.Table, first: bool, grouped: set[str]) -> pa.Table:
        """Numbers written with grouped thousands and a decimal comma, made numbers."""
        if self.dialect.decimal != ",":
            return table
        for i, name in enumerate(table.column_names):
            column = table.column(i)
            if not pat.is_string(column.type) or name in self.text_columns:
                continue
            if first and name not in self._not_grouped and grouped_numbers(column):
                grouped.add(name)
            if name not in grouped:
                continue
            if not grouped_numbers(column) and column.null_count < len(column):
                self._not_grouped.add(name)
                raise Restart()
            table = table.set_column(i, name, ungroup(column))
        return table

    def chunks(self) -> Iterator[Chunk]:
        self._bad_row = None
        schema = None
        offset = 0
        grouped: set[str] = set()
        with _Paced(open_binary(self.path, self.limits, self.display)) as source:
            try:
                reader = self._open(source)
                schema = reader.schema
                names = self._check_header(schema.names)
                for batch in reader:
                    source.consumed()
                    table = pa.Table.from_batches([batch]).rename_columns(names)
                    yield Chunk(self._grouped(table, offset == 0, grouped), rows_from(offset))
                    offset += batch.num_rows
            except pa.ArrowException as exc:
                raise self._refuse(exc, schema) from None


# -- Parquet ---------------------------------------------------------------------------------
class ParquetReader:
    def __init__(self, path: Path, display: str) -> None:
        self.path = path
        self.display = display

    def chunks(self) -> Iterator[Chunk]:
        try:
            pf = pq.ParquetFile(self.path)
        except (pa.ArrowException, OSError) as exc:
            raise MalformedData(
                f"{self.display!r} is not a readable Parquet file ({exc}); upload a Parquet "
                "file, or name the format of the file you have."
            ) from None
        check_names(pf.schema_arrow.names, self.display)
        offset = 0
        try:
            for batch in pf.iter_batches(batch_size=PARQUET_BATCH_ROWS):
                table = pa.Table.from_batches([batch]).replace_schema_metadata(None)
                keep = [n for n in table.column_names if not n.startswith("__index_level_")]
                yield Chunk(normalize(table.select(keep)), rows_from(offset))
                offset += batch.num_rows
        except (pa.ArrowException, OSError) as exc:
            raise MalformedData(f"{self.display!r} has a damaged part after row {offset}: {exc}")\
                from None


Reader = CsvReader | ParquetReader | JsonReader | JsonLinesReader


def open_reader(path: Path, display: str, fmt: str, text_columns: set[str],
                dialect: Dialect | None = None, limits: Limits | None = None) -> Reader:
    """A reader for ``fmt``; text formats are checked for their encoding and emptiness first.

    ``dialect`` applies to CSV and TSV (its delimiter and decimal mark are sniffed where
    not given) and its encoding to JSON too; ``limits`` caps what a gzip file expands to.
    """
    dialect = dialect or Dialect()
    limits = limits or Limits()
    if fmt == "parquet":
        if path.stat().st_size == 0:
            raise MalformedData(f"{display!r} is empty; upload a Parquet file with rows.")
        return ParquetReader(path, display)
    check_text(path, display, dialect.encoding, limits)
    if fmt in ("csv", "tsv"):
        resolved = resolve(dialect, path, "," if fmt == "csv" else "\t", limits, display)
        return CsvReader(path, display, resolved, text_columns, limits)
    if fmt == "json":
        return JsonReader(path, display, text_columns, dialect.encoding, limits)
    return JsonLinesReader(path, display, text_columns, dialect.encoding, limits)
