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

from shipyard.datasets._base import Chunk, Where, check_names, open_binary
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


def _column(name: str, values: list[Any], as_text: bool, where: Where) -> pa.Array:
    if as_text:
        return pa.array([_as_text(v) for v in values], pa.string())
    try:
        return pa.array(values)
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


class JsonReader:
    """A JSON file holding an array of objects (or a single object: one row)."""

    def __init__(self, path: Path, display: str, text_columns: set[str]) -> None:
        self.path = path
        self.display = display
        self.text_columns = text_columns

    def chunks(self) -> Iterator[Chunk]:
        try:
            with codecs.getreader("utf-8-sig")(open_binary(self.path)) as fh:
                data = json.load(fh, object_pairs_hook=_pairs)
        except json.JSONDecodeError as exc:
            raise MalformedData(
                f"{self.display!r} is not valid JSON: {exc.msg} at line {exc.lineno} column "
                f"{exc.colno}. Fix the file, or upload JSON Lines (one object per line) as .jsonl."
            ) from None
        except _DuplicateKey as dup:
            raise MalformedData(
                f"{self.display!r} has an object with the key {dup.args[0]!r} twice; "
                "keys must be unique within an object."
            ) from None
        records = data if isinstance(data, list) else [data]

        def where(i: int) -> str:
            return f"record {i + 1}"

        for i, rec in enumerate(records):
            if not isinstance(rec, dict):
                raise _not_object(self.display, where(i), rec)
        yield Chunk(records_to_table(records, self.text_columns, where, self.display), where)


class JsonLinesReader:
    """JSON Lines: one object per line; blank lines are skipped; errors name the line."""

    def __init__(self, path: Path, display: str, text_columns: set[str]) -> None:
        self.path = path
        self.display = display
        self.text_columns = text_columns

    def _parse(self) -> Iterator[tuple[list[dict[str, Any]], list[int]]]:
        records: list[dict[str, Any]] = []
        lines: list[int] = []
        with codecs.getreader("utf-8-sig")(open_binary(self.path)) as fh:
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
        if not tables:
            return
        try:
            table = pa.concat_tables(tables, promote_options="permissive")
        except (pa.ArrowInvalid, pa.ArrowTypeError) as exc:
            raise MalformedData(
                f"{self.display!r} holds values of different types in one column ({exc}); "
                "make them one type, or declare the column as string in column_types."
            ) from None
        yield Chunk(table, lambda i: f"line {all_lines[i]}")
