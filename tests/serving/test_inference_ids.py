"""Caller-supplied inference ids: an ``inference_id`` column keys each row, never reaches the
model, and comes back in the response and the capture, on the fast path and the pipeline."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pandas as pd
import pytest

from shipyard.errors import InvalidRequest
from shipyard.serving import MAX_ID_LENGTH, Table, parse_body, read_capture

from .helpers import Instance


def test_the_column_becomes_the_ids_and_leaves_the_rows() -> None:
    table = parse_body("json",
                       b'[{"inference_id": "c-1", "a": 1}, {"a": 2, "inference_id": "c-2"}]')
    assert table == Table(("a",), [{"a": 1}, {"a": 2}], ("c-1", "c-2"))
    csv = parse_body("csv", b"a,inference_id\n1,x\n2,y\n")
    assert csv == Table(("a",), [{"a": "1"}, {"a": "2"}], ("x", "y"))
    split = parse_body("json", b'{"columns": ["inference_id", "a"], "data": [["k", 3]]}')
    assert split.columns == ("a",) and split.ids == ("k",) and split.records == [{"a": 3}]
    assert parse_body("json", b'[{"a": 1}]').ids is None
    longest = "é" * MAX_ID_LENGTH  # characters, not bytes
    assert parse_body("json", json.dumps([{"inference_id": longest}]).encode()).ids == (longest,)


@pytest.mark.parametrize(("kind", "body", "words"), [
    ("json", b'[{"inference_id": "a", "x": 1}, {"inference_id": "a", "x": 2}]',
     "Rows 0 and 1 have the same inference_id 'a'"),
    ("csv", b"inference_id,x\nk,1\nk,2\n", "Rows 0 and 1 have the same inference_id 'k'"),
    ("json", b'[{"inference_id": 17, "x": 1}]', 'must be text, not int; send it as a JSON '
                                                 'string such as "17"'),
    ("json", b'[{"inference_id": ["a"], "x": 1}]', "must be text, not list"),
    ("json", b'[{"inference_id": "a", "x": 1}, {"x": 2}]', "Row 1: the inference_id is missing"),
    ("json", b'[{"inference_id": null, "x": 1}]', "Row 0: the inference_id is missing"),
    ("csv", b"inference_id,x\n,1\n", "Row 0: the inference_id is missing"),
    ("json", b'[{"inference_id": "", "x": 1}]', "the inference_id is empty"),
    ("json", json.dumps([{"inference_id": "x" * 129}]).encode(), "129 characters long"),
    ("json", b'[{"inference_id": "a\\r\\nx-evil: 1", "x": 1}]', "control character"),
])
def test_bad_ids_are_refused_naming_the_row(kind: str, body: bytes, words: str) -> None:
    with pytest.raises(InvalidRequest) as err:
        parse_body(kind, body)
    assert err.value.http_status == 400
    assert words in err.value.message
    assert ". " not in err.value.message  # one sentence


def _rows(frames: dict, n: int) -> pd.DataFrame:
    rows = frames["churn"].drop(columns="churn").head(n).copy()
    rows.insert(0, "inference_id", [f"cust-{i:04d}" for i in range(n)])
    return rows


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "pipeline"])
def test_instance_answers_and_captures_with_the_callers_ids(
        serve, bundles: dict, frames: dict, tmp_path: Path, fast: bool) -> None:
    capture = tmp_path / "capture"
    args = ["--capture-dir", str(capture), "--capture-percent", "100"]
    inst: Instance = serve(bundles[("churn", "xgboost")], *args,
                           *([] if fast else ["--no-fast-path"]))
    health = httpx.get(f"{inst.url}/health").json()
    assert (health["fast_path"] == "compiled") is fast
    rows = _rows(frames, 80)  # past INLINE_ROWS: predicted off the event loop
    plain = rows.drop(columns="inference_id")
    with httpx.Client(base_url=inst.url) as client:
        given = client.post("/invocations", content=rows.to_csv(index=False),
                            headers={"content-type": "text/csv"})
        made = client.post("/invocations", content=plain.to_json(orient="records"),
                           headers={"content-type": "application/json"})
        one = client.post("/invocations", json=rows.iloc[[5]].to_dict("records"))
        dup = client.post("/invocations", json=[rows.iloc[0].to_dict()] * 2)
    assert given.status_code == 200, given.text
    assert given.json()["inference_ids"] == rows["inference_id"].tolist()
    # The id is no model input: the predictions are those of the same rows without it.
    assert given.json()["predictions"] == made.json()["predictions"]
    assert given.json()["probabilities"] == made.json()["probabilities"]
    assert all(i.count("-") == 4 for i in made.json()["inference_ids"])  # made here (UUIDs)
    assert one.headers["x-inference-id"] == "cust-0005"
    assert dup.status_code == 400 and "same inference_id 'cust-0000'" in dup.text
    flushed = httpx.post(f"{inst.url}/capture/flush").json()
    assert flushed["capture"] is True
    captured = read_capture(capture)
    assert set(rows["inference_id"]) <= set(captured["inference_id"])
    assert "input.inference_id" not in captured.columns
    ours = captured[captured["inference_id"].str.startswith("cust-")]
    assert len(ours) == 81 and ours["tenure"].notna().all()  # the 80 rows and the single one


def test_the_stable_url_carries_the_callers_ids(server, frames: dict) -> None:
    """Through the control plane's invocation fast path (and the SDK) the ids come back."""
    import shipyard as sy

    with sy.connect(url=server.url, token=server.token(), set_default=False) as client, \
            sy.Client(server.url, server.token("approver")) as approver:
        sy.Dataset.create("ids-churn", frames["churn"].head(1500), client=client)
        job = sy.Job.train("xgboost", "ids-churn", target="churn", client=client,
                           hyperparameters={"n_estimators": 30}).wait(progress=False)
        version = job.register("ids-churn-model")
        sy.ModelVersion.get(version.group, version.version, client=approver).approve("test")
        endpoint = sy.ModelGroup("ids-churn-model", client=client).latest().deploy("ids-churn")
        try:
            rows = _rows(frames, 60)
            out = endpoint.invoke(rows)
            assert out["inference_id"].tolist() == rows["inference_id"].tolist()
            r = client.request("POST", "/endpoints/ids-churn/invocations",
                               content=rows.head(3).to_csv(index=False),
                               headers={"Content-Type": "text/csv"})
            assert r.json()["inference_ids"] == ["cust-0000", "cust-0001", "cust-0002"]
            with pytest.raises(InvalidRequest, match="must be text, not int"):
                endpoint.invoke([{**rows.iloc[0].to_dict(), "inference_id": 5}])
        finally:
            endpoint.delete()
