"""Labeling over a real server: managers create, two annotators label, each sees only its
own items and answers and nothing else on the server; bad input is a 4xx naming it."""

from __future__ import annotations

import io
import time
from collections.abc import Iterator

import httpx
import pandas as pd
import pytest

from shipyard.testing import LocalServer

JOBS = "/api/v1/labeling-jobs"


def _annotator(server: LocalServer, name: str) -> httpx.Client:
    r = server.client().post("/api/v1/tokens", json={"name": name, "role": "annotator"})
    assert r.status_code == 201, r.text
    return httpx.Client(base_url=server.url, timeout=60,
                        headers={"Authorization": f"Bearer {r.json()['token']}"})


def _upload(server: LocalServer, name: str, frame: pd.DataFrame) -> None:
    buf = io.BytesIO()
    frame.to_parquet(buf, index=False)
    r = server.client().post("/api/v1/datasets", data={"name": name},
                             files={"file": (f"{name}.parquet", buf.getvalue())})
    assert r.status_code == 201, r.text


@pytest.fixture(scope="module")
def world(server: LocalServer, reviews_frame: pd.DataFrame
          ) -> Iterator[tuple[LocalServer, httpx.Client, httpx.Client]]:
    _upload(server, "reviews", reviews_frame.head(6))
    with _annotator(server, "ann-a") as a, _annotator(server, "ann-b") as b:
        yield server, a, b


def _create(server: LocalServer, role: str = "data-scientist", **kw: object) -> httpx.Response:
    body = {"name": "reviews", "dataset": "reviews", "task": "text_classification",
            "labels": ["great", "other"], "column": "review", "annotators_per_item": 2,
            "instructions": "Is the review great?", **kw}
    return server.client(role).post(JOBS, json=body)


def test_annotators_label_and_see_only_their_own(world: tuple) -> None:
    server, a, b = world
    r = _create(server)
    assert r.status_code == 201, r.text
    job = r.json()
    assert (job["dataset"], job["items"], job["status"]) == ("reviews:1", 6, "Running")
    assert server.client("viewer").get(f"{JOBS}/reviews").status_code == 200
    assert a.get("/api/v1/labeling-queues").json()[0]["name"] == "reviews"

    na = a.get(f"{JOBS}/reviews/next").json()["item"]
    nb = b.get(f"{JOBS}/reviews/next").json()["item"]
    assert na["item"] == nb["item"] == "0" and na["content"]["text"]
    assert na["labels"] == ["great", "other"] and na["instructions"] == "Is the review great?"
    r = a.post(f"{JOBS}/reviews/items/0/answers", json={"label": "great"})
    assert r.status_code == 201, r.text
    assert a.post(f"{JOBS}/reviews/items/0/answers", json={"label": "great"}).status_code == 200
    # B cannot see A's answer: B's view of item 0 is its own lease, with no answer.
    mine = b.get(f"{JOBS}/reviews/items/0").json()
    assert mine["status"] == "leased" and mine["answer"] is None
    r = b.post(f"{JOBS}/reviews/items/0/answers", json={"label": "other"})
    assert r.status_code == 201
    # N = 2 per item: a third annotator (the admin may label) gets item 1, not 0.
    third = server.client().get(f"{JOBS}/reviews/next").json()["item"]
    assert third["item"] == "1"
    # A cannot fetch or answer an item B leases.
    nb = b.get(f"{JOBS}/reviews/next").json()["item"]
    assert nb["item"] == "1"
    assert a.get(f"{JOBS}/reviews/items/1").status_code == 404
    r = a.post(f"{JOBS}/reviews/items/1/answers", json={"label": "great"})
    assert r.status_code == 409 and "holds no lease" in r.json()["error"]["message"]
    assert a.get(f"{JOBS}/reviews/progress").json()["answered"] == 1
    # The status and the consolidated labels are the managers'.
    assert a.get(f"{JOBS}/reviews/status").status_code == 403
    assert a.post(f"{JOBS}/reviews/export", json={"output": "x"}).status_code == 403
    status = server.client("viewer").get(f"{JOBS}/reviews/status").json()
    assert status["items"]["complete"] == 1 and status["labels"] == {"great": 1, "other": 1}
    assert {s["name"] for s in status["annotators"]} == {"ann-a", "ann-b"}


@pytest.mark.parametrize("path", [
    "/api/v1/datasets", "/api/v1/datasets/reviews", "/api/v1/datasets/reviews/head",
    "/api/v1/models", "/api/v1/endpoints", "/api/v1/jobs", "/api/v1/experiments",
    "/api/v1/pipelines", "/api/v1/monitors", "/api/v1/events", "/api/v1/tokens",
    "/api/v1/docs", "/api/v1/whoami", "/api/v1/labeling-jobs",
    "/api/v1/labeling-jobs/reviews",
])
def test_an_annotator_sees_nothing_else(world: tuple, path: str) -> None:
    server, a, _ = world
    r = a.get(path)
    assert r.status_code == 403, (path, r.text)
    assert a.get("/studio/datasets").status_code == 403  # its studio: the labeling pages
    assert a.post("/api/v1/endpoints/x/invocations", json=[]).status_code == 403
    # The API document (the routes' shapes, no data) is read by any token, as a job's.
    assert a.get("/api/v1/openapi.json").status_code == 200


def test_a_lease_expires_and_goes_back(world: tuple) -> None:
    server, a, b = world
    r = _create(server, name="quick", annotators_per_item=1, lease_seconds=1)
    assert r.status_code == 201, r.text
    first = a.get(f"{JOBS}/quick/next").json()["item"]
    assert first["item"] == "0"
    assert b.get(f"{JOBS}/quick/next").json()["item"]["item"] == "1"
    time.sleep(1.2)
    r = a.post(f"{JOBS}/quick/items/0/answers", json={"label": "great"})
    assert r.status_code == 409 and "expired" in r.json()["error"]["message"]
    back = b.post(f"{JOBS}/quick/items/1/skip")
    assert back.status_code == 200 and back.json()["status"] == "skipped"
    again = b.get(f"{JOBS}/quick/next").json()["item"]
    assert again["item"] == "0"  # A's lease expired: item 0 went back to the queue


def test_create_takes_an_idempotency_key(world: tuple) -> None:
    server, _, _ = world
    c = server.client("data-scientist")
    body = {"name": "keyed", "dataset": "reviews", "task": "text_classification",
            "labels": ["great", "other"], "column": "review"}
    first = c.post(JOBS, json=body, headers={"Idempotency-Key": "k-1"})
    assert first.status_code == 201, first.text
    again = c.post(JOBS, json=body, headers={"Idempotency-Key": "k-1"})
    assert again.status_code == 200 and again.json() == first.json()
    other = c.post(JOBS, json={**body, "name": "keyed-2"}, headers={"Idempotency-Key": "k-1"})
    assert other.status_code == 409
    assert c.post(JOBS, json=body).status_code == 409  # the name is taken


def test_workforce_and_stop(world: tuple) -> None:
    server, a, b = world
    assert _create(server, name="only-a", workforce=["ann-a"]).status_code == 201
    assert b.get(f"{JOBS}/only-a/next").status_code == 404
    assert "only-a" not in [q["name"] for q in b.get("/api/v1/labeling-queues").json()]
    other = server.client("data-scientist")
    assert server.client("viewer").post(f"{JOBS}/only-a/stop").status_code == 403
    assert other.post(f"{JOBS}/only-a/stop").json()["status"] == "Stopped"
    done = a.get(f"{JOBS}/only-a/next").json()
    assert done["item"] is None and "stopped" in done["message"]


def test_a_workforce_of_a_mistyped_or_non_annotator_token_is_a_400(world: tuple) -> None:
    """`--workforce ann-a,ann-c` for ann-b made a job ann-b never saw, and naming a viewer
    made one it could never work on; both were created without a word."""
    server, a, b = world
    server.client().post("/api/v1/tokens", json={"name": "wf-viewer", "role": "viewer"})
    typo = _create(server, name="wf-typo", workforce=["ann-a", "ann-c"])
    assert typo.status_code == 400
    assert typo.json()["error"]["message"] == (
        "The workforce names token 'ann-c', which does not exist or was revoked; fix the "
        "name, or create the token first (shipyard tokens create --name ann-c --role "
        "annotator).")
    viewer = _create(server, name="wf-viewer", workforce=["wf-viewer"])
    assert viewer.status_code == 400
    assert "role 'viewer' may not label" in viewer.json()["error"]["message"]
    assert server.client().get(f"{JOBS}/wf-typo").status_code == 404
    assert server.client().get(f"{JOBS}/wf-viewer").status_code == 404
    assert _create(server, name="wf-ok", workforce=["ann-a", "ann-b", "admin"]
                   ).status_code == 201


def test_undo_takes_back_only_the_callers_own_answer(world: tuple) -> None:
    server, a, b = world
    assert _create(server, name="undo", annotators_per_item=1).status_code == 201
    first = a.get(f"{JOBS}/undo/next").json()["item"]["item"]
    assert a.post(f"{JOBS}/undo/items/{first}/answers", json={"label": "great"}
                  ).status_code == 201
    held = a.get(f"{JOBS}/undo/next").json()["item"]["item"]
    r = b.post(f"{JOBS}/undo/undo")  # b never answered: nothing of its own to undo
    assert r.status_code == 409 and "no answer or skip to undo" in r.json()["error"]["message"]
    assert server.client("viewer").post(f"{JOBS}/undo/undo").status_code == 403
    r = a.post(f"{JOBS}/undo/undo")
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["item"], got["status"], got["answer"]) == (first, "leased", {"label": "great"})
    assert a.get(f"{JOBS}/undo/progress").json() == {
        "job": "undo", "answered": 0, "median_seconds": None, "holding": first}
    # The item a held went back to the queue: b gets it.
    assert b.get(f"{JOBS}/undo/next").json()["item"]["item"] == held
    r = a.post(f"{JOBS}/undo/items/{first}/answers", json={"label": "other"})
    assert r.status_code == 201 and r.json()["answer"] == {"label": "other"}


@pytest.mark.parametrize(("change", "status", "words"), [
    ({"task": "sentiment"}, 400, "Unknown labeling task 'sentiment'"),
    ({"labels": []}, 400, "needs labels"),
    ({"column": "text"}, 400, "Column 'text' is not in dataset reviews:1"),
    ({"task": "image_classification"}, 400, "needs a dataset of image files"),
    ({"dataset": "nope"}, 404, "nope"),
])
def test_bad_input_is_a_4xx_naming_it(world: tuple, change: dict, status: int,
                                      words: str) -> None:
    server, _, _ = world
    r = _create(server, name="bad", **change)
    assert r.status_code == status, r.text
    assert words in r.json()["error"]["message"]
    assert _create(server, role="viewer", name="bad").status_code == 403


def test_a_label_outside_the_set_is_a_400(world: tuple) -> None:
    server, a, _ = world
    assert _create(server, name="strict", annotators_per_item=1).status_code == 201
    item = a.get(f"{JOBS}/strict/next").json()["item"]["item"]
    r = a.post(f"{JOBS}/strict/items/{item}/answers", json={"label": "meh"})
    assert r.status_code == 400
    assert "'meh' is not one of this job's labels: great, other" in r.json()["error"]["message"]


def test_export_writes_a_dataset_version(world: tuple) -> None:
    server, a, b = world
    assert _create(server, name="exported").status_code == 201
    none = server.client().post(f"{JOBS}/exported/export", json={"output": "labels"})
    assert none.status_code == 400 and "no complete item" in none.json()["error"]["message"]
    for who in (a, b):
        item = who.get(f"{JOBS}/exported/next").json()["item"]["item"]
        assert who.post(f"{JOBS}/exported/items/{item}/answers",
                        json={"label": "great"}).status_code == 201
    r = server.client("data-scientist").post(f"{JOBS}/exported/export",
                                             json={"output": "labels", "method": "majority"})
    assert r.status_code == 201, r.text
    assert [c["name"] for c in r.json()["schema"]] == [
        "item", "review", "label", "confidence", "source", "annotators", "answers"]
    head = server.client().get("/api/v1/datasets/labels/head").json()
    assert head["data"][0][head["columns"].index("label")] == "great"


def test_a_labelled_dataset_is_not_deleted_under_a_job(world: tuple,
                                                      reviews_frame: pd.DataFrame) -> None:
    server, _, _ = world
    _upload(server, "tiny", reviews_frame.head(2))
    assert _create(server, name="tiny-job", dataset="tiny").status_code == 201
    r = server.client().delete("/api/v1/datasets/tiny")
    assert r.status_code == 409
    assert "labeling job 'tiny-job' (labels version 1)" in r.json()["error"]["message"]
