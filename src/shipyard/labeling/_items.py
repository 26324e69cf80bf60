"""An item's content, read from the job's pinned dataset version.

Jobs store references (row numbers), never copies of the data. Serving an item reads
its row from the version's table, which this reader keeps in memory for the few
versions being labelled (a small LRU): one Parquet read per version, then each item is
an Arrow slice, so fetching stays fast at 100,000 items. Versions are immutable, so a
cached table is never stale.
"""

from __future__ import annotations

import math
import threading
from collections import OrderedDict
from datetime import date, datetime, time
from decimal import Decimal
from typing import Any

import pyarrow as pa

from shipyard.datasets import DatasetService

#: How many (dataset, version, columns) tables stay in memory.
CACHE_SIZE = 4


def json_safe(value: Any) -> Any:
    """A cell as JSON can carry it: times as ISO text, NaN and ±inf as null."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, bytes):
        return value.hex()
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    return value


class ItemReader:
    """Rows of pinned dataset versions, by row number."""

    def __init__(self, datasets: DatasetService, size: int = CACHE_SIZE) -> None:
        self.datasets = datasets
        self.size = size
        self._tables: OrderedDict[tuple[str, int, str | None], pa.Table] = OrderedDict()
        self._lock = threading.Lock()

    def table(self, dataset: str, version: int, column: str | None = None) -> pa.Table:
        """The version's table (only ``column`` when given), read once and kept."""
        key = (dataset, version, column)
        with self._lock:
            if key in self._tables:
                self._tables.move_to_end(key)
                return self._tables[key]
        table = self.datasets.read_table(dataset, version)
        if column is not None:
            table = table.select([column])
        table = table.combine_chunks()  # one chunk: a row is one slice, never a chunk search
        with self._lock:
            self._tables[key] = table
            while len(self._tables) > self.size:
                self._tables.popitem(last=False)
        return table

    def text(self, dataset: str, version: int, column: str, position: int) -> str:
        value = self.table(dataset, version, column).column(0)[position].as_py()
        return "" if value is None else str(value)

    def texts(self, dataset: str, version: int, column: str,
              positions: list[int]) -> list[str]:
        col = self.table(dataset, version, column).column(0)
        taken = col.take(pa.array(positions, type=pa.int64())).to_pylist()
        return ["" if v is None else str(v) for v in taken]

    def row(self, dataset: str, version: int, position: int) -> dict[str, Any]:
        rows = self.table(dataset, version).slice(position, 1).to_pylist()
        return {k: json_safe(v) for k, v in rows[0].items()}

    def rows(self, dataset: str, version: int, positions: list[int]) -> pa.Table:
        return self.table(dataset, version).take(pa.array(positions, type=pa.int64()))
