"""Request bodies → a table of raw rows, and prediction results → a response body.

Pure functions, no I/O. Accepted bodies:

``application/json``
    a list of records ``[{"col": value, …}, …]``, a single record ``{"col": value}``
    (whose values are cells: an object with a list or object in it is none of these
    shapes, e.g. ``{"rows": [...]}``, and is refused naming them),
    ``{"columns": [...], "data": [[...], …]}``, ``{"instances": [{…}, …]}``, or
    MLflow's ``{"dataframe_split": {...}}`` / ``{"dataframe_records": [...]}``.
``text/csv``
    a header row, then one line per row; an empty cell is a missing value.
``image/png``, ``image/jpeg``
    the bytes of one image, for a model that takes images (``image-cnn``): it is
    decoded here, in the serving instance, to the model's pixel row
    (:mod:`shipyard.bundle._image_decode`, with its size and decompression limits).
    In JSON, such a model also takes a record's ``"image"`` field holding a PNG or
    JPEG as base64 (``[{"image": "iVBORw0…"}]``) in place of its pixel columns.

A column named ``inference_id`` is the caller's own id of each row, as the managed
services take one: it is taken out of the rows (the model never sees it) and kept in
:attr:`Table.ids`, so the response, the capture and ground truth uploaded later all
use the caller's key. Each id is text of 1 to :data:`MAX_ID_LENGTH` characters without
control characters, unique within the request (:func:`take_ids`); without the column
the instance makes the ids.

Anything else is refused before a byte of it is parsed (:func:`media_kind`).

Text is checked here, once, so nothing later (the model, the capture writer) meets
a value it cannot encode: a JSON string holding a lone UTF-16 surrogate
(``"\\ud800"``, which Python's parser accepts) is refused with a 400 naming the row
and column, never replaced. JSON nested past the parser's depth, an integer of
thousands of digits and an ``Infinity`` literal are 400s too; ``NaN`` reads as a
missing value, as pandas writes it. Numbers out of a float's range are refused by
the signature check (:mod:`shipyard.serving._schema`).
"""

from __future__ import annotations

import base64
import binascii
import csv
import io
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from shipyard.errors import InvalidRequest, UnsupportedMediaType

JSON = "json"
CSV = "csv"
IMAGE = "image"
#: The JSON field holding a base64 image, for a model that takes images.
IMAGE_FIELD = "image"
#: Media types (lower case, parameters stripped) → the parser that reads them.
MEDIA_TYPES: dict[str, str] = {
    "application/json": JSON,
    "text/csv": CSV,
    "application/csv": CSV,
    "image/png": IMAGE,
    "image/jpeg": IMAGE,
}


#: The column holding the caller's inference id of each row (never a model input).
ID_COLUMN = "inference_id"
#: The longest inference id a caller may give (the managed services' bound too).
MAX_ID_LENGTH = 128
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


@dataclass(frozen=True)
class Table:
    """Raw rows as sent: the column names in first-seen order and one dict per row.

    A column a row does not mention is simply absent from that row's dict. ``ids`` are
    the caller's inference ids (the ``inference_id`` column, taken out of the rows), or
    None when the caller gave none.
    """

    columns: tuple[str, ...]
    records: list[dict[str, Any]]
    ids: tuple[str, ...] | None = None

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
            f"Invocations accept application/json, text/csv, or image/png and image/jpeg for "
            f"an image model; got {got}. Send the rows as JSON records or CSV with a header "
            "row.", media_type=media or None)
    return kind


def parse_body(kind: str, body: bytes, image: ImageReader | None = None) -> Table:
    """Parse a request body of media ``kind`` (see :func:`media_kind`) into a :class:`Table`.

    ``image`` reads an image's bytes into the model's input row (an image model's
    endpoint); without it an image body is refused (415) and ``"image"`` is a column
    like any other.

    Raises:
        InvalidRequest: the body is not valid JSON/CSV, has no rows, or has the wrong shape
            (the message names the row or field); an image that is not a whole PNG or JPEG
            or is too large.
        UnsupportedMediaType: an image body for a model that takes rows only.
    """
    if kind == IMAGE:
        if image is None:
            raise UnsupportedMediaType(
                "This endpoint's model takes rows, not images; send JSON records or CSV.",
                media_type="image")
        row = image(body, "the request body")
        return Table(tuple(row), [row])
    table = _parse_csv(body) if kind == CSV else _parse_json(body)
    if image is not None and kind == JSON:
        table = _images_in(table, image)
    if not table.records:
        raise InvalidRequest("The request holds no rows; send at least one row to predict.")
    return take_ids(table)


#: Reads an image's bytes into one input row; ``where`` names it in errors.
ImageReader = Callable[[bytes, str], dict[str, Any]]


def _images_in(table: Table, image: ImageReader) -> Table:
    """Each record's base64 ``"image"`` replaced by the pixel columns it decodes to."""
    if IMAGE_FIELD not in table.columns:
        return table
    records: list[dict[str, Any]] = []
    columns: dict[str, None] = {}
    for i, record in enumerate(table.records):
        value = record.get(IMAGE_FIELD)
        if value is not None:
            if not isinstance(value, str):
                raise InvalidRequest(
                    f"Row {i}: 'image' must be a PNG or JPEG as base64 text; got "
                    f"{type(value).__name__}.", row=i, field=IMAGE_FIELD)
            try:
                data = base64.b64decode(value, validate=True)
            except (binascii.Error, ValueError):
                raise InvalidRequest(
                    f"Row {i}: 'image' is not valid base64; encode the PNG or JPEG bytes as "
                    "standard base64 (A-Z, a-z, 0-9, +, /).", row=i, field=IMAGE_FIELD) from None
            rest = {k: v for k, v in record.items() if k != IMAGE_FIELD}
            record = {**image(data, f"the image of row {i}"), **rest}
        records.append(record)
        columns.update(dict.fromkeys(record))
    return Table(tuple(columns), records, table.ids)


def take_ids(table: Table) -> Table:
    """``table`` without its ``inference_id`` column, the ids checked and kept in ``ids``.

    Raises:
        InvalidRequest: a row without an id, an id that is not text, is empty, longer
            than :data:`MAX_ID_LENGTH` characters or holds a control character, or two rows
            with the same id (the message names the rows).
    """
    if ID_COLUMN not in table.columns:
        return table
    ids: list[str] = []
    first: dict[str, int] = {}
    for i, record in enumerate(table.records):
        value = record.pop(ID_COLUMN, None)  # the records are this request's own
        _check_id(value, i)
        if value in first:
            raise InvalidRequest(
                f"Rows {first[value]} and {i} have the same inference_id {value!r}; give each "
                "row of a request its own id.", row=i, field=ID_COLUMN)
        first[value] = i
        ids.append(value)
    return Table(tuple(c for c in table.columns if c != ID_COLUMN), table.records, tuple(ids))


def _check_id(value: Any, row: int) -> None:
    def bad(problem: str) -> InvalidRequest:
        return InvalidRequest(f"Row {row}: {problem}.", row=row, field=ID_COLUMN)

    if value is None:
        raise bad("the inference_id is missing; give every row an id, or leave the column "
                  "out and the endpoint makes the ids")
    if not isinstance(value, str):
        hint = f' such as "{value}"' if type(value) is int else ""
        raise bad(f"the inference_id must be text, not {type(value).__name__}; send it as a "
                  f"JSON string{hint}")
    if not value:
        raise bad("the inference_id is empty; give every row an id of 1 to "
                  f"{MAX_ID_LENGTH} characters")
    if len(value) > MAX_ID_LENGTH:
        raise bad(f"the inference_id is {len(value)} characters long; ids are at most "
                  f"{MAX_ID_LENGTH}")
    if _CONTROL.search(value):
        raise bad("the inference_id holds a control character (a line break, a tab…); use "
                  "printable text")


def _decode(body: bytes) -> str:
    try:
        return body.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InvalidRequest(
            f"The body is not UTF-8 text (byte {exc.start} is invalid); encode it as UTF-8."
        ) from None


#: A JSON escape that may spell a lone surrogate: only bodies holding one are walked.
_SURROGATE_ESCAPE = re.compile(rb"\\u[dD][89a-fA-F]")


def _constant(name: str) -> float:
    if name == "NaN":
        return float("nan")
    raise InvalidRequest(f"The body holds the literal {name}, which is not a number a model "
                         "can take; send a finite number, or null for a missing value.")


def _parse_json(body: bytes) -> Table:
    try:
        doc = json.loads(_decode(body), parse_constant=_constant)
    except json.JSONDecodeError as exc:
        raise InvalidRequest(
            f"Malformed JSON at line {exc.lineno} column {exc.colno}: {exc.msg}. Send a list "
            'of records, e.g. [{"tenure": 12, "contract": "One year"}].') from None
    except RecursionError:
        raise InvalidRequest(
            "The JSON body is nested too deeply to read; an invocation is a list of records "
            "(at most 4 levels of arrays and objects).") from None
    except ValueError:  # an integer past Python's digit limit
        raise InvalidRequest("The JSON body holds an integer with thousands of digits; send "
                             "numbers a 64-bit float can hold.") from None
    table = _table(doc)
    if _SURROGATE_ESCAPE.search(body):
        _check_text(table)
    return table


def _check_text(table: Table) -> None:
    """Refuse a lone surrogate in any column name or text value, naming row and column."""
    for i, row in enumerate(table.records):
        for key, value in row.items():
            for text, what in ((key, "its name"), (value, "its value")):
                if isinstance(text, str) and not text.isascii():
                    try:
                        text.encode("utf-8")
                    except UnicodeEncodeError as exc:
                        code = ord(text[exc.start])
                        name = key.encode("utf-8", "backslashreplace").decode("utf-8")
                        raise InvalidRequest(
                            f"Row {i}, column {name!r}: {what} holds a lone UTF-16 surrogate "
                            f"(\\u{code:04x}), which is not Unicode text; send valid UTF-8.",
                            row=i, field=name) from None


def _table(doc: Any) -> Table:
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
    _check_one_record(doc)
    return _records([doc], "the body")


#: The JSON bodies an invocation takes, for the message that refuses another.
ACCEPTED_SHAPES = ('a list of records [{"col": value, …}, …], one record {"col": value, …}, '
                   '{"instances": [records]}, {"columns": [names], "data": [[values]]}, '
                   '{"dataframe_split": {"columns": …, "data": …}} or '
                   '{"dataframe_records": [records]}')


def _check_one_record(doc: Mapping[str, Any]) -> None:
    """An object that is none of the wrappers is one record, so its value is one cell: an
    object whose only field holds a list or an object is a wrapper this endpoint does not
    know (``{"rows": [...]}``, ``{"inputs": [...]}``), never a record with a column of that
    name. A record of several fields with a list among them is a record with a bad cell,
    which the schema check refuses naming the field (422), as before."""
    if len(doc) != 1:
        return
    for key, value in doc.items():
        if isinstance(value, list | dict):
            what = "a list" if isinstance(value, list) else "an object"
            raise InvalidRequest(
                f"The JSON object's field {key!r} holds {what}, so the body is not one "
                f"record; an invocation takes {ACCEPTED_SHAPES}. Send the records of {key!r} "
                'as a plain list or as {"instances": [...]}.', field=key)


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
