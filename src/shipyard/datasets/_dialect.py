"""CSV dialects: the delimiter, the decimal mark and the encoding of a delimited text file.

Files exported from spreadsheets in much of Europe use ``;`` between fields and
``,`` as the decimal mark (``3,14``, ``1.234,5``); others use tabs or pipes; older
ones are Latin-1 or Windows-1252. Whatever the user does not state is sniffed from
the first :data:`SNIFF_BYTES` of the file: the delimiter that splits the header
into the most fields and every sampled row into as many, then (when fields are not
split by commas) a decimal comma when numbers are written only that way.
"""

from __future__ import annotations

import codecs
import csv
import io
import re
from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa
import pyarrow.compute as pc

from shipyard.datasets._base import Limits, open_binary
from shipyard.errors import InvalidRequest

#: The delimiters sniffed, the first of equal candidates winning.
DELIMITERS = (",", ";", "\t", "|")
_SEP_NAMES = {"comma": ",", "semicolon": ";", "tab": "\t", "\\t": "\t", "pipe": "|",
              "space": " "}
SNIFF_BYTES = 64 * 1024
SNIFF_LINES = 200
#: Share of sampled rows that must split into as many fields as the header.
CONSISTENT_SHARE = 0.9
#: ``3,14`` or ``-0,5``: a number with a decimal comma.
_COMMA_DECIMAL = re.compile(r"^[+-]?\d+,\d+$")
#: ``1.234,5`` or ``12.345.678``: digits grouped by dots (thousands), maybe a decimal comma.
_DOT_GROUPED = re.compile(r"^[+-]?\d{1,3}(\.\d{3})+(,\d+)?$")
#: ``3.14``: a number with a decimal point (``1.234`` is left out: it may be grouped).
_POINT_DECIMAL = re.compile(r"^[+-]?\d*\.\d+$")


@dataclass(frozen=True)
class Dialect:
    """How a delimited text file is written; ``None`` means "sniff it"."""

    sep: str | None = None
    decimal: str | None = None
    encoding: str = "utf-8"
    #: The delimiter was the user's (``sep``/``--sep``) and no other one splits the file's
    #: rows alike: a file that then reads as one column is taken as one column (a header
    #: that merely holds a ';' is not refused).
    sep_given: bool = False

    @classmethod
    def parse(cls, sep: str | None = None, decimal: str | None = None,
              encoding: str | None = None) -> Dialect:
        """Check what the user gave (``sep`` may be a name: ``tab``, ``semicolon``, ``\\t``…).

        Raises:
            InvalidRequest: a delimiter that is not one character, a decimal mark other
                than ``.`` or ``,``, an unknown encoding, or one that does not write ASCII
                as ASCII (UTF-16, UTF-32).
        """
        if sep is not None and sep != "":
            sep = _SEP_NAMES.get(sep.strip().lower(), sep) if sep.strip() else sep
            if len(sep) != 1 or sep in "\"\r\n":
                raise InvalidRequest(
                    f"sep must be one character such as ',', ';', '|' or 'tab'; got {sep!r}.")
        else:
            sep = None
        if decimal is not None and decimal != "":
            decimal = decimal.strip()
            if decimal not in (".", ","):
                raise InvalidRequest(f"decimal must be '.' or ','; got {decimal!r}.")
        else:
            decimal = None
        if sep is not None and sep == decimal:
            raise InvalidRequest(
                f"sep and decimal are both {sep!r}; a file cannot use one character for both.")
        name = (encoding or "utf-8").strip() or "utf-8"
        try:
            info = codecs.lookup(name)
        except LookupError:
            raise InvalidRequest(
                f"Unknown encoding {name!r}; use one such as utf-8, latin-1 or cp1252.") from None
        if "\n,;|\t".encode(info.name, errors="replace") != b"\n,;|\t":
            raise InvalidRequest(
                f"Encoding {name!r} does not write plain ASCII as single bytes, which delimited "
                "text needs; save the file as UTF-8.")
        return cls(sep, decimal, "utf-8" if info.name == "utf-8" else info.name)


def _sample_rows(text: str, sep: str) -> list[list[str]]:
    return list(csv.reader(io.StringIO(text), delimiter=sep))


def _sample(path: Path, encoding: str, limits: Limits, display: str) -> str:
    with open_binary(path, limits, display) as fh:
        data = fh.read(SNIFF_BYTES)
    whole = len(data) < SNIFF_BYTES
    text = data.decode(encoding, errors="replace").lstrip("\ufeff")
    lines = text.splitlines(keepends=True)
    if not whole and len(lines) > 1:
        lines = lines[:-1]  # the last line may be cut short
    return "".join(lines[:SNIFF_LINES])


def sniff_sep(text: str, default: str) -> str:
    """The delimiter that splits the header into the most fields and the rows alike."""
    best, best_fields = default, 1
    for sep in (default, *[d for d in DELIMITERS if d != default]):
        try:
            rows = [r for r in _sample_rows(text, sep) if r]
        except csv.Error:
            continue
        if not rows or len(rows[0]) < 2:
            continue
        fields = len(rows[0])
        body = rows[1:]
        consistent = sum(len(r) == fields for r in body) / len(body) if body else 1.0
        if consistent >= CONSISTENT_SHARE and fields > best_fields:
            best, best_fields = sep, fields
    return best


def sniff_decimal(text: str, sep: str) -> str:
    """``,`` when numbers in the sample are written with a decimal comma and never a point."""
    if sep == ",":
        return "."
    comma = point = 0
    for row in _sample_rows(text, sep)[1:]:
        for value in row:
            v = value.strip()
            if _COMMA_DECIMAL.match(v) or (_DOT_GROUPED.match(v) and "," in v):
                comma += 1
            elif _POINT_DECIMAL.match(v) and not _DOT_GROUPED.match(v):
                point += 1
    return "," if comma and not point else "."


def resolve(dialect: Dialect, path: Path, default_sep: str, limits: Limits,
            display: str) -> Dialect:
    """``dialect`` with the delimiter and decimal mark filled in from the file where not given."""
    text = _sample(path, dialect.encoding, limits, display)
    sep = dialect.sep if dialect.sep is not None else sniff_sep(text, default_sep)
    decimal = dialect.decimal if dialect.decimal is not None else sniff_decimal(text, sep)
    # A given delimiter is trusted unless another one splits the rows alike (then the
    # one-column refusal says which to pass instead).
    given = dialect.sep is not None and sniff_sep(text, sep) == sep
    return Dialect(sep, decimal, dialect.encoding, sep_given=given)


def single_column_hint(names: list[str], sep: str) -> str | None:
    """The delimiter a file read as one column probably uses, judging by that column's name."""
    if len(names) != 1:
        return None
    for candidate in DELIMITERS:
        if candidate != sep and candidate in names[0]:
            return candidate
    return None


def sep_label(sep: str) -> str:
    return "tab" if sep == "\t" else repr(sep)


# -- numbers written with a decimal comma and grouped thousands ------------------------------
def grouped_numbers(column: pa.ChunkedArray | pa.Array) -> bool:
    """Text whose every value is a number written like ``1.234,5`` or ``3,25`` (at least one)."""
    values = pc.drop_null(column)
    if len(values) == 0:
        return False
    trimmed = pc.utf8_trim_whitespace(values)
    pattern = r"^[+-]?(\d{1,3}(\.\d{3})+|\d+)(,\d+)?$"
    return bool(pc.all(pc.match_substring_regex(trimmed, pattern)).as_py())


def ungroup(column: pa.ChunkedArray | pa.Array) -> pa.Array:
    """``1.234,5`` → 1234.5: dots (thousands) removed, the decimal comma made a point."""
    trimmed = pc.utf8_trim_whitespace(column)
    plain = pc.replace_substring(pc.replace_substring(trimmed, ".", ""), ",", ".")
    blank = pc.equal(plain, "")
    return pc.cast(pc.if_else(blank, pa.scalar(None, pa.string()), plain), pa.float64())
