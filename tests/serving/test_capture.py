"""Data capture: sampled rows as Parquet with the caller's inference ids; flushed on SIGTERM."""

from __future__ import annotations

import signal
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pyarrow as pa
import pytest

from shipyard.serving import CaptureWriter, is_sampled, new_inference_id, read_capture

from .helpers import Instance


def invoke(inst: Instance, rows: list[dict], n: int) -> list[str]:
    ids: list[str] = []
    with httpx.Client() as client:
        for i in range(n):
            r = client.post(f"{inst.url}/invocations", json=rows[i % len(rows)])
            assert r.status_code == 200, r.text
            ids += r.json()["inference_ids"]
    return ids


def test_ids_are_unique_and_time_ordered() -> None:
    ids = [new_inference_id() for _ in range(2000)]
    assert len(set(ids)) == 2000
    assert ids[0][14] == "7"  # UUID version 7
    assert [i[:13] for i in ids] == sorted(i[:13] for i in ids)


def test_sampling_is_deterministic() -> None:
    ids = [new_inference_id() for _ in range(4000)]
    picked = [i for i in ids if is_sampled(i, 50)]
    assert 1700 < len(picked) < 2300
    assert picked == [i for i in ids if is_sampled(i, 50)]
    assert all(is_sampled(i, 100) for i in ids) and not any(is_sampled(i, 0) for i in ids)


def test_full_capture_flushed_on_sigterm(serve, bundles: dict, frames: dict,
                                         tmp_path: Path) -> None:
    capture = tmp_path / "capture"
    # A long flush interval: the rows are still in memory when SIGTERM comes.
    inst = serve(bundles[("churn", "xgboost")], "--capture-dir", str(capture),
                 "--capture-percent", "100", "--capture-flush-seconds", "300",
                 "--variant", "green", "--instance", "i1")
    rows = frames["churn"].drop(columns="churn").head(20).to_dict("records")
    ids = invoke(inst, rows, 30)
    assert not list(capture.glob("*.parquet"))
    # uvicorn re-raises the SIGTERM it handled once the graceful shutdown is done.
    assert inst.terminate() in (0, -signal.SIGTERM)
    files = list(capture.glob("capture-*-i1-*.parquet"))
    assert files and all(f.name[8:23].replace("T", "").isdigit() for f in files)
    df = read_capture(capture)
    assert df["inference_id"].tolist() == ids
    assert set(df["variant"]) == {"green"}
    assert df["prediction"].isin(["Yes", "No"]).all()
    assert ((df["probability.Yes"] + df["probability.No"] - 1).abs() < 1e-9).all()
    assert df["tenure"].tolist()[:20] == [float(r["tenure"]) for r in rows]
    assert df["contract"].tolist()[:20] == [r["contract"] for r in rows]


def test_half_capture_matches_the_hash(serve, bundles: dict, frames: dict,
                                       tmp_path: Path) -> None:
    capture = tmp_path / "capture"
    inst = serve(bundles[("ames", "linear")], "--capture-dir", str(capture),
                 "--capture-percent", "50", "--capture-flush-seconds", "0.2")
    rows = frames["ames"].drop(columns="price").head(10).to_dict("records")
    rows = [{k: (None if v != v else v) for k, v in r.items()} for r in rows]
    ids = invoke(inst, rows, 60)
    expected = [i for i in ids if is_sampled(i, 50)]
    assert 10 < len(expected) < 50
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:  # written within the flush interval, no SIGTERM
        got = read_capture(capture)
        if len(got) >= len(expected):
            break
        time.sleep(0.1)
    assert got["inference_id"].tolist() == expected
    assert got["prediction"].dtype == "float64"


def test_read_capture_by_time_window(tmp_path: Path) -> None:
    schema = pa.schema([("inference_id", pa.string()), ("timestamp", pa.timestamp("us", "UTC")),
                        ("variant", pa.string()), ("x", pa.float64()),
                        ("prediction", pa.float64())])
    writer = CaptureWriter(tmp_path, 100, schema=schema, inputs=["x"], instance="t")
    t0 = datetime(2026, 1, 1, tzinfo=UTC)
    for hour in range(5):
        when = (t0 + timedelta(hours=hour)).timestamp()
        writer.record([f"id{hour}"], when, [{"x": float(hour)}], [hour * 2.0], None, [])
        writer.flush()
    assert len(list(tmp_path.glob("capture-*.parquet"))) == 5
    assert read_capture(tmp_path)["inference_id"].tolist() == [f"id{h}" for h in range(5)]
    window = read_capture(tmp_path, start=t0 + timedelta(hours=1), end=t0 + timedelta(hours=3))
    assert window["inference_id"].tolist() == ["id1", "id2"]
    naive = read_capture(tmp_path, start=datetime(2026, 1, 1, 4))
    assert naive["x"].tolist() == [4.0]
    assert read_capture(tmp_path / "none").empty


@pytest.mark.parametrize("percent", [0, 100])
def test_writer_percent(tmp_path: Path, percent: int) -> None:
    schema = pa.schema([("inference_id", pa.string()), ("timestamp", pa.timestamp("us", "UTC")),
                        ("variant", pa.string()), ("prediction", pa.string())])
    writer = CaptureWriter(tmp_path, percent, schema=schema, inputs=[], instance="t",
                           flush_seconds=0.05)
    writer.start()
    writer.record(["a", "b"], time.time(), [{}, {}], ["x", "y"], None, [])
    writer.close()
    assert len(read_capture(tmp_path)) == (2 if percent else 0)
