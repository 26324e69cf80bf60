"""What every reader shares: chunks that name their rows, checks of text and names, and the
limits an upload must keep to once decompressed."""

from __future__ import annotations

import codecs
import gzip
import io
import re
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.types as pat

from shipyard.errors import MalformedData, PayloadTooLarge
from shipyard.settings import DEFAULT_MAX_DECOMPRESSED_BYTES, DEFAULT_MAX_UPLOAD_ROWS

_GZIP_MAGIC = b"\x1f\x8b"
#: C0 control characters and DEL: they break SQL, HTML and terminals when they name a column.
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")

Where = Callable[[int], str]


@dataclass(frozen=True)
class Chunk:
    """A piece of a file as a table; ``where(i)`` names its row ``i`` ("row 17")."""

    table: pa.Table
    where: Where


def rows_from(offset: int) -> Where:
    """Row names for a chunk that starts after ``offset`` data rows."""
    return lambda i: f"row {offset + i + 1}"


class Restart(Exception):  # noqa: N818 - a signal, not an error
    """The reader learnt a column type late; read the file again from the start."""


def human_bytes(n: int) -> str:
    """``10 GiB``, ``512 MiB``: a limit as a person reads it."""
    for unit, size in (("GiB", 1024**3), ("MiB", 1024**2), ("KiB", 1024)):
        if n >= size:
            return f"{n / size:,.3g} {unit}"
    return f"{n:,} bytes"


@dataclass(frozen=True)
class Limits:
    """What one upload may expand to: decompressed bytes (per file) and rows (all its files).

    The server takes them from ``SHIPYARD_MAX_DECOMPRESSED_BYTES`` and
    ``SHIPYARD_MAX_UPLOAD_ROWS``; a compressed file that would expand past them (a
    decompression bomb) is refused with a 413 before it can fill memory or disk.
    """

    decompressed_bytes: int = DEFAULT_MAX_DECOMPRESSED_BYTES
    rows: int = DEFAULT_MAX_UPLOAD_ROWS

    def too_many_rows(self, display: str) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"The upload holds more than {self.rows:,} rows (at {display!r}), the most one "
            "upload may hold (the server's SHIPYARD_MAX_UPLOAD_ROWS); upload the rows in "
            "several parts and append them, or ask the administrator to raise the limit.",
            limit=self.rows, setting="SHIPYARD_MAX_UPLOAD_ROWS")

    def too_many_bytes(self, display: str) -> PayloadTooLarge:
        return PayloadTooLarge(
            f"{display!r} expands to more than {human_bytes(self.decompressed_bytes)} once "
            "decompressed, the most one file may hold (the server's "
            "SHIPYARD_MAX_DECOMPRESSED_BYTES); upload it in parts, or ask the administrator "
            "to raise the limit.",
            limit=self.decompressed_bytes, setting="SHIPYARD_MAX_DECOMPRESSED_BYTES")


class _Capped(io.RawIOBase):
    """A decompressing stream that refuses to give out more than ``limits`` allow."""

    def __init__(self, raw: IO[bytes], limits: Limits, display: str) -> None:
        super().__init__()
        self._raw = raw
        self._limits = limits
        self._display = display
        self._given = 0

    def readable(self) -> bool:
        return True

    def read(self, size: int = -1) -> bytes:
        # Never more than the limit allows plus one byte, so "read everything" stays bounded.
        room = self._limits.decompressed_bytes - self._given + 1
        data = self._raw.read(room if size is None or size < 0 else min(size, room))
        self._given += len(data)
        if self._given > self._limits.decompressed_bytes:
            raise self._limits.too_many_bytes(self._display)
        return data

    def readinto(self, buffer: Any) -> int:
        data = self.read(len(buffer))
        buffer[: len(data)] = data
        return len(data)

    def close(self) -> None:
        self._raw.close()
        super().close()


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == _GZIP_MAGIC


def open_binary(path: Path, limits: Limits | None = None, display: str = "") -> IO[bytes]:
    """The file's bytes, decompressed as they are read when it is gzip (never whole in memory).

    A gzip file is read through a cap: reading past ``limits.decompressed_bytes`` raises
    :class:`~shipyard.errors.PayloadTooLarge`. A plain file is as large as it was uploaded,
    which the upload limit already bounds.
    """
    if is_gzip(path):
        stream: IO[bytes] = gzip.open(path, "rb")  # type: ignore[assignment]  # noqa: SIM115
        capped = _Capped(stream, limits or Limits(), display or path.name)
        return capped  # type: ignore[return-value]
    return open(path, "rb")  # noqa: SIM115 - the caller closes it


def _undecodable(display: str, encoding: str, line: int, byte: bytes) -> MalformedData:
    if codecs.lookup(encoding).name == "utf-8":
        return MalformedData(
            f"{display!r} is not valid UTF-8: line {line} holds the byte 0x{byte.hex()}, which "
            "UTF-8 cannot decode (was it saved as Latin-1 or Windows-1252?). Save the file as "
            "UTF-8, or name its encoding (encoding='cp1252', --encoding cp1252 on the CLI).")
    return MalformedData(
        f"{display!r} is not valid {encoding}: line {line} holds the byte 0x{byte.hex()}, which "
        f"{encoding} cannot decode; name the encoding the file was saved in.")


def check_text(path: Path, display: str, encoding: str = "utf-8",
               limits: Limits | None = None) -> None:
    """Refuse a text file that is empty, or not in ``encoding`` (naming the line of the first
    bad byte), or that expands past ``limits``.

    Decodes block by block with an incremental decoder, so memory stays bounded and a
    multi-byte character split between blocks is still whole (long lines, or a file
    without any line end, cost no more than short ones).
    """
    line = 1
    seen_text = False
    decoder = codecs.getincrementaldecoder(encoding)()
    try:
        with open_binary(path, limits, display) as fh:
            while True:
                block = fh.read(1024 * 1024)
                try:
                    text = decoder.decode(block, final=not block)
                except UnicodeDecodeError as exc:
                    # exc.object is this block after the few bytes of a character the last
                    # one cut short, which hold no line end.
                    data = exc.object
                    at = line + data.count(b"\n", 0, exc.start)
                    raise _undecodable(display, encoding, at,
                                       data[exc.start:exc.start + 1]) from None
                seen_text = seen_text or bool(text.lstrip("\ufeff").strip())
                line += block.count(b"\n")
                if not block:
                    break
    except (OSError, EOFError, zlib.error) as exc:
        raise MalformedData(
            f"{display!r} could not be decompressed ({exc}); upload an intact .gz file, or the "
            "file uncompressed."
        ) from None
    if not seen_text:
        raise MalformedData(f"{display!r} is empty; upload a file with a header and data rows.")


def check_names(names: list[str], display: str) -> None:
    """Refuse blank and duplicate column names (also duplicates but for case), and names
    holding control characters or text that is not Unicode, naming the column by its
    position."""
    for i, n in enumerate(names):
        where = f"column {i + 1} of {len(names)}"
        if (bad := _CONTROL.search(str(n))) is not None:
            raise MalformedData(
                f"{display!r} has a control character ({bad.group()!r}) in the name of {where} "
                f"({str(n)!r}); remove it from the header, since names must be printable text.")
        try:
            str(n).encode("utf-8")
        except UnicodeEncodeError:
            raise MalformedData(
                f"The name of {where} of {display!r} is not valid Unicode (it holds a lone "
                f"surrogate such as '\\ud800'): {str(n)!r}; fix the name.") from None
    blank = [i + 1 for i, n in enumerate(names) if not str(n).strip()]
    if blank:
        raise MalformedData(
            f"{display!r} has a column with a blank name (column {blank[0]} of {len(names)}); "
            "give every column a name in the header."
        )
    counts: dict[str, int] = {}
    for n in names:
        counts[n] = counts.get(n, 0) + 1
    dups = [n for n, c in counts.items() if c > 1]
    if dups:
        listed = ", ".join(repr(d) for d in dups)
        raise MalformedData(
            f"{display!r} has more than one column named {listed}; column names must be "
            "unique, so rename the duplicates."
        )
    # SQL (DuckDB) matches names without case, quoted or not: `SELECT temp` read 'Temp'.
    folded: dict[str, str] = {}
    for n in map(str, names):
        if (first := folded.setdefault(n.casefold(), n)) != n:
            raise MalformedData(
                f"{display!r} has columns {first!r} and {n!r}, whose names differ only in "
                "case; SQL cannot tell them apart (a query of one reads the other), so rename "
                "one of them."
            )


def _plain(column: pa.ChunkedArray) -> pa.ChunkedArray:
    """An Arrow extension column (``arrow.uuid``, ``arrow.json``, ``arrow.bool8``…) as a plain one.

    Parquet files from pandas, DuckDB or Polars carry these, and no compute kernel (distinct
    counts, casts) takes them: UUIDs become their canonical text, the rest their storage.
    """
    ext = column.type
    if ext.extension_name == "arrow.uuid":
        return pa.chunked_array(
            [pa.array([None if u is None else str(u) for u in c.to_pylist()], pa.string())
             for c in column.chunks], pa.string())
    storage = pa.chunked_array([c.storage for c in column.chunks], ext.storage_type)
    return storage.cast(pa.bool_()) if ext.extension_name == "arrow.bool8" else storage


def normalize(table: pa.Table) -> pa.Table:
    """Flatten nested records into ``parent.child`` columns; decode dictionaries; plain text."""
    while any(pat.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    for i, field in enumerate(table.schema):
        if isinstance(field.type, pa.BaseExtensionType):
            table = table.set_column(i, field.name, _plain(table.column(i)))
            field = table.schema.field(i)
        t = field.type.value_type if pat.is_dictionary(field.type) else field.type
        # One spelling of text everywhere, so files from different writers agree.
        if pat.is_large_string(t) or pat.is_string_view(t):
            t = pa.string()
        # Decimals (a database's numeric, money) reach pandas as Decimal objects, which a
        # recipe takes for categories: stored as float64, every consumer sees numbers.
        if pat.is_decimal(t):
            t = pa.float64()
        if t != field.type:
            table = table.set_column(i, field.name, table.column(i).cast(t))
    return table
