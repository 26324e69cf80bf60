"""Data capture: a sample of invocations, buffered in memory, written as Parquet off the hot path.

Each endpoint instance samples ``percent`` % of rows, decided by a hash of the
row's inference id (:func:`is_sampled`, so anyone holding the id can tell whether
it was captured). Captured rows wait in a buffer; a background thread writes them
every ``flush_seconds`` (or as soon as ``max_rows`` wait) to
``capture-YYYYMMDDTHHMMSS-<instance>-<seq>.parquet`` in the capture folder, via a
temporary name and a rename so a reader never sees half a file. :meth:`close`
writes what is left (the server calls it on shutdown, SIGTERM included).

One bad row never costs the good ones: when a batch cannot become an Arrow table
(a value Arrow cannot encode, such as a lone surrogate that got past the codec),
the rows are converted one by one, the bad ones skipped and counted
(``rows_skipped``, reported by the instance's ``/health``), and the rest written.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
import zlib
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq

log = logging.getLogger("shipyard.serving")

#: Columns every captured row has, besides the model's inputs and outputs. ``unseen`` names
#: the columns (comma-separated) whose category the model never saw in training.
META_COLUMNS = ("inference_id", "timestamp", "variant", "unseen")
_TIMESTAMP = pa.timestamp("us", tz="UTC")


def new_inference_id() -> str:
    """A unique id that sorts by time: UUID version 7 (48-bit milliseconds + 74 random bits)."""
    ms = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (ms << 80) | (0x7 << 76) | ((rand >> 62) & 0xFFF) << 64 | (0b10 << 62) | (
        rand & ((1 << 62) - 1))
    return str(uuid.UUID(int=value))


def is_sampled(inference_id: str, percent: float) -> bool:
    """Whether the row with ``inference_id`` is captured at ``percent`` % (deterministic)."""
    if percent >= 100:
        return True
    if percent <= 0:
        return False
    return zlib.crc32(inference_id.encode()) % 10_000 < percent * 100


def capture_schema(signature: Sequence[dict[str, Any]], task: str,
                   classes: Sequence[str]) -> pa.Schema:
    """The Arrow schema of capture files: meta columns, inputs, prediction, probabilities.

    An input named like a meta or output column is stored as ``input.<name>``.
    """
    reserved = set(META_COLUMNS) | {"prediction"} | {f"probability.{c}" for c in classes}
    fields = [pa.field("inference_id", pa.string()), pa.field("timestamp", _TIMESTAMP),
              pa.field("variant", pa.string()), pa.field("unseen", pa.string())]
    for e in signature:
        name = e["name"] if e["name"] not in reserved else f"input.{e['name']}"
        typ = pa.float64() if e["semantic_type"] in ("numeric", "boolean") else pa.string()
        fields.append(pa.field(name, typ))
    if task == "classification":
        fields.append(pa.field("prediction", pa.string()))
        fields += [pa.field(f"probability.{c}", pa.float64()) for c in classes]
    elif task == "regression":
        fields.append(pa.field("prediction", pa.float64()))
    else:
        fields.append(pa.field("prediction", pa.string()))
    return pa.schema(fields)


class CaptureWriter:
    """Buffers captured rows and writes them as Parquet from a background thread."""

    def __init__(self, directory: Path, percent: float, *, schema: pa.Schema,
                 inputs: Sequence[str], instance: str, variant: str | None = None,
                 flush_seconds: float = 1.0, max_rows: int = 10_000) -> None:
        self.directory = Path(directory)
        self.percent = float(percent)
        self.schema = schema
        self.instance = instance
        self.variant = variant
        self.flush_seconds = flush_seconds
        self.max_rows = max_rows
        self._names = [(n, column) for n, column in zip(
            inputs, [c for c in schema.names if c not in META_COLUMNS], strict=False)]
        self._buffer: list[dict[str, Any]] = []
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stop = False
        self._seq = 0
        #: One write at a time: the writer thread and a flush asked for over HTTP.
        self._writing = threading.Lock()
        self._thread: threading.Thread | None = None
        #: Rows written to capture files, and rows skipped because they could not be.
        self.rows_written = 0
        self.rows_skipped = 0

    def start(self) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        self._thread = threading.Thread(target=self._run, name="capture-writer", daemon=True)
        self._thread.start()

    def record(self, ids: Sequence[str], timestamp: float, rows: Sequence[dict[str, Any]],
               predictions: Sequence[Any], proba: Any, classes: Sequence[str],
               unseen: Sequence[tuple[str, ...]] | None = None) -> None:
        """Buffer the sampled rows of one invocation (cheap: the hot path calls it)."""
        if self.percent <= 0:
            return
        when = datetime.fromtimestamp(timestamp, UTC)
        picked = []
        for i, iid in enumerate(ids):
            if not is_sampled(iid, self.percent):
                continue
            rec: dict[str, Any] = {"inference_id": iid, "timestamp": when,
                                   "variant": self.variant,
                                   "unseen": ",".join(unseen[i]) if unseen and unseen[i]
                                   else None}
            row = rows[i]
            for name, column in self._names:
                v = row.get(name)
                rec[column] = v if v is None or isinstance(v, float | str) else str(v)
            p = predictions[i]
            rec["prediction"] = p if isinstance(p, str | float) else str(p)
            if proba is not None:
                for k, c in enumerate(classes):
                    rec[f"probability.{c}"] = float(proba[i, k])
            picked.append(rec)
        if picked:
            with self._lock:
                self._buffer.extend(picked)
                full = len(self._buffer) >= self.max_rows
            if full:
                self._wake.set()

    def _run(self) -> None:
        while not self._stop:
            self._wake.wait(self.flush_seconds)
            self._wake.clear()
            self.flush()

    def flush(self) -> Path | None:
        """Write the buffered rows now; the file written, or None when there was nothing."""
        with self._writing:
            with self._lock:
                batch, self._buffer = self._buffer, []
            if not batch:
                return None
            try:
                table = self._table(batch)
                if table.num_rows == 0:
                    return None
                path = self._write(table)
            except Exception:  # noqa: BLE001 - capture must never take the endpoint down
                log.exception("capture: writing %d rows to %s failed", len(batch),
                              self.directory)
                return None
            self.rows_written += table.num_rows
            return path

    def _table(self, batch: list[dict[str, Any]]) -> pa.Table:
        """The batch as a table; rows Arrow cannot take are skipped and counted."""
        try:
            return pa.Table.from_pylist(batch, schema=self.schema)
        except (pa.ArrowException, UnicodeError, TypeError, ValueError, OverflowError):
            pass
        good = []
        for rec in batch:
            try:
                pa.Table.from_pylist([rec], schema=self.schema)
            except (pa.ArrowException, UnicodeError, TypeError, ValueError, OverflowError):
                self.rows_skipped += 1
                continue
            good.append(rec)
        log.warning("capture: skipped %d of %d rows that cannot be written (%d skipped so "
                    "far)", len(batch) - len(good), len(batch), self.rows_skipped)
        return pa.Table.from_pylist(good, schema=self.schema)

    def _write(self, table: pa.Table) -> Path:
        self._seq += 1
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
        path = self.directory / f"capture-{stamp}-{self.instance}-{self._seq:06d}.parquet"
        tmp = path.with_name(f".{path.name}.tmp")
        try:
            pq.write_table(table, tmp)
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)  # a full disk leaves no half file behind
            raise
        return path

    def close(self) -> None:
        """Stop the writer thread and write what is still buffered."""
        self._stop = True
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout=30)
        self.flush()


def read_capture(directory: Path | str, start: datetime | None = None,
                 end: datetime | None = None,
                 columns: Sequence[str] | None = None) -> pd.DataFrame:
    """Captured rows with ``start <= timestamp < end`` (either bound optional), oldest first.

    Naive datetimes are taken as UTC. ``columns`` reads only those (and ``timestamp``);
    one the capture does not have is left out.
    """
    import pyarrow.dataset as ds

    files = sorted(str(p) for p in Path(directory).glob("capture-*.parquet"))
    if not files:
        return pd.DataFrame(columns=list(META_COLUMNS if columns is None else
                                         dict.fromkeys([*columns, "timestamp"])))
    dataset = ds.dataset(files, format="parquet")
    if "unseen" not in dataset.schema.names:  # files written before the column existed
        dataset = ds.dataset(files, format="parquet", schema=dataset.schema.append(
            pa.field("unseen", pa.string())))
    condition = None
    for bound, op in ((start, "ge"), (end, "lt")):
        if bound is None:
            continue
        when = bound if bound.tzinfo else bound.replace(tzinfo=UTC)
        scalar = pa.scalar(when, type=_TIMESTAMP)
        expr = ds.field("timestamp") >= scalar if op == "ge" else ds.field("timestamp") < scalar
        condition = expr if condition is None else condition & expr
    wanted = None if columns is None else [
        c for c in dict.fromkeys([*columns, "timestamp"]) if c in dataset.schema.names]
    table = dataset.to_table(columns=wanted, filter=condition)
    frame = table.to_pandas()
    return frame.sort_values("timestamp", kind="stable").reset_index(drop=True)
