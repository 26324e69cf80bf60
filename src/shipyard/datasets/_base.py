"""What every reader shares: chunks that name their rows, and checks of text and names."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import pyarrow as pa
import pyarrow.types as pat

from shipyard.errors import MalformedData

_GZIP_MAGIC = b"\x1f\x8b"

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


def is_gzip(path: Path) -> bool:
    with open(path, "rb") as fh:
        return fh.read(2) == _GZIP_MAGIC


def open_binary(path: Path) -> IO[bytes]:
    if is_gzip(path):
        return gzip.open(path, "rb")  # type: ignore[return-value]
    return open(path, "rb")  # noqa: SIM115 - the caller closes it


def check_text(path: Path, display: str) -> None:
    """Refuse a text file that is empty, or not UTF-8 (naming the line of the first bad byte).

    Reads in blocks cut at line ends, so memory stays bounded and a multi-byte
    character is never split.
    """
    line = 1
    carry = b""
    seen_text = False
    try:
        with open_binary(path) as fh:
            while True:
                block = fh.read(1024 * 1024)
                data = carry + block
                cut = len(data) if not block else data.rfind(b"\n") + 1
                head, carry = data[:cut], data[cut:]
                try:
                    text = head.decode("utf-8")
                except UnicodeDecodeError as exc:
                    bad = head[exc.start:exc.start + 1]
                    at = line + head.count(b"\n", 0, exc.start)
                    raise MalformedData(
                        f"{display!r} is not valid UTF-8: line {at} holds the byte 0x{bad.hex()}, "
                        "which UTF-8 cannot decode (was it saved as Latin-1 or Windows-1252?). "
                        "Save the file as UTF-8 and upload it again."
                    ) from None
                seen_text = seen_text or bool(text.lstrip("\ufeff").strip())
                line += head.count(b"\n")
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
    """Refuse blank and duplicate column names, naming them."""
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


def normalize(table: pa.Table) -> pa.Table:
    """Flatten nested records into ``parent.child`` columns; decode dictionaries; plain text."""
    while any(pat.is_struct(f.type) for f in table.schema):
        table = table.flatten()
    for i, field in enumerate(table.schema):
        t = field.type.value_type if pat.is_dictionary(field.type) else field.type
        # One spelling of text everywhere, so files from different writers agree.
        if pat.is_large_string(t) or pat.is_string_view(t):
            t = pa.string()
        if t != field.type:
            table = table.set_column(i, field.name, table.column(i).cast(t))
    return table
