"""JSON (an array of objects) and JSON Lines: nested objects become ``parent.child`` columns.

Records are parsed with the standard library, so a refusal can name the line
(JSON Lines) or the record (JSON), and flattened by hand rather than by
``pandas.json_normalize``, which turns an integer column with a gap into floats.
Arrow infers each column's type from all its values.
"""

from __future__ import annotations

import codecs
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pyarrow as pa

from shipyard.datasets._base import Chunk, Limits, Where, check_names, open_binary
from shipyard.errors import MalformedData

JSONL_CHUNK_RECORDS = 50_000


class _DuplicateKey(Exception):
    pass


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in pairs:
        if key in out:
            raise _DuplicateKey(key)
        out[key] = value
    return out


def _flatten(record: dict[str, Any], prefix: str, out: dict[str, Any]) -> None:
    for key, value in record.items():
        name = prefix + key
        if isinstance(value, dict) and value:
            _flatten(value, name + ".", out)
            continue
        if name in out:
            raise _DuplicateKey(name)
        out[name] = None if isinstance(value, dict) else value


def _kind(value: Any) -> str:
    if isinstance(value, bool):
        return "true/false"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "text"
    return "list" if isinstance(value, list) else type(value).__name__


def _as_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value)


def _not_unicode(value: Any) -> bool:
    """Text (also inside lists and objects) that UTF-8 cannot encode: a lone surrogate."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return True
        return False
    if isinstance(value, list):
        return any(_not_unicode(v) for v in value)
    if isinstance(value, dict):
        return any(_not_unicode(k) or _not_unicode(v) for k, v in value.items())
    return False


def _surrogate(name: str, values: list[Any], where: Where) -> MalformedData:
    at = next((i for i, v in enumerate(values) if _not_unicode(v)), 0)
    return MalformedData(
        f"Column {name!r} holds text that is not valid Unicode in {where(at)} (a lone surrogate "
        "such as \\ud800, which no UTF-8 text can hold); fix or remove that value.")


def _column(name: str, values: list[Any], as_text: bool, where: Where) -> pa.Array:
    try:
        if as_text:
            return pa.array([_as_text(v) for v in values], pa.string())
        return pa.array(values)
    except UnicodeEncodeError:
        raise _surrogate(name, values, where) from None
    except (pa.ArrowInvalid, pa.ArrowTypeError):
        pass
    lo, hi = 0, len(values)  # values[:lo] convert, values[:hi] do not
    while hi - lo > 1:
        mid = (lo + hi) // 2
        try:
            pa.array(values[:mid])
        except (pa.ArrowInvalid, pa.ArrowTypeError):
            hi = mid
        else:
            lo = mid
    first = next((i for i, v in enumerate(values) if v is not None), lo)
    if first == lo:
        raise MalformedData(
            f"Column {name!r} has a value Arrow cannot store in {where(lo)}: "
            f"{values[lo]!r:.60}. Declare the column as string in column_types to keep it as text."
        )
    raise MalformedData(
        f"Column {name!r} mixes value types: {where(first)} holds {_kind(values[first])} "
        f"({values[first]!r:.40}) but {where(lo)} holds {_kind(values[lo])} ({values[lo]!r:.40}). "
        "Make the values one type, or declare the column as string in column_types."
    )


def records_to_table(records: list[dict[str, Any]], text_columns: set[str], where: Where,
                     display: str) -> pa.Table:
    """Flatten nested records (``address.city``) into one Arrow table."""
    flat: list[dict[str, Any]] = []
    for i, record in enumerate(records):
        out: dict[str, Any] = {}
        try:
            _flatten(record, "", out)
        except _DuplicateKey as dup:
            raise MalformedData(
                f"{where(i).capitalize()} of {display!r} gives column {dup.args[0]!r} twice "
                "(a dotted key and a nested object flatten to the same name); rename one."
            ) from None
        flat.append(out)
    names = list(dict.fromkeys(k for r in flat for k in r))
    if records and not names:
        raise MalformedData(f"{display!r} holds only empty objects; there are no columns.")
    check_names(names, display)
    columns = [_column(n, [r.get(n) for r in flat], n in text_columns, where) for n in names]
    return pa.table(columns, names=names) if names else pa.table({})


def _not_object(display: str, where: str, value: Any) -> MalformedData:
    kinds = {list: "an array", str: "a string", bool: "true/false", type(None): "null"}
    kind = kinds.get(type(value), "a number")
    return MalformedData(
        f"{where.capitalize()} of {display!r} is {kind}, not a JSON object; each "
        "record must be an object such as {\"id\": 1, \"name\": \"a\"}."
    )


def _codec(encoding: str) -> str:
    return "utf-8-sig" if codecs.lookup(encoding).name == "utf-8" else encoding


class _ArrayStream:
    """The elements of a JSON array, decoded one at a time from a text stream.

    A JSON array is read a block at a time, never whole (a ``.json.gz`` may expand
    to gigabytes, on one line or many); the line and column the buffer starts at are
    kept, so a syntax error names the line and column of the file.
    """

    BLOCK = 1 << 20
    #: Characters one element may span before an error in it is reported as it stands.
    MAX_ELEMENT = 64 << 20

    def __init__(self, fh: Any, display: str) -> None:
        self.fh = fh
        self.display = display
        self.decoder = json.JSONDecoder(object_pairs_hook=_pairs)
        self.buf = ""
        self.pos = 0
        self.line = 1  # the line self.buf starts on
        self.column = 0  # characters of that line before self.buf
        self.eof = False

    def _more(self) -> bool:
        if self.eof:
            return False
        cut = self.pos  # what was decoded is dropped
        newline = self.buf.rfind("\n", 0, cut)
        self.line += self.buf.count("\n", 0, cut)
        self.column = cut - newline - 1 if newline >= 0 else self.column + cut
        self.buf, self.pos = self.buf[cut:], 0
        block = self.fh.read(self.BLOCK)
        self.eof = not block
        self.buf += block
        return bool(block)

    def _char(self) -> str:
        """The next character that is not white space ("" at the end)."""
        while True:
            while self.pos < len(self.buf) and self.buf[self.pos] in " \t\r\n\ufeff":
                self.pos += 1
            if self.pos < len(self.buf) or not self._more():
                return self.buf[self.pos:self.pos + 1]

    def _error(self, msg: str, at: int) -> MalformedData:
        line = self.line + self.buf.count("\n", 0, at)
        newline = self.buf.rfind("\n", 0, at)
        column = at - newline if newline >= 0 else self.column + at + 1
        return MalformedData(
            f"{self.display!r} is not valid JSON: {msg} at line {line} column {column}. Fix the "
            "file, or upload JSON Lines (one object per line) as .jsonl.")

    def _value(self) -> Any:
        if not self._char():
            raise self._error("Expecting value", self.pos)
        while True:
            try:
                value, end = self.decoder.raw_decode(self.buf, self.pos)
            except json.JSONDecodeError as exc:
                error = self._error(exc.msg, exc.pos)  # where it is, before the buffer moves
                # The element may just go on in the next block; read on, up to a bound.
                if len(self.buf) - self.pos < self.MAX_ELEMENT and self._more():
                    continue
                raise error from None
            if end >= len(self.buf) and self._more():
                continue  # a number may go on in the next block
            self.pos = end
            return value

    def values(self) -> Iterator[Any]:
        """The array's elements; a document that is one object yields that object."""
        first = self._char()
        if first != "[":
            yield self._value()
        else:
            self.pos += 1
            if self._char() == "]":
                self.pos += 1
            else:
                while True:
                    yield self._value()
                    sep = self._char()
                    self.pos += 1
                    if sep == "]":
                        break
                    if sep != ",":
                        raise self._error("Expecting ',' delimiter", self.pos - 1)
        if self._char():
            raise self._error("Extra data", self.pos)


class JsonReader:
    """A JSON file holding an array of objects (or a single object: one row), read a block
    and :data:`JSONL_CHUNK_RECORDS` records at a time."""

    def __init__(self, path: Path, display: str, text_columns: set[str],
                 encoding: str = "utf-8", limits: Limits | None = None) -> None:
        self.path = path
        self.display = display
        self.text_columns = text_columns
        self.encoding = encoding
        self.limits = limits or Limits()

    def _batches(self) -> Iterator[list[dict[str, Any]]]:
        raw = open_binary(self.path, self.limits, self.display)
        with codecs.getreader(_codec(self.encoding))(raw) as fh:
            batch: list[dict[str, Any]] = []
            count = 0
            try:
                for value in _ArrayStream(fh, self.display).values():
                    if not isinstance(value, dict):
                        raise _not_object(self.display, f"record {count + 1}", value)
                    batch.append(value)
                    count += 1
                    if len(batch) >= JSONL_CHUNK_RECORDS:
                        yield batch
                        batch = []
            except _DuplicateKey as dup:
                raise MalformedData(
                    f"{self.display!r} has an object with the key {dup.args[0]!r} twice; "
                    "keys must be unique within an object."
                ) from None
            if batch:
                yield batch

    def chunks(self) -> Iterator[Chunk]:
        tables: list[pa.Table] = []
        offset = 0
        for records in self._batches():
            def where(i: int, base: int = offset) -> str:
                return f"record {base + i + 1}"

            tables.append(records_to_table(records, self.text_columns, where, self.display))
            offset += len(records)
        if tables:
            yield Chunk(_concat(tables, self.display), lambda i: f"record {i + 1}")


def _concat(tables: list[pa.Table], display: str) -> pa.Table:
    try:
        return pa.concat_tables(tables, promote_options="permissive")
    except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
        raise MalformedData(
            f"{display!r} holds values of different types in one column ({exc}); "
            "make them one type, or declare the column as string in column_types."
        ) from None


class JsonLinesReader:
    """JSON Lines: one object per line; blank lines are skipped; errors name the line."""

    def __init__(self, path: Path, display: str, text_columns: set[str],
                 encoding: str = "utf-8", limits: Limits | None = None) -> None:
        self.path = path
        self.display = display
        self.text_columns = text_columns
        self.encoding = encoding
        self.limits = limits or Limits()

    def _parse(self) -> Iterator[tuple[list[dict[str, Any]], list[int]]]:
        records: list[dict[str, Any]] = []
        lines: list[int] = []
        raw = open_binary(self.path, self.limits, self.display)
        with codecs.getreader(_codec(self.encoding))(raw) as fh:
            for number, text in enumerate(fh, 1):
                if not text.strip():
                    continue
                try:
                    rec = json.loads(text, object_pairs_hook=_pairs)
                except json.JSONDecodeError as exc:
                    raise MalformedData(
                        f"Line {number} of {self.display!r} is not valid JSON: {exc.msg} at "
                        f"column {exc.colno}. Each line must hold one JSON object."
                    ) from None
                except _DuplicateKey as dup:
                    raise MalformedData(
                        f"Line {number} of {self.display!r} has the key {dup.args[0]!r} twice; "
                        "keys must be unique within an object."
                    ) from None
                if not isinstance(rec, dict):
                    raise _not_object(self.display, f"line {number}", rec)
                records.append(rec)
                lines.append(number)
                if len(records) >= JSONL_CHUNK_RECORDS:
                    yield records, lines
                    records, lines = [], []
        if records:
            yield records, lines

    def chunks(self) -> Iterator[Chunk]:
        tables: list[pa.Table] = []
        all_lines: list[int] = []
        for records, lines in self._parse():
            def where(i: int, ls: list[int] = lines) -> str:
                return f"line {ls[i]}"

            tables.append(records_to_table(records, self.text_columns, where, self.display))
            all_lines.extend(lines)
        if tables:
            yield Chunk(_concat(tables, self.display), lambda i: f"line {all_lines[i]}")
