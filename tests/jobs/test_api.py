"""Submitting jobs over REST: validation before anything exists, and Idempotency-Key."""

from __future__ import annotations

import threading

import httpx

from shipyard.testing import LocalServer

from .helpers import spec, submit


def _count(client: httpx.Client) -> int:
    return len(client.get("/api/v1/jobs", params={"limit": 1000}).json())


def test_invalid_specs_create_nothing(server: LocalServer) -> None:
    client = server.client()
    before = _count(client)
    cases = [
        (spec("pass", kind="nonsense"), 400, "unknown job kind 'nonsense'"),
        (spec("pass", filename="../x.py"), 400, "plain file name"),
        (spec("pass", filename="/etc/x.py"), 400, "plain file name"),
        (spec("pass", inputs={"raw": "no-such-dataset"}), 404, "no-such-dataset"),
        (spec("pass", inputs={"raw": "bad name!"}), 400, "dataset name"),
        (spec("pass", resources={"memory": "a lot"}), 400, "memory must be a size"),
        (spec("pass", environment={"SHIPYARD_JOB_ID": "x"}), 400, "SHIPYARD_"),
        ({"kind": "script"}, 400, "a script job needs a 'script'"),
        ({**spec("pass"), "algorithm": "xgboost"}, 400, "'algorithm' is for kind 'training'"),
    ]
    for body, status, text in cases:
        r = client.post("/api/v1/jobs", json=body)
        assert r.status_code == status, (body, r.text)
        assert text in r.json()["error"]["message"], r.text
    r = client.post("/api/v1/jobs", content=b"{not json",
                    headers={"content-type": "application/json"})
    assert r.status_code == 400 and "not valid JSON" in r.json()["error"]["message"]
    r = client.post("/api/v1/jobs", content=b"kind=script",
                    headers={"content-type": "application/x-www-form-urlencoded"})
    assert r.status_code == 415
    r = client.post("/api/v1/jobs", json=[1, 2])
    assert r.status_code == 400
    assert _count(client) == before


def test_idempotency_under_concurrency(server: LocalServer) -> None:
    client = server.client()
    bodies = [spec(f"print({i})\n", name=f"idem-{i}") for i in range(40)]
    requests = [(f"key-{i}", bodies[i]) for i in range(40)]
    requests += [(f"key-{i}", bodies[i]) for i in range(0, 40, 4)]  # 10 repeats
    results: list[httpx.Response] = []
    barrier = threading.Barrier(len(requests))
    lock = threading.Lock()

    def send(key: str, body: dict) -> None:
        with server.client() as c:
            barrier.wait()
            r = c.post("/api/v1/jobs", json=body, headers={"Idempotency-Key": key})
        with lock:
            results.append(r)

    threads = [threading.Thread(target=send, args=req) for req in requests]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert len(results) == 50
    assert all(r.status_code in (200, 201) for r in results), [r.text for r in results]
    assert sorted(r.status_code for r in results).count(201) == 40
    by_name: dict[str, set[str]] = {}
    for r in results:
        by_name.setdefault(r.json()["name"], set()).add(r.json()["id"])
    assert len(by_name) == 40 and all(len(ids) == 1 for ids in by_name.values())
    listed = [j for j in client.get("/api/v1/jobs", params={"limit": 1000}).json()
              if (j["name"] or "").startswith("idem-")]
    assert len(listed) == 40

    replay = client.post("/api/v1/jobs", json=bodies[3], headers={"Idempotency-Key": "key-3"})
    assert replay.status_code == 200 and {replay.json()["id"]} == by_name["idem-3"]
    other = client.post("/api/v1/jobs", json=bodies[4], headers={"Idempotency-Key": "key-3"})
    assert other.status_code == 409 and other.json()["error"]["code"] == "conflict"
    for job in listed:  # don't leave 40 jobs queued for the module's other tests
        client.post(f"/api/v1/jobs/{job['id']}/cancel")


def test_submit_answers_201_then_200(server: LocalServer) -> None:
    client = server.client()
    body = spec("pass\n")
    first = client.post("/api/v1/jobs", json=body, headers={"Idempotency-Key": "once"})
    second = client.post("/api/v1/jobs", json=body, headers={"Idempotency-Key": "once"})
    assert (first.status_code, second.status_code) == (201, 200)
    assert first.json()["id"] == second.json()["id"]
    assert submit(client, body)["id"] != first.json()["id"]  # no key: a new job
