"""Hostile invocation bodies: each a 4xx naming what is wrong; capture keeps every good row."""

from __future__ import annotations

import json
import signal
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pyarrow as pa
import pytest

from shipyard.errors import InvalidRequest
from shipyard.serving import CaptureWriter, read_capture
from shipyard.serving._codec import JSON, parse_body

from .helpers import Instance

SURROGATE = '"\\ud800"'


def _post(inst: Instance, body: str | bytes) -> httpx.Response:
    return httpx.post(f"{inst.url}/invocations", content=body,
                      headers={"content-type": "application/json"}, timeout=30)


def test_parse_refuses_what_breaks_later() -> None:
    with pytest.raises(InvalidRequest, match="nested too deeply"):
        parse_body(JSON, ("[" * 1000 + "]" * 1000).encode())
    with pytest.raises(InvalidRequest, match="Infinity"):
        parse_body(JSON, b'[{"a": Infinity}]')
    with pytest.raises(InvalidRequest, match="thousands of digits"):
        parse_body(JSON, b'[{"a": ' + b"9" * 5000 + b"}]")
    with pytest.raises(InvalidRequest, match=r"Row 1, column 'contract'.*surrogate") as err:
        parse_body(JSON, f'[{{"contract": "ok"}}, {{"contract": {SURROGATE}}}]'.encode())
    assert err.value.details == {"row": 1, "field": "contract"}
    # A surrogate *pair* spelled with escapes is one real character, and is kept.
    table = parse_body(JSON, b'[{"contract": "\\ud83d\\ude00"}]')
    assert table.records[0]["contract"] == "\U0001f600"
    # NaN is how pandas writes a missing number: it stays a missing value.
    assert parse_body(JSON, b'[{"a": NaN}]').records[0]["a"] != 0


def test_hostile_invocations_are_4xx(serve, bundles: dict, frames: dict) -> None:
    inst = serve(bundles[("churn", "xgboost")])
    row = frames["churn"].drop(columns="churn").iloc[0].to_dict()
    good = httpx.post(f"{inst.url}/invocations", json=[row], timeout=30)
    assert good.status_code == 200
    full = json.dumps({**row, "tenure": "TENURE", "contract": "CONTRACT"})

    def tenure(value: str) -> str:
        return full.replace('"TENURE"', value).replace('"CONTRACT"', '"Month-to-month"')

    cases = {
        "deep": "[" * 1000 + "]" * 1000,
        "deep value": tenure("[" * 1000 + "]" * 1000),
        "10^400": tenure("1" + "0" * 400),
        "1e400": tenure("1e400"),
        "digits": tenure("9" * 5000),
        "Infinity": tenure("-Infinity"),
        "surrogate": full.replace('"TENURE"', "3").replace('"CONTRACT"', SURROGATE),
        "surrogate key": "{" + SURROGATE + ": 1}",
    }
    for label, body in cases.items():
        r = _post(inst, body)
        assert 400 <= r.status_code < 500, (label, r.status_code, r.text)
        message = r.json()["error"]["message"]
        assert message.endswith(".") and "\n" not in message, (label, message)
    # An infinity spelled as text is not an overflow: it is a missing value, as the
    # training recipe treats ±inf.
    spelled, gap = _post(inst, tenure('"-inf"')), _post(inst, tenure("null"))
    assert spelled.status_code == gap.status_code == 200, spelled.text
    assert spelled.json()["probabilities"] == gap.json()["probabilities"]
    assert "out of range" in _post(inst, cases["10^400"]).json()["error"]["message"]
    assert _post(inst, cases["1e400"]).json()["error"]["details"]["field"] == "tenure"
    # The instance is unharmed.
    assert httpx.post(f"{inst.url}/invocations", json=[row], timeout=30).status_code == 200


def test_hostile_row_costs_no_captured_rows(serve, bundles: dict, frames: dict,
                                            tmp_path: Path) -> None:
    """40 good rows and one with a lone surrogate: 40 rows captured, the hostile one refused."""
    capture = tmp_path / "capture"
    inst = serve(bundles[("churn", "xgboost")], "--capture-dir", str(capture),
                 "--capture-percent", "100", "--capture-flush-seconds", "300")
    rows = frames["churn"].drop(columns="churn").head(40).to_dict("records")
    ids = []
    with httpx.Client(timeout=30) as client:
        for i, row in enumerate(rows):
            if i == 20:
                hostile = _post(inst, '[{"contract": ' + SURROGATE + "}]")
                assert hostile.status_code == 400
                assert "surrogate" in hostile.json()["error"]["message"]
            r = client.post(f"{inst.url}/invocations", json=row)
            assert r.status_code == 200, r.text
            ids += r.json()["inference_ids"]
    health = httpx.get(f"{inst.url}/health").json()
    assert inst.terminate() in (0, -signal.SIGTERM)  # flushes the buffer
    got = read_capture(capture)
    assert got["inference_id"].tolist() == ids and len(ids) == 40
    assert health["capture_rows_skipped"] == 0


def _writer(directory: Path) -> CaptureWriter:
    schema = pa.schema([("inference_id", pa.string()),
                        ("timestamp", pa.timestamp("us", tz="UTC")),
                        ("variant", pa.string()), ("contract", pa.string()),
                        ("prediction", pa.string())])
    return CaptureWriter(directory, 100, schema=schema, inputs=["contract"], instance="t")


def test_writer_skips_and_counts_a_row_it_cannot_encode(tmp_path: Path) -> None:
    """Even a row that reached the writer does not cost the batch (the old failure)."""
    writer = _writer(tmp_path)
    now = datetime.now(UTC).timestamp()
    values = [f"row {i}" for i in range(40)]
    values.insert(17, "\ud800")  # what a poisoned invocation used to leave in the buffer
    ids = [f"id-{i:03d}" for i in range(41)]
    writer.record(ids, now, [{"contract": v} for v in values], ["Yes"] * 41, None, [])
    assert writer.flush() is not None
    got = read_capture(tmp_path)
    assert len(got) == 40 and "id-017" not in set(got["inference_id"])
    assert writer.rows_written == 40 and writer.rows_skipped == 1
    # The next batch is written as usual.
    writer.record(["id-999"], now, [{"contract": "fine"}], ["No"], None, [])
    writer.flush()
    assert len(read_capture(tmp_path)) == 41 and writer.rows_skipped == 1
