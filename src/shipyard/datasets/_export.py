"""Getting data out: JSON-safe rows, and Parquet or CSV streamed batch by batch."""

from __future__ import annotations

import base64
import datetime as dt
import io
import json
import math
from collections.abc import Iterable, Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pcsv
import pyarrow.parquet as pq
import pyarrow.types as pat

BATCH_ROWS = 64 * 1024


def jsonable(value: Any) -> Any:
    """A value JSON can carry: ISO strings for times, ``None`` for NaN and infinities."""
    if value is None or isinstance(value, bool | int | str):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dt.datetime | dt.date | dt.time):
        return value.isoformat()
    if isinstance(value, dt.timedelta):
        return value.total_seconds()
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    return str(value)


def table_rows(table: pa.Table) -> list[list[Any]]:
    """The rows of ``table`` as lists of JSON-safe values."""
    columns = [table.column(i).to_pylist() for i in range(table.num_columns)]
    return [[jsonable(col[r]) for col in columns] for r in range(table.num_rows)]


def iter_batches(paths: Iterable[Path], batch_rows: int = BATCH_ROWS) -> Iterator[pa.RecordBatch]:
    for path in paths:
        yield from pq.ParquetFile(path).iter_batches(batch_size=batch_rows)


class _Sink(io.RawIOBase):
    """A write-only stream whose bytes are taken out as they come (tell() keeps counting)."""

    def __init__(self) -> None:
        super().__init__()
        self._buf = bytearray()
        self._pos = 0

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._buf += data
        self._pos += len(data)
        return len(data)

    def tell(self) -> int:
        return self._pos

    def take(self) -> bytes:
        out = bytes(self._buf)
        self._buf.clear()
        return out


def stream_parquet(paths: list[Path], schema: pa.Schema) -> Iterator[bytes]:
    """One Parquet file made of the parts at ``paths``, produced a row group at a time."""
    sink = _Sink()
    writer = pq.ParquetWriter(sink, schema, compression="zstd")
    try:
        for batch in iter_batches(paths):
            writer.write_batch(batch)
            if data := sink.take():
                yield data
    finally:
        writer.close()
    yield sink.take()


def _csv_column(column: pa.Array) -> pa.Array:
    t = column.type
    if pat.is_timestamp(t) and t.tz is not None:
        # Stored values are UTC; formatting them through the time-zone database is ~40x
        # slower than formatting the wall-clock time and saying "Z", which is the same text.
        text = pc.cast(pc.cast(column, pa.timestamp(t.unit)), pa.string())
        return pc.binary_join_element_wise(text, pa.scalar("Z"), "")
    if pat.is_nested(t):
        # CSV has one value per cell: lists and records become JSON text.
        return pa.array([None if v is None else json.dumps(jsonable(v))
                         for v in column.to_pylist()], pa.string())
    return column


def _csv_ready(batch: pa.RecordBatch) -> pa.RecordBatch:
    columns = [_csv_column(c) for c in batch.columns]
    return pa.RecordBatch.from_arrays(columns, names=batch.schema.names)


def stream_csv(paths: list[Path], schema: pa.Schema) -> Iterator[bytes]:
    """The parts at ``paths`` as one CSV with a header, a batch at a time."""
    sink = _Sink()
    flat_schema = _csv_ready(pa.RecordBatch.from_pylist([], schema=schema)).schema
    writer = pcsv.CSVWriter(sink, flat_schema)
    try:
        yield sink.take()
        for batch in iter_batches(paths):
            writer.write_batch(_csv_ready(batch))
            yield sink.take()
    finally:
        writer.close()
    if tail := sink.take():
        yield tail
