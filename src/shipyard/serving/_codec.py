"""Request bodies → a table of raw rows, and prediction results → a response body.

Pure functions, no I/O. Accepted bodies:

``application/json``
    a list of records ``[{"col": value, …}, …]``, a single record ``{"col": value}``,
    ``{"columns": [...], "data": [[...], …]}``, ``{"instances": [{…}, …]}``, or
    MLflow's ``{"dataframe_split": {...}}`` / ``{"dataframe_records": [...]}``.
``text/csv``
    a header row, then one line per row; an empty cell is a missing value.

Anything else is refused before a byte of it is parsed (:func:`media_kind`).
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from shipyard.errors import InvalidRequest, UnsupportedMediaType

JSON = "json"
CSV = "csv"
#: Media types (lower case, parameters stripped) → the parser that reads them.
MEDIA_TYPES: dict[str, str] = {
    "application/json": JSON,
    "text/csv": CSV,
    "application/csv": CSV,
}


@dataclass(frozen=True)
class Table:
    """Raw rows as sent: the column names in first-seen order and one dict per row.

    A column a row does not mention is simply absent from that row's dict.
    """

    columns: tuple[str, ...]
    records: list[dict[str, Any]]

    def __len__(self) -> int:
        return len(self.records)


def media_kind(content_type: str | None) -> str:
    """The parser for a ``Content-Type`` header: ``"json"`` or ``"csv"``.

    Raises:
        UnsupportedMediaType: any other media type (nothing of the body is read).
    """
    media = (content_type or "").split(";", 1)[0].strip().lower()
    kind = MEDIA_TYPES.get(media)
    if kind is None:
        got = f"{media!r}" if media else "no Content-Type"
        raise UnsupportedMediaType(
            f"Invocations accept application/json or text/csv; got {got}. Send the rows as "
            "JSON records or CSV with a header row.", media_type=media or None)
    return kind


def parse_body(kind: str, body: bytes) -> Table:
    """Parse a request body of media ``kind`` (see :func:`media_kind`) into a :class:`Table`.

    Raises:
        InvalidRequest: the body is not valid JSON/CSV, has no rows, or has the wrong shape
            (the message names the row or field).
    """
    table = _parse_csv(body) if kind == CSV else _parse_json(body)
    if not table.records:
        raise InvalidRequest("The request holds no rows; send at least one row to predict.")
    return table


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(
            f"The body is not UTF-8 text (byte {exc.start} is invalid); encode it as UTF-8."
        ) from None


def _parse_json(body: bytes) -> Table:
    try:
        doc = json.loads(_decode(body))
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"Malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}. Send a list "
            'of records, e.g. [{"tenure": 12, "contract": "One year"}].') from None
    if isinstance(doc, list):
        return _records(doc, "the body")
    if not isinstance(doc, dict):
        raise InvalidRequest(
            f"The JSON body must be a list of records or an object; got {type(doc).__name__}.")
    keys = set(doc)
    if keys in ({"columns", "data"}, {"columns", "data", "index"}):
        return _split(doc)
    if keys == {"instances"}:
        return _records(doc["instances"], "'instances'")
    if keys == {"dataframe_split"} and isinstance(doc["dataframe_split"], dict):
        return _split(doc["dataframe_split"])
    if keys == {"dataframe_records"}:
        return _records(doc["dataframe_records"], "'dataframe_records'")
    return _records([doc], "the body")


def _records(rows: Any, where: str) -> Table:
    if not isinstance(rows, list):
        raise InvalidRequest(f"{where.capitalize()} must be a list of records; "
                             f"got {type(rows).__name__}.")
    columns: dict[str, None] = {}
    for i, row in enumerate(rows):
        if not isinstance(row, dict):
            raise InvalidRequest(
                f"Row {i} of {where} must be a JSON object of column → value; got "
                f"{type(row).__name__}. For rows as lists use "
                '{"columns": [...], "data": [[...]]}.', row=i)
        if len(row) != len(columns) or any(k not in columns for k in row):
            columns.update(dict.fromkeys(row))
    return Table(tuple(columns), rows)


def _split(doc: Mapping[str, Any]) -> Table:
    columns, data = doc.get("columns"), doc.get("data")
    if not isinstance(columns, list) or not all(isinstance(c, str) for c in columns):
        raise InvalidRequest("'columns' must be a list of column names (strings).")
    if len(set(columns)) != len(columns):
        dup = next(c for c in columns if columns.count(c) > 1)
        raise InvalidRequest(f"Column {dup!r} appears twice in 'columns'.", field=dup)
    if not isinstance(data, list):
        raise InvalidRequest("'data' must be a list of rows, each a list of values.")
    records: list[dict[str, Any]] = []
    for i, row in enumerate(data):
        if not isinstance(row, list) or len(row) != len(columns):
            got = f"{len(row)} values" if isinstance(row, list) else type(row).__name__
            raise InvalidRequest(
                f"Row {i} of 'data' must be a list of {len(columns)} values (one per "
                f"column); got {got}.", row=i)
        records.append(dict(zip(columns, row, strict=True)))
    return Table(tuple(columns), records)


def _parse_csv(body: bytes) -> Table:
    text = _decode(body)
    try:
        rows = list(csv.reader(io.StringIO(text, newline=""), strict=True))
    except csv.Error as exc:
        raise InvalidRequest(f"Malformed CSV: {exc}. Quote fields holding commas or "
                             "quotes.") from None
    rows = [r for r in rows if r]  # blank lines carry no row
    if not rows:
        raise InvalidRequest("The CSV body is empty; send a header row, then the rows.")
    header = [h.strip() for h in rows[0]]
    if any(not h for h in header):
        raise InvalidRequest("The CSV header has an empty column name; name every column.")
    if len(set(header)) != len(header):
        dup = next(h for h in header if header.count(h) > 1)
        raise InvalidRequest(f"Column {dup!r} appears twice in the CSV header.", field=dup)
    records: list[dict[str, Any]] = []
    for i, row in enumerate(rows[1:]):
        if len(row) != len(header):
            raise InvalidRequest(
                f"CSV row {i} has {len(row)} fields; the header has {len(header)}.", row=i)
        records.append({h: (v if v != "" else None) for h, v in zip(header, row, strict=True)})
    return Table(tuple(header), records)


def encode_json(doc: Any) -> bytes:
    """Compact JSON bytes (NaN/inf become null, which JSON has no other word for)."""
    try:
        return json.dumps(doc, separators=(",", ":"), allow_nan=False).encode()
    except ValueError:
        return json.dumps(_finite(doc), separators=(",", ":")).encode()


def _finite(doc: Any) -> Any:
    if isinstance(doc, float):
        return doc if doc == doc and doc not in (float("inf"), float("-inf")) else None
    if isinstance(doc, dict):
        return {k: _finite(v) for k, v in doc.items()}
    if isinstance(doc, list):
        return [_finite(v) for v in doc]
    return doc
