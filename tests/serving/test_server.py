"""A real serving instance on 127.0.0.1: formats, labels, schema errors, 413/415, health."""

from __future__ import annotations

import io
import pickle
import signal
import warnings
from collections.abc import Iterator
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest

from shipyard.bundle import load_bundle
from shipyard.errors import InvalidRequest

from .helpers import Instance, start_instance, target, train

MARKER = Path("/tmp/shipyard-serving-pickle-marker")  # noqa: S108 - the test's own marker


class Exploit:
    """Unpickling this creates MARKER: proof that a body was deserialized."""

    def __reduce__(self) -> tuple:
        return (MARKER.touch, ())


@pytest.fixture(scope="module")
def instances(bundles: dict, tmp_path_factory: pytest.TempPathFactory
              ) -> Iterator[dict[str, tuple[Instance, Path]]]:
    root = tmp_path_factory.mktemp("serving")
    out: dict[str, tuple[Instance, Path]] = {}
    try:
        for name, algo in (("churn", "xgboost"), ("penguins", "lightgbm"), ("ames", "linear")):
            bundle = bundles[(name, algo)]
            out[name] = (start_instance(bundle, root, "--capture-dir", str(root / "capture"),
                                        "--capture-percent", "0", "--variant", "blue",
                                        "--model-group", name, "--model-version", "3"), bundle)
        yield out
    finally:
        for inst, _ in out.values():
            if inst.proc.poll() is None:
                inst.proc.send_signal(signal.SIGTERM)
                inst.proc.wait(20)


def bodies(rows: pd.DataFrame) -> dict[str, tuple[str, bytes]]:
    records = rows.to_json(orient="records")
    split = rows.to_json(orient="split", index=False)
    csv = io.StringIO()
    rows.to_csv(csv, index=False)
    out = {"records": ("application/json", records.encode()),
           "columns/data": ("application/json", split.encode()),
           "instances": ("application/json", f'{{"instances": {records}}}'.encode()),
           "csv": ("text/csv", csv.getvalue().encode())}
    if len(rows) == 1:
        out["single record"] = ("application/json", records[1:-1].encode())
    return out


@pytest.mark.parametrize("name", ["churn", "penguins", "ames"])
@pytest.mark.parametrize("n", [1, 25])
def test_every_format_gives_the_pipelines_predictions(
        name: str, n: int, instances: dict, frames: dict) -> None:
    inst, bundle = instances[name]
    pipeline = load_bundle(bundle)
    rows = frames[name].drop(columns=target(name)).sample(n, random_state=n).reset_index(
        drop=True)
    expected = pipeline.predict(rows)
    for fmt, (ctype, body) in bodies(rows).items():
        r = httpx.post(f"{inst.url}/invocations", content=body,
                       headers={"content-type": ctype})
        assert r.status_code == 200, (fmt, r.text)
        doc = r.json()
        assert len(doc["inference_ids"]) == n == len(set(doc["inference_ids"]))
        assert doc["model"] == {"group": name, "version": "3", "variant": "blue"}
        if n == 1:
            assert r.headers["x-inference-id"] == doc["inference_ids"][0]
        else:
            assert "x-inference-id" not in r.headers
        if pipeline.task == "classification":
            assert doc["predictions"] == expected["prediction"].tolist(), fmt
            assert doc["labels"] == pipeline.classes
            proba = [[p[c] for c in doc["labels"]] for p in doc["probabilities"]]
            want = expected[[f"probability.{c}" for c in doc["labels"]]].to_numpy()
            np.testing.assert_allclose(proba, want, rtol=1e-12, atol=1e-15, err_msg=fmt)
        else:
            assert "probabilities" not in doc
            np.testing.assert_allclose(doc["predictions"], expected["prediction"],
                                       rtol=1e-9, err_msg=fmt)


def test_labels_are_decoded(instances: dict, frames: dict) -> None:
    for name, labels in (("churn", {"Yes", "No"}), ("penguins", {"Adelie", "Gentoo"})):
        inst, _ = instances[name]
        rows = frames[name].drop(columns=target(name)).head(200)
        r = httpx.post(f"{inst.url}/invocations", content=rows.to_json(orient="records"),
                       headers={"content-type": "application/json"})
        assert labels <= set(r.json()["predictions"])


def post_json(inst: Instance, body: str | bytes) -> httpx.Response:
    return httpx.post(f"{inst.url}/invocations", content=body,
                      headers={"content-type": "application/json"})


@pytest.mark.parametrize(("change", "field"), [
    (lambda r: r.pop("tenure"), "tenure"),
    (lambda r: r.update(favourite_colour="green"), "favourite_colour"),
    (lambda r: r.update(tenure="twelve"), "tenure"),
    (lambda r: r.update(contract=["One year"]), "contract"),
])
def test_schema_errors_name_the_field(change, field: str, instances: dict,
                                      frames: dict) -> None:
    inst, _ = instances["churn"]
    record = frames["churn"].drop(columns="churn").head(1).to_dict("records")[0]
    change(record)
    r = post_json(inst, pd.Series([record]).to_json(orient="values")[1:-1])
    assert r.status_code == 422, r.text
    err = r.json()["error"]
    assert err["details"]["field"] == field and repr(field) in err["message"]


def test_the_target_column_is_allowed(instances: dict, frames: dict) -> None:
    inst, _ = instances["churn"]
    r = post_json(inst, frames["churn"].head(3).to_json(orient="records"))
    assert r.status_code == 200 and len(r.json()["predictions"]) == 3


@pytest.mark.parametrize("ctype", ["application/octet-stream", "application/python-pickle"])
def test_a_pickle_is_refused_unread(ctype: str, instances: dict) -> None:
    MARKER.unlink(missing_ok=True)
    inst, _ = instances["churn"]
    r = httpx.post(f"{inst.url}/invocations", content=pickle.dumps(Exploit()),
                   headers={"content-type": ctype})
    assert r.status_code == 415
    assert r.json()["error"]["code"] == "unsupported_media_type"
    assert not MARKER.exists()
    assert httpx.get(f"{inst.url}/health").status_code == 200


def test_bodies_over_the_cap_get_413(instances: dict) -> None:
    inst, _ = instances["churn"]
    big = b"[" + b",".join([b'{"tenure": 1}'] * 500_000) + b"]"  # ~7 MB
    assert len(big) > 6 * 1024 * 1024
    r = post_json(inst, big)
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"

    def chunks() -> Iterator[bytes]:  # no Content-Length: the count while reading stops it
        for i in range(0, len(big), 65536):
            yield big[i:i + 65536]
    r = httpx.post(f"{inst.url}/invocations", content=chunks(),
                   headers={"content-type": "application/json"})
    assert r.status_code == 413


@pytest.mark.parametrize(("body", "words"), [
    ('{"tenure": 1,', "Malformed JSON"), ("[]", "no rows"), ("[3]", "Row 0"),
    ('{"rows": [{"tenure": 1}, {"tenure": 2}]}', "field 'rows' holds a list")])
def test_malformed_json_gets_400(body: str, words: str, instances: dict) -> None:
    inst, _ = instances["churn"]
    r = post_json(inst, body)
    assert r.status_code == 400 and words in r.json()["error"]["message"]


def test_health_and_routes(instances: dict) -> None:
    inst, _ = instances["penguins"]
    doc = httpx.get(f"{inst.url}/health").json()
    assert doc["status"] == "ok" and doc["task"] == "classification"
    assert doc["classes"] == ["Adelie", "Chinstrap", "Gentoo"]
    assert doc["model"] == {"group": "penguins", "version": "3", "variant": "blue"}
    assert doc["fast_path"] == "compiled"
    assert {i["name"] for i in doc["inputs"]} >= {"island", "bill_length_mm"}
    assert httpx.get(f"{inst.url}/nope").status_code == 404
    assert httpx.get(f"{inst.url}/invocations").status_code == 405


def test_no_capture_at_zero_percent(instances: dict) -> None:
    inst, _ = instances["churn"]
    assert httpx.get(f"{inst.url}/health").json()["capture_percent"] == 0.0
    capture = inst.log_path.parent / "capture"
    assert not capture.exists() or not list(capture.iterdir())


def test_a_number_in_a_date_column_is_refused_naming_it(serve, frames: dict,
                                                         tmp_path: Path) -> None:
    """A JSON number in a date column reached pandas' ISO 8601 parser: 1990 was read as
    the year 1990 (a Pandas4Warning), and would be nanoseconds after 1970 from pandas 4.
    A number is no date: a 422 names the column and the value; real dates still serve."""
    df = frames["penguins"].copy()
    df["seen"] = pd.date_range("2007-01-01", periods=len(df), freq="37h").strftime(
        "%Y-%m-%dT%H:%M:%S")
    bundle = train(df, "linear", "species", tmp_path / "model")
    inst = serve(bundle)
    rows = df.drop(columns="species").head(2).to_dict("records")
    ok = post_json(inst, pd.Series(rows).to_json(orient="values"))
    assert ok.status_code == 200, ok.text
    rows[1]["seen"] = 1990
    r = post_json(inst, pd.Series(rows).to_json(orient="values"))
    assert r.status_code == 422, r.text
    message = r.json()["error"]["message"]
    assert "Column 'seen' must hold dates/times, not numbers; got 1990 in row 1" in message
    with warnings.catch_warnings():  # the check itself: no number reaches pandas' parser
        warnings.simplefilter("error")
        with pytest.raises(InvalidRequest, match=r"'seen' must hold dates/times, not numbers"):
            load_bundle(bundle).validate_input(pd.DataFrame(rows).astype({"seen": object}))
    rows[1]["seen"] = "1990-01-01"
    assert post_json(inst, pd.Series(rows).to_json(orient="values")).status_code == 200
