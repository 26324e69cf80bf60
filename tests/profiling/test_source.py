"""Inputs: a DataFrame, an Arrow table and Parquet files give the same profile."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from shipyard.errors import InvalidRequest
from shipyard.profiling import _source, profile

from .helpers import assert_close


def _comparable(d: dict[str, Any]) -> dict[str, Any]:
    d = dict(d)
    d.pop("timings")
    d.pop("source")
    d["dataset"] = {k: v for k, v in d["dataset"].items() if k != "memory_bytes"}
    d["columns"] = [{k: v for k, v in c.items() if k != "memory_bytes"} for c in d["columns"]]
    return d


@pytest.mark.parametrize("streamed", [False, True], ids=["parquet-read", "parquet-streamed"])
def test_dataframe_arrow_and_parquet_agree(churn: pd.DataFrame, tmp_path: Path, streamed: bool,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    if streamed:  # scanned by DuckDB where they lie, as files too large to read are
        monkeypatch.setattr(_source, "ARROW_BYTES", 0)
    table = pa.Table.from_pandas(churn, preserve_index=False)
    # Two parts, as a dataset version stores them, in row groups of 1,000 rows.
    pq.write_table(table.slice(0, 4000), tmp_path / "part-00000.parquet", row_group_size=1000)
    pq.write_table(table.slice(4000), tmp_path / "part-00001.parquet", row_group_size=1000)
    from_frame = profile(churn, target="churn", sample_rows=3000)
    from_arrow = profile(table, target="churn", sample_rows=3000)
    from_files = profile(sorted(tmp_path.glob("*.parquet")), target="churn", sample_rows=3000)
    from_folder = profile(tmp_path, target="churn", sample_rows=3000)
    assert from_files.source == {"kind": "parquet", "files": 2}
    want = _comparable(from_frame.to_dict())
    assert_close(_comparable(from_arrow.to_dict()), want)
    # The same seeded rows are sampled from the files as from memory.
    assert_close(_comparable(from_files.to_dict()), want)
    assert_close(_comparable(from_folder.to_dict()), want)
    # Memory is the uncompressed size the files record, however they were read.
    sizes = pq.ParquetFile(tmp_path / "part-00000.parquet").metadata
    assert from_files.memory_bytes > sizes.row_group(0).total_byte_size


def test_iso_text_is_read_as_dates(tmp_path: Path) -> None:
    frame = pd.DataFrame({
        "when": [f"2024-03-{d:02d}T10:00:00Z" for d in range(1, 29)] * 5,
        "day": [f"2024-02-{d:02d}" for d in range(1, 29)] * 5,
        "code": [f"2024-{d}" for d in range(1, 29)] * 5,  # not a date
    })
    p = profile(frame)
    assert [p.column(c).semantic_type for c in ("when", "day", "code")] == [
        "datetime", "datetime", "categorical"]
    assert p.column("when").datetime == {"min": "2024-03-01T10:00:00.000Z",
                                         "max": "2024-03-28T10:00:00.000Z", "range_days": 27.0}
    pq.write_table(pa.Table.from_pandas(frame), tmp_path / "d.parquet")
    assert profile(tmp_path / "d.parquet").column("day").datetime == p.column("day").datetime
    with pytest.MonkeyPatch.context() as streamed:
        streamed.setattr(_source, "ARROW_BYTES", 0)
        assert profile(tmp_path / "d.parquet").column("when").datetime == \
            p.column("when").datetime


def test_booleans_nested_and_empty_columns() -> None:
    table = pa.table({
        "flag": pa.array([True, False, None, True] * 10),
        "tags": pa.array([["a"], ["b", "c"], None, ["a"]] * 10),
        "nothing": pa.nulls(40, pa.float64()),
        "n": pa.array(np.arange(40) % 3, pa.int64()),
        "wait": pa.array(np.arange(40) * 1_500_000, pa.duration("us")),
    })
    p = profile(table)
    wait = p.column("wait")  # durations are numbers of seconds
    assert wait.semantic_type == "numeric" and wait.numeric is not None
    assert (wait.numeric["min"], wait.numeric["max"]) == (0.0, 58.5)
    assert wait.numeric["mean"] == pytest.approx(29.25)
    flag = p.column("flag")
    assert (flag.semantic_type, flag.count, flag.missing, flag.distinct) == ("boolean", 30, 10, 2)
    assert flag.histogram == {"values": [False, True], "counts": [10, 20]}
    tags = p.column("tags")
    assert (tags.count, tags.distinct) == (30, 2)
    assert p.column("nothing").count == 0
    assert any(w.kind == "constant" and w.columns == ("nothing",) for w in p.warnings)


def test_bad_inputs_are_refused(tmp_path: Path) -> None:
    with pytest.raises(InvalidRequest, match="Cannot profile a dict"):
        profile({"a": [1, 2]})
    with pytest.raises(InvalidRequest, match="No Parquet file or folder"):
        profile(tmp_path / "missing.parquet")
    with pytest.raises(InvalidRequest, match="No Parquet files to profile"):
        profile(tmp_path)
    frame = pd.DataFrame([[1, 2]], columns=["a", "a"])
    with pytest.raises(InvalidRequest, match="duplicate column names \\('a'\\)"):
        profile(frame)
    with pytest.raises(InvalidRequest, match="sample_rows must be a whole number"):
        profile(pd.DataFrame({"a": [1]}), sample_rows=10)


def test_mixed_object_column_becomes_text() -> None:
    frame = pd.DataFrame({"mixed": [1, "two", 3.5, None] * 10})
    c = profile(frame).column("mixed")
    assert (c.dtype, c.count, c.missing, c.distinct) == ("string", 30, 10, 3)


def test_integer_column_names_and_long_text() -> None:
    frame = pd.DataFrame({0: ["x" * 500, "y"] * 20, 1: [0, 1] * 20})
    p = profile(frame, target=1)
    assert [c.name for c in p.columns] == ["0", "1"] and p.target.column == "1"
    assert [len(t["value"]) for t in p.column("0").top] == [200, 1]  # the snapshot stays small
